//! The license activation proxy (`/v1/licenses`, architecture §3.1): the seller's software
//! activates and checks its license code here instead of calling KooGallery with the seller's
//! AK/SK, which therefore never ships inside it.
//!
//! - `POST /v1/licenses/{code}/activate` (optional JSON body `{"fingerprint": "…"}`) and
//!   `GET /v1/licenses/{code}` (optional `?fingerprint=…`) are answered by the license worker
//!   through request-reply on `<prefix>.rpc.license.activate` / `.status`;
//! - `Authorization: Bearer <license.api_token>` (or `api_token_previous` during a rotation),
//!   compared in constant time over SHA-256 digests (neither content nor length leaks); a missing
//!   or wrong token is answered 401 and never reaches the worker;
//! - each token has its own rate limit (`license.rate_limit_per_minute`, a token bucket that
//!   refills continuously): past it, 429 with `Retry-After`;
//! - answers: 200 with the code's `status`, `expire_time`, `activated_at`, `checked_at` and the
//!   signed `token`; errors are `{"error": {"code", "message", "koogallery_code"?}}` with 400
//!   (invalid code), 404 (`92020005` unknown code), 409 (`92020003` already active / released,
//!   `92020004` not claimed yet), 502 (koofill's KooGallery credentials refused), 503 (KooGallery
//!   or the license worker unavailable).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use koofill_bus::{names, rpc};
use koofill_model::license_rpc::{LicenseOutcome, LicenseProxyReply, LicenseProxyRequest};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::state::AppState;

/// The proxy's settings and per-token buckets.
pub struct LicenseApi {
    /// SHA-256 of each accepted token, current first.
    tokens: Vec<[u8; 32]>,
    per_minute: u32,
    rpc_timeout: Duration,
    buckets: Mutex<HashMap<usize, Bucket>>,
}

impl std::fmt::Debug for LicenseApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicenseApi")
            .field("tokens", &self.tokens.len())
            .field("per_minute", &self.per_minute)
            .field("rpc_timeout", &self.rpc_timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl LicenseApi {
    /// The proxy accepting `tokens` (blank ones are skipped), `per_minute` requests per token,
    /// waiting `rpc_timeout` for the worker.
    pub fn new<I, T>(tokens: I, per_minute: u32, rpc_timeout: Duration) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let tokens = tokens.into_iter().filter(|t| !t.as_ref().is_empty()).map(|t| Sha256::digest(t).into()).collect();
        Self { tokens, per_minute: per_minute.max(1), rpc_timeout, buckets: Mutex::new(HashMap::new()) }
    }

    /// Which configured token `presented` is, compared in constant time against every one.
    fn authenticate(&self, presented: &[u8]) -> Option<usize> {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        let mut found = None;
        for (i, token) in self.tokens.iter().enumerate() {
            if bool::from(token.ct_eq(&digest)) && found.is_none() {
                found = Some(i);
            }
        }
        found
    }

    /// Takes one request from `token`'s bucket; `Err(wait)` when it is empty.
    fn admit(&self, token: usize) -> Result<(), Duration> {
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(token).or_insert(Bucket { tokens: capacity, at: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_sec).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_sec))
        }
    }
}

/// An error answer: `{"error": {"code", "message", "koogallery_code"?}}`.
pub(crate) fn error(status: StatusCode, code: &str, message: &str, koogallery_code: Option<&str>) -> Response {
    let mut body = json!({ "error": { "code": code, "message": message } });
    if let Some(kg) = koogallery_code {
        body["error"]["koogallery_code"] = json!(kg);
    }
    (status, Json(body)).into_response()
}

/// Checks the bearer API token (`license.api_token` or `api_token_previous`, in constant time):
/// which one it is, or the 401 to send (counted as the rejection `reason`). Shared by the
/// license proxy and `POST /v1/usage`; the token itself is never logged.
#[allow(clippy::result_large_err)]
pub(crate) fn authenticate(state: &AppState, headers: &HeaderMap, reason: &str) -> Result<usize, Response> {
    authenticate_with(&state.license, state, headers, reason)
}

