//! `[nats]`: where NATS is and the prefix that keeps one deployment's names apart from another's.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::checks;
use super::redact::RedactedUrl;
use crate::error::ConfigError;

/// Connection to NATS JetStream.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct NatsConfig {
    /// URL of the NATS server; a password in it is redacted in `Debug`. Default: `nats://127.0.0.1:4222`.
    pub url: String,
    /// Prefix of every subject (`koofill.inbound...`), stream (`KOOFILL_INBOUND`, upper-cased) and KV
    /// bucket (`koofill_instances`); isolates tests and tenants of a shared NATS. Only `[a-z0-9_-]`.
    /// Default: `koofill`.
    pub prefix: String,
    /// Time allowed to establish the connection, in milliseconds. Default: 2000.
    pub connect_timeout_ms: u64,
    /// Time allowed for a NATS request (PubAck, KV operation, request-reply), in milliseconds.
    /// Default: 2000.
    pub request_timeout_ms: u64,
    /// Replicas of every stream and bucket koofill creates: 1 for a single server, 3 for a
    /// cluster. Existing streams are not changed; a difference is reported as drift. Default: 1.
    pub replicas: usize,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".to_owned(),
            prefix: "koofill".to_owned(),
            connect_timeout_ms: 2000,
            request_timeout_ms: 2000,
            replicas: 1,
        }
    }
}

// Hand-written so a password inside `url` never reaches a log.
impl fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsConfig")
            .field("url", &RedactedUrl(&self.url))
            .field("prefix", &self.prefix)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("replicas", &self.replicas)
            .finish()
    }
}

impl NatsConfig {
    /// [`NatsConfig::connect_timeout_ms`] as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// [`NatsConfig::request_timeout_ms`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.url.trim().is_empty() {
            return Err(ConfigError::invalid("nats.url", "must not be empty"));
        }
        // The prefix becomes a subject token, part of a stream name and part of a bucket name; this
        // alphabet is valid in all three, and lower case keeps the upper-cased stream name unique.
        if self.prefix.is_empty() {
            return Err(ConfigError::invalid("nats.prefix", "must not be empty"));
        }
        if let Some(bad) =
            self.prefix.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
        {
            return Err(ConfigError::invalid(
                "nats.prefix",
                format!("may hold only a-z, 0-9, '_' and '-', found {bad:?}"),
            ));
        }
        checks::at_least("nats.connect_timeout_ms", self.connect_timeout_ms, 1)?;
        checks::at_least("nats.request_timeout_ms", self.request_timeout_ms, 1)?;
        if !(1..=5).contains(&self.replicas) {
            return Err(ConfigError::Invalid {
                key: "nats.replicas".into(),
                reason: "must be 1 to 5 (JetStream's limit)".into(),
            });
        }
        Ok(())
    }
}
