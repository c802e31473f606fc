//! newInstance: accepted → provisioning → active (or failed after the retry budget).
//!
//! 1. A row that is already active, frozen or released means the create happened (or a release
//!    overtook it): record the message, rewrite the view from the row, and stop. A release that
//!    overtook the create leaves a tombstone row, so a late create never brings a released
//!    instance back; if an earlier delivery of the create may have made a tenant at the ISV, it
//!    is released first.
//! 2. The view says `provisioning` (webhook provisioner); query order tells buyer, product,
//!    period and expiry.
//! 3. The provisioner creates the tenant (call id `{event id}:instance.create`, the same on
//!    every redelivery, so the ISV can deduplicate).
//! 4. One transaction: inbox, order, instance `active` with the appInfo credentials encrypted in
//!    KooGallery's format, the transition keyed `create`, the `instance.active` event. If a
//!    release got there first (another replica), the transaction is rolled back, the new tenant
//!    released at the ISV, and only then the message recorded, so a failed release is retried.
//! 5. The view says `active` with that appInfo; queryInstance now answers `000000`.
//!
//! When the error is permanent or the last delivery fails, the instance is marked `failed`
//! (view and event `instance.failed`) before the runner dead-letters the message; a redrive
//! starts again at step 1 (`failed` is not final for the create).

use koofill_bus::views::{InstanceState, InstanceView};
use koofill_model::{DomainEvent, InstanceId, basic::NewInstance, order::OrderInfo};
use koofill_store::{StoreError, entities::instances, outbox};
use sea_orm::{ActiveModelTrait, Set, TransactionTrait};
use serde_json::json;

use super::Msg;
use crate::{
    ProvisioningError,
    context::Deps,
    provisioner::{AnyProvisioner, CreateRequest, PlainAppInfo, ProductRef, Provisioner, SEALED_CREDENTIAL_MAX},
    repo::{self, Transition},
};

pub(super) async fn handle(
    deps: &Deps,
    msg: &Msg<'_>,
    instance_id: &InstanceId,
    request: &NewInstance,
) -> Result<(), ProvisioningError> {
    match provision(deps, msg, instance_id, request).await {
        Ok(()) => Ok(()),
        Err(e) if !e.is_retryable() || msg.attempt.is_last => {
            if let Err(mark) = mark_failed(deps, msg, instance_id, request, &e).await {
                tracing::error!(error = &mark as &dyn std::error::Error, "could not mark the instance failed");
            }
            Err(e)
        }
        Err(e) => Err(e),
    }
}

