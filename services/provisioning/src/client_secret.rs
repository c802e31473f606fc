//! The box that seals Kit client secrets at rest (`applications.client_secret_enc`).
//!
//! Its key is derived from the RSA private key that decrypts KooGallery's `clientSecret`
//! (`koogallery.client_secret_private_key`, spec §2.7): whoever can read the stored secrets could
//! decrypt KooGallery's value anyway, and there is no second secret to manage.
//!
//! The derivation reads the key and uses its canonical PKCS#8 DER, not the configured text, so
//! re-wrapping the PEM, changing its line endings or whitespace, or switching between PKCS#1 PEM,
//! PKCS#8 PEM and bare Base64 DER keeps stored secrets readable.
//!
//! Replacing the key itself (a rotation) makes every stored client secret unreadable: nothing
//! re-encrypts them. Sealed values carry the id of the key that sealed them
//! ([`koofill_store::SecretBox::key_id_of`]), so opening one under a new key fails with "sealed
//! under another key" instead of looking like tampering. After a rotation the applications have to
//! be synced again (KooGallery's applicationSync re-sends the secret).

use base64::{Engine, engine::general_purpose::STANDARD};
use koofill_store::SecretBox;
use rsa::{
    RsaPrivateKey,
    pkcs1::DecodeRsaPrivateKey,
    pkcs8::{DecodePrivateKey, EncodePrivateKey},
};

/// The purpose (and associated data) of the sealed client secrets.
pub const PURPOSE: &str = "applications.client_secret";

/// The box for client secrets, keyed by the private key in `key_text` (PKCS#8 PEM, PKCS#1 PEM, or
/// bare Base64 of PKCS#8 DER, as `koogallery.client_secret_private_key` accepts).
///
/// # Errors
/// A description when the text is not a readable RSA private key.
pub fn sealer(key_text: &str) -> Result<SecretBox, String> {
    sealer_for(key_text, PURPOSE)
}

/// A box for another `purpose` keyed by the same private key (the SSO broker seals the tenants'
/// OAuth tokens with `sso_sessions.tokens`): one configured key, independent keys per column.
///
/// # Errors
/// As [`sealer`].
pub fn sealer_for(key_text: &str, purpose: &str) -> Result<SecretBox, String> {
    let text = key_text.trim();
    let key = if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        RsaPrivateKey::from_pkcs1_pem(text).map_err(|e| e.to_string())?
    } else if text.contains("-----BEGIN") {
        RsaPrivateKey::from_pkcs8_pem(text).map_err(|e| e.to_string())?
    } else {
        let compact: String = text.split_whitespace().collect();
        let der = STANDARD.decode(compact).map_err(|_| "not PEM and not Base64 PKCS#8".to_owned())?;
        RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| e.to_string())?
    };
    let der = key.to_pkcs8_der().map_err(|e| e.to_string())?;
    Ok(SecretBox::derive(der.as_bytes(), purpose))
}

#[cfg(test)]
mod tests {
    use rsa::{
        pkcs1::{EncodeRsaPrivateKey, LineEnding},
        pkcs8::EncodePrivateKey,
    };

    use super::*;

    const PEM: &str = include_str!("../../../crates/signing/fixtures/test-client-secret-key.pem");

    #[test]
    fn the_key_not_its_text_decides() {
        let sealed = sealer(PEM).unwrap().seal("s3cret").unwrap();
        let key = RsaPrivateKey::from_pkcs8_pem(PEM.trim()).unwrap();
        let pkcs1 = key.to_pkcs1_pem(LineEnding::CRLF).unwrap().to_string();
        let der = key.to_pkcs8_der().unwrap();
        let bare = STANDARD.encode(der.as_bytes());
        let rewrapped: String =
            bare.as_bytes().chunks(76).map(|c| format!("{}\n", String::from_utf8_lossy(c))).collect();
        let indented = format!("\n  {}\n\n", PEM.replace('\n', "\r\n"));
        for text in [pkcs1.as_str(), bare.as_str(), rewrapped.as_str(), indented.as_str()] {
            let other = sealer(text).unwrap();
            assert_eq!(other.open(&sealed).unwrap(), "s3cret", "{text:.40}");
        }

        let another = RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
        let rotated = sealer(&another.to_pkcs8_pem(LineEnding::LF).unwrap()).unwrap();
        let refused = rotated.open(&sealed).unwrap_err().to_string();
        assert!(refused.contains("another key"), "{refused}");
        assert!(sealer("not a key").is_err());
    }
}
