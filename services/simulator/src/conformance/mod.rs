//! The seller console's debug cases (调试用例), run against any production address.
//!
//! KooGallery's debugger runs the product's interfaces in random order, several times, and every
//! case must pass; the daily dial test (拨测) runs the same cases (spec §4.3). Here each round
//! opens the debug order first (the other cases need its instance), then runs the rest in a
//! seeded random order, with `releaseInstance.again` right after `releaseInstance`. Rounds reuse
//! the same debug order, so a create in a later round must still answer the first instance ID.
//! Every answer must be HTTP 200 with a `Body-Sign` that verifies with the interface's key, and
//! the case's result code.
//!
//! With `v1`, the same cases are sent in the retired V1 dialect (`GET` with `authToken`, Kit
//! calls to `/produceAPI/{name}`), less orderNotify, which V1 does not have.
//!
//! The Kit cases run when a Kit key is given; applicationSync also needs the seller's public key
//! and is otherwise reported as skipped (a skip does not fail the run).

mod cases;
mod report;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};

pub use cases::Case;
pub use report::{CaseResult, ConformanceReport};

use crate::callback::{CallbackSender, KOOGALLERY_TIMEOUT};
use crate::report::Outcome;
use crate::{SimError, SimKeys};

/// How a conformance run behaves.
#[derive(Debug, Clone)]
pub struct ConformanceOptions {
    /// Rounds of all cases. Default 3.
    pub rounds: u32,
    /// Seed of the case order; printed in the report so a run can be repeated.
    pub seed: u64,
    /// The debug order every round creates. Default `MOCKPERIODYEARNEW`, a mock order that
    /// KooGallery's query order (real or simulated) answers.
    pub order_id: String,
    /// The seller's RSA public key (SPKI PEM) for applicationSync's `clientSecret`.
    pub client_secret_public_key_pem: Option<String>,
    /// Per-request timeout. Default 5 s, KooGallery's.
    pub timeout: Duration,
    /// Speak the retired V1 dialect (`authToken`; spec §2.3) instead of V2. orderNotify has no V1
    /// twin and is left out. Default: V2.
    pub v1: bool,
}

impl Default for ConformanceOptions {
    fn default() -> Self {
        Self {
            rounds: 3,
            seed: rand::random(),
            order_id: "MOCKPERIODYEARNEW".to_owned(),
            client_secret_public_key_pem: None,
            timeout: KOOGALLERY_TIMEOUT,
            v1: false,
        }
    }
}

/// Runs the debug cases against the production address `target_url`.
///
/// # Errors
/// [`SimError`] only when the run cannot start (bad URL); failed cases are in the report.
pub async fn conformance(
    target_url: &str,
    keys: &SimKeys,
    options: &ConformanceOptions,
) -> Result<ConformanceReport, SimError> {
    let mut sender = CallbackSender::with_timeout(target_url, keys.clone(), options.timeout)?;
    if options.v1 {
        sender = sender.v1();
    }
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut ctx = cases::Context::new(&sender, options);
    let mut cases = Case::all(keys.kit_key.is_some());
    if options.v1 {
        cases.retain(|c| *c != Case::OrderNotify);
    }
    let mut results = Vec::new();
    for round in 1..=options.rounds.max(1) {
        ctx.instance_id = None;
        for (position, case) in round_order(&cases, &mut rng).into_iter().enumerate() {
            let started = Instant::now();
            let checked = ctx.run(case).await;
            results.push(CaseResult {
                round,
                position: position + 1,
                case,
                outcome: checked.outcome,
                expected: checked.expected,
                got: checked.got,
                detail: checked.detail,
                elapsed: started.elapsed(),
            });
        }
    }
    Ok(ConformanceReport {
        target: sender.base_url().to_owned(),
        seed: options.seed,
        rounds: options.rounds.max(1),
        results,
    })
}

/// newInstance first, the rest shuffled, `releaseInstance.again` right after `releaseInstance`.
fn round_order(cases: &[Case], rng: &mut StdRng) -> Vec<Case> {
    let mut rest: Vec<Case> =
        cases.iter().copied().filter(|c| !matches!(c, Case::NewInstance | Case::ReleaseAgain)).collect();
    rest.shuffle(rng);
    let mut order = vec![Case::NewInstance];
    for case in rest {
        order.push(case);
        if case == Case::Release && cases.contains(&Case::ReleaseAgain) {
            order.push(Case::ReleaseAgain);
        }
    }
    order
}

/// The outcome of one case in one round.
#[derive(Debug, Clone)]
struct Checked {
    outcome: Outcome,
    expected: String,
    got: String,
    detail: String,
}

/// Per case: rounds passed, and the first failure.
pub(crate) fn per_case(results: &[CaseResult]) -> BTreeMap<Case, Vec<&CaseResult>> {
    let mut map: BTreeMap<Case, Vec<&CaseResult>> = BTreeMap::new();
    for result in results {
        map.entry(result.case).or_default().push(result);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_start_with_new_instance_and_keep_the_release_pair_together() {
        let cases = Case::all(true);
        let mut rng = StdRng::seed_from_u64(7);
        let first = round_order(&cases, &mut rng);
        let second = round_order(&cases, &mut rng);
        for order in [&first, &second] {
            assert_eq!(order.len(), cases.len());
            assert_eq!(order[0], Case::NewInstance);
            let release = order.iter().position(|c| *c == Case::Release).unwrap();
            assert_eq!(order[release + 1], Case::ReleaseAgain);
        }
        assert_ne!(first, second, "rounds are shuffled independently");
        assert_eq!(round_order(&cases, &mut StdRng::seed_from_u64(7)), first, "the seed reproduces the order");
    }
}
