//! `[koogallery]`: the keys KooGallery signs callbacks with, the AK/SK of its open APIs, their URLs.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::checks;
use crate::error::ConfigError;

/// KooGallery's keys and open-API endpoints.
///
/// Keys rotate by moving the current key to `*_previous` and setting the new one: verifiers accept
/// both ([`KooGalleryConfig::basic_keys`]), signers use the current one.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct KooGalleryConfig {
    /// Access key of the basic interfaces: verifies V2 URL signatures and V1 authTokens, signs
    /// `Body-Sign`. Secret. Default: unset (the ingress refuses to start without it).
    pub basic_key: Option<SecretString>,
    /// The basic key being rotated out, still accepted when verifying. Secret. Default: unset.
    pub basic_key_previous: Option<SecretString>,
    /// Access key of the Kit sync interfaces (header signature). Secret. Default: unset.
    pub kit_key: Option<SecretString>,
    /// The Kit key being rotated out, still accepted when verifying. Secret. Default: unset.
    pub kit_key_previous: Option<SecretString>,
    /// Huawei Cloud access key id (AK) for the open APIs. Default: unset.
    pub access_key_id: Option<String>,
    /// Huawei Cloud secret access key (SK) paired with `access_key_id`. Secret. Default: unset.
    pub secret_access_key: Option<SecretString>,
    /// Base URL of KooGallery's open APIs; tests point it at the simulator.
    /// Default: `https://mkt.myhuaweicloud.com`.
    pub api_base: String,
    /// Base URL tried when `api_base` fails. Default: `https://mkt.myhuaweicloud.cn`.
    pub api_fallback_base: String,
    /// Accepted drift of a callback's timestamp from our clock, in seconds, either way. Default: 60.
    pub max_clock_skew_secs: u64,
    /// PEM of the RSA private key whose public half is uploaded to KooGallery; decrypts the Kit
    /// `clientSecret`. Secret. Default: unset.
    pub client_secret_private_key: Option<SecretString>,
    /// AES scheme (`encryptType`) for appInfo fields sent to KooGallery: `"1"` or `"2"`. Default: `"1"`.
    pub encrypt_type: String,
    /// Whether the ingress answers the retired V1 interfaces (`GET {base}` with an `authToken`
    /// query parameter, `POST {base}/produceAPI/{name}` with an `authToken` header), for products
    /// listed before V2. Off, they are not routed (405 / 404). Default: `false`.
    pub v1_enabled: bool,
}

impl Default for KooGalleryConfig {
    fn default() -> Self {
        Self {
            basic_key: None,
            basic_key_previous: None,
            kit_key: None,
            kit_key_previous: None,
            access_key_id: None,
            secret_access_key: None,
            api_base: "https://mkt.myhuaweicloud.com".to_owned(),
            api_fallback_base: "https://mkt.myhuaweicloud.cn".to_owned(),
            max_clock_skew_secs: 60,
            client_secret_private_key: None,
            encrypt_type: "1".to_owned(),
            v1_enabled: false,
        }
    }
}

impl KooGalleryConfig {
    /// The basic keys a callback may be signed with: the current one, then the previous one,
    /// leaving out those that are unset.
    pub fn basic_keys(&self) -> Vec<&[u8]> {
        key_bytes([self.basic_key.as_ref(), self.basic_key_previous.as_ref()])
    }

    /// The Kit keys a sync call may be signed with: the current one, then the previous one,
    /// leaving out those that are unset.
    pub fn kit_keys(&self) -> Vec<&[u8]> {
        key_bytes([self.kit_key.as_ref(), self.kit_key_previous.as_ref()])
    }

    /// The accepted clock skew as a duration.
    pub fn max_clock_skew(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.max_clock_skew_secs)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let secrets = [
            ("koogallery.basic_key", &self.basic_key),
            ("koogallery.basic_key_previous", &self.basic_key_previous),
            ("koogallery.kit_key", &self.kit_key),
            ("koogallery.kit_key_previous", &self.kit_key_previous),
            ("koogallery.secret_access_key", &self.secret_access_key),
            ("koogallery.client_secret_private_key", &self.client_secret_private_key),
        ];
        for (key, secret) in secrets {
            checks::non_blank(key, secret.as_ref())?;
        }
        // A previous key alone would mean verifying with a retired key and signing with none.
        if self.basic_key.is_none() && self.basic_key_previous.is_some() {
            return Err(ConfigError::invalid(
                "koogallery.basic_key_previous",
                "is set but koogallery.basic_key is not",
            ));
        }
        if self.kit_key.is_none() && self.kit_key_previous.is_some() {
            return Err(ConfigError::invalid("koogallery.kit_key_previous", "is set but koogallery.kit_key is not"));
        }
        // The AK and SK only work as a pair; name the half that is missing.
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(_), None) => {
                return Err(ConfigError::invalid(
                    "koogallery.secret_access_key",
                    "is required when koogallery.access_key_id is set",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "koogallery.access_key_id",
                    "is required when koogallery.secret_access_key is set",
                ));
            }
            _ => {}
        }
        checks::http_url("koogallery.api_base", &self.api_base)?;
        checks::http_url("koogallery.api_fallback_base", &self.api_fallback_base)?;
        checks::at_least("koogallery.max_clock_skew_secs", self.max_clock_skew_secs, 1)?;
        if !matches!(self.encrypt_type.as_str(), "1" | "2") {
            return Err(ConfigError::invalid(
                "koogallery.encrypt_type",
                format!("must be \"1\" or \"2\", got {:?}", self.encrypt_type),
            ));
        }
        Ok(())
    }
}

fn key_bytes(keys: [Option<&SecretString>; 2]) -> Vec<&[u8]> {
    keys.into_iter().flatten().map(|key| key.expose_secret().as_bytes()).collect()
}
