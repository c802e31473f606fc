//! `POST {base}`: the basic V2 interfaces, told apart by `activity` (SaaS, orderNotify, License 2.0).

use std::time::Instant;

use axum::extract::{RawQuery, State, rejection::BytesRejection};
use bytes::Bytes;
use koofill_model::BasicRequest;
use koofill_signing::percent;

use super::{body_or_error, body_value, conclude};
use crate::{
    answer::Answer,
    dispatch,
    error::IngressError,
    state::AppState,
    verify::{self, Scheme, SignatureParams},
};

/// Reads `signature`, `timestamp` and `nonce` from the raw query string.
fn query_params(raw: Option<&str>) -> SignatureParams {
    let mut params = SignatureParams::default();
    for (name, value) in percent::parse_query(raw.unwrap_or_default()) {
        match name.as_str() {
            "signature" => params.signature = Some(value),
            "timestamp" => params.timestamp = Some(value),
            "nonce" => params.nonce = Some(value),
            _ => {}
        }
    }
    params
}

/// The route handler.
pub async fn handle(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let started = Instant::now();
    let span = tracing::Span::current();
    let mut activity = "unknown";
    let mut key_index = 0;
    let result = async {
        let body = body_or_error(body, state.settings.body_limit)?;
        let verified = verify::verify(&state, Scheme::Basic, &query_params(query.as_deref()), &body)?;
        key_index = verified.key_index;
        // One parse: the value is validated into the request and travels in the envelope.
        let value = body_value(&body)?;
        let request = BasicRequest::from_value(&value).map_err(IngressError::Invalid)?;
        activity = request.activity().as_str();
        span.record("activity", activity);
        record_ids(&span, &request);
        dispatch::basic(&state, request, value, &verified).await
    }
    .await;
    conclude(&state, result, false, key_index, activity, started)
}

pub(super) fn record_ids(span: &tracing::Span, request: &BasicRequest) {
    match request {
        BasicRequest::NewInstance(r) => {
            span.record("order_id", r.order_id.as_str());
            span.record("instance_id", r.instance_id().as_str());
        }
        BasicRequest::RefreshInstance(r) => {
            span.record("order_id", r.order_id.as_str());
            span.record("instance_id", r.instance_id.as_str());
        }
        BasicRequest::UpgradeInstance(r) => {
            span.record("order_id", r.order_id.as_str());
            span.record("instance_id", r.instance_id.as_str());
        }
        BasicRequest::UpdateInstanceStatus(r) => {
            span.record("instance_id", r.instance_id.as_str());
        }
        BasicRequest::ReleaseInstance(r) => {
            span.record("instance_id", r.instance_id.as_str());
        }
        BasicRequest::OrderNotify(r) => {
            span.record("order_id", r.order_id.as_str());
        }
        _ => {}
    }
}
