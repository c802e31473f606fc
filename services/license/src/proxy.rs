//! The activation proxy's answers on `<prefix>.rpc.license.activate` and
//! `<prefix>.rpc.license.status` (the ingress serves them as `POST /v1/licenses/{code}/activate`
//! and `GET /v1/licenses/{code}`).
//!
//! - **activate**: a code koofill activated before is answered from its row (KooGallery is not
//!   asked to activate twice); otherwise KooGallery's 激活授权码 is called, the activation recorded,
//!   and `license.activated` emitted once per code.
//! - **status**: KooGallery's heartbeat is asked when the code was never checked, when a callback
//!   changed it since the last check, or when the last check is older than
//!   `license.check_interval_secs` (a day: spec §7.3); otherwise the row answers.
//! - What the callbacks said wins over the heartbeat for frozen and released codes and for the
//!   expiry: a code is reported frozen or released as soon as its callback was processed.
//! - When KooGallery cannot be reached, a known code is answered from its row (the token's expiry
//!   still never passes the code's); an unknown one is `unavailable`.
//! - Every answer carries a fresh status token (see [`crate::token`]). Neither the AK/SK nor any
//!   KooGallery credential appears in an answer.

use std::time::Instant;

use chrono::{DateTime, Utc};
use koofill_marketplace::{LicenseCodeInfo, LicenseErrorCode, MarketplaceError};
use koofill_model::{
    DomainEvent, OrderId, OrderLineId,
    license_rpc::{LicenseOutcome, LicenseProxyReply, LicenseProxyRequest, LicenseStatus, LicenseView},
};
use koofill_store::{StoreError, UnitOfWork, entities::licenses};
use sea_orm::{ActiveModelTrait, Set};

use crate::{
    context::Deps,
    repo::{self, status},
    token::token_expiry,
};

/// The inbox consumer key of activations: one `license.activated` per code.
const PROXY: &str = "license-proxy";
/// Longest license code accepted (String(64)).
const CODE_MAX: usize = 64;
/// Longest machine fingerprint accepted.
const FINGERPRINT_MAX: usize = 256;

fn refuse(outcome: LicenseOutcome, message: impl Into<String>, code: Option<&LicenseErrorCode>) -> LicenseProxyReply {
    LicenseProxyReply {
        outcome,
        message: message.into(),
        koogallery_code: code.map(ToString::to_string),
        license: None,
    }
}

fn validate(request: &LicenseProxyRequest) -> Option<LicenseProxyReply> {
    let code = request.code.as_str();
    if code.is_empty() || code.chars().count() > CODE_MAX || code.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some(refuse(LicenseOutcome::Invalid, "code: 1 to 64 characters, no spaces", None));
    }
    if request.fingerprint.as_ref().is_some_and(|f| f.is_empty() || f.chars().count() > FINGERPRINT_MAX) {
        return Some(refuse(LicenseOutcome::Invalid, "fingerprint: 1 to 256 characters", None));
    }
    None
}

/// What a KooGallery error means for the caller.
fn from_marketplace(error: &MarketplaceError) -> LicenseProxyReply {
    match error {
        MarketplaceError::License { code, .. } => {
            let (outcome, message) = match code {
                LicenseErrorCode::NotFound => (LicenseOutcome::NotFound, "KooGallery does not know this license code"),
                LicenseErrorCode::IllegalState => (
                    LicenseOutcome::IllegalState,
                    "the license code was activated already and cannot be activated again",
                ),
                LicenseErrorCode::NotReceived => {
                    (LicenseOutcome::NotReceived, "the buyer has not claimed the license code yet")
                }
                LicenseErrorCode::InvalidParam => (LicenseOutcome::Invalid, "KooGallery refused the license code"),
                _ if error.is_misconfigured() => {
                    (LicenseOutcome::Misconfigured, "the license service is misconfigured")
                }
                _ => (LicenseOutcome::Unavailable, "KooGallery failed; try again later"),
            };
            refuse(outcome, message, Some(code))
        }
        e if e.is_misconfigured() => {
            refuse(LicenseOutcome::Misconfigured, "the license service is misconfigured", None)
        }
        _ => refuse(LicenseOutcome::Unavailable, "KooGallery could not be reached; try again later", None),
    }
}

