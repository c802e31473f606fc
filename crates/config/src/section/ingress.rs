//! `[ingress]`: the HTTP server KooGallery calls, and the deadlines that keep it under 5 seconds.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::checks;
use crate::error::ConfigError;

/// KooGallery abandons a callback after 5 seconds; the whole answer must come well before that.
pub const KOOGALLERY_DEADLINE_MS: u64 = 5000;

/// What the ingress answers to `changeInstanceCheck` when the provisioning worker does not reply in time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeCheckDefault {
    /// Let the change go ahead.
    #[default]
    Allow,
    /// Refuse the change.
    Reject,
}

/// The ingress: addresses, limits and deadlines.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct IngressConfig {
    /// Socket address the HTTP server binds. Default: `0.0.0.0:8080`.
    pub listen: SocketAddr,
    /// Path of the production address registered with KooGallery; starts with `/`, no trailing `/`.
    /// Default: `/kg/produce`.
    pub base_path: String,
    /// Largest accepted request body in bytes, enforced before parsing. Default: 262144 (256 KiB).
    pub body_limit_bytes: usize,
    /// Deadline of a whole request in milliseconds; below 5000, KooGallery's own. Default: 3000.
    pub request_timeout_ms: u64,
    /// Wait for JetStream's PubAck in milliseconds; below `request_timeout_ms` so a slow NATS still
    /// gets a proper `000005` answer. Default: 2000.
    pub publish_timeout_ms: u64,
    /// Wait for the `changeInstanceCheck` reply in milliseconds; below `request_timeout_ms`.
    /// Default: 1500.
    pub change_check_timeout_ms: u64,
    /// Answer to `changeInstanceCheck` when the reply does not come in time. Default: `allow`.
    pub change_check_default: ChangeCheckDefault,
    /// Bearer token of the admin and `/v1` APIs; those APIs are refused while unset. Secret.
    /// Default: unset.
    pub admin_token: Option<SecretString>,
}

impl Default for IngressConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 8080)),
            base_path: "/kg/produce".to_owned(),
            body_limit_bytes: 262_144,
            request_timeout_ms: 3000,
            publish_timeout_ms: 2000,
            change_check_timeout_ms: 1500,
            change_check_default: ChangeCheckDefault::Allow,
            admin_token: None,
        }
    }
}

impl IngressConfig {
    /// [`IngressConfig::request_timeout_ms`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// [`IngressConfig::publish_timeout_ms`] as a duration.
    pub fn publish_timeout(&self) -> Duration {
        Duration::from_millis(self.publish_timeout_ms)
    }

    /// [`IngressConfig::change_check_timeout_ms`] as a duration.
    pub fn change_check_timeout(&self) -> Duration {
        Duration::from_millis(self.change_check_timeout_ms)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        // Routes are built as `{base_path}/produceAPI/...`, so a trailing slash would double up.
        if !self.base_path.starts_with('/') || self.base_path.ends_with('/') {
            return Err(ConfigError::invalid(
                "ingress.base_path",
                format!("must start with '/' and must not end with '/', got {:?}", self.base_path),
            ));
        }
        checks::at_least("ingress.body_limit_bytes", self.body_limit_bytes as u64, 1)?;
        checks::at_least("ingress.request_timeout_ms", self.request_timeout_ms, 1)?;
        if self.request_timeout_ms >= KOOGALLERY_DEADLINE_MS {
            return Err(ConfigError::invalid(
                "ingress.request_timeout_ms",
                format!(
                    "must be below {KOOGALLERY_DEADLINE_MS} (KooGallery gives up at 5 s), got {}",
                    self.request_timeout_ms
                ),
            ));
        }
        // Both inner waits must end before the request deadline, or the timeout layer answers
        // first and the precise result code (000005 for NATS down) is lost.
        let inner = [
            ("ingress.publish_timeout_ms", self.publish_timeout_ms),
            ("ingress.change_check_timeout_ms", self.change_check_timeout_ms),
        ];
        for (key, value) in inner {
            checks::at_least(key, value, 1)?;
            if value >= self.request_timeout_ms {
                return Err(ConfigError::invalid(
                    key,
                    format!("must be below ingress.request_timeout_ms ({}), got {value}", self.request_timeout_ms),
                ));
            }
        }
        checks::non_blank("ingress.admin_token", self.admin_token.as_ref())
    }
}
