//! Dead letters: every message a worker gave up on is announced once through the routing rules
//! (`dlq.*`), naming the consumer, the order and why.

use std::collections::BTreeMap;

use async_nats::HeaderMap;
use base64::{Engine, engine::general_purpose::STANDARD};
use koofill_bus::{Publisher, consumer::DeadLetter, names};
use koofill_notification::DLQ_CONSUMER;
use serde_json::json;

use crate::{
    stand_in::StandIn,
    support::{PREFIX, TestWorker},
};

fn letter(consumer: &str, sequence: u64) -> DeadLetter {
    let original = json!({"id": "evt-1", "type": "newInstance", "test": false,
        "data": {"order_id": "ORDER-DEAD-1", "instance_id": "inst-dead-1"}});
    DeadLetter {
        consumer: consumer.to_owned(),
        stream: "KOOFILL_INBOUND".to_owned(),
        subject: "koofill.inbound.basic.newInstance".to_owned(),
        stream_sequence: sequence,
        delivered: 12,
        error: "query order: MKT.0101 order not found".to_owned(),
        retryable: false,
        headers: BTreeMap::new(),
        payload_base64: STANDARD.encode(original.to_string()),
        failed_at: chrono::Utc::now(),
    }
}

async fn dead_letter(w: &TestWorker, letter: &DeadLetter, msg_id: &str) {
    let publisher = Publisher::new(w.worker.host().bus().js.clone(), std::time::Duration::from_secs(2));
    let subject = names::dlq(PREFIX, &letter.consumer);
    let payload = serde_json::to_vec(letter).expect("encodes");
    publisher.publish_raw(&subject, msg_id, HeaderMap::new(), payload.into()).await.expect("stored");
}

#[tokio::test]
async fn each_dead_letter_is_announced_once_naming_the_order_and_why() {
    let chat = StandIn::slack().await;
    let toml = format!(
        r#"
[notification]
lease_secs = 30
send_timeout_ms = 5000
[notification.channels.ops]
kind = "slack"
url = "{}"
[[notification.rules]]
events = ["dlq.*"]
channels = ["ops"]
"#,
        chat.url("/hook")
    );
    let w = TestWorker::start(&toml).await;
    let first = letter("provisioning", 41);
    dead_letter(&w, &first, "dlq-1").await;
    // The same letter stored twice (a runner that died before its ack wrote it again).
    dead_letter(&w, &first, "dlq-1-again").await;
    // A letter about this consumer's own failure is not announced (no loop of letters).
    dead_letter(&w, &letter(DLQ_CONSUMER, 7), "dlq-own").await;
    w.settle().await;

    let seen = chat.seen();
    assert_eq!(seen.len(), 1, "one announcement");
    let text = seen[0].json()["text"].as_str().unwrap_or_default().to_owned();
    for expected in ["dead-lettered", "ORDER-DEAD-1", "inst-dead-1", "provisioning", "MKT.0101"] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let delivery = w.delivery("dlq:KOOFILL_INBOUND:41:provisioning", "ops").await;
    assert_eq!(delivery.event_type, "dlq.message");
    assert_eq!(delivery.state, "delivered");
}
