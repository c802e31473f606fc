//! What each verified, validated callback does (architecture §5).

use chrono::Utc;
use koofill_bus::{
    names, rpc,
    views::{InstanceState, InstanceView},
};
use koofill_model::{
    BasicRequest, CallbackResponse, Envelope, InstanceId, InstanceInfo, KitRequest, RequestIdentity, ResultCode,
};
use serde_json::Value;

use crate::{
    change_check::{ChangeCheckReply, ChangeCheckRequest},
    error::IngressError,
    state::{AppState, ChangeCheckDefault},
};

/// Handles a basic callback; `identity` is the verified request's timestamp and nonce.
pub async fn basic(
    state: &AppState,
    request: BasicRequest,
    body: Value,
    identity: &RequestIdentity,
) -> Result<CallbackResponse, IngressError> {
    match &request {
        BasicRequest::QueryInstance(q) => return query_instances(state, &q.instance_ids).await,
        BasicRequest::ChangeInstanceCheck(c) => {
            let ask = ChangeCheckRequest {
                instance_id: c.instance_id.clone(),
                product_info: c.product_info.value().clone(),
                test: c.is_test(),
            };
            return change_check(state, &ask).await;
        }
        // Lifecycle calls for an instance koofill never issued get 000003 (spec §1.5–§1.8); a
        // released instance is still known, so releasing it again succeeds.
        BasicRequest::RefreshInstance(r) => known_instance(state, &r.instance_id).await?,
        BasicRequest::UpdateInstanceStatus(r) => known_instance(state, &r.instance_id).await?,
        BasicRequest::ReleaseInstance(r) => known_instance(state, &r.instance_id).await?,
        BasicRequest::UpgradeInstance(r) => known_instance(state, &r.instance_id).await?,
        _ => {}
    }
    // The model builds the whole message, id included, so that whatever stands in for the
    // ingress in tests (koofill_testkit::inbound) publishes exactly this.
    let Some(envelope) = Envelope::basic_callback(&request, body, identity, Utc::now()) else {
        return Ok(CallbackResponse::success());
    };
    let subject = names::inbound(&state.settings.prefix, request.family(), request.activity().as_str());
    let BasicRequest::NewInstance(r) = &request else {
        publish(state, &subject, &envelope).await?;
        return Ok(CallbackResponse::success());
    };
    let instance_id = r.instance_id();
    let view = InstanceView {
        instance_id: instance_id.clone(),
        order_id: r.order_id.clone(),
        order_line_id: r.order_line_id.clone(),
        state: InstanceState::Accepted,
        test: r.is_test(),
        app_info: None,
        usage_info: None,
        updated_at: Utc::now(),
    };
    // The view is written alongside the publish (not after it): both must succeed before the
    // answer, and `create` never overwrites a later state written by provisioning, so the order
    // between them does not matter. A view written for a publish that then failed only says
    // "accepted" for an order KooGallery will send again.
    let (published, viewed) = tokio::join!(publish(state, &subject, &envelope), state.views.create(&view));
    published?;
    viewed.map_err(IngressError::Bus)?;
    Ok(CallbackResponse::new_instance(instance_id))
}

/// Handles a Kit callback: publish and acknowledge (deletes never check that the instance exists).
pub async fn kit(
    state: &AppState,
    request: KitRequest,
    body: Value,
    identity: &RequestIdentity,
) -> Result<CallbackResponse, IngressError> {
    let envelope = Envelope::kit_callback(&request, body, identity, Utc::now());
    let subject = names::inbound(&state.settings.prefix, request.family(), request.interface().path_name());
    publish(state, &subject, &envelope).await?;
    Ok(CallbackResponse::success())
}

async fn publish<T: serde::Serialize>(
    state: &AppState,
    subject: &str,
    envelope: &Envelope<T>,
) -> Result<(), IngressError> {
    state.publisher.publish(subject, envelope).await.map(|_| ()).map_err(|e| {
        state.metrics.publish_failures.inc();
        IngressError::Bus(e)
    })
}

async fn known_instance(state: &AppState, id: &InstanceId) -> Result<(), IngressError> {
    match state.views.get(id.as_str()).await.map_err(IngressError::Bus)? {
        Some(_) => Ok(()),
        None => Err(IngressError::UnknownInstance(id.as_str().to_owned())),
    }
}

/// queryInstance from the instance view (spec §1.4 recommendation): one id → its state decides
/// the code (ready `000000`, opening `000004`, unknown `000003`); several ids → `000000` with the
/// ready ones, or the code of the "best" state when none is ready.
async fn query_instances(state: &AppState, ids: &[InstanceId]) -> Result<CallbackResponse, IngressError> {
    let mut info = Vec::new();
    let (mut pending, mut failed) = (false, false);
    for id in ids {
        match state.views.get(id.as_str()).await.map_err(IngressError::Bus)? {
            Some(view) if view.state.is_ready() => info.push(InstanceInfo {
                instance_id: view.instance_id,
                app_info: view.app_info,
                usage_info: view.usage_info,
            }),
            Some(view) if view.state.is_pending() => pending = true,
            Some(_) => failed = true,
            None => {}
        }
    }
    if !info.is_empty() {
        return Ok(CallbackResponse::query_instance(info));
    }
    Ok(if pending {
        CallbackResponse::with_code(ResultCode::Processing)
    } else if failed {
        CallbackResponse::failure(ResultCode::InternalError, "instance could not be opened")
    } else {
        let id = ids.first().map(InstanceId::as_str).unwrap_or_default();
        return Err(IngressError::UnknownInstance(id.to_owned()));
    })
}

async fn change_check(state: &AppState, ask: &ChangeCheckRequest) -> Result<CallbackResponse, IngressError> {
    let subject = names::rpc_change_check(&state.settings.prefix);
    let reply: Result<ChangeCheckReply, _> =
        rpc::request_json(&state.bus.client, &subject, ask, state.settings.change_check_timeout).await;
    let (allowed, message) = match reply {
        Ok(r) => (r.allowed, r.message),
        Err(e) => {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "no changeInstanceCheck verdict; using the configured default"
            );
            (state.settings.change_check_default == ChangeCheckDefault::Allow, None)
        }
    };
    Ok(if allowed {
        CallbackResponse::success()
    } else {
        CallbackResponse::failure(
            ResultCode::InvalidParam,
            message.as_deref().unwrap_or("the requested change is not possible"),
        )
    })
}
