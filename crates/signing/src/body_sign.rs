//! The `Body-Sign` response header (spec §2.4):
//! `sign_type="HMAC-SHA256", signature= "<base64(HMAC_SHA256(accessKey, httpBody))>"`, computed
//! over the exact bytes of the response body.

use base64::{Engine, engine::general_purpose::STANDARD};

use crate::{SignatureError, ct, hmac_util::hmac_sha256};

/// The response header's name.
pub const HEADER: &str = "Body-Sign";

/// The Base64 signature of a body.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(key, &[body]))
}

/// The full header value, in the documented form (including the space after `signature=`).
pub fn header_value(key: &[u8], body: &[u8]) -> String {
    format!("sign_type=\"HMAC-SHA256\", signature= \"{}\"", signature(key, body))
}

/// Verifies a received `Body-Sign` header against the exact body bytes.
///
/// Tolerates optional spaces around `=` and `,`, and the parameters in either order.
///
/// # Errors
/// [`SignatureError::Malformed`] when the header is not of the documented form or names another
/// algorithm, [`SignatureError::Mismatch`] when the signature differs.
pub fn verify(key: &[u8], header: &str, body: &[u8]) -> Result<(), SignatureError> {
    let mut sign_type = None;
    let mut sig = None;
    for part in header.split(',') {
        let (name, value) = part
            .split_once('=')
            .ok_or(SignatureError::Malformed { what: HEADER, why: "expected name=\"value\" pairs" })?;
        let value = value.trim().trim_matches('"');
        match name.trim() {
            "sign_type" => sign_type = Some(value),
            "signature" => sig = Some(value),
            _ => {}
        }
    }
    if sign_type != Some("HMAC-SHA256") {
        return Err(SignatureError::Malformed { what: HEADER, why: "sign_type is not HMAC-SHA256" });
    }
    let sig = sig.ok_or(SignatureError::Malformed { what: HEADER, why: "no signature" })?;
    if ct::eq(signature(key, body).as_bytes(), sig.as_bytes()) { Ok(()) } else { Err(SignatureError::Mismatch) }
}
