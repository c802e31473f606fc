//! KooGallery's retries and the debugger's repeats: each request is stored once, under its own
//! replay key, and every repeat of one order line carries the same dedup id, on which the
//! workers' inbox collapses them.

use std::collections::HashSet;

use futures::future::join_all;
use koofill_testkit::spec_example;
use serde_json::json;

use crate::TestApp;

#[tokio::test]
async fn a_callback_sent_three_times_is_answered_with_one_instance_id_under_one_dedup_id() {
    let app = TestApp::spawn().await;
    let mut ids = HashSet::new();
    for _ in 0..3 {
        // A fresh nonce and timestamp each time, as KooGallery retries.
        let mut body = spec_example("newInstance");
        body["businessId"] = json!(uuid_like());
        let reply = app.client.send_basic(&body).await;
        assert_eq!(reply.result_code(), "000000", "{}", reply.text());
        ids.insert(reply.json["instanceId"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "same instanceId each time: {ids:?}");
    let inbound = app.inbound().await;
    assert_eq!(inbound.len(), 3, "each request stored");
    for (dedup_id, _) in &inbound {
        assert_eq!(dedup_id, "test:newInstance:CS2211181819B4LVS:CS2211181819B4LVS-000001");
    }
    let replay_keys: HashSet<String> = app.inbound_messages().await.into_iter().map(|(key, _)| key).collect();
    assert_eq!(replay_keys.len(), 3, "three requests, three nonces");
}

#[tokio::test]
async fn status_changes_are_each_published_even_when_repeated() {
    let app = TestApp::spawn().await;
    let id = app.client.send_basic(&spec_example("newInstance")).await.json["instanceId"].as_str().unwrap().to_owned();
    for status in ["FREEZE", "UNFREEZE", "FREEZE"] {
        let reply = app
            .client
            .send_basic(&json!({"activity":"updateInstanceStatus","instanceId":id,"status":status,"testFlag":"1"}))
            .await;
        assert_eq!(reply.result_code(), "000000");
        // Distinct timestamps: one millisecond apart at least.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let statuses: Vec<String> = app
        .inbound()
        .await
        .into_iter()
        .filter(|(_, e)| e.data.activity == "updateInstanceStatus")
        .map(|(_, e)| e.data.body["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["FREEZE", "UNFREEZE", "FREEZE"], "a second FREEZE after UNFREEZE is not lost");
}

#[tokio::test]
async fn a_thousand_concurrent_callbacks_are_all_answered_and_each_stored_once() {
    let app = TestApp::spawn().await;
    // 500 orders, each sent twice at the same time: 1,000 concurrent signed callbacks.
    let sends = (0..1000).map(|i| {
        let order = format!("CS{:010}", i % 500);
        let body = json!({"activity":"newInstance","businessId":format!("b-{i}"),"orderId":order,
            "orderLineId":format!("{order}-000001"),"testFlag":"1"});
        let client = &app.client;
        async move { client.send_basic(&body).await }
    });
    let replies = join_all(sends).await;
    let failures: Vec<String> = replies.iter().filter(|r| r.result_code() != "000000").map(|r| r.text()).collect();
    assert!(failures.is_empty(), "{} failed, e.g. {:?}", failures.len(), failures.first());
    let inbound = app.inbound_messages().await;
    let requests: HashSet<&str> = inbound.iter().map(|(key, _)| key.as_str()).collect();
    let orders: HashSet<&str> = inbound.iter().map(|(_, env)| env.id.as_str()).collect();
    assert_eq!(inbound.len(), 1000, "each request stored exactly once");
    assert_eq!(requests.len(), 1000);
    assert_eq!(orders.len(), 500, "one dedup id per order line");
}

fn uuid_like() -> String {
    format!("{:032x}", rand_u128())
}

fn rand_u128() -> u128 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(7)
}
