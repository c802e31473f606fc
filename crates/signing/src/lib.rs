//! Every signature, verification and field-encryption algorithm KooGallery uses, as pure functions.
//!
//! Nothing here does IO, reads a clock or touches configuration: callers pass keys, times and bytes in,
//! so every function is reproducible and is pinned by the reference vectors of the KooGallery spec
//! (Appendix A). The modules follow the spec's §2:
//!
//! | Module | Algorithm | Who uses it |
//! |---|---|---|
//! | [`canonical`] | The canonical payload of a JSON body (top-level keys sorted, nulls dropped, Jackson-compact) | [`basic`], [`kit`] |
//! | [`basic`] | V2 basic URL signature (`signature`, `timestamp`, `nonce`) | ingress verifies, simulator signs |
//! | [`kit`] | V2 Kit header signature (`x-sign`, `x-timestamp`, `x-nonce`) | ingress verifies, simulator signs |
//! | [`v1`] | V1 `authToken` | ingress (legacy products) |
//! | [`body_sign`] | `Body-Sign` response header | ingress signs, simulator verifies |
//! | [`field_crypto`] | AES field encryption with the Java `SHA1PRNG` key (`encryptType` 1 and 2) | appInfo credentials |
//! | [`apig`] | Huawei APIG `SDK-HMAC-SHA256` request signing | open-API client signs, simulator verifies |
//! | [`usage`] | Usage-push (new) header signature | metering signs, simulator verifies |
//! | [`client_secret`] | RSA-OAEP `clientSecret` of `applicationSync` | provisioning decrypts, simulator encrypts |
//! | [`webhook`] | Standard Webhooks signatures | koofill's own outbound webhooks |
//! | [`timestamp`] | Timestamp window (milliseconds, or seconds for ≤ 10 digits) | every verifier |
//!
//! Comparisons of signatures are constant-time and case-insensitive for hex ([`ct`]).
#![warn(missing_docs)]

pub mod apig;
pub mod basic;
pub mod body_sign;
pub mod canonical;
pub mod client_secret;
pub mod ct;
mod error;
pub mod field_crypto;
mod hmac_util;
pub mod json;
pub mod kit;
pub mod percent;
pub mod timestamp;
pub mod usage;
pub mod v1;
pub mod webhook;

pub use error::SignatureError;
