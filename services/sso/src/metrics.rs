//! The broker's own metrics (on the host's `/metrics`, prefixed `koofill_worker_`).

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};

/// Every way a login can end, the label values of `sso_logins`.
pub const OUTCOMES: [&str; 8] = [
    "success",
    "unknown_tenant",
    "unknown_app",
    "bad_state",
    "oauth_refused",
    "oauth_unavailable",
    "user_refused",
    "error",
];

/// Label of the login counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Outcome {
    pub(crate) outcome: &'static str,
}

/// Counters of the broker.
#[derive(Clone, Debug, Default)]
pub(crate) struct Metrics {
    logins: Family<Outcome, Counter>,
}

impl Metrics {
    /// Registers the counters, with a zero series per outcome so `rate()` sees them from the start.
    pub(crate) fn registered(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register("sso_logins", "Logins through the SSO broker by outcome", m.logins.clone());
        for outcome in OUTCOMES {
            drop(m.logins.get_or_create(&Outcome { outcome }));
        }
        m
    }

    /// Counts a login (a callback) that ended with `outcome`.
    pub(crate) fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&Outcome { outcome }).inc();
    }
}
