//! `POST {base}/produceAPI/v2/{interface}`: the Kit (联营) sync interfaces, signed with the Kit key
//! in `x-sign`, `x-timestamp`, `x-nonce` headers.

use std::time::Instant;

use axum::{
    extract::{
        Path, State,
        rejection::{BytesRejection, PathRejection},
    },
    http::HeaderMap,
};
use bytes::Bytes;
use koofill_model::{KitInterface, KitRequest};

use super::{body_or_error, body_value, conclude};
use crate::{
    answer::Answer,
    dispatch,
    error::IngressError,
    state::AppState,
    verify::{self, Scheme, SignatureParams},
};

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The route handler.
pub async fn handle(
    State(state): State<AppState>,
    interface: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let started = Instant::now();
    let span = tracing::Span::current();
    // A path segment that is not UTF-8 is just another unknown interface (000002, not HTTP 400).
    let interface = interface.map(|Path(name)| name).unwrap_or_default();
    let parsed: Option<KitInterface> = interface.parse().ok();
    let activity = parsed.map_or("unknown", KitInterface::path_name);
    span.record("activity", activity);
    let mut key_index = 0;
    let result = async {
        let iface = parsed.ok_or_else(|| IngressError::UnknownKitInterface(interface.chars().take(40).collect()))?;
        let body = body_or_error(body, state.settings.body_limit)?;
        let params = SignatureParams {
            signature: header(&headers, "x-sign"),
            timestamp: header(&headers, "x-timestamp"),
            nonce: header(&headers, "x-nonce"),
        };
        let verified = verify::verify(&state, Scheme::Kit, &params, &body)?;
        key_index = verified.key_index;
        let value = body_value(&body)?;
        let request = KitRequest::from_value(iface, &value).map_err(IngressError::Invalid)?;
        if let Some(id) = request.instance_id() {
            span.record("instance_id", id.as_str());
        }
        dispatch::kit(&state, request, value, &verified).await
    }
    .await;
    conclude(&state, result, true, key_index, activity, started)
}
