//! Scenario runs and the demo: against a stand-in that opens instances at once (every check
//! passes, appInfo decrypts), against the real ingress without a provisioning worker (passes
//! with readiness warnings, or fails clearly when readiness is required), and against a defect.

use std::time::Duration;

use koofill_simulator::{Outcome, Registry, ScenarioName, ScenarioOptions, demo_with, run_all, run_scenario};

use crate::stand_in::{self, Defects};
use crate::{Ingress, PUBLIC_KEY_PEM, keys, simulator};

fn options(require_ready: bool) -> ScenarioOptions {
    ScenarioOptions {
        require_ready,
        ready_deadline: Duration::from_millis(300),
        poll_interval: Duration::from_millis(100),
        retries: 1,
        retry_backoff: Duration::from_millis(20),
        seed: 11,
        client_secret_public_key_pem: Some(PUBLIC_KEY_PEM.to_owned()),
        ..ScenarioOptions::default()
    }
}

#[tokio::test]
async fn every_scenario_passes_against_a_server_that_opens_instances_at_once() {
    let sim = simulator().await;
    let target = stand_in::start(Defects::default()).await;
    let registry = Registry::Local(sim.marketplace().clone());
    let reports = run_all(&target, &keys(), &registry, &options(true)).await.unwrap();
    assert_eq!(reports.len(), ScenarioName::ALL.len());
    for report in &reports {
        assert!(report.passed(), "{report}");
        assert_eq!(report.count(Outcome::Warned), 0, "{report}");
        assert_eq!(report.count(Outcome::Skipped), 0, "{report}");
    }
    let period = &reports[0];
    let ready = period.steps.iter().find(|s| s.name == "queryInstance until ready").unwrap();
    assert!(ready.detail.contains("userName and password decrypted"), "{}", ready.detail);
    assert_eq!(period.state, "released");
    // Orders were registered before the callbacks that refer to them.
    for report in &reports {
        for order in &report.order_ids {
            assert!(sim.marketplace().order(order).is_some(), "{order}");
        }
    }
    let on_demand = &reports[2];
    let instance = sim.marketplace().instance(&on_demand.instance_ids[0]).unwrap();
    assert_eq!(instance.status, koofill_simulator::InstanceStatus::Released);
    let license = &reports[9];
    assert_eq!(
        sim.marketplace().license(&license.instance_ids[0]).unwrap().state,
        koofill_simulator::license::LicenseState::Released
    );
}

#[tokio::test]
async fn against_the_ingress_scenarios_pass_with_a_clear_readiness_warning() {
    let sim = simulator().await;
    let ingress = Ingress::spawn(Some(&sim.base_url())).await;
    let summary = demo_with(&ingress.base_url, &sim, &keys(), &options(false)).await;
    println!("{summary}");
    assert!(summary.passed(), "{summary}");
    for report in summary.reports.iter().filter(|r| r.scenario != "license") {
        let ready = report.steps.iter().find(|s| s.name == "queryInstance until ready").unwrap();
        assert_eq!(ready.outcome, Outcome::Warned, "{report}");
        assert!(ready.detail.contains("still 000004"), "{}", ready.detail);
    }
    let text = summary.to_string();
    for name in ScenarioName::ALL {
        assert!(text.contains(name.as_str()), "{text}");
    }

    let strict =
        run_scenario(ScenarioName::OneTime, &ingress.base_url, &keys(), &Registry::Off, &options(true)).await.unwrap();
    assert!(!strict.passed());
    let failed: Vec<&str> = strict.failures().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(failed, ["queryInstance until ready"], "{strict}");
    assert_eq!(strict.order_ids, ["MOCKONETIMENEW"], "no registry: the spec's mock order");
}

#[tokio::test]
async fn a_create_that_is_not_idempotent_fails_the_scenario_at_the_repeat() {
    let target = stand_in::start(Defects { non_idempotent_create: true, ..Defects::default() }).await;
    let report = run_scenario(ScenarioName::Period, &target, &keys(), &Registry::Off, &options(true)).await.unwrap();
    let failed: Vec<&str> = report.failures().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(failed, ["newInstance (repeat, fresh businessId)"], "{report}");
    assert!(report.to_string().contains("instanceId changed"), "{report}");
}

#[tokio::test]
async fn failed_calls_are_retried_and_a_bad_body_sign_is_caught() {
    let target = stand_in::start(Defects { bad_body_sign_on: Some("releaseInstance"), ..Defects::default() }).await;
    let report = run_scenario(ScenarioName::OneTime, &target, &keys(), &Registry::Off, &options(true)).await.unwrap();
    let release = report.steps.iter().find(|s| s.name == "releaseInstance").unwrap();
    assert_eq!(release.outcome, Outcome::Failed);
    assert_eq!(release.attempts, 2, "one retry with a fresh nonce and timestamp");
    assert!(release.detail.contains("Body-Sign"), "{}", release.detail);
}
