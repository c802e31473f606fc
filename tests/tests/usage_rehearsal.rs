//! The simulator's on-demand scenario with its usage rehearsal, end to end and across processes'
//! boundaries as `koofill sim scenario on-demand` plays it: callbacks to the real ingress, the real
//! provisioning worker opening the instance, usage reported to `POST /v1/usage`, the real metering
//! worker closing and pushing the window on its own schedule (no flush), and the scenario reading
//! the marketplace's received records through the simulator's signed registration API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use koofill_simulator::{
    Outcome, Registry, RemoteSimulator, ScenarioName, ScenarioOptions, SimConfig, SimKeys, Simulator, UsageProbe,
    run_scenario,
};
use koofill_testkit::{TestDb, TestNats};
use tokio_util::sync::CancellationToken;

const BASIC_KEY: &str = "usage-rehearsal-basic-key-0123456789";
const AK: &str = "REHEARSALAK";
const SK: &str = "rehearsal-sk";
const USAGE_TOKEN: &str = "usage-rehearsal-token-0123456789abcdef";

#[tokio::test]
async fn the_on_demand_scenario_reports_usage_and_the_marketplace_receives_the_exact_sum_once() {
    koofill_telemetry::init_for_tests();
    let nats = TestNats::start();
    let db = TestDb::fresh().await;
    let keys = SimKeys::new(BASIC_KEY).with_access_key(AK, SK);
    let sim = Simulator::start(SimConfig::for_keys(&keys)).await.expect("simulator starts");
    let env: Vec<(String, String)> = [
        ("KOOFILL__KOOGALLERY__BASIC_KEY", BASIC_KEY.to_owned()),
        ("KOOFILL__KOOGALLERY__ACCESS_KEY_ID", AK.to_owned()),
        ("KOOFILL__KOOGALLERY__SECRET_ACCESS_KEY", SK.to_owned()),
        ("KOOFILL__KOOGALLERY__API_BASE", sim.base_url()),
        ("KOOFILL__KOOGALLERY__API_FALLBACK_BASE", sim.base_url()),
        ("KOOFILL__METERING__API_TOKEN", USAGE_TOKEN.to_owned()),
        ("KOOFILL__METERING__TICK_SECS", "1".to_owned()),
        ("KOOFILL__METERING__GRACE_SECS", "0".to_owned()),
        ("KOOFILL__NATS__URL", nats.url()),
        ("KOOFILL__DATABASE__URL", db.url().to_owned()),
        ("KOOFILL__INGRESS__LISTEN", "127.0.0.1:0".to_owned()),
        ("KOOFILL__WORKER__LISTEN", "127.0.0.1:0".to_owned()),
        ("KOOFILL__CONSUMER__NAK_BASE_DELAY_MS", "50".to_owned()),
        ("KOOFILL__CONSUMER__NAK_MAX_DELAY_MS", "300".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let cfg = koofill_config::load_with_env(None, env).expect("configuration loads");
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let ingress = koofill_ingress::Application::build(&cfg).await.expect("ingress starts");
    let addr = ingress.local_addr().unwrap();
    tokio::spawn(ingress.run_until_stopped(shutdown.clone()));
    let provisioning = koofill_provisioning::Worker::build(&cfg).await.expect("provisioning starts");
    let metering = koofill_metering::Worker::build(&cfg, koofill_metering::BuildOptions::default())
        .await
        .expect("metering starts");
    let (p, s) = (provisioning.clone(), shutdown.clone());
    tokio::spawn(async move { p.run(s).await });
    let (m, s) = (metering.clone(), shutdown.clone());
    tokio::spawn(async move { m.run(s).await });

    let target = format!("http://{addr}{}", cfg.ingress.base_path);
    let mut usage = UsageProbe::for_target(&target, USAGE_TOKEN);
    usage.push_deadline = Duration::from_secs(30);
    let options = ScenarioOptions {
        require_ready: true,
        ready_deadline: Duration::from_secs(20),
        seed: 7,
        usage: Some(usage),
        ..ScenarioOptions::default()
    };
    let registry = Registry::Remote(RemoteSimulator::new(&sim.base_url(), AK, SK).unwrap());
    let report = run_scenario(ScenarioName::OnDemand, &target, &keys, &registry, &options).await.unwrap();
    assert!(report.passed(), "{report}");
    let pushed = report.steps.iter().find(|s| s.name.starts_with("usage pushed")).expect("the usage step ran");
    assert_eq!(pushed.outcome, Outcome::Passed, "{report}");
    assert!(pushed.detail.starts_with("4.7501 for "), "{}", pushed.detail);

    // What the marketplace holds: one accepted record, whatever the scenario's repeats.
    let id = report.instance_ids[0].clone();
    let records: Vec<_> =
        sim.marketplace().usage_records().into_iter().filter(|r| r.instance_id == Some(id.clone())).collect();
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(records[0].reason().is_none(), "{records:?}");
}
