//! The API gateway's check of an open-API request: `SDK-HMAC-SHA256` AK/SK signature (spec §2.6)
//! and the `X-Sdk-Date` window.

use axum::{
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::Response,
};
use chrono::{DateTime, Utc};
use koofill_signing::{apig, percent};

use super::api_error;
use crate::config::SimConfig;

/// Why the gateway refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// No, or a malformed, `Authorization`; a missing, malformed or out-of-window `X-Sdk-Date`; a
    /// signature that does not match. `MKT.0154` "Illegal token".
    IllegalToken,
    /// The AK is not one the marketplace issued. `MKT.0150` "Illegal operation".
    UnknownAccessKey,
}

impl Refusal {
    /// The HTTP 401 answer.
    pub(super) fn into_response(self) -> Response {
        match self {
            Self::IllegalToken => api_error(StatusCode::UNAUTHORIZED, "MKT.0154", "Illegal token"),
            Self::UnknownAccessKey => api_error(StatusCode::UNAUTHORIZED, "MKT.0150", "Illegal operation"),
        }
    }
}

/// Verifies the request as the gateway does; returns the caller's AK.
///
/// The signature is recomputed over the request as received: method, decoded path, raw query, the
/// headers the client says it signed (`host` and `x-sdk-date` must be among them), and the body.
pub(super) fn authenticate(
    cfg: &SimConfig,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<String, Refusal> {
    let mut pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    if headers.get(header::HOST).is_none()
        && let Some(authority) = uri.authority()
    {
        pairs.push(("host".to_owned(), authority.to_string()));
    }
    let path = percent::decode(uri.path(), false);
    let access = apig::verify_received(method.as_str(), &path, uri.query().unwrap_or_default(), &pairs, body, |ak| {
        cfg.secret_for(ak).map(|sk| sk.as_bytes().to_vec())
    })
    .map_err(|refusal| match refusal {
        apig::Refusal::BadSignature => Refusal::IllegalToken,
        apig::Refusal::UnknownAccessKey => Refusal::UnknownAccessKey,
    })?;
    // A bad date and a bad signature are the same refusal, so checking the date last changes nothing.
    let date = headers
        .get(apig::DATE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| apig::parse_sdk_date(v).ok())
        .ok_or(Refusal::IllegalToken)?;
    let window = i64::try_from(cfg.sdk_date_window.as_secs()).unwrap_or(i64::MAX);
    if (now.timestamp() - date).abs() > window {
        return Err(Refusal::IllegalToken);
    }
    Ok(access)
}
