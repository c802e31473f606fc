//! 激活授权码 and 查询授权码 (license activation and heartbeat, spec §7.3).
//!
//! Every business answer is HTTP 200 with `error_code` telling the outcome (`92020000`…`92020005`);
//! the status codes of the error answers are not documented, and a 200 keeps the code readable by
//! any client. Gateway refusals stay HTTP 401.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, Uri},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{AppState, auth};
use crate::license::{LICENSE_INTERNAL, LICENSE_INVALID_PARAM, LICENSE_NOT_FOUND, LICENSE_OK, SimLicense};

/// `POST …/license/activate` with `{"license": "PL…"}`.
pub(super) async fn activate(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(&state, &method, &uri, &headers, &body, |license| license.activate(chrono::Utc::now()))
}

/// `POST …/license/heartbeat` with `{"license": "PL…", "heartbeatInfo": {…}}`.
pub(super) async fn heartbeat(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(&state, &method, &uri, &headers, &body, |license| license.heartbeat())
}

fn respond(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    act: impl FnOnce(&mut SimLicense) -> Result<Value, &'static str>,
) -> Response {
    if let Err(refusal) = auth::authenticate(&state.cfg, method, uri, headers, body, chrono::Utc::now()) {
        return refusal.into_response();
    }
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("license").and_then(Value::as_str).map(str::to_owned))
        .filter(|code| !code.is_empty() && code.chars().count() <= 64);
    let Some(code) = code else { return answer(LICENSE_INVALID_PARAM, None) };
    let mut outcome = Err(LICENSE_NOT_FOUND);
    state.market.update_license(&code, |license| outcome = act(license));
    match outcome {
        Ok(data) => answer(LICENSE_OK, Some(data)),
        Err(code) => answer(code, None),
    }
}

fn answer(code: &str, data: Option<Value>) -> Response {
    let message = match code {
        LICENSE_OK => "success",
        LICENSE_INVALID_PARAM => "invalid param",
        crate::license::LICENSE_ILLEGAL_STATE => "illegal state",
        crate::license::LICENSE_NOT_RECEIVED => "can not active before user received.",
        LICENSE_NOT_FOUND => "license code not exist",
        LICENSE_INTERNAL => "internal error",
        _ => "internal error",
    };
    let mut body = json!({"error_code": code, "error_msg": message});
    if let Some(data) = data {
        body["data"] = data;
    }
    Json(body).into_response()
}
