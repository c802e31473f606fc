//! Sensitive-field encryption (spec §2.5): `userName`/`password` of appInfo, V1 phone and email.
//!
//! ```text
//! key = first 32 (encryptType "1", AES-256) or 16 ("2", AES-128) bytes of Java SHA1PRNG seeded
//!       with the access key's UTF-8 bytes
//! out = iv + Base64(AES-CBC-PKCS5(key, iv, content))    iv: 16 random [A-Za-z0-9] characters
//! ```
//!
//! ```
//! use koofill_signing::field_crypto::{EncryptType, FieldCipher};
//! let cipher = FieldCipher::new(b"test-access-key-123", EncryptType::Aes256);
//! let sealed = cipher.encrypt_with_iv("13800138000", *b"AbCdEf0123456789");
//! assert_eq!(sealed, "AbCdEf01234567891mF1C0WRWxHkwfCDSMyULw==");
//! assert_eq!(cipher.decrypt(&sealed).unwrap(), "13800138000");
//! ```

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::{Engine, engine::general_purpose::STANDARD};
use rand::Rng;
use sha1::{Digest, Sha1};

use crate::SignatureError;

/// Length of the clear-text IV prefix, in characters (= bytes, they are ASCII).
pub const IV_LEN: usize = 16;

/// The `encryptType` of a queryInstance/newInstance answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncryptType {
    /// `"1"`: AES256_CBC_PKCS5Padding, the default.
    #[default]
    Aes256,
    /// `"2"`: AES128_CBC_PKCS5Padding.
    Aes128,
}

impl EncryptType {
    /// The wire value, `"1"` or `"2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aes256 => "1",
            Self::Aes128 => "2",
        }
    }

    /// Parses the wire value.
    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "1" => Some(Self::Aes256),
            "2" => Some(Self::Aes128),
            _ => None,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Self::Aes256 => 32,
            Self::Aes128 => 16,
        }
    }
}

/// `n` bytes of Java's `SecureRandom.getInstance("SHA1PRNG")` after `setSeed(seed)` on a fresh
/// instance, drawn with a single `nextBytes` call (as `KeyGenerator.generateKey()` does).
///
/// This is `sun.security.provider.SecureRandom`: `state = SHA1(seed)`; each block is
/// `SHA1(state)`, after which the state is advanced by adding the block plus one, byte-wise with
/// carry over signed bytes, bumping `state[0]` if nothing changed.
pub fn sha1prng(seed: &[u8], n: usize) -> Vec<u8> {
    let mut state: [u8; 20] = Sha1::digest(seed).into();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let block: [u8; 20] = Sha1::digest(state).into();
        update_state(&mut state, &block);
        let take = (n - out.len()).min(block.len());
        out.extend_from_slice(&block[..take]);
    }
    out
}

fn update_state(state: &mut [u8; 20], output: &[u8; 20]) {
    let mut last: i32 = 1;
    let mut changed = false;
    for (s, o) in state.iter_mut().zip(output) {
        // Java adds the bytes as signed values; the carry is the arithmetic shift of the sum.
        let v = i32::from(*s as i8) + i32::from(*o as i8) + last;
        let t = v as u8;
        changed |= *s != t;
        *s = t;
        last = v >> 8;
    }
    if !changed {
        state[0] = state[0].wrapping_add(1);
    }
}

/// The AES key for an access key and encrypt type.
pub fn derive_key(access_key: &[u8], encrypt_type: EncryptType) -> Vec<u8> {
    sha1prng(access_key, encrypt_type.key_len())
}

/// Encrypts and decrypts sensitive fields with one derived key.
#[derive(Clone)]
pub struct FieldCipher {
    key: Vec<u8>,
    encrypt_type: EncryptType,
}

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldCipher").field("key", &"<redacted>").field("encrypt_type", &self.encrypt_type).finish()
    }
}

impl FieldCipher {
    /// Derives the key once for `access_key` (the basic-interface key).
    pub fn new(access_key: &[u8], encrypt_type: EncryptType) -> Self {
        Self { key: derive_key(access_key, encrypt_type), encrypt_type }
    }

