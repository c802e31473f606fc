//! The retired V1 interfaces (spec §2.3, §5.1), routed only when `koogallery.v1_enabled` is set:
//!
//! - `GET {base}?activity=…&timeStamp=…&authToken=…`: the basic activities, every field in the
//!   query, verified with the basic key and rewritten into their V2 twins
//!   ([`koofill_model::v1::basic_from_query`]);
//! - `POST {base}/produceAPI/{interface}` with an `authToken` header: the Kit syncs, verified with
//!   the Kit key over the body's top-level fields (the spec's recommendation for the undocumented
//!   V1 POST string).
//!
//! From there a V1 call is a V2 call: same validation, dedup keys, dispatch and answers, signed
//! with `Body-Sign` (which V1 requires) by the same layer.

use std::time::Instant;

use axum::{
    extract::{
        Path, RawQuery, State,
        rejection::{BytesRejection, PathRejection},
    },
    http::HeaderMap,
};
use bytes::Bytes;
use koofill_model::{BasicRequest, KitInterface, KitRequest, v1 as v1_model};
use koofill_signing::{percent, v1};

use super::{basic::record_ids, body_or_error, body_value, conclude};
use crate::{
    answer::Answer,
    dispatch,
    error::IngressError,
    state::AppState,
    verify::{self, Scheme},
};

/// `GET {base}`: a V1 basic activity.
pub async fn basic(State(state): State<AppState>, RawQuery(query): RawQuery) -> Answer {
    let started = Instant::now();
    let span = tracing::Span::current();
    let mut activity = "unknown";
    let mut key_index = 0;
    let result = async {
        let params = percent::parse_query(query.as_deref().unwrap_or_default());
        let verified = verify::verify_v1(&state, Scheme::Basic, &params, None)?;
        key_index = verified.key_index;
        let twin = v1_model::basic_from_query(&params).map_err(IngressError::Invalid)?;
        let request = BasicRequest::from_value(&twin.body).map_err(IngressError::Invalid)?;
        activity = request.activity().as_str();
        span.record("activity", activity);
        record_ids(&span, &request);
        dispatch::basic(&state, request, twin.body, &verified).await
    }
    .await;
    conclude(&state, result, false, key_index, activity, started)
}

/// `POST {base}/produceAPI/{interface}`: a V1 Kit sync.
pub async fn kit(
    State(state): State<AppState>,
    interface: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let started = Instant::now();
    let span = tracing::Span::current();
    let interface = interface.map(|Path(name)| name).unwrap_or_default();
    let parsed: Option<KitInterface> = interface.parse().ok();
    let activity = parsed.map_or("unknown", KitInterface::path_name);
    span.record("activity", activity);
    let mut key_index = 0;
    let result = async {
        let iface = parsed.ok_or_else(|| IngressError::UnknownKitInterface(interface.chars().take(40).collect()))?;
        let body = body_or_error(body, state.settings.body_limit)?;
        let value = body_value(&body)?;
        let params = v1::params_from_json_body(&body).map_err(|_| {
            IngressError::Invalid(koofill_model::ValidationError::body(koofill_model::Problem::WrongType {
                expected: "a JSON object",
            }))
        })?;
        let token = headers.get(v1::AUTH_TOKEN).and_then(|v| v.to_str().ok());
        let verified = verify::verify_v1(&state, Scheme::Kit, &params, token)?;
        key_index = verified.key_index;
        let request = KitRequest::from_value(iface, &value).map_err(IngressError::Invalid)?;
        if let Some(id) = request.instance_id() {
            span.record("instance_id", id.as_str());
        }
        dispatch::kit(&state, request, value, &verified).await
    }
    .await;
    conclude(&state, result, true, key_index, activity, started)
}
