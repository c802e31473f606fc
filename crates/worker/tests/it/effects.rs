//! What a handled message leaves behind: one effect and one event, or one dead letter.

use koofill_bus::dlq;
use koofill_model::DomainEvent;

use crate::{
    greeter::GREETER,
    support::{TestHost, WORKER, sample},
};

#[tokio::test]
async fn a_message_delivered_twice_takes_effect_once() {
    let t = TestHost::start().await;
    // The same envelope under two `Nats-Msg-Id`s: JetStream stores both, the inbox catches it.
    t.greet("greeting-1", "greeting-1", "CS1").await;
    t.greet("greeting-1", "greeting-1:resent", "CS1").await;

    assert_eq!(t.host.drain().await.unwrap(), 2);

    assert_eq!(t.greeter.handler().attempts(), 2, "both copies reached the handler");
    let acked = sample(
        &t.host.render_metrics(),
        "koofill_worker_messages_total",
        &[r#"consumer="greeter""#, r#"outcome="ack""#],
    );
    assert_eq!(acked, Some(2.0), "a duplicate is acknowledged, not retried or dead-lettered");
    assert!(dlq::list(t.host.bus()).await.unwrap().is_empty(), "no dead letters");
    assert_eq!(t.orders().await, 1, "one order row");
    let events = t.events("order.received").await;
    assert_eq!(events.len(), 1, "one event published: {events:?}");
    assert_eq!(events[0].id, "greeting-1:order.received");
    assert_eq!(events[0].source, "greeter");
    assert!(
        matches!(&events[0].data, DomainEvent::OrderReceived { order_id, .. } if order_id.as_str() == "CS1"),
        "{:?}",
        events[0].data
    );
    assert_eq!(koofill_store::outbox::pending_count(t.host.db()).await.unwrap(), 0, "outbox published");
}

#[tokio::test]
async fn a_permanent_failure_is_dead_lettered_after_one_attempt() {
    let t = TestHost::start().await;
    t.greet("greeting-bad", "greeting-bad", "").await;

    assert_eq!(t.host.drain().await.unwrap(), 1);

    let letters = dlq::list(t.host.bus()).await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0].letter;
    assert_eq!(letter.consumer, GREETER);
    assert!(letter.error.contains("order_id is empty"), "reason kept: {}", letter.error);
    assert!(!letter.retryable);
    assert_eq!(letter.delivered, 1);
    assert_eq!(letter.headers.get(dlq::MSG_ID).map(String::as_str), Some("greeting-bad"));

    // Terminated, not redelivered; and nothing took effect.
    assert_eq!(t.host.drain().await.unwrap(), 0);
    assert_eq!(t.greeter.handler().attempts(), 1);
    assert_eq!(t.orders().await, 0);
    assert!(t.events("order.received").await.is_empty());
    let metrics = t.host.render_metrics();
    let worker = format!(r#"worker="{WORKER}""#);
    let dead = sample(
        &metrics,
        "koofill_worker_messages_total",
        &[r#"consumer="greeter""#, r#"outcome="dead_lettered""#, &worker],
    );
    assert_eq!(dead, Some(1.0), "{metrics}");
}
