//! refreshInstance, updateInstanceStatus, releaseInstance and upgradeInstance.
//!
//! Arriving before the create was processed (spec §1.4–§1.7; KooGallery's debugger replays
//! cases in random order, and a create may be waiting on query order):
//! - release: recorded at once as a tombstone (`released`, `released_before_create`), so the
//!   late create finds it and does not provision; the answer KooGallery got (`000000`) holds;
//! - refresh, freeze/unfreeze, upgrade: retried with a delay ([`ProvisioningError::NotYetCreated`])
//!   until the create has been processed, bounded by the consumer's retry horizon, then
//!   dead-lettered (redrivable). Applying them early would be overwritten by the create's own
//!   expiry and product, and there is nothing to freeze yet.
//!
//! On a released instance every other call is a no-op that succeeds.
//!
//! Request order, not handling order: a call can be handled after a later one (a FREEZE whose
//! provisioner call failed waits out its retry delay while the UNFREEZE after the renewal goes
//! through; a RENEWAL retried after the UNSUBSCRIBE_RENEWAL_PERIOD that undid it). The instance
//! records when KooGallery signed the call (the envelope's `request_time()`: the verified
//! request timestamp) whose effect it holds, once for its status (`status_requested_at`) and once for its expiry
//! (`expiry_requested_at`); a status or refresh call accepted before that is acknowledged with no
//! effect: no provisioner call, no change, no event. A status call whose target state already
//! holds (UNFREEZE of an active instance) still records its time, so the older FREEZE handled
//! after it is recognised as older. Calls signed at the same instant are applied in handling order.

use chrono::{DateTime, Utc};
use koofill_bus::views::InstanceState;
use koofill_model::{
    DomainEvent, InstanceId, OrderId, OrderLineId, ProductId,
    basic::{InstanceStatus, RefreshInstance, RefreshScene, ReleaseInstance, UpdateInstanceStatus, UpgradeInstance},
    order::OrderInfo,
};
use koofill_store::{StoreError, entities::instances};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::json;

use super::{Msg, create::publish_view};
use crate::{
    ProvisioningError,
    context::Deps,
    provisioner::{Change, ProductRef, Provisioner},
    repo::{self, Transition},
};

/// The instance as a lifecycle call finds it.
enum Found {
    /// Active or frozen.
    Live(Box<instances::Model>),
    /// Released: further calls change nothing.
    Released,
}

async fn live(deps: &Deps, id: &InstanceId) -> Result<Found, ProvisioningError> {
    match repo::find_instance(&deps.db, id).await? {
        Some(row) => match row.state {
            InstanceState::Active | InstanceState::Frozen => Ok(Found::Live(Box::new(row))),
            InstanceState::Released => Ok(Found::Released),
            InstanceState::Accepted | InstanceState::Provisioning | InstanceState::Failed => {
                Err(ProvisioningError::NotYetCreated(id.clone()))
            }
        },
        None => Err(ProvisioningError::NotYetCreated(id.clone())),
    }
}

/// Records the message with no effect (repeats, and calls on released instances).
async fn no_effect(deps: &Deps, msg: &Msg<'_>) -> Result<(), ProvisioningError> {
    msg.no_effect(deps).await
}

