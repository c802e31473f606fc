//! `koofill dev --demo`: every scenario played through the in-process simulator, summed up in one
//! table.

use std::fmt;
use std::time::Duration;

use crate::registry::Registry;
use crate::report::{Outcome, ScenarioReport};
use crate::scenario::{ScenarioOptions, run_all};
use crate::{SimKeys, Simulator, table};

/// What the demo did.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    /// One report per scenario, in the order played.
    pub reports: Vec<ScenarioReport>,
    /// Why the demo could not run at all (a bad target URL), if so.
    pub error: Option<String>,
}

impl DemoSummary {
    /// Whether the demo ran and no step of any scenario failed.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.reports.iter().all(ScenarioReport::passed)
    }

    /// Total wall time.
    pub fn elapsed(&self) -> Duration {
        self.reports.iter().map(|r| r.elapsed).sum()
    }
}

impl fmt::Display for DemoSummary {
    /// The summary table (scenario, result, orders, instances, state, steps, time), then the
    /// failed and warned steps.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(error) = &self.error {
            return writeln!(f, "demo could not run: {error}");
        }
        let rows: Vec<Vec<String>> = self
            .reports
            .iter()
            .map(|r| {
                let passed = r.count(Outcome::Passed);
                let run = r.steps.len() - r.count(Outcome::Skipped);
                vec![
                    r.scenario.clone(),
                    if r.passed() { "PASS" } else { "FAIL" }.to_owned(),
                    r.order_ids.join(", "),
                    r.instance_ids.join(", "),
                    r.state.clone(),
                    format!("{passed}/{run}"),
                    table::millis(r.elapsed),
                ]
            })
            .collect();
        f.write_str(&table::render(&["scenario", "result", "orders", "instance", "state", "steps ok", "time"], &rows))?;
        for report in &self.reports {
            for step in report.steps.iter().filter(|s| matches!(s.outcome, Outcome::Failed | Outcome::Warned)) {
                writeln!(f, "  {} {}: {}: {}", step.outcome, report.scenario, step.name, step.detail)?;
            }
        }
        writeln!(
            f,
            "{} scenarios, {} passed, in {}",
            self.reports.len(),
            self.reports.iter().filter(|r| r.passed()).count(),
            table::millis(self.elapsed())
        )
    }
}

/// Plays every scenario against the production address `target`, registering orders with `sim`
/// (which koofill's `koogallery.api_base` should point at), with default options.
pub async fn demo(target: &str, sim: &Simulator, keys: &SimKeys) -> DemoSummary {
    demo_with(target, sim, keys, &ScenarioOptions::default()).await
}

/// [`demo`] with options (for example the seller's public key for applicationSync).
pub async fn demo_with(target: &str, sim: &Simulator, keys: &SimKeys, options: &ScenarioOptions) -> DemoSummary {
    let registry = Registry::Local(sim.marketplace().clone());
    match run_all(target, keys, &registry, options).await {
        Ok(reports) => DemoSummary { reports, error: None },
        Err(e) => DemoSummary { reports: Vec::new(), error: Some(e.to_string()) },
    }
}
