//! Digest rules: high-volume events batched into one message per channel and period, each event
//! in exactly one digest, sent when the period ends.

use std::time::Duration;

use koofill_notification::digest;
use serde_json::json;

use crate::{stand_in::StandIn, support::TestWorker};

fn config(url: &str) -> String {
    format!(
        r#"
[notification]
lease_secs = 30
send_timeout_ms = 5000
[notification.channels.ops]
kind = "slack"
url = "{url}"
[[notification.rules]]
events = ["usage.*"]
channels = ["ops"]
digest_secs = 300
[[notification.rules]]
events = ["instance.*"]
channels = ["ops"]
"#
    )
}

#[tokio::test]
async fn a_digest_sends_one_message_per_period_listing_each_event_once() {
    let chat = StandIn::slack().await;
    let w = TestWorker::start(&config(&chat.url("/hook"))).await;
    for (i, instance) in ["inst-a", "inst-b", "inst-c"].iter().enumerate() {
        let id = format!("ev-usage-{i}");
        w.publish(&id, &id, "usage.window_pushed", false, json!({"instance_id": instance})).await;
    }
    // The same event again (a producer's redelivery, stored as a new stream message).
    w.publish("ev-usage-1", "ev-usage-1-again", "usage.window_pushed", false, json!({"instance_id": "inst-b"})).await;
    w.publish("ev-open", "ev-open", "instance.active", false, json!({"instance_id": "inst-z"})).await;
    w.settle().await;
    // Not digested: at once. Digested: not before the period ends.
    assert_eq!(chat.seen().len(), 1, "only the instance event went out");
    assert!(chat.seen()[0].json()["text"].as_str().unwrap_or_default().contains("inst-z"));

    w.clock.advance(Duration::from_secs(300));
    w.settle().await;
    let seen = chat.seen();
    assert_eq!(seen.len(), 2, "one digest for the period");
    let text = seen[1].json()["text"].as_str().unwrap_or_default().to_owned();
    for instance in ["inst-a", "inst-b", "inst-c"] {
        assert_eq!(text.matches(instance).count(), 1, "{instance} listed once in {text}");
    }
    assert!(text.contains("3 events"), "{text}");

    // The next period's events make the next digest; the first is not sent again.
    w.publish("ev-usage-9", "ev-usage-9", "usage.window_pushed", false, json!({"instance_id": "inst-d"})).await;
    w.settle().await;
    assert_eq!(chat.seen().len(), 2);
    w.clock.advance(Duration::from_secs(300));
    w.settle().await;
    let seen = chat.seen();
    assert_eq!(seen.len(), 3);
    let text = seen[2].json()["text"].as_str().unwrap_or_default().to_owned();
    assert!(text.contains("inst-d") && !text.contains("inst-a"), "{text}");
}

#[tokio::test]
async fn a_digest_lists_fifty_lines_and_counts_the_rest() {
    let chat = StandIn::slack().await;
    let w = TestWorker::start(&config(&chat.url("/hook"))).await;
    for i in 0..(digest::MAX_LINES + 7) {
        let id = format!("ev-{i}");
        w.publish(&id, &id, "usage.window_pushed", false, json!({"instance_id": format!("inst-{i:03}")})).await;
    }
    w.settle().await;
    w.clock.advance(Duration::from_secs(300));
    w.settle().await;
    let seen = chat.seen();
    assert_eq!(seen.len(), 1);
    let text = seen[0].json()["text"].as_str().unwrap_or_default().to_owned();
    assert!(text.contains("57 events"), "{text}");
    assert!(text.contains("inst-049") && !text.contains("inst-050"), "the first 50 listed: {text}");
    assert!(text.contains("and 7 more"), "{text}");
}