/// The status koofill reports for a row at `now` (the proxy's answers and `koofill licenses`).
pub fn status_of(row: &licenses::Model, now: DateTime<Utc>) -> LicenseStatus {
    if row.status == status::RELEASED || row.kg_status.as_deref() == Some("RELEASED") {
        LicenseStatus::Released
    } else if row.status == status::FROZEN {
        LicenseStatus::Frozen
    } else if row.kg_status.as_deref() == Some("EXPIRED") && row.checked_at >= row.expiry_requested_at
        || row.expire_time.is_some_and(|e| e <= now)
    {
        LicenseStatus::Expired
    } else if row.activated_at.is_none() {
        LicenseStatus::NotActivated
    } else {
        LicenseStatus::Active
    }
}

fn answer(deps: &Deps, row: &licenses::Model, fingerprint: Option<&str>) -> LicenseProxyReply {
    let now = Utc::now();
    let status = status_of(row, now);
    let exp = token_expiry(now, deps.token_ttl, row.expire_time);
    let token = deps.signer.issue(&row.code, status, now, exp, fingerprint);
    LicenseProxyReply {
        outcome: LicenseOutcome::Ok,
        message: status.as_str().to_owned(),
        koogallery_code: None,
        license: Some(LicenseView {
            code: row.code.clone(),
            status,
            expire_time: row.expire_time,
            activated_at: row.activated_at,
            checked_at: row.checked_at,
            token,
            token_expires_at: exp,
        }),
    }
}

fn internal(e: &StoreError) -> LicenseProxyReply {
    tracing::error!(error = e as &dyn std::error::Error, "license proxy: database failed");
    refuse(LicenseOutcome::Unavailable, "the license service failed; try again later", None)
}

/// Answers `<prefix>.rpc.license.activate`.
pub async fn activate(deps: &Deps, request: LicenseProxyRequest) -> LicenseProxyReply {
    if let Some(refusal) = validate(&request) {
        return refusal;
    }
    let _turn = deps.locks.lock(&request.code).await;
    match activate_locked(deps, &request).await {
        Ok(reply) => reply,
        Err(e) => internal(&e),
    }
}

async fn activate_locked(deps: &Deps, request: &LicenseProxyRequest) -> Result<LicenseProxyReply, StoreError> {
    let code = request.code.as_str();
    let row = repo::find(&deps.db, code).await?;
    if let Some(row) = &row {
        if row.status == status::RELEASED {
            return Ok(refuse(LicenseOutcome::IllegalState, "the license code was released", None));
        }
        if row.activated_at.is_some() {
            // Activated through koofill before: never ask KooGallery to activate twice.
            announce(deps, row).await?;
            return status_locked(deps, request).await;
        }
    }
    let (at, started) = (Utc::now(), Instant::now());
    let result = deps.marketplace.activate_license(code).await;
    let took = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let info = match result {
        Ok(info) => info,
        Err(e) => {
            repo::add_check(&deps.db, code, "activate", outcome_text(&e), None, took, at).await?;
            log_failure(code, "activate", &e);
            return Ok(from_marketplace(&e));
        }
    };
    repo::add_check(&deps.db, code, "activate", koofill_marketplace::LICENSE_OK_CODE, Some(&info.status), took, at)
        .await?;
    let row = record_activation(deps, code, row, &info, at).await?;
    announce(deps, &row).await?;
    let row = repo::find(&deps.db, code).await?.unwrap_or(row);
    Ok(answer(deps, &row, request.fingerprint.as_deref()))
}

