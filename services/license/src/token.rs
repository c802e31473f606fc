//! The offline status token: what the seller's software keeps and verifies without koofill.
//!
//! Format (version 1), three parts joined by `.`:
//!
//! ```text
//! kflic1.<base64url(claims JSON)>.<base64url(Ed25519 signature)>
//! ```
//!
//! - base64url is RFC 4648 §5 without padding;
//! - the signature is Ed25519 (RFC 8032) over the ASCII bytes `kflic1.<base64url(claims)>`, so the
//!   version prefix is part of what is signed (domain separation: no other koofill signature, and
//!   no other token version, verifies as this one);
//! - the claims are a JSON object: `code` (the license code), `status` (`active`, `not_activated`,
//!   `frozen`, `expired`, `released`), `iat` and `exp` (Unix seconds), `kid` (which key signed it),
//!   and `fp` (the machine fingerprint the software sent, when it sent one). Unknown claims must
//!   be ignored.
//!
//! A verifier looks the public key up by `kid` (several may be compiled in during a rotation),
//! checks the signature, then fails closed: the software runs only while `now < exp` and
//! `status == "active"` (and `fp` is its own, when it sent one). `exp` never passes the code's
//! expiry and is at most `license.token_ttl_secs` (48 h by default) after `iat`.
//!
//! Keys are files: the private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) or the 32-byte
//! seed in base64; the public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`) or the 32 raw bytes
//! in base64. `koofill license keygen` writes both PEM files. The default `kid` is the first 8
//! bytes of SHA-256 of the raw public key, base64url.

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD},
};
use chrono::{DateTime, Utc};
use ed25519_dalek::{
    Signature, Signer, SigningKey, Verifier, VerifyingKey,
    pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, spki::der::pem::LineEnding},
};
use koofill_model::license_rpc::LicenseStatus;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The version prefix, also the signature's domain separator.
pub const TOKEN_PREFIX: &str = "kflic1";

/// Why a key or a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The key text is neither the PEM nor the base64 form.
    #[error("not an Ed25519 key ({0})")]
    Key(String),
    /// Not `kflic1.<payload>.<signature>`.
    #[error("not a kflic1 token: {0}")]
    Format(&'static str),
    /// No public key for this `kid`.
    #[error("no public key for kid {0:?}")]
    UnknownKey(String),
    /// The signature does not match (tampered, or another key).
    #[error("signature does not verify")]
    Signature,
    /// The token is past its `exp`.
    #[error("token expired at {0}")]
    Expired(DateTime<Utc>),
    /// The token was issued for another machine.
    #[error("token issued for another machine fingerprint")]
    Fingerprint,
}

/// The claims of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The license code.
    pub code: String,
    /// The status when the token was issued.
    pub status: LicenseStatus,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// The signing key's id.
    pub kid: String,
    /// The machine fingerprint the software sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp: Option<String>,
}

impl Claims {
    /// `exp` as a time.
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    STANDARD.decode(text).or_else(|_| URL_SAFE.decode(text)).or_else(|_| URL_SAFE_NO_PAD.decode(text)).ok()
}

/// Reads a private key: PKCS#8 PEM, or the 32-byte seed in base64.
///
/// # Errors
/// [`TokenError::Key`] (never showing the key).
pub fn parse_signing_key(text: &str) -> Result<SigningKey, TokenError> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return SigningKey::from_pkcs8_pem(text).map_err(|_| TokenError::Key("PKCS#8 PEM does not decode".into()));
    }
    let bytes = decode_b64(text).ok_or_else(|| TokenError::Key("neither PEM nor base64".into()))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| TokenError::Key(format!("base64 seed must be 32 bytes, got {}", b.len())))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Reads a public key: SPKI PEM, or the 32 raw bytes in base64.
