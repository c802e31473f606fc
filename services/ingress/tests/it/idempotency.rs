//! KooGallery's retries and the debugger's repeats produce one message each.

use std::collections::HashSet;

use futures::future::join_all;
use koofill_testkit::spec_example;
use serde_json::json;

use crate::TestApp;

#[tokio::test]
async fn a_callback_sent_three_times_is_published_once_with_the_same_instance_id() {
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
    assert_eq!(inbound.len(), 1, "one message in KOOFILL_INBOUND");
    assert_eq!(inbound[0].0, "test:newInstance:CS2211181819B4LVS:CS2211181819B4LVS-000001");
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
async fn a_thousand_concurrent_callbacks_are_all_answered_and_stored_once_each() {
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
    let inbound = app.inbound().await;
    let distinct: HashSet<&str> = inbound.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(inbound.len(), 500, "each dedup id exactly once");
    assert_eq!(distinct.len(), 500);
}

fn uuid_like() -> String {
    format!("{:032x}", rand_u128())
}

fn rand_u128() -> u128 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(7)
}