async fn provision(
    deps: &Deps,
    msg: &Msg<'_>,
    instance_id: &InstanceId,
    request: &NewInstance,
) -> Result<(), ProvisioningError> {
    let test = msg.env.test;
    let existing = repo::find_instance(&deps.db, instance_id).await?;
    if let Some(row) = &existing {
        let state = row.state;
        if matches!(state, InstanceState::Active | InstanceState::Frozen | InstanceState::Released) {
            return already_done(deps, msg, instance_id, row).await;
        }
    }

    let provisioner = deps.provisioners.for_order(test);
    // Reaching the ISV can take seconds: say so in the view meanwhile. The template provisioner
    // answers at once, so the extra write would only cost throughput.
    if matches!(provisioner, AnyProvisioner::Webhook(_)) {
        deps.views
            .put(&InstanceView {
                instance_id: instance_id.clone(),
                order_id: request.order_id.clone(),
                order_line_id: request.order_line_id.clone(),
                state: InstanceState::Provisioning,
                test,
                app_info: None,
                usage_info: None,
                updated_at: chrono::Utc::now(),
            })
            .await?;
    }

    let order = match deps.marketplace.query_order_line(&request.order_id, &request.order_line_id).await {
        Ok(info) => Some(info),
        // Debug calls may carry made-up order IDs that query order does not know; they touch
        // nothing real, so they go on without the order's details.
        Err(e) if test && !e.is_retryable() => {
            tracing::info!(error = &e as &dyn std::error::Error, "debug order unknown to query order");
            None
        }
        Err(e) => return Err(e.into()),
    };
    let create = create_request(instance_id, request, test, order.as_ref());
    let app = provisioner.create(&msg.follow_up("instance.create"), &create).await?;
    let (user_name_enc, password_enc) = seal_credentials(deps, &app)?;

    let Some(mut uow) = deps.unit(msg.consumer, &msg.env.id).await? else {
        return Ok(()); // another replica finished it meanwhile
    };
    let txn = uow.txn();
    if let Some(info) = &order {
        repo::record_order(txn, info, test, None).await?;
    } else {
        repo::record_unknown_order(txn, &request.order_id, &request.order_line_id, test, false).await?;
    }
    let current = repo::find_instance(txn, instance_id).await?;
    let from = Some(current.as_ref().map_or(InstanceState::Accepted, |r| r.state));
    if current.as_ref().is_some_and(|r| r.state == InstanceState::Released) {
        // A release overtook us on another replica after our first read: the tenant just created
        // must go. Nothing is recorded until the ISV has released it, so a failed release is
        // retried with the message.
        uow.rollback().await?;
        return release_orphan(deps, msg, instance_id, test).await;
    }
    let now = chrono::Utc::now();
    let product = create.product.clone();
    let mut row = instances::ActiveModel {
        instance_id: Set(instance_id.to_string()),
        order_id: Set(Some(request.order_id.to_string())),
        order_line_id: Set(Some(request.order_line_id.to_string())),
        state: Set(InstanceState::Active),
        test: Set(test),
        charging_mode: Set(create.charging_mode.clone()),
        product_id: Set(product.as_ref().and_then(|p| p.product_id.clone())),
        sku_code: Set(product.as_ref().and_then(|p| p.sku_code.clone())),
        linear_value: Set(product.as_ref().and_then(|p| p.linear_value.clone())),
        products: Set(serde_json::to_string(&create.products).ok()),
        customer_id: Set(create.customer_id.clone()),
        expire_time: Set(create.expire_time),
        front_end_url: Set(Some(app.front_end_url.clone())),
        admin_url: Set(app.admin_url.clone()),
        user_name_enc: Set(user_name_enc),
        password_enc: Set(password_enc),
        memo: Set(app.memo.clone()),
        released_before_create: Set(false),
        failure_reason: Set(None),
        ..Default::default()
    };
    match current {
        None => {
            row.version = Set(0);
            row.created_at = Set(now);
            row.updated_at = Set(now);
            row.insert(txn).await.map_err(|e| match StoreError::from(e) {
                // Another replica inserted it between our reads: let the redelivery look again.
                e if e.is_conflict() => ProvisioningError::Concurrent(instance_id.clone()),
                e => e.into(),
            })?;
        }
        Some(existing) => repo::update_instance(txn, instance_id, existing.version, row).await?,
    }
    repo::add_transition(
        txn,
        Transition {
            instance_id,
            from,
            to: InstanceState::Active,
            step: "create",
            idem_key: Some("create".into()),
            order_id: Some(request.order_id.as_str()),
            scene: None,
            event_id: &msg.env.id,
            detail: Some(json!({ "expire_time": create.expire_time, "product": product })),
        },
    )
    .await?;
    let event = DomainEvent::InstanceActive {
        instance_id: instance_id.clone(),
        order_id: request.order_id.clone(),
        expire_time: create.expire_time,
        product_id: create.product.as_ref().and_then(|p| p.product_id.clone()),
        sku_code: create.product.as_ref().and_then(|p| p.sku_code.clone()),
    };
    uow.emit(deps.event(msg.follow_up("instance.active"), test, event)?);
    uow.commit().await?;
    publish_view(deps, instance_id).await
}

