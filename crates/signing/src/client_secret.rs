//! The `clientSecret` of `applicationSync` (spec §2.7): RSA-OAEP with the ISV's public key
//! (≥ 3072 bits), Base64 on the wire.
//!
//! The OAEP hashes are not documented, so decryption tries the variants in the spec's order and
//! reports which one worked; the ciphertext is read as standard Base64, then URL-safe, each with or
//! without padding.
//!
//! OAEP decryption in the `rsa` crate is not hardened against timing side channels (RUSTSEC-2023-0071).
//! Only a caller holding the Kit key can submit ciphertexts here (the request signature is verified
//! first), which keeps this path out of an attacker's reach.

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD},
};
use rsa::{
    Oaep, RsaPrivateKey, RsaPublicKey,
    pkcs1::DecodeRsaPrivateKey,
    pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, LineEnding},
    traits::PublicKeyParts,
};
use sha1::Sha1;
use sha2::Sha256;

use crate::SignatureError;

/// Smallest modulus KooGallery accepts for the uploaded public key.
pub const MIN_KEY_BITS: usize = 3072;

/// An OAEP parameter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OaepVariant {
    /// OAEP with SHA-256 and MGF1-SHA-1: Java's `RSA/ECB/OAEPWithSHA-256AndMGF1Padding` default.
    Sha256Mgf1Sha1,
    /// OAEP with SHA-256 and MGF1-SHA-256.
    Sha256Mgf1Sha256,
    /// OAEP with SHA-1 and MGF1-SHA-1.
    Sha1Mgf1Sha1,
}

impl OaepVariant {
    /// The order in which decryption tries the variants (spec §2.7 recommendation).
    pub const ALL: [OaepVariant; 3] = [Self::Sha256Mgf1Sha1, Self::Sha256Mgf1Sha256, Self::Sha1Mgf1Sha1];

    fn padding(self) -> Oaep {
        match self {
            Self::Sha256Mgf1Sha1 => Oaep::new_with_mgf_hash::<Sha256, Sha1>(),
            Self::Sha256Mgf1Sha256 => Oaep::new::<Sha256>(),
            Self::Sha1Mgf1Sha1 => Oaep::new::<Sha1>(),
        }
    }

    /// A stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256Mgf1Sha1 => "oaep-sha256-mgf1sha1",
            Self::Sha256Mgf1Sha256 => "oaep-sha256-mgf1sha256",
            Self::Sha1Mgf1Sha1 => "oaep-sha1-mgf1sha1",
        }
    }
}

/// The ISV's private key for `clientSecret`. `Debug` never shows key material.
#[derive(Clone)]
pub struct ClientSecretKey {
    key: RsaPrivateKey,
}

impl std::fmt::Debug for ClientSecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecretKey").field("bits", &self.bits()).finish_non_exhaustive()
    }
}

impl ClientSecretKey {
    /// Reads a private key as PKCS#8 PEM (`PRIVATE KEY`), PKCS#1 PEM (`RSA PRIVATE KEY`), or bare
    /// Base64 of PKCS#8 DER (the form Java tools print).
    ///
    /// # Errors
    /// [`SignatureError::BadKey`] when none of the forms parse.
    pub fn from_text(text: &str) -> Result<Self, SignatureError> {
        let text = text.trim();
        let key = if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
            RsaPrivateKey::from_pkcs1_pem(text).map_err(|e| SignatureError::BadKey(e.to_string()))?
        } else if text.contains("-----BEGIN") {
            RsaPrivateKey::from_pkcs8_pem(text).map_err(|e| SignatureError::BadKey(e.to_string()))?
        } else {
            let compact: String = text.split_whitespace().collect();
            let der = STANDARD
                .decode(compact)
                .map_err(|_| SignatureError::BadKey("not PEM and not Base64 PKCS#8".to_owned()))?;
            RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| SignatureError::BadKey(e.to_string()))?
        };
        Ok(Self { key })
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.key.size() * 8
    }

    /// The public half, as SPKI PEM: what the seller uploads in the application credential.
    ///
    /// # Errors
    /// [`SignatureError::BadKey`] if encoding fails.
    pub fn public_key_pem(&self) -> Result<String, SignatureError> {
        self.key.to_public_key().to_public_key_pem(LineEnding::LF).map_err(|e| SignatureError::BadKey(e.to_string()))
    }

    /// Decrypts a Base64 `clientSecret`, trying each OAEP variant in [`OaepVariant::ALL`] order.
    ///
    /// # Errors
    /// [`SignatureError::BadEncoding`] when it is not Base64, [`SignatureError::Decrypt`] when no
    /// variant yields UTF-8 plaintext.
    pub fn decrypt(&self, ciphertext_b64: &str) -> Result<(String, OaepVariant), SignatureError> {
        let ct = decode_any_base64(ciphertext_b64.trim())
            .ok_or(SignatureError::BadEncoding { what: "clientSecret", encoding: "Base64" })?;
        for variant in OaepVariant::ALL {
            if let Ok(pt) = self.key.decrypt(variant.padding(), &ct)
                && let Ok(text) = String::from_utf8(pt)
            {
                return Ok((text, variant));
            }
        }
        Err(SignatureError::Decrypt("clientSecret"))
    }
}

fn decode_any_base64(s: &str) -> Option<Vec<u8>> {
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD].into_iter().find_map(|e| e.decode(s).ok())
}

/// Encrypts a secret for the holder of `public_key_pem` (SPKI PEM), as KooGallery does; Base64 out.
/// The simulator uses this to play the marketplace side.
///
/// # Errors
/// [`SignatureError::BadKey`] for an unreadable key or a message too long for it.
pub fn encrypt(public_key_pem: &str, plaintext: &str, variant: OaepVariant) -> Result<String, SignatureError> {
    let key =
        RsaPublicKey::from_public_key_pem(public_key_pem.trim()).map_err(|e| SignatureError::BadKey(e.to_string()))?;
    let ct = key
        .encrypt(&mut rand::thread_rng(), variant.padding(), plaintext.as_bytes())
        .map_err(|e| SignatureError::BadKey(e.to_string()))?;
    Ok(STANDARD.encode(ct))
}