async fn record_activation(
    deps: &Deps,
    code: &str,
    row: Option<licenses::Model>,
    info: &LicenseCodeInfo,
    at: DateTime<Utc>,
) -> Result<licenses::Model, StoreError> {
    let mut changes = licenses::ActiveModel {
        activated_at: Set(Some(at)),
        kg_status: Set(Some(info.status.clone())),
        checked_at: Set(Some(at)),
        ..Default::default()
    };
    let existing = row.as_ref();
    if existing.is_none_or(|r| r.order_id.is_none()) {
        changes.order_id = Set(info.order_id.clone());
    }
    if existing.is_none_or(|r| r.product_id.is_none()) {
        changes.product_id = Set(info.product_id.clone());
    }
    // KooGallery's activation expiry is an estimate; a callback's expiry wins.
    if existing.is_none_or(|r| r.expiry_requested_at.is_none()) {
        changes.expire_time = Set(info.expire_time.or(existing.and_then(|r| r.expire_time)));
    }
    match row {
        Some(row) => repo::record_check(&deps.db, code, row.version, changes).await?,
        None => {
            let mut fresh = repo::new_row(code, status::ACTIVE, false, at);
            fresh.activated_at = changes.activated_at;
            fresh.kg_status = changes.kg_status;
            fresh.checked_at = changes.checked_at;
            fresh.order_id = changes.order_id;
            fresh.product_id = changes.product_id;
            fresh.expire_time = changes.expire_time;
            fresh.check_due = Set(false);
            if let Err(e) = fresh.clone().insert(&deps.db).await {
                // A callback created the row meanwhile: write the activation onto it.
                let e = StoreError::from(e);
                let Some(current) = repo::find(&deps.db, code).await? else { return Err(e) };
                let mut changes = fresh;
                changes.code = sea_orm::ActiveValue::NotSet;
                changes.status = sea_orm::ActiveValue::NotSet;
                changes.version = sea_orm::ActiveValue::NotSet;
                changes.created_at = sea_orm::ActiveValue::NotSet;
                changes.test = sea_orm::ActiveValue::NotSet;
                changes.released_before_known = sea_orm::ActiveValue::NotSet;
                changes.status_requested_at = sea_orm::ActiveValue::NotSet;
                changes.expiry_requested_at = sea_orm::ActiveValue::NotSet;
                changes.check_due = sea_orm::ActiveValue::NotSet;
                changes.activation_announced = sea_orm::ActiveValue::NotSet;
                if current.expiry_requested_at.is_some() {
                    changes.expire_time = sea_orm::ActiveValue::NotSet;
                }
                repo::record_check(&deps.db, code, current.version, changes).await?;
            }
        }
    }
    repo::find(&deps.db, code).await?.ok_or_else(|| StoreError::Conflict(format!("license {code} vanished")))
}

/// Emits `license.activated` once per code, when its order line can be named (from a refresh
/// callback, else query order); retried on the next request for the code otherwise.
async fn announce(deps: &Deps, row: &licenses::Model) -> Result<(), StoreError> {
    let (Some(activated_at), false) = (row.activated_at, row.activation_announced) else { return Ok(()) };
    let Some(order_id) = row.order_id.clone().map(OrderId::from) else {
        tracing::warn!(license = %row.code, "activation not announced yet: the order is unknown");
        return Ok(());
    };
    let line = match &row.order_line_id {
        Some(line) => OrderLineId::from(line.as_str()),
        None => match deps.marketplace.query_order(&order_id, None).await {
            Ok(order) => {
                let by_product = order.order_line.iter().find(|l| {
                    row.product_id.as_deref().is_some_and(|p| l.product_info.iter().any(|i| i.product_id.as_str() == p))
                });
                match by_product.or_else(|| order.order_line.first()) {
                    Some(line) => line.order_line_id.clone(),
                    None => return Ok(()),
                }
            }
            Err(e) => {
                tracing::warn!(error = &e as &dyn std::error::Error, license = %row.code, "activation not announced yet: query order failed");
                return Ok(());
            }
        },
    };
    let Some(mut uow) = UnitOfWork::begin(&deps.db, &deps.outbox, PROXY, &format!("activate:{}", row.code)).await?
    else {
        return Ok(());
    };
    licenses::ActiveModel {
        code: sea_orm::ActiveValue::Unchanged(row.code.clone()),
        activation_announced: Set(true),
        order_line_id: Set(Some(line.to_string())),
        ..Default::default()
    }
    .update(uow.txn())
    .await?;
    let event =
        DomainEvent::LicenseActivated { license_code: row.code.clone(), order_id, order_line_id: line, activated_at };
    let event = deps
        .events
        .event(format!("activate:{}:license.activated", row.code), row.test, event)
        .map_err(|e| StoreError::Conflict(format!("event not encodable: {e}")))?;
    uow.emit(event);
    uow.commit().await
}

/// Answers `<prefix>.rpc.license.status`.
pub async fn status(deps: &Deps, request: LicenseProxyRequest) -> LicenseProxyReply {
    if let Some(refusal) = validate(&request) {
        return refusal;
    }
    let _turn = deps.locks.lock(&request.code).await;
    match status_locked(deps, &request).await {
        Ok(reply) => reply,
        Err(e) => internal(&e),
    }
}

