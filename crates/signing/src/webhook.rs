//! Standard Webhooks signatures for koofill's own outbound webhooks (the provisioner and
//! notification channels), so ISVs verify them with any Standard Webhooks library.
//!
//! ```text
//! webhook-id: <msg id>    webhook-timestamp: <unix seconds>
//! webhook-signature: v1,<Base64(HMAC_SHA256(secret, "{id}.{timestamp}.{body}"))>
//! ```
//! Secrets are written `whsec_<Base64 of the key bytes>`.

use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;

use crate::{SignatureError, ct, hmac_util::hmac_sha256};

/// Header carrying the message id.
pub const ID_HEADER: &str = "webhook-id";
/// Header carrying the Unix timestamp in seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Header carrying one or more space-separated `v1,<sig>` signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// Prefix of the textual secret form.
pub const SECRET_PREFIX: &str = "whsec_";
/// Default tolerance for the timestamp, in seconds (the specification's recommendation).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// A webhook signing secret. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>`; text without the prefix is read as Base64 too.
    ///
    /// # Errors
    /// [`SignatureError::BadKey`] when the Base64 is invalid or the key is empty.
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let b64 = text.trim().strip_prefix(SECRET_PREFIX).unwrap_or(text.trim());
        let bytes = STANDARD.decode(b64).map_err(|_| SignatureError::BadKey("webhook secret is not Base64".into()))?;
        if bytes.is_empty() {
            return Err(SignatureError::BadKey("webhook secret is empty".into()));
        }
        Ok(Self(bytes))
    }

    /// A new random 32-byte secret.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The `whsec_…` text form.
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The `webhook-signature` value for a message.
    pub fn sign(&self, msg_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
        let prefix = format!("{msg_id}.{timestamp_secs}.");
        format!("v1,{}", STANDARD.encode(hmac_sha256(&self.0, &[prefix.as_bytes(), body])))
    }

    /// Verifies the three headers of a received webhook against `now_secs`.
    ///
    /// # Errors
    /// [`SignatureError::TimestampNotNumeric`], [`SignatureError::TimestampStale`] or
    /// [`SignatureError::TimestampFuture`] for the timestamp; [`SignatureError::Mismatch`] when no
    /// `v1` signature in the header matches.
    pub fn verify(
        &self,
        msg_id: &str,
        timestamp: &str,
        signature_header: &str,
        body: &[u8],
        now_secs: i64,
        tolerance_secs: i64,
    ) -> Result<(), SignatureError> {
        let ts: i64 = timestamp.trim().parse().map_err(|_| SignatureError::TimestampNotNumeric(timestamp.into()))?;
        crate::timestamp::check_window(ts * 1000, now_secs * 1000, tolerance_secs * 1000)?;
        let expected = self.sign(msg_id, ts, body);
        let matched = signature_header
            .split_whitespace()
            .filter(|s| s.starts_with("v1,"))
            .any(|s| ct::eq(s.as_bytes(), expected.as_bytes()));
        if matched { Ok(()) } else { Err(SignatureError::Mismatch) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // The example of the Standard Webhooks specification.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let sig = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let header = format!("v1a,whatever {sig}");
        assert!(secret.verify("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", &header, body, 1_614_265_330, 300).is_ok());
        assert!(secret.verify("msg_other", "1614265330", &header, body, 1_614_265_330, 300).is_err());
        assert!(
            secret
                .verify("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", &header, body, 1_614_265_331 + 300, 300)
                .is_err()
        );
    }

    #[test]
    fn secrets_roundtrip_and_redact() {
        let s = WebhookSecret::generate();
        assert_eq!(WebhookSecret::parse(&s.to_text()).unwrap(), s);
        assert!(!format!("{s:?}").contains(&s.to_text()[6..]));
        assert!(WebhookSecret::parse("whsec_!!").is_err());
        assert!(WebhookSecret::parse("whsec_").is_err());
    }
}