/// The create already took effect (or a release overtook it): only record the message.
///
/// When the release came first and this message was delivered before, an earlier attempt may
/// have created a tenant at the ISV before it failed (or before it found the release, see
/// [`release_orphan`]): that tenant is released, with the same call id, before the message is
/// recorded.
async fn already_done(
    deps: &Deps,
    msg: &Msg<'_>,
    instance_id: &InstanceId,
    row: &instances::Model,
) -> Result<(), ProvisioningError> {
    if row.released_before_create && msg.attempt.delivered > 1 {
        release_at_isv(deps, msg, instance_id, row.test).await?;
    }
    if let Some(uow) = deps.unit(msg.consumer, &msg.env.id).await? {
        if row.released_before_create {
            repo::add_transition(
                uow.txn(),
                Transition {
                    instance_id,
                    from: Some(row.state),
                    to: InstanceState::Released,
                    step: "skip",
                    idem_key: Some("create".into()),
                    order_id: row.order_id.as_deref(),
                    scene: None,
                    event_id: &msg.env.id,
                    detail: Some(json!({ "reason": "the release arrived first; not provisioned" })),
                },
            )
            .await?;
        }
        uow.commit().await?;
    }
    // Repairs a view whose write failed after an earlier commit.
    deps.views.put(&repo::view_of(row)).await?;
    Ok(())
}

/// The provisioner created a tenant for an instance that was released meanwhile: release it at
/// the ISV, then record the message. A failed release returns the error before anything is
/// recorded, so the message is retried (the retry reaches [`already_done`], which releases
/// again with the same call id).
async fn release_orphan(
    deps: &Deps,
    msg: &Msg<'_>,
    instance_id: &InstanceId,
    test: bool,
) -> Result<(), ProvisioningError> {
    release_at_isv(deps, msg, instance_id, test).await?;
    if let Some(uow) = deps.unit(msg.consumer, &msg.env.id).await? {
        repo::add_transition(
            uow.txn(),
            Transition {
                instance_id,
                from: Some(InstanceState::Released),
                to: InstanceState::Released,
                step: "release-orphan",
                idem_key: None,
                order_id: None,
                scene: None,
                event_id: &msg.env.id,
                detail: Some(json!({ "reason": "created while the release overtook the create; released at the ISV" })),
            },
        )
        .await?;
        uow.commit().await?;
    }
    publish_view(deps, instance_id).await
}

/// Releases, at the ISV, what a create of this message may have made (idempotent: the same call
/// id every time, and a release of something the ISV does not have is success).
async fn release_at_isv(
    deps: &Deps,
    msg: &Msg<'_>,
    instance_id: &InstanceId,
    test: bool,
) -> Result<(), ProvisioningError> {
    let change = crate::provisioner::Change::Release { instance_id: instance_id.clone(), order_id: None };
    deps.provisioners.for_order(test).apply(&msg.follow_up("instance.release"), test, &change).await?;
    Ok(())
}

/// Writes the view from the committed row.
pub(super) async fn publish_view(deps: &Deps, instance_id: &InstanceId) -> Result<(), ProvisioningError> {
    if let Some(row) = repo::find_instance(&deps.db, instance_id).await? {
        deps.views.put(&repo::view_of(&row)).await?;
    }
    Ok(())
}

fn create_request(
    instance_id: &InstanceId,
    request: &NewInstance,
    test: bool,
    order: Option<&OrderInfo>,
) -> CreateRequest {
    let line = order.and_then(|o| o.line(&request.order_line_id).or_else(|| o.order_line.first()));
    let buyer = order.and_then(|o| o.buyer_info.as_ref());
    CreateRequest {
        instance_id: instance_id.clone(),
        order_id: request.order_id.clone(),
        order_line_id: request.order_line_id.clone(),
        test,
        order_type: order.map(|o| o.order_type.to_string()),
        customer_id: buyer.and_then(|b| b.customer_id.clone()),
        customer_name: buyer.and_then(|b| b.customer_name.clone()),
        charging_mode: line.map(|l| l.charging_mode.to_string()),
        product: line.and_then(|l| l.product_info.first()).map(ProductRef::from_info),
        products: line.map(|l| l.product_info.clone()).unwrap_or_default(),
        period_type: line.and_then(|l| l.period_type.clone()),
        period_number: line.and_then(|l| l.period_number),
        expire_time: line.and_then(|l| l.expire_time.as_ref()).map(koofill_model::time::CompactTime::at),
        extend_params: line.and_then(|l| l.extend_params.clone()).unwrap_or_default(),
    }
}

