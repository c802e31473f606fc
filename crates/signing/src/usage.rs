//! The usage-push (new) signature (spec §8.3):
//! `signature = Base64(HMAC_SHA256(basicKey, "ts={ts}&nonce={nonce}&body={body}"))`, sent in the
//! `signature`, `ts` and `nonce` headers, where `body` is the exact string sent.
//!
//! The body must be "naturally sorted" before signing; the depth is not documented, so the default
//! sorts keys at every level ([`SortDepth::AllLevels`]) and [`SortDepth::TopLevel`] is the
//! configurable alternative.

use base64::{Engine, engine::general_purpose::STANDARD};

use crate::{
    SignatureError,
    canonical::java_string_cmp,
    ct,
    hmac_util::hmac_sha256,
    json::{self, Value},
};

/// How deep object keys are sorted before the body is signed and sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortDepth {
    /// Every object, at every level (the spec's recommendation).
    #[default]
    AllLevels,
    /// Only the top-level object; nested objects keep their order.
    TopLevel,
}

/// Serialises a JSON body compactly with keys sorted to `depth`. Sign and send exactly this string.
///
/// # Errors
/// [`SignatureError::Json`] when `body` is not JSON.
pub fn sorted_body(body: &[u8], depth: SortDepth) -> Result<String, SignatureError> {
    let mut value = json::parse(body)?;
    sort(&mut value, depth, true);
    Ok(value.to_compact_string())
}

fn sort(value: &mut Value, depth: SortDepth, top: bool) {
    match value {
        Value::Object(members) => {
            if top || depth == SortDepth::AllLevels {
                members.sort_by(|(a, _), (b, _)| java_string_cmp(a, b));
            }
            for (_, v) in members {
                sort(v, depth, false);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| sort(v, depth, false)),
        _ => {}
    }
}

/// The `signature` header for a body string.
pub fn sign(key: &[u8], ts: &str, nonce: &str, body: &str) -> String {
    let msg = format!("ts={ts}&nonce={nonce}&body={body}");
    STANDARD.encode(hmac_sha256(key, &[msg.as_bytes()]))
}

/// Verifies a received push as the marketplace would: over the exact body, then over the body
/// re-sorted at every level, then at the top level.
///
/// # Errors
/// [`SignatureError::Missing`] for an empty signature, ts or nonce; [`SignatureError::Mismatch`].
pub fn verify(key: &[u8], ts: &str, nonce: &str, body: &[u8], signature: &str) -> Result<(), SignatureError> {
    for (value, name) in [(signature, "signature"), (ts, "ts"), (nonce, "nonce")] {
        if value.is_empty() {
            return Err(SignatureError::Missing(name));
        }
    }
    let mut candidates = vec![String::from_utf8_lossy(body).into_owned()];
    for depth in [SortDepth::AllLevels, SortDepth::TopLevel] {
        if let Ok(sorted) = sorted_body(body, depth) {
            candidates.push(sorted);
        }
    }
    if candidates.iter().any(|b| ct::eq(sign(key, ts, nonce, b).as_bytes(), signature.as_bytes())) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}