/// Query order for a follow-up order; debug calls with made-up orders go on without it.
async fn query(
    deps: &Deps,
    order_id: &OrderId,
    line: &OrderLineId,
    test: bool,
) -> Result<Option<OrderInfo>, ProvisioningError> {
    match deps.marketplace.query_order_line(order_id, line).await {
        Ok(info) => Ok(Some(info)),
        Err(e) if test && !e.is_retryable() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn product_of(order: Option<&OrderInfo>, line: &OrderLineId) -> Option<ProductRef> {
    let order = order?;
    let l = order.line(line).or_else(|| order.order_line.first())?;
    l.product_info.first().map(ProductRef::from_info)
}

/// The product columns for a change of product.
fn product_changes(product: &ProductRef) -> instances::ActiveModel {
    let mut changes = <instances::ActiveModel as Default>::default();
    if let Some(id) = &product.product_id {
        changes.product_id = Set(Some(id.clone()));
    }
    if let Some(sku) = &product.sku_code {
        changes.sku_code = Set(Some(sku.clone()));
    }
    if let Some(v) = &product.linear_value {
        changes.linear_value = Set(Some(v.clone()));
    }
    changes
}

pub(super) async fn refresh(deps: &Deps, msg: &Msg<'_>, r: &RefreshInstance) -> Result<(), ProvisioningError> {
    let row = match live(deps, &r.instance_id).await? {
        Found::Live(row) => row,
        Found::Released => return no_effect(deps, msg).await,
    };
    let key = format!("refresh:{}:{}", r.order_id, r.scene);
    if repo::has_transition(&deps.db, &r.instance_id, &key).await? {
        return no_effect(deps, msg).await;
    }
    let requested = msg.env.request_time();
    if is_older(requested, row.expiry_requested_at) {
        tracing::info!(scene = %r.scene, %requested, "a later refresh set the expiry already; ignored");
        return no_effect(deps, msg).await;
    }
    let test = msg.env.test;
    // Renewal with change: the new SKU is only in the order (spec §1.5).
    let order = if r.scene == RefreshScene::RenewalChange {
        query(deps, &r.order_id, &r.order_line_id, test).await?
    } else {
        None
    };
    let product = product_of(order.as_ref(), &r.order_line_id).or_else(|| {
        r.product_id.as_ref().map(|p| ProductRef {
            product_id: Some(p.to_string()),
            sku_code: row.sku_code.clone(),
            linear_value: row.linear_value.clone(),
            product_name: None,
        })
    });
    let expire_time = r.expire_time.at();
    let change = Change::Renew {
        instance_id: r.instance_id.clone(),
        order_id: r.order_id.clone(),
        scene: r.scene,
        expire_time,
        product: product.clone(),
    };
    deps.provisioners.for_order(test).apply(&msg.follow_up("instance.renew"), test, &change).await?;

    let Some(mut uow) = deps.unit(msg.consumer, &msg.env.id).await? else {
        return Ok(());
    };
    let txn = uow.txn();
    if let Some(info) = &order {
        repo::record_order(txn, info, test, None).await?;
    }
    // The expiry is set to the value sent, never extended: repeating the call changes nothing.
    let mut changes = product.as_ref().map(product_changes).unwrap_or_default();
    changes.expire_time = Set(Some(expire_time));
    changes.expiry_requested_at = Set(Some(requested));
    repo::update_instance(txn, &r.instance_id, row.version, changes).await?;
    let state = row.state;
    let recorded = repo::add_transition(
        txn,
        Transition {
            instance_id: &r.instance_id,
            from: Some(row.state),
            to: state,
            step: "renew",
            idem_key: Some(key),
            order_id: Some(r.order_id.as_str()),
            scene: Some(r.scene.as_str()),
            event_id: &msg.env.id,
            detail: Some(json!({ "expire_time": expire_time, "product": product })),
        },
    )
    .await?;
    if recorded {
        let event = DomainEvent::InstanceRenewed {
            instance_id: r.instance_id.clone(),
            order_id: r.order_id.clone(),
            scene: r.scene,
            expire_time,
            product_id: product.as_ref().and_then(|p| p.product_id.as_deref()).map(ProductId::from),
        };
        uow.emit(deps.event(msg.follow_up("instance.renewed"), test, event)?);
    }
    uow.commit().await?;
    publish_view(deps, &r.instance_id).await
}

pub(super) async fn status(deps: &Deps, msg: &Msg<'_>, r: &UpdateInstanceStatus) -> Result<(), ProvisioningError> {
    let row = match live(deps, &r.instance_id).await? {
        Found::Live(row) => row,
        Found::Released => return no_effect(deps, msg).await,
    };
    let test = msg.env.test;
    let requested = msg.env.request_time();
    if is_older(requested, row.status_requested_at) {
        tracing::info!(status = ?r.status, %requested, "a later status change was applied already; ignored");
        return no_effect(deps, msg).await;
    }
    let state = row.state;
    // Target state: freezing a frozen instance (or unfreezing an active one) is already done in
    // koofill's records; the product is still told (see `reached`) and the time recorded.
    let (to, change, step, event) = match (r.status, state) {
        (InstanceStatus::Freeze, InstanceState::Active) => (
            InstanceState::Frozen,
            Change::Freeze { instance_id: r.instance_id.clone() },
            "freeze",
            DomainEvent::InstanceFrozen { instance_id: r.instance_id.clone() },
        ),
        (InstanceStatus::Unfreeze, InstanceState::Frozen) => (
            InstanceState::Active,
            Change::Unfreeze { instance_id: r.instance_id.clone() },
            "unfreeze",
            DomainEvent::InstanceUnfrozen { instance_id: r.instance_id.clone() },
        ),
        _ => return reached(deps, msg, r, &row, requested).await,
    };
    deps.provisioners.for_order(test).apply(&msg.follow_up(change.step()), test, &change).await?;

    let Some(mut uow) = deps.unit(msg.consumer, &msg.env.id).await? else {
        return Ok(());
    };
    let txn = uow.txn();
    let changes =
        instances::ActiveModel { state: Set(to), status_requested_at: Set(Some(requested)), ..Default::default() };
    repo::update_instance(txn, &r.instance_id, row.version, changes).await?;
    repo::add_transition(
        txn,
        Transition {
            instance_id: &r.instance_id,
            from: Some(row.state),
            to,
            step,
            idem_key: None,
            order_id: None,
            scene: None,
            event_id: &msg.env.id,
            detail: None,
        },
    )
    .await?;
    uow.emit(deps.event(msg.follow_up(event.subject_suffix()), test, event)?);
    uow.commit().await?;
    publish_view(deps, &r.instance_id).await
}

/// A status call whose target state already holds in koofill's records: no event, and its time
/// is recorded, so an older call handled after it changes nothing.
///
/// The product is still told the target state. koofill's row can lag the product: a FREEZE
/// whose provisioner call succeeded but whose commit failed (database down, another replica
/// moved the row) left the product frozen and the row active; the UNFREEZE that follows finds
/// "active" here, and without this call the product would stay frozen for good, since the older
/// FREEZE's retry is then ignored as stale. Freeze and unfreeze are target-state operations at
/// the product too, so telling it again is harmless.
async fn reached(
    deps: &Deps,
    msg: &Msg<'_>,
    r: &UpdateInstanceStatus,
    row: &instances::Model,
    requested: DateTime<Utc>,
) -> Result<(), ProvisioningError> {
    if row.status_requested_at.is_some_and(|t| t >= requested) {
        return no_effect(deps, msg).await;
    }
    let change = match r.status {
        InstanceStatus::Freeze => Change::Freeze { instance_id: r.instance_id.clone() },
        InstanceStatus::Unfreeze => Change::Unfreeze { instance_id: r.instance_id.clone() },
    };
    let test = msg.env.test;
    deps.provisioners.for_order(test).apply(&msg.follow_up(change.step()), test, &change).await?;
    let id = InstanceId::from(row.instance_id.as_str());
    let Some(uow) = deps.unit(msg.consumer, &msg.env.id).await? else {
        return Ok(());
    };
    let txn = uow.txn();
    let changes = instances::ActiveModel { status_requested_at: Set(Some(requested)), ..Default::default() };
    repo::update_instance(txn, &id, row.version, changes).await?;
    uow.commit().await?;
    Ok(())
}

/// Whether a call accepted at `requested` is older than the one whose effect the instance holds.
fn is_older(requested: DateTime<Utc>, applied: Option<DateTime<Utc>>) -> bool {
    applied.is_some_and(|applied| requested < applied)
}

pub(super) async fn release(deps: &Deps, msg: &Msg<'_>, r: &ReleaseInstance) -> Result<(), ProvisioningError> {
    let id = &r.instance_id;
    let test = msg.env.test;
    let row = repo::find_instance(&deps.db, id).await?;
    let state = row.as_ref().map(|r| r.state);
    if state == Some(InstanceState::Released) {
        return no_effect(deps, msg).await;
    }
    // Something may exist at the ISV for live instances, and possibly for failed ones (a create
    // that failed half-way); releasing is idempotent there.
    if matches!(state, Some(InstanceState::Active | InstanceState::Frozen | InstanceState::Failed)) {
        let change = Change::Release { instance_id: id.clone(), order_id: r.order_id.clone() };
        deps.provisioners.for_order(test).apply(&msg.follow_up("instance.release"), test, &change).await?;
    }
    let before_create = !matches!(state, Some(InstanceState::Active | InstanceState::Frozen));

    let Some(mut uow) = deps.unit(msg.consumer, &msg.env.id).await? else {
        return Ok(());
    };
    let txn = uow.txn();
    let released = InstanceState::Released;
    match &row {
        Some(row) => {
            let changes = instances::ActiveModel {
                state: Set(released),
                released_before_create: Set(before_create),
                ..Default::default()
            };
            repo::update_instance(txn, id, row.version, changes).await?;
        }
        None => {
            // The tombstone: the ingress's view knows which order line the instance is for.
            let view = deps.views.get(id.as_str()).await?;
            let now = chrono::Utc::now();
            let tombstone = instances::ActiveModel {
                instance_id: Set(id.to_string()),
                order_id: Set(view.as_ref().map(|v| v.order_id.to_string())),
                order_line_id: Set(view.as_ref().map(|v| v.order_line_id.to_string())),
                state: Set(released),
                test: Set(test),
                released_before_create: Set(true),
                version: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            };
            tombstone.insert(txn).await.map_err(|e| match StoreError::from(e) {
                e if e.is_conflict() => ProvisioningError::Concurrent(id.clone()),
                e => e.into(),
            })?;
        }
    }
    let from = row.as_ref().map(|r| r.state);
    let recorded = repo::add_transition(
        txn,
        Transition {
            instance_id: id,
            from,
            to: InstanceState::Released,
            step: "release",
            idem_key: Some("release".into()),
            order_id: r.order_id.as_ref().map(OrderId::as_str),
            scene: None,
            event_id: &msg.env.id,
            detail: before_create.then(|| json!({ "before_create": true })),
        },
    )
    .await?;
    if recorded {
        let event = DomainEvent::InstanceReleased { instance_id: id.clone(), order_id: r.order_id.clone() };
        uow.emit(deps.event(msg.follow_up("instance.released"), test, event)?);
    }
    uow.commit().await?;
    publish_view(deps, id).await
}

pub(super) async fn upgrade(deps: &Deps, msg: &Msg<'_>, r: &UpgradeInstance) -> Result<(), ProvisioningError> {
    let row = match live(deps, &r.instance_id).await? {
        Found::Live(row) => row,
        Found::Released => return no_effect(deps, msg).await,
    };
    let key = format!("upgrade:{}", r.order_id);
    if repo::has_transition(&deps.db, &r.instance_id, &key).await? {
        return no_effect(deps, msg).await;
    }
    let requested = msg.env.request_time();
    if is_older(requested, row.upgrade_requested_at) {
        tracing::info!(order_id = %r.order_id, %requested, "a later upgrade was applied already; ignored");
        return no_effect(deps, msg).await;
    }
    let test = msg.env.test;
    // The target SKU and quantity are only in the upgrade order (orderType CHANGE, spec §1.8).
    let order = query(deps, &r.order_id, &r.order_line_id, test).await?;
    let product = product_of(order.as_ref(), &r.order_line_id);
    let change =
        Change::Upgrade { instance_id: r.instance_id.clone(), order_id: r.order_id.clone(), product: product.clone() };
    deps.provisioners.for_order(test).apply(&msg.follow_up("instance.upgrade"), test, &change).await?;

    let Some(mut uow) = deps.unit(msg.consumer, &msg.env.id).await? else {
        return Ok(());
    };
    let txn = uow.txn();
    if let Some(info) = &order {
        repo::record_order(txn, info, test, None).await?;
    }
    let mut changes = product.as_ref().map(product_changes).unwrap_or_default();
    changes.upgrade_requested_at = Set(Some(requested));
    repo::update_instance(txn, &r.instance_id, row.version, changes).await?;
    let recorded = repo::add_transition(
        txn,
        Transition {
            instance_id: &r.instance_id,
            from: Some(row.state),
            to: row.state,
            step: "upgrade",
            idem_key: Some(key),
            order_id: Some(r.order_id.as_str()),
            scene: None,
            event_id: &msg.env.id,
            detail: Some(json!({ "product": product })),
        },
    )
    .await?;
    if recorded {
        let event = DomainEvent::InstanceUpgraded { instance_id: r.instance_id.clone(), order_id: r.order_id.clone() };
        uow.emit(deps.event(msg.follow_up("instance.upgraded"), test, event)?);
    }
    uow.commit().await?;
    publish_view(deps, &r.instance_id).await
}
