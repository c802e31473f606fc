//! The V2 Kit (联营) header signature: `x-sign`, `x-timestamp`, `x-nonce` (spec §2.2).
//!
//! ```text
//! x-sign = HEX(HMAC_SHA256(kitKey, kitKey + nonce + timestamp + payload))
//! ```
//! with no inner hash, over the same canonical payload as the basic signature. Because the
//! reference code binds the body as `Map<String,Object>`, integers such as `flag` stay integers;
//! the canonical payload keeps number literals, so that holds here too.

use crate::{
    SignatureError,
    basic::{self, Matched},
    canonical,
    hmac_util::hmac_sha256,
};

/// The `x-sign` of an already-built payload, upper-case hex.
pub fn sign_payload(key: &[u8], nonce: &str, timestamp: &str, payload: &[u8]) -> String {
    hex::encode_upper(hmac_sha256(key, &[key, nonce.as_bytes(), timestamp.as_bytes(), payload]))
}

/// Signs a JSON body as KooGallery does for the Kit interfaces.
///
/// # Errors
/// [`SignatureError::Json`] when the body is not a JSON object.
pub fn sign_body(key: &[u8], nonce: &str, timestamp: &str, body: &[u8]) -> Result<String, SignatureError> {
    let payload = canonical::canonical_payload(body)?;
    Ok(sign_payload(key, nonce, timestamp, payload.as_bytes()))
}

/// Verifies `x-sign` over the canonical payload, then over the raw body.
///
/// # Errors
/// [`SignatureError::Missing`] for an empty signature or nonce, else [`SignatureError::Mismatch`].
pub fn verify(
    key: &[u8],
    nonce: &str,
    timestamp: &str,
    body: &[u8],
    signature: &str,
) -> Result<Matched, SignatureError> {
    verify_any(&[key], nonce, timestamp, body, signature).map(|(_, m)| m)
}

/// [`verify`] with each key of a rotation in turn; returns the index of the key that matched.
///
/// # Errors
/// As [`verify`].
pub fn verify_any(
    keys: &[&[u8]],
    nonce: &str,
    timestamp: &str,
    body: &[u8],
    signature: &str,
) -> Result<(usize, Matched), SignatureError> {
    basic::check_present(nonce, signature, "x-nonce", "x-sign")?;
    basic::match_keys(keys, body, signature, |key, payload| sign_payload(key, nonce, timestamp, payload))
}