async fn status_locked(deps: &Deps, request: &LicenseProxyRequest) -> Result<LicenseProxyReply, StoreError> {
    let code = request.code.as_str();
    let row = repo::find(&deps.db, code).await?;
    let now = Utc::now();
    let interval = chrono::Duration::from_std(deps.check_interval).unwrap_or(chrono::Duration::days(1));
    let due = row.as_ref().is_none_or(|r| r.check_due || r.checked_at.is_none_or(|at| now - at >= interval));
    if !due && let Some(row) = &row {
        return Ok(answer(deps, row, request.fingerprint.as_deref()));
    }
    let started = Instant::now();
    let result = deps.marketplace.license_heartbeat(code).await;
    let took = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match result {
        Ok(info) => {
            repo::add_check(
                &deps.db,
                code,
                "heartbeat",
                koofill_marketplace::LICENSE_OK_CODE,
                Some(&info.status),
                took,
                now,
            )
            .await?;
            let row = match row {
                Some(row) => {
                    let mut changes = licenses::ActiveModel {
                        kg_status: Set(Some(info.status.clone())),
                        checked_at: Set(Some(now)),
                        ..Default::default()
                    };
                    if row.expiry_requested_at.is_none() && info.expire_time.is_some() {
                        changes.expire_time = Set(info.expire_time);
                    }
                    if row.activated_at.is_none() && info.activate_time.is_some() {
                        changes.activated_at = Set(info.activate_time);
                    }
                    repo::record_check(&deps.db, code, row.version, changes).await?;
                    repo::find(&deps.db, code).await?.unwrap_or(row)
                }
                // Known to KooGallery, never seen by koofill (activated elsewhere): report it,
                // keep no row (License 2.0 rows come from callbacks and activations).
                None => heartbeat_only(code, &info, now),
            };
            Ok(answer(deps, &row, request.fingerprint.as_deref()))
        }
        Err(e) => {
            repo::add_check(&deps.db, code, "heartbeat", outcome_text(&e), None, took, now).await?;
            match (&e, row) {
                // Not activated yet (the heartbeat answers 92020003 before activation).
                (MarketplaceError::License { code: LicenseErrorCode::IllegalState, .. }, Some(row)) => {
                    Ok(answer(deps, &row, request.fingerprint.as_deref()))
                }
                (MarketplaceError::License { code: LicenseErrorCode::IllegalState, .. }, None) => {
                    let info = LicenseCodeInfo {
                        status: String::new(),
                        expire_time: None,
                        activate_time: None,
                        product_id: None,
                        order_id: None,
                    };
                    Ok(answer(deps, &heartbeat_only(code, &info, now), request.fingerprint.as_deref()))
                }
                (MarketplaceError::License { code: LicenseErrorCode::NotFound, .. }, _) => Ok(from_marketplace(&e)),
                // KooGallery is down or refuses us: what koofill knows still answers.
                (_, Some(row)) => {
                    log_failure(code, "heartbeat", &e);
                    Ok(answer(deps, &row, request.fingerprint.as_deref()))
                }
                (_, None) => {
                    log_failure(code, "heartbeat", &e);
                    Ok(from_marketplace(&e))
                }
            }
        }
    }
}

fn heartbeat_only(code: &str, info: &LicenseCodeInfo, now: DateTime<Utc>) -> licenses::Model {
    licenses::Model {
        code: code.to_owned(),
        order_id: info.order_id.clone(),
        order_line_id: None,
        product_id: info.product_id.clone(),
        status: status::ACTIVE.to_owned(),
        expire_time: info.expire_time,
        test: false,
        released_before_known: false,
        status_requested_at: None,
        expiry_requested_at: None,
        activated_at: info.activate_time,
        activation_announced: false,
        kg_status: (!info.status.is_empty()).then(|| info.status.clone()),
        checked_at: Some(now),
        check_due: false,
        version: 0,
        created_at: now,
        updated_at: now,
    }
}

fn outcome_text(e: &MarketplaceError) -> &str {
    match e {
        MarketplaceError::License { code, .. } => code.as_str(),
        MarketplaceError::Api { code, .. } => code,
        _ => "unreachable",
    }
}

fn log_failure(code: &str, call: &str, e: &MarketplaceError) {
    if e.is_misconfigured() {
        tracing::error!(
            error = e as &dyn std::error::Error,
            license = code,
            call,
            "KooGallery refused koofill's AK/SK"
        );
    } else {
        tracing::warn!(error = e as &dyn std::error::Error, license = code, call, "KooGallery license call failed");
    }
}
