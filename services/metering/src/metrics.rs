//! The worker's own series on `/metrics`: events by outcome, windows by state, push results by
//! record code, and the age of the oldest window not yet pushed.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

use crate::ingest::BatchOutcome;

/// Labels with one value.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `counted`, `duplicate`, `late`, `late_unbilled`, `rejected`.
    pub outcome: String,
}

/// Window-state labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// The ledger state.
    pub state: String,
}

/// Push-result labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    /// `MKT.0000` for an accepted call, the `MKT.*` error code, `unreachable`; a record-level
    /// result is `accepted` or its reason code (`001`…).
    pub code: String,
}

/// The metering metrics; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct MeteringMetrics {
    /// Usage events by outcome.
    pub events: Family<OutcomeLabels, Counter>,
    /// Windows by ledger state (refreshed every scheduler round).
    pub windows: Family<StateLabels, Gauge>,
    /// Push calls by answer code.
    pub pushes: Family<CodeLabels, Counter>,
    /// Record-level results by code.
    pub records: Family<CodeLabels, Counter>,
    /// Seconds since the end of the oldest window that is closed but not yet pushed (0 if none).
    pub oldest_unpushed_secs: Gauge,
}

impl MeteringMetrics {
    /// Metrics registered under `koofill_metering_*` in `registry`.
    pub fn registered(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        let sub = registry.sub_registry_with_prefix("metering");
        sub.register("events", "Usage events by outcome", metrics.events.clone());
        sub.register("windows", "Usage windows by ledger state", metrics.windows.clone());
        sub.register("pushes", "Usage-push calls by answer code", metrics.pushes.clone());
        sub.register("records", "Usage records by record-level result", metrics.records.clone());
        sub.register(
            "oldest_unpushed_seconds",
            "Age of the oldest ended window not yet pushed",
            metrics.oldest_unpushed_secs.clone(),
        );
        // Every series a dashboard or alert reads exists from the start, at zero: `rate()` and
        // `increase()` then see the first event, and a missing series never hides a problem.
        for outcome in ["counted", "late", "duplicate", "late_unbilled", "rejected"] {
            drop(metrics.events.get_or_create(&OutcomeLabels { outcome: outcome.into() }));
        }
        for state in crate::ledger::State::ALL {
            drop(metrics.windows.get_or_create(&StateLabels { state: state.as_str().into() }));
        }
        drop(metrics.pushes.get_or_create(&CodeLabels { code: "MKT.0000".into() }));
        drop(metrics.records.get_or_create(&CodeLabels { code: "accepted".into() }));
        metrics
    }

    /// Counts one batch's events.
    pub fn record(&self, outcome: &BatchOutcome) {
        let counts = [
            ("counted", outcome.counted.saturating_sub(outcome.late)),
            ("late", outcome.late),
            ("duplicate", outcome.duplicates),
            ("late_unbilled", outcome.late_unbilled),
            ("rejected", outcome.rejected),
        ];
        for (label, n) in counts {
            if n > 0 {
                self.events.get_or_create(&OutcomeLabels { outcome: label.into() }).inc_by(n);
            }
        }
    }
}
