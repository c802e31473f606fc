//! The debug cases against the real ingress (all pass) and against a stand-in with three defects
//! (exactly those cases fail).

use std::collections::BTreeSet;

use koofill_simulator::{ConformanceOptions, Outcome, conformance};

use crate::stand_in::{self, Defects};
use crate::{Ingress, PUBLIC_KEY_PEM, keys};

fn options(seed: u64) -> ConformanceOptions {
    ConformanceOptions {
        rounds: 2,
        seed,
        client_secret_public_key_pem: Some(PUBLIC_KEY_PEM.to_owned()),
        ..ConformanceOptions::default()
    }
}

#[tokio::test]
async fn every_case_passes_against_the_koofill_ingress() {
    let ingress = Ingress::spawn(None).await;
    let report = conformance(&ingress.base_url, &keys(), &options(42)).await.unwrap();
    println!("{report}");
    assert!(report.passed(), "{report}");
    assert_eq!(report.exit_code(), 0);
    assert!(report.skipped_cases().is_empty(), "{report}");
    assert_eq!(report.results.len(), 2 * 22, "22 cases (16 basic + 6 Kit), 2 rounds");
    // Without a provisioning worker a fresh instance is still being opened: 000004 is accepted.
    let query = report.results.iter().find(|r| r.case.name() == "queryInstance").unwrap();
    assert!(query.got.starts_with("000004"), "{query:?}");
    let text = report.to_string();
    assert!(text.contains("seed 42") && text.contains("all 22 cases passed"), "{text}");
}

#[tokio::test]
async fn every_case_passes_in_v1_against_the_koofill_ingress() {
    let ingress = Ingress::spawn(None).await;
    let report =
        conformance(&ingress.base_url, &keys(), &ConformanceOptions { v1: true, ..options(43) }).await.unwrap();
    println!("{report}");
    assert!(report.passed(), "{report}");
    assert!(report.skipped_cases().is_empty(), "{report}");
    assert_eq!(report.results.len(), 2 * 21, "the 22 cases less orderNotify, which V1 lacks, 2 rounds");
}

#[tokio::test]
async fn v1_cases_fail_against_a_server_that_only_speaks_v2() {
    let target = stand_in::start(Defects::default()).await;
    let opts = ConformanceOptions { rounds: 1, v1: true, ..options(5) };
    let report = conformance(&target, &keys(), &opts).await.unwrap();
    assert!(!report.passed(), "{report}");
    assert!(report.failed_cases().contains("newInstance"), "{report}");
}

#[tokio::test]
async fn a_server_with_three_defects_fails_exactly_those_cases() {
    let target = stand_in::start(Defects {
        bad_body_sign_on: Some("orderNotify"),
        non_idempotent_create: true,
        unknown_refresh_succeeds: true,
    })
    .await;
    let report = conformance(&target, &keys(), &options(7)).await.unwrap();
    println!("{report}");
    let expected: BTreeSet<&str> = ["newInstance.repeat", "orderNotify", "refreshInstance.unknown"].into();
    assert_eq!(report.failed_cases(), expected, "{report}");
    assert_eq!(report.exit_code(), 1);
    let failure = |case: &str| {
        report.results.iter().find(|r| r.case.name() == case && r.outcome == Outcome::Failed).unwrap().detail.clone()
    };
    assert!(failure("orderNotify").contains("Body-Sign"), "{}", failure("orderNotify"));
    assert!(failure("newInstance.repeat").contains("instanceId changed"));
    assert!(failure("refreshInstance.unknown").contains("expected 000003"));

    // The same server without defects passes.
    let fixed = stand_in::start(Defects::default()).await;
    let report = conformance(&fixed, &keys(), &options(7)).await.unwrap();
    assert!(report.passed(), "{report}");
}

#[tokio::test]
async fn without_a_public_key_application_sync_is_skipped_not_failed() {
    let target = stand_in::start(Defects::default()).await;
    let opts = ConformanceOptions { rounds: 1, seed: 1, ..ConformanceOptions::default() };
    let report = conformance(&target, &keys(), &opts).await.unwrap();
    assert!(report.passed(), "{report}");
    assert_eq!(report.skipped_cases(), ["kit.applicationSync"].into());
    let basic_only = koofill_simulator::SimKeys::new(crate::BASIC_KEY);
    let report = conformance(&target, &basic_only, &opts).await.unwrap();
    assert_eq!(report.results.len(), 16, "no Kit key, no Kit cases");
}

#[tokio::test]
async fn the_command_reads_the_development_keys_and_exits_by_the_result() {
    use koofill_simulator::{DEV_KEYS_FILE, KeyArgs, SimCommand, TargetArgs, run};
    let dir = std::env::temp_dir().join(format!("koofill-sim-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(DEV_KEYS_FILE),
        format!("[koogallery]\nbasic_key = \"{}\"\nkit_key = \"{}\"\n", crate::BASIC_KEY, crate::KIT_KEY),
    )
    .unwrap();
    let mut cfg = koofill_config::Config::default();
    cfg.dev.state_dir = dir.clone();
    let command = |target: String| SimCommand::Conformance {
        target: TargetArgs { target: Some(target) },
        keys: KeyArgs::default(),
        rounds: 1,
        seed: Some(3),
        order_id: "MOCKPERIODYEARNEW".into(),
        v1: false,
    };
    let good = stand_in::start(Defects::default()).await;
    assert_eq!(run(command(good), cfg.clone()).await.unwrap(), 0);
    let bad = stand_in::start(Defects { unknown_refresh_succeeds: true, ..Defects::default() }).await;
    assert_eq!(run(command(bad), cfg.clone()).await.unwrap(), 1);
    std::fs::remove_dir_all(dir).unwrap();
}
