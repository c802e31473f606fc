//! The `license` consumer: refreshLicenseCode, updateLicenseCodeStatus and releaseLicenseCode
//! (spec §7.2), one code at a time.
//!
//! Decisions where the spec leaves room:
//! - **License 2.0 has no create call**: the first callback about a code creates its row.
//! - **Renewal** (RENEWAL, UNSUBSCRIBE_RENEWAL_PERIOD) sets the expiry to `expireTime`, never adds
//!   to it; its key is `(code, orderId, scene)` (a unique transition key), so the same order twice
//!   is one effect.
//! - **Freeze / unfreeze** go by target state: freezing a frozen code changes nothing and does not
//!   call the product again, but records the request time.
//! - **Request order**: the code remembers when KooGallery signed the status call whose state it
//!   holds (`status_requested_at`) and the refresh call whose expiry it holds
//!   (`expiry_requested_at`); an older call handled later (a FREEZE retried after the UNFREEZE
//!   that followed it) is acknowledged with no effect. Calls signed at the same instant apply in
//!   handling order.
//! - **Release** is final: a release before anything else is known leaves a tombstone
//!   (`released_before_known`), so a late renewal or unfreeze does not bring the code back; the
//!   product is still told (it may know the code from an activation). Releasing twice succeeds
//!   with no second effect.
//! - Each effect: the product first (call id `{message id}:{step}`, the same on redelivery),
//!   then one unit of work with the inbox row, the license row (compare-and-set on `version`),
//!   the transition and the `license.*` event. A crash between the two calls the product again
//!   with the same id and commits once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use koofill_bus::consumer::{Delivery, Handler};
use koofill_model::{
    BasicRequest, DomainEvent, Envelope, InboundCallback,
    basic::{InstanceStatus, RefreshLicenseCode, ReleaseLicenseCode, UpdateLicenseCodeStatus},
};
use koofill_store::{UnitOfWork, entities::licenses, inbox};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::json;
use tracing::Instrument;

use crate::{
    LicenseError,
    context::Deps,
    provisioner::LicenseChange,
    repo::{self, Transition, status},
};

/// The durable consumer name, also the inbox key.
pub const LICENSE: &str = "license";

/// The message type: the envelope the ingress published.
pub type Inbound = Envelope<InboundCallback>;

/// Handles `<prefix>.inbound.license.>`.
#[derive(Debug, Clone)]
pub struct LicenseHandler {
    pub(crate) deps: Arc<Deps>,
}

impl Handler for LicenseHandler {
    type Msg = Inbound;
    type Error = LicenseError;

    async fn handle(&self, delivery: &Delivery<Inbound>) -> Result<(), LicenseError> {
        let deps = &*self.deps;
        let env = &delivery.msg;
        let request = match env.data.basic_request() {
            Ok(request) => request,
            // Processed while it was still valid (a replay after a model change).
            Err(_) if inbox::is_processed(&deps.db, LICENSE, &env.id).await? => return Ok(()),
            Err(e) => return Err(LicenseError::Invalid(e.to_string())),
        };
        let code = match &request {
            BasicRequest::RefreshLicenseCode(r) => r.license.to_string(),
            BasicRequest::UpdateLicenseCodeStatus(r) => r.license.to_string(),
            BasicRequest::ReleaseLicenseCode(r) => r.license.to_string(),
            other => {
                return Err(LicenseError::Invalid(format!(
                    "{} does not belong on the license subject",
                    other.activity()
                )));
            }
        };
        let _turn = deps.locks.lock(&code).await;
        if inbox::is_processed(&deps.db, LICENSE, &env.id).await? {
            tracing::debug!(event_id = %env.id, "already processed");
            return Ok(());
        }
        let span = tracing::info_span!("license", activity = %request.activity(), license = %code);
        let work = async {
            match request {
                BasicRequest::RefreshLicenseCode(r) => refresh(deps, env, &r).await,
                BasicRequest::UpdateLicenseCodeStatus(r) => update_status(deps, env, &r).await,
                BasicRequest::ReleaseLicenseCode(r) => release(deps, env, &r).await,
                _ => Ok(()),
            }
        };
        work.instrument(span).await
    }
}

