//! The V1 `authToken` (spec §2.3), for products still on the retired V1 interfaces.
//!
//! ```text
//! joined    = "k1=v1&k2=v2&…"   every parameter but authToken, URL-decoded, sorted by name
//! authToken = Base64(HMAC_SHA256(accessKey + timeStamp, joined))
//! ```
//! Only an exact match passes. For V1 POST (Kit V1, `authToken` header) the signed string is not
//! documented; the spec recommends signing the top-level JSON fields as if they were query
//! parameters, which [`params_from_json_body`] provides.

use base64::{Engine, engine::general_purpose::STANDARD};

use crate::{
    SignatureError,
    canonical::java_string_cmp,
    ct,
    hmac_util::hmac_sha256,
    json::{self, Value},
};

/// The name of the parameter that carries the token and is left out of the signed string.
pub const AUTH_TOKEN: &str = "authToken";
/// The parameter whose value is appended to the key.
pub const TIME_STAMP: &str = "timeStamp";

/// Computes the `authToken` for decoded parameters (any order; `authToken` itself is ignored).
///
/// # Errors
/// [`SignatureError::Missing`] when there is no `timeStamp` parameter.
pub fn auth_token(access_key: &[u8], params: &[(String, String)]) -> Result<String, SignatureError> {
    let time_stamp = params
        .iter()
        .find(|(k, _)| k == TIME_STAMP)
        .map(|(_, v)| v.as_str())
        .ok_or(SignatureError::Missing(TIME_STAMP))?;
    let mut signed: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != AUTH_TOKEN).collect();
    signed.sort_by(|(a, _), (b, _)| java_string_cmp(a, b));
    let joined = signed.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let key = [access_key, time_stamp.as_bytes()].concat();
    Ok(STANDARD.encode(hmac_sha256(&key, &[joined.as_bytes()])))
}

/// Verifies the `authToken` among `params` (or `header_token` when it came in a header).
///
/// A `+` of the token may have been decoded to a space by form decoding (the published example
/// URL carries raw `+` characters); Base64 has no spaces, so spaces are read back as `+`.
///
/// # Errors
/// [`SignatureError::Missing`] without a token or `timeStamp`, [`SignatureError::Mismatch`] when
/// it differs.
pub fn verify(
    access_key: &[u8],
    params: &[(String, String)],
    header_token: Option<&str>,
) -> Result<(), SignatureError> {
    let received = header_token
        .or_else(|| params.iter().find(|(k, _)| k == AUTH_TOKEN).map(|(_, v)| v.as_str()))
        .filter(|t| !t.is_empty())
        .ok_or(SignatureError::Missing(AUTH_TOKEN))?
        .replace(' ', "+");
    let expected = auth_token(access_key, params)?;
    if ct::eq(expected.as_bytes(), received.as_bytes()) { Ok(()) } else { Err(SignatureError::Mismatch) }
}

/// Flattens a V1 POST JSON body into parameters: each top-level member becomes `name=value`, with
/// strings unquoted, `null` members dropped and anything else in its compact JSON form.
///
/// # Errors
/// [`SignatureError::Json`] when the body is not a JSON object.
pub fn params_from_json_body(body: &[u8]) -> Result<Vec<(String, String)>, SignatureError> {
    match json::parse(body)? {
        Value::Object(members) => Ok(members
            .into_iter()
            .filter(|(_, v)| *v != Value::Null)
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_compact_string()),
            })
            .collect()),
        _ => Err(SignatureError::Json(json::JsonError { what: "top level is not an object", offset: 0 })),
    }
}
