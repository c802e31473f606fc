//! The conformance report: one row per case, like the seller console's debugger.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use super::{Case, per_case};
use crate::report::Outcome;
use crate::table;

/// One case in one round.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The round, from 1.
    pub round: u32,
    /// The case's place in its round, from 1.
    pub position: usize,
    /// The case.
    pub case: Case,
    /// Passed, failed or skipped.
    pub outcome: Outcome,
    /// The result codes that pass, e.g. `000000 or 000004`.
    pub expected: String,
    /// What the server answered, e.g. `000003 instance is invalid` or `HTTP 500`.
    pub got: String,
    /// Why it failed or was skipped.
    pub detail: String,
    /// Time to the answer.
    pub elapsed: Duration,
}

/// Every case of every round.
#[derive(Debug, Clone)]
pub struct ConformanceReport {
    /// The production address tested.
    pub target: String,
    /// The seed of the case order (`--seed` repeats the run).
    pub seed: u64,
    /// Rounds run.
    pub rounds: u32,
    /// Every result, in the order run.
    pub results: Vec<CaseResult>,
}

impl ConformanceReport {
    /// Whether no case failed in any round (skipped cases do not count as failures).
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.outcome != Outcome::Failed)
    }

    /// The names of the cases that failed in at least one round.
    pub fn failed_cases(&self) -> BTreeSet<&'static str> {
        self.results.iter().filter(|r| r.outcome == Outcome::Failed).map(|r| r.case.name()).collect()
    }

    /// The names of the cases that were skipped in at least one round.
    pub fn skipped_cases(&self) -> BTreeSet<&'static str> {
        self.results.iter().filter(|r| r.outcome == Outcome::Skipped).map(|r| r.case.name()).collect()
    }

    /// The process exit code: 0 when every case passed, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        i32::from(!self.passed())
    }
}

impl fmt::Display for ConformanceReport {
    /// A header, then per case: the overall result, rounds passed, and the first problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by_case = per_case(&self.results);
        writeln!(f, "conformance against {}", self.target)?;
        writeln!(
            f,
            "seed {} (repeat with --seed {}), {} rounds, {} cases",
            self.seed,
            self.seed,
            self.rounds,
            by_case.len()
        )?;
        let rows: Vec<Vec<String>> = by_case
            .iter()
            .map(|(case, results)| {
                let passed = results.iter().filter(|r| r.outcome == Outcome::Passed).count();
                let failed = results.iter().find(|r| r.outcome == Outcome::Failed);
                let skipped = results.iter().find(|r| r.outcome == Outcome::Skipped);
                let (outcome, note) = match (failed, skipped) {
                    (Some(r), _) => (Outcome::Failed, format!("round {}: {}", r.round, r.detail)),
                    (None, Some(r)) => (Outcome::Skipped, r.detail.clone()),
                    (None, None) => (Outcome::Passed, String::new()),
                };
                let last = results.last().map(|r| r.got.clone()).unwrap_or_default();
                let slowest = results.iter().map(|r| r.elapsed).max().unwrap_or_default();
                vec![
                    case.name().to_owned(),
                    outcome.to_string(),
                    format!("{passed}/{}", results.len()),
                    results.first().map(|r| r.expected.clone()).unwrap_or_default(),
                    last,
                    table::millis(slowest),
                    note,
                ]
            })
            .collect();
        f.write_str(&table::render(
            &["case", "result", "passed", "expected", "last answer", "slowest", "problem"],
            &rows,
        ))?;
        let failed = self.failed_cases().len();
        if failed == 0 {
            writeln!(f, "all {} cases passed", by_case.len() - self.skipped_cases().len())
        } else {
            writeln!(f, "{failed} of {} cases failed", by_case.len())
        }
    }
}