/// Encrypts userName and password in KooGallery's format (spec §2.5) and checks they still fit
/// String(128).
fn seal_credentials(deps: &Deps, app: &PlainAppInfo) -> Result<(Option<String>, Option<String>), ProvisioningError> {
    let seal = |field: &'static str, value: &Option<String>| -> Result<Option<String>, ProvisioningError> {
        let Some(plain) = value.as_deref().filter(|v| !v.is_empty()) else { return Ok(None) };
        let sealed = deps.cipher.encrypt(plain);
        if sealed.len() > SEALED_CREDENTIAL_MAX {
            return Err(crate::provisioner::ProvisionerError::InvalidAnswer {
                step: "instance.create",
                reason: format!("{field} is too long once encrypted (KooGallery accepts {SEALED_CREDENTIAL_MAX})"),
            }
            .into());
        }
        Ok(Some(sealed))
    };
    Ok((seal("userName", &app.user_name)?, seal("password", &app.password)?))
}

/// Records `failed` (row, transition, `instance.failed` event, view) without the inbox row, so a
/// redrive of the dead letter provisions again.
async fn mark_failed(
    deps: &Deps,
    msg: &Msg<'_>,
    instance_id: &InstanceId,
    request: &NewInstance,
    error: &ProvisioningError,
) -> Result<(), ProvisioningError> {
    let reason = crate::error::chain(error);
    let test = msg.env.test;
    // Not a unit of work: the message is about to be dead-lettered, not processed, so the inbox
    // must not claim it (a redrive provisions again).
    let transaction = deps.db.begin().await.map_err(StoreError::from)?;
    let txn = &transaction;
    let current = repo::find_instance(txn, instance_id).await?;
    if current.as_ref().is_some_and(|r| {
        r.state != InstanceState::Accepted && r.state != InstanceState::Provisioning && r.state != InstanceState::Failed
    }) {
        return Ok(()); // active or released meanwhile: nothing failed
    }
    let from = Some(current.as_ref().map_or(InstanceState::Accepted, |r| r.state));
    let now = chrono::Utc::now();
    let changes = instances::ActiveModel {
        state: Set(InstanceState::Failed),
        failure_reason: Set(Some(reason.clone())),
        ..Default::default()
    };
    match &current {
        None => {
            let row = instances::ActiveModel {
                instance_id: Set(instance_id.to_string()),
                order_id: Set(Some(request.order_id.to_string())),
                order_line_id: Set(Some(request.order_line_id.to_string())),
                test: Set(test),
                released_before_create: Set(false),
                version: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
                ..changes
            };
            row.insert(txn).await.map_err(StoreError::from)?;
        }
        Some(row) => repo::update_instance(txn, instance_id, row.version, changes).await?,
    }
    repo::add_transition(
        txn,
        Transition {
            instance_id,
            from,
            to: InstanceState::Failed,
            step: "fail",
            idem_key: None,
            order_id: Some(request.order_id.as_str()),
            scene: None,
            event_id: &msg.env.id,
            detail: Some(json!({ "reason": reason, "delivered": msg.attempt.delivered })),
        },
    )
    .await?;
    let event =
        DomainEvent::InstanceFailed { instance_id: instance_id.clone(), order_id: request.order_id.clone(), reason };
    // One failure event per attempt budget: a redriven message has a new stream sequence.
    let id = msg.follow_up(&format!("instance.failed:{}", msg.stream_sequence));
    outbox::push(txn, deps.event(id, test, event)?).await?;
    transaction.commit().await.map_err(StoreError::from)?;
    deps.outbox.wake();
    publish_view(deps, instance_id).await
}