///
/// # Errors
/// [`TokenError::Key`].
pub fn parse_verifying_key(text: &str) -> Result<VerifyingKey, TokenError> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(text).map_err(|_| TokenError::Key("SPKI PEM does not decode".into()));
    }
    let bytes = decode_b64(text).ok_or_else(|| TokenError::Key("neither PEM nor base64".into()))?;
    let raw: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| TokenError::Key(format!("base64 public key must be 32 bytes, got {}", b.len())))?;
    VerifyingKey::from_bytes(&raw).map_err(|_| TokenError::Key("not a point on the curve".into()))
}

/// The default `kid` of a public key: base64url of the first 8 bytes of its SHA-256.
pub fn default_kid(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..8])
}

/// A new key pair as PEM texts: (PKCS#8 private key, SPKI public key).
///
/// # Errors
/// [`TokenError::Key`] if encoding fails (it does not for a valid key).
pub fn generate_pem() -> Result<(String, String), TokenError> {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let private = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| TokenError::Key(e.to_string()))?;
    Ok((private.to_string(), public_pem(&key.verifying_key())?))
}

/// A public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`), the form the software compiles in.
///
/// # Errors
/// [`TokenError::Key`] if encoding fails (it does not for a valid key).
pub fn public_pem(key: &VerifyingKey) -> Result<String, TokenError> {
    key.to_public_key_pem(LineEnding::LF).map_err(|e| TokenError::Key(e.to_string()))
}

/// Issues tokens. `Debug` shows only the `kid`.
#[derive(Clone)]
pub struct TokenSigner {
    key: SigningKey,
    kid: String,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// A signer with `key`, writing `kid` (the default kid when `None`).
    pub fn new(key: SigningKey, kid: Option<String>) -> Self {
        let kid = kid.unwrap_or_else(|| default_kid(&key.verifying_key()));
        Self { key, kid }
    }

    /// The `kid` written into tokens.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs a token for `code` in `status`, issued `now`, expiring at `exp`.
    pub fn issue(
        &self,
        code: &str,
        status: LicenseStatus,
        now: DateTime<Utc>,
        exp: DateTime<Utc>,
        fingerprint: Option<&str>,
    ) -> String {
        let claims = Claims {
            code: code.to_owned(),
            status,
            iat: now.timestamp(),
            exp: exp.timestamp(),
            kid: self.kid.clone(),
            fp: fingerprint.map(str::to_owned),
        };
        // Claims always encode: strings, integers and an enum.
        let json = serde_json::to_vec(&claims).unwrap_or_default();
        let signed = format!("{TOKEN_PREFIX}.{}", URL_SAFE_NO_PAD.encode(json));
        let signature = self.key.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

/// The expiry of a token issued `now`: `now + ttl`, never past the code's expiry (and never
/// before `now`: a token for an expired code is born expired, so verifiers fail closed).
pub fn token_expiry(now: DateTime<Utc>, ttl: std::time::Duration, code_expiry: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(48));
    let mut exp = now + ttl;
    if let Some(code_expiry) = code_expiry {
        exp = exp.min(code_expiry);
    }
    exp.max(now)
}

/// Verifies tokens against the public keys compiled into the software, by `kid`.
#[derive(Debug, Clone, Default)]
pub struct TokenVerifier {
    keys: Vec<(String, VerifyingKey)>,
}

impl TokenVerifier {
    /// A verifier trusting nobody yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `key` for tokens whose `kid` is `kid` (the default kid when `None`).
    #[must_use]
    pub fn with_key(mut self, key: VerifyingKey, kid: Option<String>) -> Self {
        let kid = kid.unwrap_or_else(|| default_kid(&key));
        self.keys.push((kid, key));
        self
    }

