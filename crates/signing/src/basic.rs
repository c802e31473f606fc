//! The V2 basic-interface URL signature: `signature`, `timestamp`, `nonce` query parameters
//! (spec §2.1). Used for every `activity` posted to the production address, including
//! `orderNotify` and the License 2.0 callbacks.
//!
//! ```text
//! inner     = lower_hex(HMAC_SHA256(key, payload))
//! signature = HEX(HMAC_SHA256(key, key + nonce + timestamp + inner))
//! ```
//! where `payload` is the canonical payload of the body ([`crate::canonical`]).
//!
//! ```
//! use koofill_signing::basic;
//! let body = br#"{"activity":"newInstance","businessId":"87b94795-0603-4e24-8ae5-69420d60e3c8","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"1"}"#;
//! let nonce = "50D83FDECAED6CCD8EF597F2A577950527928BA287D04E6036E92B2806FD17DA";
//! let sig = basic::sign_body(b"test-access-key-123", nonce, "1680508066618", body).unwrap();
//! assert_eq!(sig, "62E90CD8E07B3F168F232D9099789AAB7BA6ECCE7D5977652F689BEC1B64D13F");
//! assert!(basic::verify(b"test-access-key-123", nonce, "1680508066618", body, &sig).is_ok());
//! ```

use crate::{SignatureError, canonical, ct, hmac_util::hmac_sha256};

/// Which payload a verified signature was computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    /// The canonical (sorted, re-serialised) payload: what KooGallery's reference code signs.
    Canonical,
    /// The raw body bytes: the tolerance of spec §2.1 recommendation 3.
    RawBody,
}

/// The signature of an already-built payload, upper-case hex as KooGallery sends it.
pub fn sign_payload(key: &[u8], nonce: &str, timestamp: &str, payload: &[u8]) -> String {
    let inner = hex::encode(hmac_sha256(key, &[payload]));
    let outer = hmac_sha256(key, &[key, nonce.as_bytes(), timestamp.as_bytes(), inner.as_bytes()]);
    hex::encode_upper(outer)
}

/// Signs a JSON body the way KooGallery does: canonicalise, then [`sign_payload`].
///
/// # Errors
/// [`SignatureError::Json`] when the body is not a JSON object.
pub fn sign_body(key: &[u8], nonce: &str, timestamp: &str, body: &[u8]) -> Result<String, SignatureError> {
    let payload = canonical::canonical_payload(body)?;
    Ok(sign_payload(key, nonce, timestamp, payload.as_bytes()))
}

/// Verifies `signature` over `body`: first over the canonical payload, then over the raw bytes.
///
/// `timestamp` is the query value exactly as received; the time window is checked separately
/// ([`crate::timestamp`]) so that the caller controls the clock.
///
/// # Errors
/// [`SignatureError::Missing`] for an empty signature or nonce, [`SignatureError::Mismatch`] when
/// neither payload matches.
pub fn verify(
    key: &[u8],
    nonce: &str,
    timestamp: &str,
    body: &[u8],
    signature: &str,
) -> Result<Matched, SignatureError> {
    verify_any(&[key], nonce, timestamp, body, signature).map(|(_, m)| m)
}

/// [`verify`] with each key of a rotation in turn (current first, then previous ones).
///
/// Returns the index of the key that matched.
///
/// # Errors
/// As [`verify`]; [`SignatureError::Mismatch`] when no key matches.
pub fn verify_any(
    keys: &[&[u8]],
    nonce: &str,
    timestamp: &str,
    body: &[u8],
    signature: &str,
) -> Result<(usize, Matched), SignatureError> {
    check_present(nonce, signature, "nonce", "signature")?;
    match_keys(keys, body, signature, |key, payload| sign_payload(key, nonce, timestamp, payload))
}

pub(crate) fn check_present(
    nonce: &str,
    signature: &str,
    nonce_name: &'static str,
    signature_name: &'static str,
) -> Result<(), SignatureError> {
    if signature.is_empty() {
        return Err(SignatureError::Missing(signature_name));
    }
    if nonce.is_empty() {
        return Err(SignatureError::Missing(nonce_name));
    }
    Ok(())
}

/// Tries each key over the canonical payload (built once per request, not once per key), then
/// over the raw body; a mismatch moves on to the next key.
pub(crate) fn match_keys(
    keys: &[&[u8]],
    body: &[u8],
    signature: &str,
    expected: impl Fn(&[u8], &[u8]) -> String,
) -> Result<(usize, Matched), SignatureError> {
    let canonical = canonical::canonical_payload(body).ok();
    for (i, key) in keys.iter().enumerate() {
        if let Some(payload) = &canonical
            && ct::eq_hex_ignore_case(&expected(key, payload.as_bytes()), signature)
        {
            return Ok((i, Matched::Canonical));
        }
        if ct::eq_hex_ignore_case(&expected(key, body), signature) {
            return Ok((i, Matched::RawBody));
        }
    }
    Err(SignatureError::Mismatch)
}