    /// The encrypt type this cipher uses.
    pub fn encrypt_type(&self) -> EncryptType {
        self.encrypt_type
    }

    /// Encrypts with a fresh random IV of 16 alphanumeric characters.
    pub fn encrypt(&self, content: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::thread_rng();
        let iv: [u8; IV_LEN] = std::array::from_fn(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())]);
        self.encrypt_with_iv(content, iv)
    }

    /// Encrypts with the given IV (which should be 16 ASCII characters, as it is sent in clear).
    pub fn encrypt_with_iv(&self, content: &str, iv: [u8; IV_LEN]) -> String {
        let ct = match self.encrypt_type {
            EncryptType::Aes256 => cbc::Encryptor::<aes::Aes256>::new_from_slices(&self.key, &iv)
                .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(content.as_bytes())),
            EncryptType::Aes128 => cbc::Encryptor::<aes::Aes128>::new_from_slices(&self.key, &iv)
                .map(|c| c.encrypt_padded_vec_mut::<Pkcs7>(content.as_bytes())),
        }
        // The key length comes from `EncryptType` and the IV is a fixed-size array.
        .unwrap_or_else(|_| unreachable!("key and iv lengths are fixed"));
        let mut out = String::from_utf8_lossy(&iv).into_owned();
        out.push_str(&STANDARD.encode(ct));
        out
    }

    /// Decrypts `iv + Base64(ciphertext)`.
    ///
    /// # Errors
    /// [`SignatureError::BadEncoding`] for a short or non-Base64 value, [`SignatureError::Decrypt`]
    /// for a wrong key or corrupt ciphertext (bad padding) or non-UTF-8 plaintext.
    pub fn decrypt(&self, sealed: &str) -> Result<String, SignatureError> {
        let bad = SignatureError::BadEncoding { what: "encrypted field", encoding: "iv + Base64" };
        let (iv, b64) = (sealed.get(..IV_LEN).ok_or(bad.clone())?, sealed.get(IV_LEN..).ok_or(bad.clone())?);
        let ct = STANDARD.decode(b64).map_err(|_| bad)?;
        let pt = match self.encrypt_type {
            EncryptType::Aes256 => cbc::Decryptor::<aes::Aes256>::new_from_slices(&self.key, iv.as_bytes())
                .map(|c| c.decrypt_padded_vec_mut::<Pkcs7>(&ct)),
            EncryptType::Aes128 => cbc::Decryptor::<aes::Aes128>::new_from_slices(&self.key, iv.as_bytes())
                .map(|c| c.decrypt_padded_vec_mut::<Pkcs7>(&ct)),
        }
        .map_err(|_| SignatureError::Decrypt("encrypted field"))?
        .map_err(|_| SignatureError::Decrypt("encrypted field"))?;
        String::from_utf8(pt).map_err(|_| SignatureError::Decrypt("encrypted field"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_iv_roundtrips_and_is_alphanumeric() {
        let c = FieldCipher::new(b"k", EncryptType::Aes128);
        let sealed = c.encrypt("密码 with spaces");
        assert!(sealed[..IV_LEN].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(c.decrypt(&sealed).unwrap(), "密码 with spaces");
        assert_ne!(c.encrypt("x")[..IV_LEN], c.encrypt("x")[..IV_LEN]);
    }

    #[test]
    fn wrong_key_or_garbage_fails_cleanly() {
        let sealed = FieldCipher::new(b"right", EncryptType::Aes256).encrypt("secret");
        assert!(FieldCipher::new(b"wrong", EncryptType::Aes256).decrypt(&sealed).is_err());
        let c = FieldCipher::new(b"k", EncryptType::Aes256);
        for bad in ["", "short", "AbCdEf0123456789!!!", "AbCdEf0123456789AAAA", "AbCdEf0123456789"] {
            assert!(c.decrypt(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_redacts_the_key() {
        let dbg = format!("{:?}", FieldCipher::new(b"k", EncryptType::Aes256));
        assert!(dbg.contains("redacted") && !dbg.contains('['));
    }
}
