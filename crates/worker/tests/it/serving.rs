//! The running host: `/healthz`, `/readyz`, `/metrics`, and a graceful stop.

use koofill_worker::Readiness;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestHost, WORKER, eventually, sample};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_worker_serves_health_readiness_and_metrics_and_stops_within_its_grace() {
    let t = TestHost::start().await;
    let (shutdown, running) = t.spawn_run();
    let base = format!("http://{}", t.host.http_addr());
    let http = reqwest::Client::new();

    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let ready: Value = eventually("/readyz answers 200", || async {
        let r = http.get(format!("{base}/readyz")).send().await.ok()?;
        (r.status() == StatusCode::OK).then_some(r.json().await.ok()?)
    })
    .await;
    assert_eq!(ready, json!({"nats": true, "database": true, "consumers": true}));

    t.greet("greeting-1", "greeting-1", "CS1").await;
    let worker = format!(r#"worker="{WORKER}""#);
    let labels = [r#"consumer="greeter""#, r#"outcome="ack""#, worker.as_str()];
    let metrics = eventually("the greeting is acknowledged", || async {
        let m = t.metrics().await;
        (sample(&m, "koofill_worker_messages_total", &labels) == Some(1.0)).then_some(m)
    })
    .await;
    let timed = sample(&metrics, "koofill_worker_handler_seconds_count", &[r#"consumer="greeter""#, &worker]);
    assert_eq!(timed, Some(1.0), "{metrics}");
    assert!(sample(&metrics, "koofill_worker_outbox_pending", &[&worker]).is_some(), "{metrics}");
    eventually("the relay publishes order.received", || async {
        (t.events("order.received").await.len() == 1).then_some(())
    })
    .await;

    shutdown.cancel();
    let stopped = tokio::time::timeout(t.cfg.shutdown.grace(), running).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "run ends cleanly within the grace period: {stopped:?}");
    assert!(!t.host.readiness().await.consumers, "not ready once stopped");
}

#[tokio::test]
async fn a_worker_is_not_ready_before_its_consumers_run() {
    let t = TestHost::start().await;
    let readiness = t.host.readiness().await;
    assert_eq!(readiness, Readiness { nats: true, database: true, consumers: false });
    assert!(!readiness.is_ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_while_nats_is_down_and_200_once_it_is_back() {
    let mut t = TestHost::start().await;
    let (shutdown, running) = t.spawn_run();
    let readyz = format!("http://{}/readyz", t.host.http_addr());
    let status = |url: String| async move {
        let r = reqwest::get(url).await.ok()?;
        Some((r.status(), r.json::<Value>().await.ok()?))
    };
    eventually("ready", || async { status(readyz.clone()).await.filter(|(s, _)| *s == StatusCode::OK) }).await;

    t.nats.stop();
    let (_, body) = eventually("503 while NATS is down", || async {
        status(readyz.clone()).await.filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
    })
    .await;
    assert_eq!(body, json!({"nats": false, "database": true, "consumers": true}));

    t.nats.restart();
    eventually("ready again", || async { status(readyz.clone()).await.filter(|(s, _)| *s == StatusCode::OK) }).await;

    shutdown.cancel();
    running.await.unwrap().unwrap();
}
