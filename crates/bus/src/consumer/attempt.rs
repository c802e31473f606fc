//! Which attempt a delivery is, and whether the runner will try again after it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::ConsumerPolicy;

/// What a handler knows about the attempt it is making. Handlers decide with it (for example,
/// mark an order failed on the last attempt) and never read the runner's configuration.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// Deliveries made, this one included (1 on the first delivery).
    pub delivered: i64,
    /// When JetStream first stored the message: the retry horizon counts from here.
    pub stored_at: DateTime<Utc>,
    /// Whether a retryable failure of this attempt would be dead-lettered instead of retried:
    /// the next retry would start past the retry horizon.
    pub is_last: bool,
    /// When the runner abandons this invocation.
    pub deadline: Instant,
}

impl Attempt {
    /// The attempt for the `delivered`-th delivery of a message stored at `stored_at`, seen at
    /// `now`, under `policy`.
    pub fn new(delivered: i64, stored_at: DateTime<Utc>, now: DateTime<Utc>, policy: &ConsumerPolicy) -> Self {
        Self {
            delivered,
            stored_at,
            is_last: past_horizon(stored_at, now, policy.nak_delay(delivered), policy.retry_horizon),
            deadline: Instant::now() + policy.handler_timeout,
        }
    }

    /// Whether this is a redelivery.
    pub fn is_redelivery(&self) -> bool {
        self.delivered > 1
    }
}

/// Whether a retry `delay` after `now` would start later than `horizon` after `stored_at`.
fn past_horizon(stored_at: DateTime<Utc>, now: DateTime<Utc>, delay: Duration, horizon: Duration) -> bool {
    let retry_at = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
    let limit = stored_at + chrono::Duration::from_std(horizon).unwrap_or(chrono::Duration::MAX);
    retry_at > limit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_horizon_counts_from_storage_not_from_the_attempt() {
        let stored = Utc::now();
        let day = Duration::from_secs(86_400);
        let minute = Duration::from_secs(60);
        assert!(!past_horizon(stored, stored, minute, day));
        assert!(!past_horizon(stored, stored + chrono::Duration::hours(23), minute, day));
        assert!(past_horizon(stored, stored + chrono::Duration::hours(24), minute, day));
        assert!(past_horizon(
            stored,
            stored + chrono::Duration::minutes(1439) + chrono::Duration::seconds(1),
            minute,
            day
        ));
    }
}
