//! `[license]`: the License 2.0 activation proxy (`/v1/licenses`) and its offline status token.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::checks;
use crate::error::ConfigError;

/// The longest a status token may be valid: the software must come back within two days.
pub const TOKEN_TTL_MAX_SECS: u64 = 48 * 3600;

/// The activation proxy and the status token.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct LicenseConfig {
    /// Bearer token the seller's software sends to `/v1/licenses`. Secret. Unset by default: the
    /// routes then answer 401 to everyone.
    pub api_token: Option<SecretString>,
    /// The token being rotated out, still accepted (with its own rate limit). Secret. Unset by default.
    pub api_token_previous: Option<SecretString>,
    /// Requests per minute each API token may make; more get 429. Default: 120.
    pub rate_limit_per_minute: u32,
    /// How long the ingress waits for the license worker's answer, in milliseconds. Default: 10000.
    pub rpc_timeout_ms: u64,
    /// KooGallery's heartbeat is asked at most once per this many seconds per code (spec §7.3:
    /// daily), and again right after a callback changed the code. Default: 86400.
    pub check_interval_secs: u64,
    /// The Ed25519 private key that signs status tokens: PKCS#8 PEM, or the 32-byte seed in
    /// base64. Secret. Unset by default: the license worker then refuses to start.
    pub signing_key: Option<SecretString>,
    /// The `kid` written into tokens (key rotation). Default: unset, derived from the public key.
    pub signing_key_id: Option<String>,
    /// Lifetime of a status token in seconds, capped by the code's expiry; at most 172800 (48 h).
    /// Default: 172800.
    pub token_ttl_secs: u64,
}

impl Default for LicenseConfig {
    fn default() -> Self {
        Self {
            api_token: None,
            api_token_previous: None,
            rate_limit_per_minute: 120,
            rpc_timeout_ms: 10_000,
            check_interval_secs: 86_400,
            signing_key: None,
            signing_key_id: None,
            token_ttl_secs: TOKEN_TTL_MAX_SECS,
        }
    }
}

impl LicenseConfig {
    /// [`LicenseConfig::rpc_timeout_ms`] as a duration.
    pub fn rpc_timeout(&self) -> Duration {
        Duration::from_millis(self.rpc_timeout_ms)
    }

    /// [`LicenseConfig::check_interval_secs`] as a duration.
    pub fn check_interval(&self) -> Duration {
        Duration::from_secs(self.check_interval_secs)
    }

    /// [`LicenseConfig::token_ttl_secs`] as a duration.
    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl_secs)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        checks::non_blank("license.api_token", self.api_token.as_ref())?;
        checks::non_blank("license.api_token_previous", self.api_token_previous.as_ref())?;
        if self.api_token_previous.is_some() && self.api_token.is_none() {
            return Err(ConfigError::invalid(
                "license.api_token",
                "is required when license.api_token_previous is set",
            ));
        }
        checks::non_blank("license.signing_key", self.signing_key.as_ref())?;
        checks::at_least("license.rate_limit_per_minute", u64::from(self.rate_limit_per_minute), 1)?;
        checks::at_least("license.rpc_timeout_ms", self.rpc_timeout_ms, 1)?;
        checks::at_least("license.check_interval_secs", self.check_interval_secs, 1)?;
        checks::at_least("license.token_ttl_secs", self.token_ttl_secs, 60)?;
        if self.token_ttl_secs > TOKEN_TTL_MAX_SECS {
            return Err(ConfigError::invalid(
                "license.token_ttl_secs",
                format!("must be at most {TOKEN_TTL_MAX_SECS} (48 h), got {}", self.token_ttl_secs),
            ));
        }
        if let Some(kid) = &self.signing_key_id
            && (kid.is_empty()
                || kid.len() > 64
                || !kid.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
        {
            return Err(ConfigError::invalid("license.signing_key_id", "must be 1 to 64 of [A-Za-z0-9._-]"));
        }
        Ok(())
    }
}
