//! What each verified, validated callback does (architecture §5).

use chrono::Utc;
use koofill_bus::{Once, names, rpc};
use koofill_model::{BasicRequest, CallbackResponse, Envelope, InstanceId, InstanceInfo, KitRequest, ResultCode};
use serde_json::Value;

use crate::{
    change_check::{ChangeCheckReply, ChangeCheckRequest},
    error::IngressError,
    state::{AppState, ChangeCheckDefault},
    verify::Verified,
};

/// Handles a basic callback that passed verification as `verified`.
///
/// Each outcome claims the request's nonce exactly once: a published callback in its own write
/// ([`publish`]), any other answer in the nonce bucket first ([`Verified::claim`]).
pub async fn basic(
    state: &AppState,
    request: BasicRequest,
    body: Value,
    verified: &Verified,
) -> Result<CallbackResponse, IngressError> {
    match &request {
        BasicRequest::QueryInstance(q) => {
            verified.claim(state).await?;
            return query_instances(state, &q.instance_ids).await;
        }
        BasicRequest::ChangeInstanceCheck(c) => {
            verified.claim(state).await?;
            let ask = ChangeCheckRequest {
                instance_id: c.instance_id.clone(),
                product_info: c.product_info.value().clone(),
                test: c.is_test(),
            };
            return change_check(state, &ask).await;
        }
        // Lifecycle calls for an instance koofill never issued get 000003 (spec §1.5–§1.8); a
        // released instance is still known, so releasing it again succeeds.
        BasicRequest::RefreshInstance(r) => known_instance(state, verified, &r.instance_id).await?,
        BasicRequest::UpdateInstanceStatus(r) => known_instance(state, verified, &r.instance_id).await?,
        BasicRequest::ReleaseInstance(r) => known_instance(state, verified, &r.instance_id).await?,
        BasicRequest::UpgradeInstance(r) => known_instance(state, verified, &r.instance_id).await?,
        _ => {}
    }
    // The model builds the whole message, id included, so that whatever stands in for the
    // ingress in tests (koofill_testkit::inbound) publishes exactly this.
    let Some(envelope) = Envelope::basic_callback(&request, body, &verified.identity, Utc::now()) else {
        verified.claim(state).await?;
        return Ok(CallbackResponse::success());
    };
    let BasicRequest::NewInstance(r) = &request else {
        let subject = names::inbound(&state.settings.prefix, request.family(), request.activity().as_str());
        publish(state, &subject, &envelope, verified).await?;
        return Ok(CallbackResponse::success());
    };
    // The stored callback is the instance's record until provisioning writes its view: its
    // subject names the instance, and the view falls back to it (`InstanceViews::get`). So
    // `000000` is durable once the one publish is, and a queryInstance or lifecycle call right
    // after it finds the instance.
    let instance_id = r.instance_id();
    let subject = names::inbound_new_instance(&state.settings.prefix, instance_id.as_str());
    publish(state, &subject, &envelope, verified).await?;
    Ok(CallbackResponse::new_instance(instance_id))
}

/// Handles a Kit callback: publish and acknowledge (deletes never check that the instance exists).
pub async fn kit(
    state: &AppState,
    request: KitRequest,
    body: Value,
    verified: &Verified,
) -> Result<CallbackResponse, IngressError> {
    let envelope = Envelope::kit_callback(&request, body, &verified.identity, Utc::now());
    let subject = names::inbound(&state.settings.prefix, request.family(), request.interface().path_name());
    publish(state, &subject, &envelope, verified).await?;
    Ok(CallbackResponse::success())
}

/// Publishes under the request's replay key: storing the callback and claiming its nonce are one
/// write, and a key the stream already holds is a replay.
async fn publish<T: serde::Serialize>(
    state: &AppState,
    subject: &str,
    envelope: &Envelope<T>,
    verified: &Verified,
) -> Result<(), IngressError> {
    let once = state.publisher.publish_once(subject, envelope, &verified.replay_key()).await.map_err(|e| {
        state.metrics.publish_failures.inc();
        IngressError::Bus(e)
    })?;
    match once {
        Once::Stored => Ok(()),
        Once::Replayed => Err(IngressError::ReplayedNonce),
    }
}

/// An unknown instance is answered `000003` without publishing, so its nonce is claimed here.
async fn known_instance(state: &AppState, verified: &Verified, id: &InstanceId) -> Result<(), IngressError> {
    match state.views.get(id.as_str()).await.map_err(IngressError::Bus)? {
        Some(_) => Ok(()),
        None => {
            verified.claim(state).await?;
            Err(IngressError::UnknownInstance(id.as_str().to_owned()))
        }
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
