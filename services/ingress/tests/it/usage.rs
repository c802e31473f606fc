//! `POST /v1/usage`: the bearer token, per-event validation naming index and field, the event
//! limit, partitioned batches on `KOOFILL_USAGE`, and a repeated request stored once.

use std::{collections::BTreeMap, time::Duration};

use async_nats::jetstream::consumer::pull;
use futures::StreamExt;
use koofill_bus::names;
use koofill_ingress::usage::{batch_msg_id, partition_of};
use koofill_model::usage::UsageBatch;
use serde_json::{Value, json};

use crate::{PREFIX, TestApp};

const TOKEN: &str = "usage-api-token-0123456789abcdef";
/// The token License software carries: it must not open the usage route.
const LICENSE_TOKEN: &str = "license-api-token-fedcba9876543210";

async fn spawn() -> TestApp {
    TestApp::spawn_with(&[
        ("KOOFILL__METERING__API_TOKEN", TOKEN),
        ("KOOFILL__LICENSE__API_TOKEN", LICENSE_TOKEN),
        ("KOOFILL__METERING__PARTITIONS", "4"),
        ("KOOFILL__METERING__MAX_EVENTS_PER_REQUEST", "50"),
    ])
    .await
}

async fn post(app: &TestApp, auth: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(format!("{}/v1/usage", app.root_url)).json(body);
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn event(instance: &str, value: Value, id: &str) -> Value {
    json!({"instance_id": instance, "usage_value": value, "event_id": id, "occurred_at": chrono::Utc::now().to_rfc3339()})
}

/// Every message on the usage stream: (subject, `Nats-Msg-Id`, batch).
async fn stored(app: &TestApp) -> Vec<(String, String, UsageBatch)> {
    let stream = app.js.get_stream(names::stream(PREFIX, names::USAGE)).await.unwrap();
    let consumer = stream.create_consumer(pull::Config::default()).await.unwrap();
    let mut out = Vec::new();
    let mut batch = consumer.fetch().max_messages(100).expires(Duration::from_millis(300)).messages().await.unwrap();
    while let Some(Ok(m)) = batch.next().await {
        let id = m.headers.as_ref().and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID)).unwrap().to_string();
        out.push((m.subject.to_string(), id, serde_json::from_slice(&m.payload).unwrap()));
    }
    out
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_refused_and_nothing_is_stored() {
    let app = spawn().await;
    let body = json!({"events": [event("i-1", json!("1"), "e-1")]});
    let license = format!("Bearer {LICENSE_TOKEN}");
    for auth in [None, Some("Bearer not-the-token"), Some(TOKEN), Some(license.as_str())] {
        let (status, answer) = post(&app, auth, &body).await;
        assert_eq!(status, 401, "{auth:?}");
        assert_eq!(answer["error"]["code"], "unauthorized");
    }
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn events_go_to_their_partition_and_a_repeated_request_is_stored_once() {
    let app = spawn().await;
    let auth = format!("Bearer {TOKEN}");
    let events: Vec<Value> =
        (0..12).map(|i| event(&format!("i-{}", i % 6), json!("0.125"), &format!("e-{i}"))).collect();
    let body = json!({ "events": events });
    for _ in 0..2 {
        let (status, answer) = post(&app, Some(&auth), &body).await;
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer, json!({"accepted": 12, "rejected": 0, "errors": []}));
    }
    let messages = stored(&app).await;
    let mut by_partition: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..6 {
        *by_partition.entry(names::usage(PREFIX, &partition_of(&format!("i-{i}"), 4).to_string())).or_default() += 2;
    }
    let seen: BTreeMap<String, usize> = messages.iter().map(|(s, _, b)| (s.clone(), b.events.len())).collect();
    assert_eq!(seen, by_partition, "one batch per partition used, stored once although posted twice");
    for (subject, id, batch) in &messages {
        assert_eq!(*id, batch_msg_id(&serde_json::to_vec(batch).unwrap()));
        for e in &batch.events {
            assert_eq!(*subject, names::usage(PREFIX, &partition_of(&e.instance_id, 4).to_string()));
        }
    }
}

#[tokio::test]
async fn bad_events_are_named_by_index_and_field_and_the_valid_ones_are_stored() {
    let app = spawn().await;
    let auth = format!("Bearer {TOKEN}");
    let now = chrono::Utc::now();
    let mut missing_id = event("i-1", json!("1"), "x");
    missing_id.as_object_mut().unwrap().remove("event_id");
    let mut old = event("i-1", json!("1"), "e-old");
    old["occurred_at"] = json!((now - chrono::Duration::days(22)).to_rfc3339());
    let mut future = event("i-1", json!("1"), "e-future");
    future["occurred_at"] = json!((now + chrono::Duration::hours(1)).to_rfc3339());
    let body = json!({"events": [
        event("i-1", json!("2.5"), "e-ok-1"),
        event("i-1", json!(true), "e-bool"),
        event("i-1", json!("-1"), "e-negative"),
        event("i-1", json!("0.123456789"), "e-precise"),
        missing_id,
        future,
        old,
        event("i-2", json!(3), "e-ok-2"),
    ]});
    let (status, answer) = post(&app, Some(&auth), &body).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["accepted"], 2);
    assert_eq!(answer["rejected"], 6);
    let named: Vec<(u64, &str)> = answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        named,
        [
            (1, "usage_value"),
            (2, "usage_value"),
            (3, "usage_value"),
            (4, "event_id"),
            (5, "occurred_at"),
            (6, "occurred_at")
        ]
    );
    let events: Vec<String> =
        stored(&app).await.into_iter().flat_map(|(_, _, b)| b.events).map(|e| e.event_id).collect();
    let mut events = events;
    events.sort();
    assert_eq!(events, ["e-ok-1", "e-ok-2"], "the valid events of the request are not lost");
}

#[tokio::test]
async fn bodies_that_are_not_batches_or_too_large_are_refused_whole() {
    let app = spawn().await;
    let auth = format!("Bearer {TOKEN}");
    let (status, answer) = post(&app, Some(&auth), &json!({"records": []})).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid")), "{answer}");
    let many: Vec<Value> = (0..51).map(|i| event("i-1", json!("1"), &format!("e-{i}"))).collect();
    let (status, answer) = post(&app, Some(&auth), &json!({ "events": many })).await;
    assert_eq!(status, 413, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("at most 50"), "{answer}");
    assert!(stored(&app).await.is_empty());
}
