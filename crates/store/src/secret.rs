//! Secrets at rest: values koofill must keep but should not store in clear (the Kit
//! applications' OAuth client secrets).
//!
//! AES-256-GCM with a random 96-bit nonce per value; the key is HMAC-SHA256 of configured key
//! material under a purpose label, so one configured secret yields independent keys per use.
//! Stored form: `gcm2:<key id>:` + Base64(nonce ‖ ciphertext ‖ tag). The purpose is also the
//! associated data, so a value sealed for one column does not open as another.
//!
//! The key id is 16 hex digits of another HMAC of the same material (it reveals nothing about the
//! key). A value sealed under other key material — the configured key was rotated or replaced —
//! is refused as such ([`SecretBox::key_id_of`] tells which key sealed it) rather than reported
//! as tampered. Values written before the key id existed (`gcm1:`) still open.
//!
//! Rotating the material makes every stored value unreadable: there is no re-encryption here.
//! Whoever rotates must re-seal (or have KooGallery re-send) the affected values.

use aes_gcm::{
    Aes256Gcm, Key, Nonce,
    aead::{Aead, KeyInit, Payload},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::StoreError;

/// The current format: key id, then the sealed bytes.
const PREFIX: &str = "gcm2:";
/// The first format, without a key id; still opened.
const LEGACY_PREFIX: &str = "gcm1:";
const NONCE_LEN: usize = 12;
/// Bytes of the key id (shown as twice as many hex digits).
const KEY_ID_LEN: usize = 8;

/// Seals and opens secrets for one purpose. `Debug` never shows the key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    purpose: String,
    key_id: String,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox")
            .field("purpose", &self.purpose)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SecretBox {
    /// Derives the key for `purpose` (e.g. `applications.client_secret`) from `material`.
    ///
    /// The material must be stable byte for byte: derive it from a canonical form of the
    /// configured key (e.g. its DER), not from text whose formatting may change.
    pub fn derive(material: &[u8], purpose: &str) -> Self {
        let key = hmac(material, &format!("koofill/at-rest/v1/{purpose}"));
        let id = hmac(material, &format!("koofill/at-rest/v1/key-id/{purpose}"));
        let key_id = id[..KEY_ID_LEN].iter().map(|b| format!("{b:02x}")).collect();
        Self { cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)), purpose: purpose.to_owned(), key_id }
    }

    /// The id of this box's key, written in front of every value it seals.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The id of the key that sealed `sealed`; `None` for values without one (the `gcm1:` format)
    /// and for values that are not sealed at all.
    pub fn key_id_of(sealed: &str) -> Option<&str> {
        sealed.strip_prefix(PREFIX)?.split_once(':').map(|(id, _)| id)
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
        Ok(format!("{PREFIX}{}:{}", self.key_id, STANDARD.encode(out)))
    }

    /// Decrypts a value made by [`SecretBox::seal`] with the same key material and purpose.
    ///
    /// # Errors
    /// [`StoreError::Secret`] for a malformed value, a value sealed under another key (the key
    /// material was rotated or replaced), or a tampered value.
    pub fn open(&self, sealed: &str) -> Result<String, StoreError> {
        let b64 = if let Some(rest) = sealed.strip_prefix(PREFIX) {
            let (id, b64) = rest.split_once(':').ok_or(StoreError::Secret("unknown format"))?;
            if id != self.key_id {
                return Err(StoreError::Secret("sealed under another key (was the key material rotated?)"));
            }
            b64
        } else {
            sealed.strip_prefix(LEGACY_PREFIX).ok_or(StoreError::Secret("unknown format"))?
        };
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

fn hmac(material: &[u8], label: &str) -> [u8; 32] {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(material).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_binds_key_and_purpose() {
        let a = SecretBox::derive(b"material", "applications.client_secret");
        let sealed = a.seal("s3cret").unwrap();
        assert!(sealed.starts_with(&format!("gcm2:{}:", a.key_id())) && !sealed.contains("s3cret"));
        assert_eq!(SecretBox::key_id_of(&sealed), Some(a.key_id()));
        assert_eq!(a.key_id().len(), 16);
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

    #[test]
    fn another_key_is_recognised_by_its_id_and_the_legacy_format_still_opens() {
        let old = SecretBox::derive(b"old material", "applications.client_secret");
        let new = SecretBox::derive(b"new material", "applications.client_secret");
        assert_ne!(old.key_id(), new.key_id());
        let sealed = old.seal("s3cret").unwrap();
        let Err(StoreError::Secret(why)) = new.open(&sealed) else { panic!("opened under another key") };
        assert!(why.contains("another key"), "{why}");
        assert_eq!(SecretBox::key_id_of(&sealed), Some(old.key_id()));

        // A value in the first format (no key id) written by the same key.
        let legacy = format!("gcm1:{}", sealed.rsplit(':').next().unwrap());
        assert_eq!(old.open(&legacy).unwrap(), "s3cret");
        assert_eq!(SecretBox::key_id_of(&legacy), None);
        assert!(new.open(&legacy).is_err());
    }
}
