//! Secrets at rest: values koofill must keep but should not store in clear (the Kit
//! applications' OAuth client secrets).
//!
//! AES-256-GCM with a random 96-bit nonce per value; the key is HMAC-SHA256 of configured key
//! material under a purpose label, so one configured secret yields independent keys per use.
//! Stored form: `gcm1:` + Base64(nonce ‖ ciphertext ‖ tag). The purpose is also the associated
//! data, so a value sealed for one column does not open as another.

use aes_gcm::{
    Aes256Gcm, Key, Nonce,
    aead::{Aead, KeyInit, Payload},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::StoreError;

const PREFIX: &str = "gcm1:";
const NONCE_LEN: usize = 12;

/// Seals and opens secrets for one purpose. `Debug` never shows the key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    purpose: String,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox").field("purpose", &self.purpose).finish_non_exhaustive()
    }
}

impl SecretBox {
    /// Derives the key for `purpose` (e.g. `applications.client_secret`) from `material`.
    pub fn derive(material: &[u8], purpose: &str) -> Self {
        let label = format!("koofill/at-rest/v1/{purpose}");
        // HMAC accepts keys of any length.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(material).unwrap_or_else(|_| unreachable!("any key length"));
        mac.update(label.as_bytes());
        let key = mac.finalize().into_bytes();
        Self { cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)), purpose: purpose.to_owned() }
    }

    /// Encrypts `plaintext`.
    ///
    /// # Errors
    /// [`StoreError::Secret`] if encryption fails (it does not for inputs under 64 GiB).
    pub fn seal(&self, plaintext: &str) -> Result<String, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: self.purpose.as_bytes() })
            .map_err(|_| StoreError::Secret("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// Decrypts a value made by [`SecretBox::seal`] with the same key material and purpose.
    ///
    /// # Errors
    /// [`StoreError::Secret`] for a malformed value, another key, or a tampered value.
    pub fn open(&self, sealed: &str) -> Result<String, StoreError> {
        let b64 = sealed.strip_prefix(PREFIX).ok_or(StoreError::Secret("unknown format"))?;
        let bytes = STANDARD.decode(b64).map_err(|_| StoreError::Secret("not Base64"))?;
        if bytes.len() < NONCE_LEN {
            return Err(StoreError::Secret("too short"));
        }
        let (nonce, ct) = bytes.split_at(NONCE_LEN);
        let pt = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: self.purpose.as_bytes() })
            .map_err(|_| StoreError::Secret("wrong key or tampered value"))?;
        String::from_utf8(pt).map_err(|_| StoreError::Secret("not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_binds_key_and_purpose() {
        let a = SecretBox::derive(b"material", "applications.client_secret");
        let sealed = a.seal("s3cret").unwrap();
        assert!(sealed.starts_with("gcm1:") && !sealed.contains("s3cret"));
        assert_eq!(a.open(&sealed).unwrap(), "s3cret");
        assert_ne!(a.seal("s3cret").unwrap(), sealed, "fresh nonce each time");
        assert!(SecretBox::derive(b"other", "applications.client_secret").open(&sealed).is_err());
        assert!(SecretBox::derive(b"material", "other.column").open(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(a.open(&tampered).is_err());
        assert!(!format!("{a:?}").contains("material"));
    }
}
