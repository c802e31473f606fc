//! `POST /v1/usage`: pay-per-use usage from the seller's software, stored on `KOOFILL_USAGE` for
//! the metering worker (architecture §3.1, issue 10).
//!
//! - `Authorization: Bearer <metering.api_token>` (or `api_token_previous`; not the license token,
//!   which ships inside License software), checked as the license proxy checks its own ([`crate::license_proxy::authenticate`]): 401 otherwise, before the body is read;
//! - body `{"events": [{"instance_id", "usage_value", "event_id", "occurred_at"}, ...]}`, each event
//!   validated by `koofill-model` ([`UsageEvent::from_json`]), every problem naming its index and field;
//! - at most `metering.max_events_per_request` events: 413 beyond, nothing stored;
//! - the valid events are grouped by partition ([`partition_of`]: FNV-1a of `instance_id` modulo
//!   `metering.partitions`) and each group is published as one batch to
//!   `<prefix>.usage.<partition>` with `Nats-Msg-Id` = `usage-` + the first 32 hex digits of the
//!   SHA-256 of the batch's bytes, so the same request repeated within JetStream's duplicate window
//!   is stored once; the worker also counts each `(instance_id, event_id)` once, whenever it comes.
//!
//! **A request is not all-or-nothing: the valid events are stored, the invalid ones are
//! reported.** Answers:
//! - 202 `{"accepted": n, "rejected": 0, "errors": []}` once JetStream stored every partition's batch;
//! - 422 `{"accepted": n, "rejected": m, "errors": [{"index", "field", "message"}]}` when some
//!   events are invalid: the `n` valid ones are stored all the same (so repeating the corrected
//!   request whole is safe: what was stored is not counted twice);
//! - 400 `{"error": {...}}` when the body is not `{"events": [...]}` or has no events; 413 as above;
//! - 503 when JetStream did not confirm every batch: some may be stored, so the producer repeats
//!   the same request, which is counted once.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use koofill_bus::names;
use koofill_config::MeteringConfig;
use koofill_model::usage::{EventProblem, UsageBatch, UsageEvent};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use crate::{license_proxy, state::AppState};

/// The route.
pub const PATH: &str = "/v1/usage";
/// Body bytes allowed per event on top of a fixed allowance (the longest valid event is about 350).
const BYTES_PER_EVENT: usize = 1024;

/// What the handler needs besides the shared state.
#[derive(Debug, Clone)]
struct UsageApi {
    app: AppState,
    partitions: u32,
    max_events: usize,
}

/// The `/v1/usage` routes, with their own body limit (`metering.max_events_per_request` events)
/// and trace layer, to merge into the ingress router.
pub fn router(app: &AppState, cfg: &MeteringConfig) -> Router {
    let api = Arc::new(UsageApi {
        app: app.clone(),
        partitions: cfg.partitions.max(1),
        max_events: cfg.max_events_per_request.max(1),
    });
    let limit = api.max_events.saturating_mul(BYTES_PER_EVENT).saturating_add(64 * 1024);
    Router::new()
        .route(PATH, post(handle))
        .layer(DefaultBodyLimit::max(limit))
        .layer(koofill_telemetry::http::trace_layer())
        .with_state(api)
}

/// The partition of `instance_id` among `partitions`: 32-bit FNV-1a of its UTF-8 bytes, modulo
/// `partitions`. Stable across processes and versions, so one instance's events always share a
/// partition (and a consumer when workers scale out).
pub fn partition_of(instance_id: &str, partitions: u32) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in instance_id.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % partitions.max(1)
}

/// The `Nats-Msg-Id` of a batch: `usage-` and the first 32 hex digits of SHA-256 of its bytes.
pub fn batch_msg_id(payload: &[u8]) -> String {
    let digest = Sha256::digest(payload);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("usage-{hex}")
}

fn invalid(message: &str) -> Response {
    license_proxy::error(StatusCode::BAD_REQUEST, "invalid", message, None)
}

/// The events array of a body, or the 400/413 to answer.
#[allow(clippy::result_large_err)]
fn events_of(body: &[u8], max: usize) -> Result<Vec<Value>, Response> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Err(invalid("body: expected JSON {\"events\": [...]}"));
    };
    let Value::Object(mut object) = value else {
        return Err(invalid("body: expected an object {\"events\": [...]}"));
    };
    if let Some(unknown) = object.keys().find(|k| k.as_str() != "events") {
        return Err(invalid(&format!("{unknown}: is not a known field")));
    }
    let Some(Value::Array(events)) = object.remove("events") else {
        return Err(invalid("events: is required and must be an array"));
    };
    if events.is_empty() {
        return Err(invalid("events: must not be empty"));
    }
    if events.len() > max {
        let message = format!("events: at most {max} per request, got {}", events.len());
        return Err(license_proxy::error(StatusCode::PAYLOAD_TOO_LARGE, "too_many_events", &message, None));
    }
    Ok(events)
}

