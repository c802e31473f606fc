//! `[consumer]`: how the JetStream consumer runner settles, retries and bounds its work.

use std::time::Duration;

use serde::Deserialize;

use super::checks;
use crate::error::ConfigError;

/// Settings of every durable pull consumer and of the runner that drives it.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ConsumerConfig {
    /// Seconds, counted from when JetStream first stored a message, during which a transient
    /// failure (database, NATS, network, 5xx, timeouts) or a configuration error on the seller's
    /// side (401/403 from the webhook, a rejected AK/SK) is retried; after that the message is
    /// dead-lettered. At least 1. Default: 86400 (24 hours).
    ///
    /// The budget is derived from the message's own stream timestamp, so it survives restarts
    /// and redeliveries to other replicas. KooGallery keeps polling queryInstance meanwhile, and
    /// `000004` is the right answer while an order waits out an outage (architecture §13).
    /// Permanent failures (invalid data) are dead-lettered at once whatever this says.
    pub retry_horizon_secs: u64,
    /// Seconds one handler invocation may take before it is abandoned and retried, so a stuck
    /// call (a half-open socket) cannot pin a message forever. At least 1. Default: 120.
    pub handler_timeout_secs: u64,
    /// Seconds JetStream waits for an ack before redelivering. Default: 30.
    pub ack_wait_secs: u64,
    /// First retry delay in milliseconds, doubled with each delivery (NAK with delay). Default: 1000.
    pub nak_base_delay_ms: u64,
    /// Cap of the retry delay, in milliseconds. Default: 300000 (5 minutes).
    pub nak_max_delay_ms: u64,
    /// Messages one process handles at once. Default: 16.
    pub concurrency: usize,
    /// Unacked messages per consumer across all processes; at least `concurrency`. Default: 256.
    pub max_ack_pending: i64,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            retry_horizon_secs: 86_400,
            handler_timeout_secs: 120,
            ack_wait_secs: 30,
            nak_base_delay_ms: 1000,
            nak_max_delay_ms: 300_000,
            concurrency: 16,
            max_ack_pending: 256,
        }
    }
}

impl ConsumerConfig {
    /// [`ConsumerConfig::ack_wait_secs`] as a duration.
    pub fn ack_wait(&self) -> Duration {
        Duration::from_secs(self.ack_wait_secs)
    }

    /// [`ConsumerConfig::retry_horizon_secs`] as a duration.
    pub fn retry_horizon(&self) -> Duration {
        Duration::from_secs(self.retry_horizon_secs)
    }

    /// [`ConsumerConfig::handler_timeout_secs`] as a duration.
    pub fn handler_timeout(&self) -> Duration {
        Duration::from_secs(self.handler_timeout_secs)
    }

    /// [`ConsumerConfig::nak_base_delay_ms`] as a duration.
    pub fn nak_base_delay(&self) -> Duration {
        Duration::from_millis(self.nak_base_delay_ms)
    }

    /// [`ConsumerConfig::nak_max_delay_ms`] as a duration.
    pub fn nak_max_delay(&self) -> Duration {
        Duration::from_millis(self.nak_max_delay_ms)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        checks::at_least("consumer.retry_horizon_secs", self.retry_horizon_secs, 1)?;
        checks::at_least("consumer.handler_timeout_secs", self.handler_timeout_secs, 1)?;
        checks::at_least("consumer.ack_wait_secs", self.ack_wait_secs, 1)?;
        checks::at_least("consumer.concurrency", self.concurrency as u64, 1)?;
        // max_ack_pending is the global in-flight cap: below one process's concurrency, permits
        // would sit idle waiting for messages the server refuses to hand out.
        if self.max_ack_pending < 0 || (self.max_ack_pending as u64) < self.concurrency as u64 {
            return Err(ConfigError::invalid(
                "consumer.max_ack_pending",
                format!("must be at least consumer.concurrency ({}), got {}", self.concurrency, self.max_ack_pending),
            ));
        }
        if self.nak_base_delay_ms > self.nak_max_delay_ms {
            return Err(ConfigError::invalid(
                "consumer.nak_base_delay_ms",
                format!(
                    "must not exceed consumer.nak_max_delay_ms ({}), got {}",
                    self.nak_max_delay_ms, self.nak_base_delay_ms
                ),
            ));
        }
        Ok(())
    }
}
