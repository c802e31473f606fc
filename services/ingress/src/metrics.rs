//! The ingress's Prometheus metrics (architecture §9). Each ingress owns its registry, so tests
//! running several in one process stay independent.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};

/// Labels of a callback answer.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallbackLabels {
    /// The activity or Kit interface (`unknown` when it could not be read).
    pub activity: String,
    /// The result code answered.
    pub result_code: String,
}

/// Labels of an answer-latency observation.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActivityLabels {
    /// The activity or Kit interface.
    pub activity: String,
}

/// Labels of a rejection.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why the request was rejected (`bad_signature`, `stale_timestamp`, …).
    pub reason: String,
}

/// Every metric the ingress records.
#[derive(Debug)]
pub struct Metrics {
    /// The registry rendered on `/metrics`.
    pub registry: Registry,
    /// Callbacks answered, by activity and result code.
    pub callbacks: Family<CallbackLabels, Counter>,
    /// Seconds from request to answer, by activity.
    pub answer_seconds: Family<ActivityLabels, Histogram>,
    /// Publishes JetStream did not confirm.
    pub publish_failures: Counter,
    /// Requests rejected before publishing, by reason.
    pub rejections: Family<ReasonLabels, Counter>,
}

impl Metrics {
    /// Registers every metric under the `koofill_ingress` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("koofill_ingress");
        let callbacks = Family::<CallbackLabels, Counter>::default();
        registry.register("callbacks", "KooGallery callbacks answered, by activity and result code", callbacks.clone());
        let answer_seconds = Family::<ActivityLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(koofill_telemetry::metrics::latency_buckets())
        });
        registry.register("answer_seconds", "Time from request to answer", answer_seconds.clone());
        let publish_failures = Counter::default();
        registry.register(
            "publish_failures",
            "Publishes to JetStream that were not acknowledged",
            publish_failures.clone(),
        );
        let rejections = Family::<ReasonLabels, Counter>::default();
        registry.register("rejections", "Callbacks rejected before publishing, by reason", rejections.clone());
        Self { registry, callbacks, answer_seconds, publish_failures, rejections }
    }

    /// Counts a rejection.
    pub fn reject(&self, reason: &str) {
        self.rejections.get_or_create(&ReasonLabels { reason: reason.to_owned() }).inc();
    }

    /// Records an answer.
    pub fn answered(&self, activity: &str, result_code: &str, seconds: f64) {
        self.callbacks
            .get_or_create(&CallbackLabels { activity: activity.to_owned(), result_code: result_code.to_owned() })
            .inc();
        self.answer_seconds.get_or_create(&ActivityLabels { activity: activity.to_owned() }).observe(seconds);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
