//! The login assertion: what the buyer's browser carries from the broker to the seller's product.
//!
//! Format (version 1), three parts joined by `.`:
//!
//! ```text
//! kfsso1.<base64url(claims JSON)>.<base64url(Ed25519 signature)>
//! ```
//!
//! - base64url is RFC 4648 §5 without padding;
//! - the signature is Ed25519 (RFC 8032) over the ASCII bytes `kfsso1.<base64url(claims)>`, so the
//!   version prefix is part of what is signed (domain separation: a license status token `kflic1`
//!   signed with the same key never verifies as a login assertion, nor the other way round);
//! - the claims are a JSON object: `iss` (`"koofill"`), `aud` (`sso.audience`), `sub` (the
//!   joint-operation `userName`), `name`, `role` (`user` or `admin`), `org_code`, `email` (when
//!   known), `tenant`, `app`, `instance`, `sid` (the session id, for `/v1/sso/refresh` and
//!   `/v1/sso/logout`), `jti` (a random nonce), `iat` and `exp` (Unix seconds, `exp - iat` at most
//!   60), and `kid` (which key signed it). Unknown claims must be ignored.
//!
//! A product verifies the signature with the public key of `kid`, checks `aud` is its own and
//! `now < exp`, then redeems the assertion once (`POST /v1/sso/redeem`): the broker consumes the
//! `jti`, so a replayed assertion is refused even within its minute. [`verify`] does the offline
//! part for Rust products.
//!
//! Keys are those of `koofill license keygen`: the private key as PKCS#8 PEM or the 32-byte seed in
//! base64, the public key as SPKI PEM or its 32 raw bytes in base64; the `kid` is the first 8 bytes
//! of SHA-256 of the raw public key, base64url ([`koofill_license::token::default_kid`]).

use std::collections::HashMap;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The version prefix, also the signature's domain separator.
pub const ASSERTION_PREFIX: &str = "kfsso1";
/// The `iss` of every assertion.
pub const ISSUER: &str = "koofill";

/// Why an assertion was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    /// Not `kfsso1.<payload>.<signature>`, or claims that do not parse.
    #[error("not a kfsso1 assertion: {0}")]
    Format(&'static str),
    /// No public key for this `kid`.
    #[error("no public key for kid {0:?}")]
    UnknownKey(String),
    /// The signature does not match (tampered, or another key).
    #[error("signature does not verify")]
    Signature,
    /// Issued by someone else, or for another audience.
    #[error("assertion is for another audience")]
    Audience,
    /// Past its `exp`.
    #[error("assertion expired at {0}")]
    Expired(DateTime<Utc>),
}

/// The claims of an assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Always `koofill`.
    pub iss: String,
    /// The product the assertion is for.
    pub aud: String,
    /// The user's joint-operation account name (`userName`).
    pub sub: String,
    /// Display name.
    pub name: String,
    /// `user` or `admin` (spec §5.4: grant admin rights to `admin`).
    pub role: String,
    /// Department code.
    pub org_code: String,
    /// Email address, when the directory has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The enterprise (tenantId).
    pub tenant: String,
    /// The application (appId).
    pub app: String,
    /// The instance the user is authorised under.
    pub instance: String,
    /// The session id.
    pub sid: String,
    /// A random nonce, consumed by the redeem.
    pub jti: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// The signing key's id.
    pub kid: String,
}

impl Claims {
    /// `exp` as a time.
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }
}

/// Signs assertions. `Debug` shows only the `kid`.
#[derive(Clone)]
pub struct AssertionSigner {
    key: SigningKey,
    kid: String,
}

