//! `[consumer]`: how the JetStream consumer runner settles, retries and bounds its work.

use std::time::Duration;

use serde::Deserialize;

use super::checks;
use crate::error::ConfigError;

/// Settings of every durable pull consumer and of the runner that drives it.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ConsumerConfig {
    /// Deliveries of one message before it is dead-lettered; at least 1. Default: 12.
    ///
    /// With the default delays the retries wait 1, 2, 4, 8, 16, 32 s and then 64 s each (the
    /// runner caps the doubling at 2^6), about 6.4 minutes from the first to the last delivery:
    /// a database or ISV outage of about five minutes is retried and caught up rather than
    /// dead-lettered (architecture §13). Raise it together with the delays for longer outages.
    pub max_deliver: i64,
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
            max_deliver: 12,
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

    /// [`ConsumerConfig::nak_base_delay_ms`] as a duration.
    pub fn nak_base_delay(&self) -> Duration {
        Duration::from_millis(self.nak_base_delay_ms)
    }

    /// [`ConsumerConfig::nak_max_delay_ms`] as a duration.
    pub fn nak_max_delay(&self) -> Duration {
        Duration::from_millis(self.nak_max_delay_ms)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_deliver < 1 {
            return Err(ConfigError::invalid(
                "consumer.max_deliver",
                format!("must be at least 1, got {}", self.max_deliver),
            ));
        }
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