    /// Checks format, key, signature and expiry (at `now`), and the fingerprint when `fingerprint`
    /// is given; returns the claims. The status is the caller's to judge.
    ///
    /// # Errors
    /// [`TokenError`] saying which check failed.
    pub fn verify(&self, token: &str, now: DateTime<Utc>, fingerprint: Option<&str>) -> Result<Claims, TokenError> {
        let mut parts = token.trim().split('.');
        let (Some(prefix), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Format("expected three parts"));
        };
        if prefix != TOKEN_PREFIX {
            return Err(TokenError::Format("unknown version prefix"));
        }
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Format("payload is not base64url"))?;
        let signature =
            URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Format("signature is not base64url"))?;
        let signature = Signature::from_slice(&signature).map_err(|_| TokenError::Format("signature length"))?;
        // The kid is read before the signature is checked only to choose the key.
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Format("claims are not JSON"))?;
        let key = self
            .keys
            .iter()
            .find(|(kid, _)| *kid == claims.kid)
            .map(|(_, key)| key)
            .ok_or_else(|| TokenError::UnknownKey(claims.kid.clone()))?;
        let signed = &token.trim()[..prefix.len() + 1 + payload.len()];
        key.verify(signed.as_bytes(), &signature).map_err(|_| TokenError::Signature)?;
        if now.timestamp() >= claims.exp {
            return Err(TokenError::Expired(claims.expires_at()));
        }
        if let (Some(expected), Some(actual)) = (fingerprint, claims.fp.as_deref())
            && expected != actual
        {
            return Err(TokenError::Fingerprint);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> TokenSigner {
        TokenSigner::new(SigningKey::from_bytes(&[7; 32]), None)
    }

    #[test]
    fn a_token_verifies_until_it_expires_and_not_after_tampering() {
        let signer = signer();
        let verifier = TokenVerifier::new().with_key(signer.verifying_key(), None);
        let now = Utc::now();
        let exp = now + chrono::Duration::hours(1);
        let token = signer.issue("PL1", LicenseStatus::Active, now, exp, Some("m-1"));
        assert!(token.starts_with("kflic1."));
        let claims = verifier.verify(&token, now, Some("m-1")).unwrap();
        assert_eq!((claims.code.as_str(), claims.status, claims.exp), ("PL1", LicenseStatus::Active, exp.timestamp()));
        assert_eq!(verifier.verify(&token, exp, None), Err(TokenError::Expired(claims.expires_at())));
        assert_eq!(verifier.verify(&token, now, Some("m-2")), Err(TokenError::Fingerprint));

        // Another payload under the same signature: a frozen code claiming to be active.
        let frozen = signer.issue("PL1", LicenseStatus::Frozen, now, exp, None);
        let (head, _) = frozen.rsplit_once('.').unwrap();
        let (_, sig) = token.rsplit_once('.').unwrap();
        assert_eq!(verifier.verify(&format!("{head}.{sig}"), now, None), Err(TokenError::Signature));
        let other =
            TokenVerifier::new().with_key(SigningKey::from_bytes(&[8; 32]).verifying_key(), Some(signer.kid().into()));
        assert_eq!(other.verify(&token, now, None), Err(TokenError::Signature));
        assert!(matches!(
            verifier.verify(&token.replacen("kflic1", "kflic2", 1), now, None),
            Err(TokenError::Format(_))
        ));
    }

    #[test]
    fn keys_read_as_pem_or_base64_and_the_expiry_never_passes_the_code() {
        let (private, public) = generate_pem().unwrap();
        let key = parse_signing_key(&private).unwrap();
        assert_eq!(parse_verifying_key(&public).unwrap(), key.verifying_key());
        assert_eq!(public_pem(&key.verifying_key()).unwrap(), public);
        let seed = STANDARD.encode(key.to_bytes());
        assert_eq!(parse_signing_key(&seed).unwrap().to_bytes(), key.to_bytes());
        let raw = STANDARD.encode(key.verifying_key().as_bytes());
        assert_eq!(parse_verifying_key(&raw).unwrap(), key.verifying_key());
        assert!(parse_signing_key("bm90IGEga2V5").is_err());

        let now = Utc::now();
        let ttl = std::time::Duration::from_secs(48 * 3600);
        assert_eq!(token_expiry(now, ttl, None), now + chrono::Duration::hours(48));
        let soon = now + chrono::Duration::hours(3);
        assert_eq!(token_expiry(now, ttl, Some(soon)), soon);
        assert_eq!(token_expiry(now, ttl, Some(now - chrono::Duration::days(1))), now);
    }
}