fn is_older(requested: DateTime<Utc>, applied: Option<DateTime<Utc>>) -> bool {
    applied.is_some_and(|applied| requested < applied)
}

async fn no_effect(deps: &Deps, env: &Inbound) -> Result<(), LicenseError> {
    Ok(koofill_store::record_no_effect(&deps.db, LICENSE, &env.id).await?)
}

fn follow_up(env: &Inbound, step: &str) -> String {
    format!("{}:{step}", env.id)
}

/// Inserts `row` (a code seen for the first time) or writes `changes` to the existing one.
async fn write(
    uow: &UnitOfWork,
    existing: Option<&licenses::Model>,
    code: &str,
    test: bool,
    changes: licenses::ActiveModel,
) -> Result<(), LicenseError> {
    match existing {
        Some(row) => repo::update(uow.txn(), code, row.version, changes).await,
        None => {
            let mut row = repo::new_row(code, status::ACTIVE, test, Utc::now());
            // The changes on top of a fresh row: copy every set column.
            macro_rules! take {
                ($($field:ident),+) => {$(
                    if let sea_orm::ActiveValue::Set(v) = changes.$field { row.$field = Set(v); }
                )+};
            }
            take!(
                order_id,
                order_line_id,
                product_id,
                status,
                expire_time,
                released_before_known,
                status_requested_at,
                expiry_requested_at,
                check_due
            );
            row.insert(uow.txn()).await.map_err(koofill_store::StoreError::from)?;
            Ok(())
        }
    }
}

async fn refresh(deps: &Deps, env: &Inbound, r: &RefreshLicenseCode) -> Result<(), LicenseError> {
    let code = r.license.as_str();
    let row = repo::find(&deps.db, code).await?;
    if row.as_ref().is_some_and(|row| row.status == status::RELEASED) {
        tracing::info!(license = code, "refresh of a released code ignored");
        return no_effect(deps, env).await;
    }
    let key = format!("refresh:{}:{}", r.order_id, r.scene);
    if repo::has_transition(&deps.db, code, &key).await? {
        return no_effect(deps, env).await;
    }
    let requested = env.request_time();
    if is_older(requested, row.as_ref().and_then(|row| row.expiry_requested_at)) {
        tracing::info!(license = code, %requested, "a later refresh set the expiry already; ignored");
        return no_effect(deps, env).await;
    }
    let expire_time = r.expire_time.at();
    let change =
        LicenseChange::Renew { license: code.to_owned(), order_id: r.order_id.clone(), scene: r.scene, expire_time };
    deps.provisioner.apply(&follow_up(env, change.step()), env.test, &change).await?;

    let Some(mut uow) = UnitOfWork::begin(&deps.db, &deps.outbox, LICENSE, &env.id).await? else {
        return Ok(());
    };
    let mut changes = licenses::ActiveModel {
        order_id: Set(Some(r.order_id.to_string())),
        order_line_id: Set(Some(r.order_line_id.to_string())),
        expire_time: Set(Some(expire_time)),
        expiry_requested_at: Set(Some(requested)),
        check_due: Set(true),
        ..Default::default()
    };
    if let Some(product) = &r.product_id {
        changes.product_id = Set(Some(product.to_string()));
    }
    write(&uow, row.as_ref(), code, env.test, changes).await?;
    let from = row.as_ref().map_or(status::NONE, |row| row.status.as_str());
    repo::add_transition(
        uow.txn(),
        Transition {
            code,
            from,
            to: row.as_ref().map_or(status::ACTIVE, |row| row.status.as_str()),
            step: "renew",
            idem_key: Some(key),
            order_id: Some(r.order_id.as_str()),
            scene: Some(r.scene.as_str()),
            event_id: &env.id,
            detail: Some(json!({ "expire_time": expire_time })),
        },
    )
    .await?;
    let event = DomainEvent::LicenseRefreshed {
        license: r.license.clone(),
        order_id: r.order_id.clone(),
        scene: r.scene,
        expire_time,
    };
    uow.emit(deps.events.event(follow_up(env, "license.refreshed"), env.test, event)?);
    uow.commit().await?;
    Ok(())
}