/// `POST /v1/usage`.
async fn handle(State(api): State<Arc<UsageApi>>, headers: HeaderMap, body: Bytes) -> Response {
    let state = &api.app;
    if let Err(refused) = license_proxy::authenticate_with(&state.usage_tokens, state, &headers, "usage_unauthorized") {
        return refused;
    }
    let events = match events_of(&body, api.max_events) {
        Ok(events) => events,
        Err(refused) => {
            state.metrics.reject("usage_invalid");
            return refused;
        }
    };
    let now = chrono::Utc::now();
    let mut problems: Vec<EventProblem> = Vec::new();
    let mut batches: BTreeMap<u32, Vec<UsageEvent>> = BTreeMap::new();
    for (index, value) in events.iter().enumerate() {
        match UsageEvent::from_json(index, value, now) {
            Ok(event) => batches.entry(partition_of(&event.instance_id, api.partitions)).or_default().push(event),
            Err(mut found) => problems.append(&mut found),
        }
    }
    let accepted: usize = batches.values().map(Vec::len).sum();
    if let Err(answer) = publish(state, batches).await {
        return answer;
    }
    let rejected = events.len() - accepted;
    let status = if problems.is_empty() { StatusCode::ACCEPTED } else { StatusCode::UNPROCESSABLE_ENTITY };
    if rejected > 0 {
        state.metrics.reject("usage_event_invalid");
    }
    (status, Json(json!({ "accepted": accepted, "rejected": rejected, "errors": problems }))).into_response()
}

/// Publishes one batch per partition, concurrently, and returns once JetStream stored them all.
#[allow(clippy::result_large_err)]
async fn publish(state: &AppState, batches: BTreeMap<u32, Vec<UsageEvent>>) -> Result<(), Response> {
    let mut publishes = JoinSet::new();
    for (partition, events) in batches {
        let payload = match serde_json::to_vec(&UsageBatch { events }) {
            Ok(payload) => payload,
            Err(e) => {
                tracing::error!(error = &e as &dyn std::error::Error, "usage batch not encoded");
                return Err(unavailable());
            }
        };
        let subject = names::usage(&state.settings.prefix, &partition.to_string());
        let publisher = state.publisher.clone();
        publishes.spawn(async move {
            let id = batch_msg_id(&payload);
            publisher.publish_raw(&subject, &id, Default::default(), payload.into()).await
        });
    }
    let mut failed = false;
    while let Some(done) = publishes.join_next().await {
        match done {
            Ok(Ok(_ack)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = &e as &dyn std::error::Error, "usage batch not stored");
                failed = true;
            }
            Err(e) => {
                tracing::error!(error = &e as &dyn std::error::Error, "usage publish task failed");
                failed = true;
            }
        }
    }
    if failed {
        state.metrics.publish_failures.inc();
        return Err(unavailable());
    }
    Ok(())
}

fn unavailable() -> Response {
    license_proxy::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "usage could not be stored; repeat the same request (it is counted once)",
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_stable_and_spread() {
        // FNV-1a reference values: "" → 0x811c9dc5, "a" → 0xe40c292c.
        assert_eq!(partition_of("", u32::MAX), 0x811c_9dc5);
        assert_eq!(partition_of("a", u32::MAX), 0xe40c_292c);
        assert_eq!(partition_of("anything", 1), 0);
        let used: std::collections::BTreeSet<u32> = (0..200).map(|i| partition_of(&format!("i-{i}"), 16)).collect();
        assert_eq!(used.len(), 16, "200 instances reach every one of 16 partitions");
    }

    #[test]
    fn the_message_id_follows_the_bytes() {
        assert_eq!(batch_msg_id(b"{}"), batch_msg_id(b"{}"));
        assert_ne!(batch_msg_id(b"{}"), batch_msg_id(b"{ }"));
        assert_eq!(batch_msg_id(b"x").len(), "usage-".len() + 32);
    }

    #[test]
    fn bodies_that_are_not_batches_are_refused() {
        for (body, status) in [
            (&b"nope"[..], StatusCode::BAD_REQUEST),
            (b"[]", StatusCode::BAD_REQUEST),
            (br#"{"events": []}"#, StatusCode::BAD_REQUEST),
            (br#"{"events": [], "extra": 1}"#, StatusCode::BAD_REQUEST),
            (br#"{"events": [1, 2, 3]}"#, StatusCode::PAYLOAD_TOO_LARGE),
        ] {
            assert_eq!(events_of(body, 2).unwrap_err().status(), status, "{}", String::from_utf8_lossy(body));
        }
        assert_eq!(events_of(br#"{"events": [1]}"#, 2).unwrap().len(), 1);
    }
}
