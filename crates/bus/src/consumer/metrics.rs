//! What every consumer reports on its worker's `/metrics` (architecture §9).

use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use super::Outcome;

/// Labels naming a consumer.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabels {
    /// The durable consumer name.
    pub consumer: String,
}

/// How a message was settled, as a label value.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum OutcomeLabel {
    /// Acknowledged.
    ack,
    /// Negatively acknowledged, to come back after a delay.
    retry,
    /// Copied to the dead letters and terminated.
    dead_lettered,
}

/// Labels of a settled message.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// The durable consumer name.
    pub consumer: String,
    /// How it was settled.
    pub outcome: OutcomeLabel,
}

/// Upper bounds, in seconds, of the handler-duration histogram: 1 ms to 2 minutes.
const HANDLER_BUCKETS_SECS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 120.0];

/// The runner's metrics, shared by every consumer of a worker (cheap to clone: the families are
/// reference-counted).
#[derive(Debug, Clone)]
pub struct ConsumerMetrics {
    /// Messages settled, by consumer and outcome.
    pub messages: Family<OutcomeLabels, Counter>,
    /// Seconds a handler invocation took, by consumer.
    pub handler_seconds: Family<ConsumerLabels, Histogram>,
    /// Deliveries that were redeliveries, by consumer.
    pub redeliveries: Family<ConsumerLabels, Counter>,
    /// Failures caused by configuration on the seller's side (retried), by consumer.
    pub misconfigured: Family<ConsumerLabels, Counter>,
    /// Handler invocations abandoned at their deadline, by consumer.
    pub timeouts: Family<ConsumerLabels, Counter>,
    /// Messages not yet delivered, by consumer (polled from the server).
    pub pending: Family<ConsumerLabels, Gauge>,
    /// Messages delivered and not yet acknowledged, by consumer (polled from the server).
    pub ack_pending: Family<ConsumerLabels, Gauge>,
}

impl Default for ConsumerMetrics {
    fn default() -> Self {
        Self {
            messages: Family::default(),
            handler_seconds: Family::new_with_constructor(|| Histogram::new(HANDLER_BUCKETS_SECS)),
            redeliveries: Family::default(),
            misconfigured: Family::default(),
            timeouts: Family::default(),
            pending: Family::default(),
            ack_pending: Family::default(),
        }
    }
}

impl ConsumerMetrics {
    /// Metrics registered in `registry` (names are prefixed by the registry's prefix).
    pub fn registered(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register("messages", "Messages settled, by consumer and outcome", m.messages.clone());
        registry.register("handler_seconds", "Time one handler invocation took", m.handler_seconds.clone());
        registry.register("redeliveries", "Deliveries that were redeliveries", m.redeliveries.clone());
        registry.register(
            "misconfigured",
            "Failures caused by configuration on the seller's side (retried, need fixing)",
            m.misconfigured.clone(),
        );
        registry.register("handler_timeouts", "Handler invocations abandoned at their deadline", m.timeouts.clone());
        registry.register("consumer_pending", "Messages not yet delivered to the consumer", m.pending.clone());
        registry.register("consumer_ack_pending", "Messages delivered and not yet acknowledged", m.ack_pending.clone());
        m
    }

    /// Creates every series of `consumer` at zero, so dashboards and alerts see it (and
    /// `rate()` has a starting point) before the first message.
    pub(crate) fn init_consumer(&self, consumer: &str) {
        let labels = Self::labels(consumer);
        for outcome in [OutcomeLabel::ack, OutcomeLabel::retry, OutcomeLabel::dead_lettered] {
            let _ = self.messages.get_or_create(&OutcomeLabels { consumer: consumer.to_owned(), outcome });
        }
        let _ = self.handler_seconds.get_or_create(&labels);
        let _ = self.redeliveries.get_or_create(&labels);
        let _ = self.misconfigured.get_or_create(&labels);
        let _ = self.timeouts.get_or_create(&labels);
        let _ = self.pending.get_or_create(&labels);
        let _ = self.ack_pending.get_or_create(&labels);
    }

    pub(crate) fn settled(&self, consumer: &str, outcome: Outcome) {
        let outcome = match outcome {
            Outcome::Acked => OutcomeLabel::ack,
            Outcome::Retried(_) => OutcomeLabel::retry,
            Outcome::DeadLettered => OutcomeLabel::dead_lettered,
        };
        self.messages.get_or_create(&OutcomeLabels { consumer: consumer.to_owned(), outcome }).inc();
    }

    pub(crate) fn labels(consumer: &str) -> ConsumerLabels {
        ConsumerLabels { consumer: consumer.to_owned() }
    }
}
