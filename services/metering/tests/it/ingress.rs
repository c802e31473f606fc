//! Through the real ingress: the same events posted to `POST /v1/usage` twice (and again inside
//! a larger request) are counted once, and after `flush` the usage push receives records whose
//! sum is what was posted (the check a seller's auditor would run).

use std::str::FromStr;

use chrono::Duration;
use koofill_config::SecretString;
use koofill_model::usage::Quantity;
use koofill_simulator::SimInstance;
use koofill_store::{entities::usage_events, sea_orm::EntityTrait};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{Harness, hour_start, windows};

const TOKEN: &str = "metering-test-usage-token-0123456789";

/// Starts the ingress on the harness's NATS; returns its `/v1/usage` URL.
async fn ingress(h: &Harness, shutdown: &CancellationToken) -> String {
    let mut cfg = h.cfg.clone();
    cfg.ingress.listen = std::net::SocketAddr::from_str("127.0.0.1:0").unwrap();
    cfg.metering.api_token = Some(SecretString::from(TOKEN.to_owned()));
    let app = koofill_ingress::Application::build(&cfg).await.expect("ingress starts");
    let addr = app.local_addr().unwrap();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    format!("http://{addr}/v1/usage")
}

async fn post(url: &str, events: &[Value]) -> (u16, Value) {
    let response =
        reqwest::Client::new().post(url).bearer_auth(TOKEN).json(&json!({ "events": events })).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn posted_twice_counted_once_and_pushed_with_the_posted_sum() {
    let mut h = Harness::start().await;
    for id in ["i-a", "i-b"] {
        h.sim.register_instance(SimInstance::on_demand(id));
    }
    let worker = h.worker().await;
    for id in ["i-a", "i-b"] {
        h.activate(id, hour_start(20)).await;
    }
    let shutdown = CancellationToken::new();
    let url = ingress(&h, &shutdown).await;
    let at = hour_start(2) + Duration::minutes(10);
    let event = |instance: &str, id: &str, value: Value| json!({"instance_id": instance, "usage_value": value, "event_id": id, "occurred_at": at.to_rfc3339()});
    let first = vec![
        event("i-a", "e1", json!("1.25")),
        event("i-a", "e2", json!(0.5)),
        event("i-b", "e1", json!("10.0001")),
        event("i-b", "e2", json!("0.12345678")),
    ];
    for _ in 0..2 {
        assert_eq!(post(&url, &first).await, (202, json!({"accepted": 4, "rejected": 0, "errors": []})));
    }
    // A producer re-sending the first events inside a new request, with one new event and one
    // bad one: only the new event counts, and the bad one is named.
    let mut again = first.clone();
    again.push(event("i-a", "e3", json!("2")));
    again.push(event("i-a", "e4", json!("-3")));
    let (status, answer) = post(&url, &again).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["errors"][0]["index"], 5);
    assert_eq!(answer["errors"][0]["field"], "usage_value");

    while worker.drain().await.unwrap() > 0 {}
    let counted = usage_events::Entity::find().all(worker.db()).await.unwrap();
    assert_eq!(counted.len(), 5, "four events posted three times and one new: five counted");
    let totals: Vec<(String, String, i64)> =
        windows(&worker).await.into_iter().map(|w| (w.instance_id, w.total, w.events)).collect();
    assert_eq!(
        totals,
        [("i-a".to_owned(), "3.75000000".to_owned(), 3), ("i-b".to_owned(), "10.12355678".to_owned(), 2)]
    );

    let report = worker.ledger().flush().await.unwrap();
    assert_eq!(report.pushed, 2);
    let pushed = h
        .sim
        .usage_records()
        .iter()
        .map(|r| Quantity::parse(r.record["usage_value"].as_str().unwrap()).unwrap())
        .fold(Quantity::ZERO, |sum, q| sum.checked_add(q).unwrap());
    // 3.75 + 10.12355678 → 3.75 + 10.1236 (each window rounded once, to 4 decimals).
    assert_eq!(pushed, Quantity::parse("13.8736").unwrap());
    shutdown.cancel();
}