async fn update_status(deps: &Deps, env: &Inbound, r: &UpdateLicenseCodeStatus) -> Result<(), LicenseError> {
    let code = r.license.as_str();
    let row = repo::find(&deps.db, code).await?;
    if row.as_ref().is_some_and(|row| row.status == status::RELEASED) {
        return no_effect(deps, env).await;
    }
    let requested = env.request_time();
    if is_older(requested, row.as_ref().and_then(|row| row.status_requested_at)) {
        tracing::info!(license = code, status = ?r.status, %requested, "a later status change was applied already; ignored");
        return no_effect(deps, env).await;
    }
    let current = row.as_ref().map_or(status::ACTIVE, |row| row.status.as_str());
    let (target, step) = match r.status {
        InstanceStatus::Freeze => (status::FROZEN, "freeze"),
        InstanceStatus::Unfreeze => (status::ACTIVE, "unfreeze"),
    };
    let reached = current != target;
    if reached {
        let change = match r.status {
            InstanceStatus::Freeze => LicenseChange::Freeze { license: code.to_owned() },
            InstanceStatus::Unfreeze => LicenseChange::Unfreeze { license: code.to_owned() },
        };
        deps.provisioner.apply(&follow_up(env, change.step()), env.test, &change).await?;
    }
    let Some(mut uow) = UnitOfWork::begin(&deps.db, &deps.outbox, LICENSE, &env.id).await? else {
        return Ok(());
    };
    // The time is recorded even when the state already holds, so an older opposite call handled
    // later is recognised as older.
    let changes = licenses::ActiveModel {
        status: Set(target.to_owned()),
        status_requested_at: Set(Some(requested)),
        check_due: Set(true),
        ..Default::default()
    };
    write(&uow, row.as_ref(), code, env.test, changes).await?;
    if reached {
        repo::add_transition(
            uow.txn(),
            Transition {
                code,
                from: row.as_ref().map_or(status::NONE, |row| row.status.as_str()),
                to: target,
                step,
                idem_key: None,
                order_id: None,
                scene: None,
                event_id: &env.id,
                detail: None,
            },
        )
        .await?;
        let event = match r.status {
            InstanceStatus::Freeze => DomainEvent::LicenseFrozen { license: r.license.clone() },
            InstanceStatus::Unfreeze => DomainEvent::LicenseUnfrozen { license: r.license.clone() },
        };
        let what = if target == status::FROZEN { "license.frozen" } else { "license.unfrozen" };
        uow.emit(deps.events.event(follow_up(env, what), env.test, event)?);
    }
    uow.commit().await?;
    Ok(())
}

async fn release(deps: &Deps, env: &Inbound, r: &ReleaseLicenseCode) -> Result<(), LicenseError> {
    let code = r.license.as_str();
    let row = repo::find(&deps.db, code).await?;
    if row.as_ref().is_some_and(|row| row.status == status::RELEASED) {
        return no_effect(deps, env).await;
    }
    let change = LicenseChange::Release { license: code.to_owned(), order_id: r.order_id.clone() };
    deps.provisioner.apply(&follow_up(env, change.step()), env.test, &change).await?;
    let Some(mut uow) = UnitOfWork::begin(&deps.db, &deps.outbox, LICENSE, &env.id).await? else {
        return Ok(());
    };
    let changes = licenses::ActiveModel {
        status: Set(status::RELEASED.to_owned()),
        released_before_known: Set(row.is_none()),
        check_due: Set(true),
        ..Default::default()
    };
    write(&uow, row.as_ref(), code, env.test, changes).await?;
    repo::add_transition(
        uow.txn(),
        Transition {
            code,
            from: row.as_ref().map_or(status::NONE, |row| row.status.as_str()),
            to: status::RELEASED,
            step: "release",
            idem_key: Some("release".to_owned()),
            order_id: r.order_id.as_ref().map(|o| o.as_str()),
            scene: None,
            event_id: &env.id,
            detail: Some(json!({ "tombstone": row.is_none() })),
        },
    )
    .await?;
    let event = DomainEvent::LicenseReleased { license: r.license.clone(), order_id: r.order_id.clone() };
    uow.emit(deps.events.event(follow_up(env, "license.released"), env.test, event)?);
    uow.commit().await?;
    Ok(())
}
