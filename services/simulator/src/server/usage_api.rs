//! 按需使用量推送(新) (usage push, spec §8.3): the signature headers with the seller's basic key,
//! the push-level limits, then the record rules of [`crate::usage_rules`].

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use koofill_signing::{timestamp, usage};
use serde_json::{Value, json};

use super::{AppState, api_error};
use crate::usage_rules::{check_push, validate_records};

/// `POST …/isv/usage-data`.
///
/// Any problem with the signature headers (missing, `ts` out of the window, mismatch) is
/// `MKT.0102` "Invalid body sign"; a body that is not `{"usage_records": [...]}` is `MKT.0101`.
/// An accepted push is answered `MKT.0000` whatever its records hold; their results are recorded.
pub(super) async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let now = chrono::Utc::now();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (signature, ts, nonce) = (header("signature"), header("ts"), header("nonce"));
    let window = i64::try_from(state.cfg.usage_ts_window.as_millis()).unwrap_or(i64::MAX);
    let signed = state.cfg.usage_key.as_deref().is_some_and(|key| {
        timestamp::verify_window(ts, now.timestamp_millis(), window).is_ok()
            && usage::verify(key.as_bytes(), ts, nonce, &body, signature).is_ok()
    });
    if !signed {
        return api_error(StatusCode::BAD_REQUEST, "MKT.0102", "Invalid body sign");
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return api_error(StatusCode::BAD_REQUEST, "MKT.0101", "Invalid parameter");
    };
    let records = match check_push(&value, &state.cfg, now) {
        Ok(records) => records,
        Err(refusal) => {
            let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return api_error(status, refusal.code, refusal.message);
        }
    };
    {
        let mut market = state.market.lock();
        market.usage_pushes += 1;
        let results = validate_records(records, market.usage_pushes, &market.instances, &market.usage, &state.cfg, now);
        market.usage.extend(results);
    }
    Json(json!({"error_code": "MKT.0000", "error_msg": "success"})).into_response()
}