impl std::fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionSigner").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl AssertionSigner {
    /// A signer with `key`, writing its default `kid`.
    pub fn new(key: SigningKey) -> Self {
        let kid = koofill_license::token::default_kid(&key.verifying_key());
        Self { key, kid }
    }

    /// The `kid` written into assertions.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half, for verifiers.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs `claims` as they are, after setting `kid` to this signer's.
    pub fn sign(&self, mut claims: Claims) -> String {
        claims.kid.clone_from(&self.kid);
        // Claims always encode: strings and integers.
        let json = serde_json::to_vec(&claims).unwrap_or_default();
        let signed = format!("{ASSERTION_PREFIX}.{}", URL_SAFE_NO_PAD.encode(json));
        let signature = self.key.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

/// Checks an assertion offline: format, the key of its `kid` among `public_keys_by_kid`, the
/// signature, `iss`, `aud == audience`, and `now < exp`; returns the claims. Redeeming it (once)
/// is the broker's job.
///
/// # Errors
/// [`AssertionError`] saying which check failed.
pub fn verify(
    token: &str,
    public_keys_by_kid: &HashMap<String, VerifyingKey>,
    audience: &str,
    now: DateTime<Utc>,
) -> Result<Claims, AssertionError> {
    let mut parts = token.trim().split('.');
    let (Some(prefix), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AssertionError::Format("expected three parts"));
    };
    if prefix != ASSERTION_PREFIX {
        return Err(AssertionError::Format("unknown version prefix"));
    }
    let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| AssertionError::Format("payload is not base64url"))?;
    let signature =
        URL_SAFE_NO_PAD.decode(signature).map_err(|_| AssertionError::Format("signature is not base64url"))?;
    let signature = Signature::from_slice(&signature).map_err(|_| AssertionError::Format("signature length"))?;
    // The kid is read before the signature is checked only to choose the key.
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| AssertionError::Format("claims are not JSON"))?;
    let key = public_keys_by_kid.get(&claims.kid).ok_or_else(|| AssertionError::UnknownKey(claims.kid.clone()))?;
    let signed = format!("{ASSERTION_PREFIX}.{payload}");
    key.verify(signed.as_bytes(), &signature).map_err(|_| AssertionError::Signature)?;
    if claims.iss != ISSUER || claims.aud != audience {
        return Err(AssertionError::Audience);
    }
    if now.timestamp() >= claims.exp {
        return Err(AssertionError::Expired(claims.expires_at()));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            aud: "https://app.example.com/sso".into(),
            sub: "zhangsan".into(),
            name: "张三".into(),
            role: "admin".into(),
            org_code: "10000".into(),
            email: None,
            tenant: "t1".into(),
            app: "a1".into(),
            instance: "i1".into(),
            sid: "s1".into(),
            jti: "j1".into(),
            iat: now,
            exp: now + 60,
            kid: String::new(),
        }
    }

    #[test]
    fn verifies_and_refuses_what_it_must() {
        let signer = AssertionSigner::new(SigningKey::from_bytes(&[7; 32]));
        let keys = HashMap::from([(signer.kid().to_owned(), signer.verifying_key())]);
        let now = Utc::now();
        let token = signer.sign(claims(now.timestamp()));
        assert!(token.starts_with("kfsso1."));
        let got = verify(&token, &keys, "https://app.example.com/sso", now).unwrap();
        assert_eq!((got.sub.as_str(), got.kid.as_str()), ("zhangsan", signer.kid()));

        assert_eq!(verify(&token, &keys, "https://other", now), Err(AssertionError::Audience));
        let later = now + chrono::Duration::seconds(60);
        assert!(matches!(verify(&token, &keys, "https://app.example.com/sso", later), Err(AssertionError::Expired(_))));
        let other = AssertionSigner::new(SigningKey::from_bytes(&[8; 32]));
        let forged = other.sign(claims(now.timestamp()));
        assert!(matches!(
            verify(&forged, &keys, "https://app.example.com/sso", now),
            Err(AssertionError::UnknownKey(_))
        ));
        let swapped = HashMap::from([(signer.kid().to_owned(), other.verifying_key())]);
        assert_eq!(verify(&token, &swapped, "https://app.example.com/sso", now), Err(AssertionError::Signature));
        let relabelled = token.replacen("kfsso1", "kflic1", 1);
        assert!(matches!(verify(&relabelled, &keys, "x", now), Err(AssertionError::Format(_))));
        assert!(matches!(verify("a.b", &keys, "x", now), Err(AssertionError::Format(_))));
    }
}
