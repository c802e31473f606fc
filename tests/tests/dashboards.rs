//! Every metric the Grafana dashboards and the alert rules query is one the services export:
//! the ingress, the provisioning, metering and notification workers are started for real and
//! their `/metrics` scraped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::BTreeSet, path::Path};

use koofill_provisioning::{Worker, stand_in::QueryOrderStandIn};
use koofill_testkit::{CallbackClient, TestDb, TestNats};
use tokio_util::sync::CancellationToken;

/// The `koofill_…` metric names a dashboard or rule file mentions.
fn referenced(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("koofill_") {
        let start = i + at;
        let boundary = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end =
            text[start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(text.len(), |n| start + n);
        // Data source uids (`koofill-prometheus`) and the dashboard uids are not metrics.
        if boundary && text[start..end].matches('_').count() >= 2 {
            out.insert(text[start..end].to_owned());
        }
        i = end;
    }
    out
}

/// Family and sample names in an OpenMetrics exposition.
fn exported(exposition: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some(name) = rest.split_whitespace().next() {
                out.insert(name.to_owned());
            }
        } else if !line.starts_with('#')
            && let Some(name) = line.split(['{', ' ']).next().filter(|n| !n.is_empty())
        {
            out.insert(name.to_owned());
        }
    }
    out
}

fn is_exported(name: &str, exported: &BTreeSet<String>) -> bool {
    let family = ["_bucket", "_sum", "_count", "_total"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
    exported.contains(name) || exported.contains(family)
}

#[tokio::test]
async fn every_metric_a_dashboard_or_alert_uses_is_exported() {
    koofill_telemetry::init_for_tests();
    let nats = TestNats::start();
    let db = TestDb::fresh().await;
    let stand_in = QueryOrderStandIn::start("DASHAK", "dash-sk").await.unwrap();
    let env: Vec<(String, String)> = [
        ("KOOFILL__KOOGALLERY__BASIC_KEY", "dash-basic-key".to_owned()),
        ("KOOFILL__KOOGALLERY__KIT_KEY", "dash-kit-key".to_owned()),
        ("KOOFILL__KOOGALLERY__ACCESS_KEY_ID", "DASHAK".to_owned()),
        ("KOOFILL__KOOGALLERY__SECRET_ACCESS_KEY", "dash-sk".to_owned()),
        ("KOOFILL__KOOGALLERY__API_BASE", stand_in.base_url()),
        ("KOOFILL__NATS__URL", nats.url()),
        ("KOOFILL__DATABASE__URL", db.url().to_owned()),
        ("KOOFILL__INGRESS__LISTEN", "127.0.0.1:0".to_owned()),
        ("KOOFILL__WORKER__LISTEN", "127.0.0.1:0".to_owned()),
        ("KOOFILL__SHUTDOWN__GRACE_SECS", "1".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let cfg = koofill_config::load_with_env(None, env.clone()).expect("configuration loads");
    let shutdown = CancellationToken::new();
    let ingress = koofill_ingress::Application::build(&cfg).await.expect("ingress starts");
    let ingress_addr = ingress.local_addr().unwrap();
    tokio::spawn(ingress.run_until_stopped(shutdown.clone()));
    let worker = Worker::build(&cfg).await.expect("worker starts");
    let worker_addr = worker.host().http_addr();
    let running = tokio::spawn({
        let (worker, stop) = (worker.clone(), shutdown.clone());
        async move { worker.run(stop).await }
    });

    // Labelled ingress series exist once something was answered: one callback taken, one
    // refused.
    let base = format!("http://{ingress_addr}{}", cfg.ingress.base_path);
    let client = CallbackClient::new(base.clone(), "dash-basic-key", "dash-kit-key");
    let accepted = client.send_basic(&koofill_testkit::fixtures::spec_example("newInstance")).await;
    assert_eq!(accepted.status, 200);
    let forged = CallbackClient::new(base, "not-the-basic-key", "dash-kit-key");
    assert_eq!(forged.send_basic(&koofill_testkit::fixtures::spec_example("newInstance")).await.status, 200);

    let mut metering_cfg = cfg.clone();
    metering_cfg.worker.listen = "127.0.0.1:0".parse().unwrap();
    let metering = koofill_metering::Worker::build(&metering_cfg, koofill_metering::BuildOptions::default())
        .await
        .expect("metering starts");
    let metering_addr = metering.host().http_addr();
    let metering_running = tokio::spawn({
        let (metering, stop) = (metering.clone(), shutdown.clone());
        async move { metering.run(stop).await }
    });

    // One channel, so the per-channel series exist (they start at zero for every channel).
    let outbox_file = std::env::temp_dir().join(format!("koofill-dashboards-{}.jsonl", std::process::id()));
    let notification_cfg = koofill_config::load_with_env(
        None,
        env.iter()
            .cloned()
            .chain([
                ("KOOFILL__NOTIFICATION__CHANNELS__TEAM__KIND".to_owned(), "file".to_owned()),
                ("KOOFILL__NOTIFICATION__CHANNELS__TEAM__PATH".to_owned(), outbox_file.display().to_string()),
            ])
            .collect::<Vec<(String, String)>>(),
    )
    .expect("configuration with a channel loads");
    let notification = koofill_notification::Worker::build(&notification_cfg).await.expect("notification starts");
    let notification_addr = notification.host().http_addr();
    let notification_running = tokio::spawn({
        let stop = shutdown.clone();
        async move { notification.run(stop).await }
    });

    let http = reqwest::Client::new();
    let mut exposition = String::new();
    for url in [
        format!("http://{ingress_addr}/metrics"),
        format!("http://{worker_addr}/metrics"),
        format!("http://{metering_addr}/metrics"),
        format!("http://{notification_addr}/metrics"),
    ] {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        let text = loop {
            match http.get(&url).send().await {
                Ok(r) if r.status().is_success() => break r.text().await.unwrap(),
                _ if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                other => panic!("{url} did not answer: {other:?}"),
            }
        };
        exposition.push_str(&text);
    }
    let exported = exported(&exposition);

    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let mut files: Vec<_> = std::fs::read_dir(deploy.join("grafana/dashboards"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.push(deploy.join("prometheus/alerts.yml"));
    files.sort();
    let mut checked = 0;
    for file in &files {
        let names = referenced(&std::fs::read_to_string(file).unwrap());
        assert!(!names.is_empty(), "{} queries no koofill metric", file.display());
        for name in names {
            assert!(is_exported(&name, &exported), "{} uses {name}, which no service exports", file.display());
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} metric references found");

    shutdown.cancel();
    running.await.unwrap().unwrap();
    metering_running.await.unwrap().unwrap();
    notification_running.await.unwrap().unwrap();
}

#[test]
fn the_reference_scanner_finds_metric_names_and_skips_uids() {
    let names = referenced(r#"{"uid":"koofill-prometheus","expr":"rate(koofill_worker_messages_total{x=\"y\"}[5m])"}"#);
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["koofill_worker_messages_total"]);
    let exported = exported("# TYPE koofill_worker_handler_seconds histogram\nkoofill_x_total 1\n");
    assert!(is_exported("koofill_worker_handler_seconds_bucket", &exported));
    assert!(is_exported("koofill_x_total", &exported));
    assert!(!is_exported("koofill_worker_missing_total", &exported));
}
