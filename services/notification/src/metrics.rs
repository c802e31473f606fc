//! The worker's own metrics, by channel and outcome (on the host's `/metrics`, prefixed
//! `koofill_worker_`).

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};

/// Labels of the notification counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ChannelOutcome {
    pub(crate) channel: String,
    pub(crate) outcome: String,
}

/// Counters of attempts and of settled deliveries.
#[derive(Clone, Debug, Default)]
pub(crate) struct Metrics {
    /// Every attempt: `delivered`, `retry`, `rate_limited`, `failed`.
    pub(crate) attempts: Family<ChannelOutcome, Counter>,
    /// Deliveries settled: `delivered`, or `failed` (permanent answer or retries used up).
    pub(crate) deliveries: Family<ChannelOutcome, Counter>,
}

impl Metrics {
    /// Registers the counters, with a zero series for every configured channel and outcome, so
    /// dashboards and `rate()` see a channel before its first send.
    pub(crate) fn registered<'a>(registry: &mut Registry, channels: impl IntoIterator<Item = &'a str>) -> Self {
        let m = Self::default();
        registry.register(
            "notification_attempts",
            "Notification send attempts by channel and outcome",
            m.attempts.clone(),
        );
        registry.register(
            "notification_deliveries",
            "Notification deliveries settled by channel and outcome (failed = dead-lettered)",
            m.deliveries.clone(),
        );
        for channel in channels {
            for outcome in ["delivered", "retry", "rate_limited", "failed"] {
                drop(m.attempts.get_or_create(&ChannelOutcome { channel: channel.into(), outcome: outcome.into() }));
            }
            for outcome in ["delivered", "failed"] {
                drop(m.deliveries.get_or_create(&ChannelOutcome { channel: channel.into(), outcome: outcome.into() }));
            }
        }
        m
    }

    pub(crate) fn attempt(&self, channel: &str, outcome: &str) {
        self.attempts.get_or_create(&ChannelOutcome { channel: channel.into(), outcome: outcome.into() }).inc();
    }

    pub(crate) fn settled(&self, channel: &str, outcome: &str) {
        self.deliveries.get_or_create(&ChannelOutcome { channel: channel.into(), outcome: outcome.into() }).inc();
    }
}
