//! The per-step record of a scenario run.

use std::fmt;
use std::time::Duration;

use crate::table;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The answer was what KooGallery expects.
    Passed,
    /// It was not.
    Failed,
    /// Acceptable, but worth a look (for example an instance still `000004` at the deadline when
    /// readiness is not required).
    Warned,
    /// Not run (for example applicationSync without the seller's public key).
    Skipped,
}

impl Outcome {
    /// `PASS`, `FAIL`, `WARN`, `SKIP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "PASS",
            Self::Failed => "FAIL",
            Self::Warned => "WARN",
            Self::Skipped => "SKIP",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a scenario: usually one callback (with its repeats and retries).
#[derive(Debug, Clone)]
pub struct Step {
    /// What was done, e.g. `newInstance (repeat, fresh businessId)`.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The answer or the reason, e.g. `000000 success` or `expected 000000, got 000003`.
    pub detail: String,
    /// Requests sent for the step (retries and polls included).
    pub attempts: u32,
    /// Wall time of the step.
    pub elapsed: Duration,
}

/// What one scenario did.
#[derive(Debug, Clone)]
pub struct ScenarioReport {
    /// The scenario's name (`period`, `kit-binding`, …).
    pub scenario: String,
    /// The orders registered and referred to, in order.
    pub order_ids: Vec<String>,
    /// The instances (or license codes) the seller answered with.
    pub instance_ids: Vec<String>,
    /// The instance's last known state, e.g. `ready`, `processing`, `frozen`, `released`.
    pub state: String,
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// Wall time of the scenario.
    pub elapsed: Duration,
}

impl ScenarioReport {
    /// Whether no step failed.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.outcome != Outcome::Failed)
    }

    /// Steps with the given outcome.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.steps.iter().filter(|s| s.outcome == outcome).count()
    }

    /// The failed steps.
    pub fn failures(&self) -> Vec<&Step> {
        self.steps.iter().filter(|s| s.outcome == Outcome::Failed).collect()
    }
}

impl fmt::Display for ScenarioReport {
    /// A header line and one table row per step.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scenario {}: {} ({} steps, {} failed, {} warnings) in {}",
            self.scenario,
            if self.passed() { "PASS" } else { "FAIL" },
            self.steps.len(),
            self.count(Outcome::Failed),
            self.count(Outcome::Warned),
            table::millis(self.elapsed),
        )?;
        let rows: Vec<Vec<String>> = self
            .steps
            .iter()
            .map(|s| {
                vec![
                    s.outcome.to_string(),
                    s.name.clone(),
                    s.attempts.to_string(),
                    table::millis(s.elapsed),
                    s.detail.clone(),
                ]
            })
            .collect();
        f.write_str(&table::render(&["result", "step", "calls", "time", "detail"], &rows))
    }
}