/// As [`authenticate`], against the tokens of `api` (`POST /v1/usage` has its own).
#[allow(clippy::result_large_err)]
pub(crate) fn authenticate_with(
    api: &LicenseApi,
    state: &AppState,
    headers: &HeaderMap,
    reason: &str,
) -> Result<usize, Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    presented.and_then(|p| api.authenticate(p.as_bytes())).ok_or_else(|| {
        state.metrics.reject(reason);
        let mut response =
            error(StatusCode::UNAUTHORIZED, "unauthorized", "a valid bearer API token is required", None);
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    })
}

/// Authenticates and rate-limits; the response to send when refused.
#[allow(clippy::result_large_err)]
fn admit(state: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    let api = &state.license;
    let token = authenticate(state, headers, "license_unauthorized")?;
    if let Err(wait) = api.admit(token) {
        state.metrics.reject("license_rate_limited");
        let mut response =
            error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests for this API token", None);
        let secs = wait.as_secs().max(1).to_string();
        if let Ok(value) = HeaderValue::from_str(&secs) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return Err(response);
    }
    Ok(())
}

async fn ask(state: &AppState, what: &str, request: LicenseProxyRequest) -> Response {
    let subject = names::rpc_license(&state.settings.prefix, what);
    let reply: Result<LicenseProxyReply, _> =
        rpc::request_json(&state.bus.client, &subject, &request, state.license.rpc_timeout).await;
    let reply = match reply {
        Ok(reply) => reply,
        Err(e) => {
            tracing::warn!(error = &e as &dyn std::error::Error, "license worker did not answer");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the license service did not answer; try again later",
                None,
            );
        }
    };
    let kg = reply.koogallery_code.as_deref();
    let (status, code) = match reply.outcome {
        LicenseOutcome::Ok => {
            return match reply.license {
                Some(view) => (StatusCode::OK, Json(view)).into_response(),
                None => error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "empty answer", None),
            };
        }
        LicenseOutcome::NotFound => (StatusCode::NOT_FOUND, "license_not_found"),
        LicenseOutcome::IllegalState => (StatusCode::CONFLICT, "illegal_state"),
        LicenseOutcome::NotReceived => (StatusCode::CONFLICT, "not_received"),
        LicenseOutcome::Invalid => (StatusCode::BAD_REQUEST, "invalid"),
        LicenseOutcome::Misconfigured => (StatusCode::BAD_GATEWAY, "misconfigured"),
        LicenseOutcome::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    error(status, code, &reply.message, kg)
}

/// The optional fingerprint of a status request.
#[derive(Debug, Deserialize)]
pub(crate) struct FingerprintQuery {
    fingerprint: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ActivateBody {
    #[serde(default)]
    fingerprint: Option<String>,
}

/// `POST /v1/licenses/{code}/activate`.
pub(crate) async fn activate(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = admit(&state, &headers) {
        return refused;
    }
    let body: ActivateBody = if body.iter().all(u8::is_ascii_whitespace) {
        ActivateBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(body) => body,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "body: expected {\"fingerprint\": \"…\"} or nothing",
                    None,
                );
            }
        }
    };
    ask(&state, names::LICENSE_ACTIVATE, LicenseProxyRequest { code, fingerprint: body.fingerprint }).await
}

/// `GET /v1/licenses/{code}`.
pub(crate) async fn status(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(query): Query<FingerprintQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = admit(&state, &headers) {
        return refused;
    }
    ask(&state, names::LICENSE_STATUS, LicenseProxyRequest { code, fingerprint: query.fingerprint }).await
}

/// Shared behind the state.
pub type SharedLicenseApi = Arc<LicenseApi>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_matched_by_digest_and_each_has_its_own_bucket() {
        let api = LicenseApi::new(["current-token", "", "previous-token"], 2, Duration::from_secs(1));
        assert_eq!(api.authenticate(b"current-token"), Some(0));
        assert_eq!(api.authenticate(b"previous-token"), Some(1));
        assert_eq!(api.authenticate(b"current-toke"), None);
        assert_eq!(api.authenticate(b""), None);
        assert!(api.admit(0).is_ok() && api.admit(0).is_ok());
        assert!(api.admit(0).is_err(), "the third request within the minute waits");
        assert!(api.admit(1).is_ok(), "another token has its own bucket");
    }
}
