//! One event, three channels: three deliveries, and still three after the event comes again
//! and after the worker dies mid-send.

use std::time::Duration;

use koofill_signing::webhook::WebhookSecret;
use serde_json::json;

use crate::{
    stand_in::{Reply, Seen, StandIn, now_secs},
    support::{TestWorker, eventually},
};

const WEBHOOK_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

/// The seller's receiver: the Standard Webhooks check with the reference libraries' ±5 minutes.
fn verify_webhook(seen: &Seen) -> Result<(), String> {
    let header =
        |n: &str| seen.headers.get(n).and_then(|v| v.to_str().ok()).ok_or(format!("no {n}")).map(str::to_owned);
    let secret = WebhookSecret::parse(WEBHOOK_SECRET).map_err(|e| e.to_string())?;
    secret
        .verify(
            &header("webhook-id")?,
            &header("webhook-timestamp")?,
            &header("webhook-signature")?,
            &seen.body,
            now_secs(),
            300,
        )
        .map_err(|e| e.to_string())
}

fn ok_json(seen: &Seen) -> Result<(), String> {
    serde_json::from_slice::<serde_json::Value>(&seen.body).map(|_| ()).map_err(|e| e.to_string())
}

async fn three_channels(webhook_replies: Vec<Reply>) -> (StandIn, StandIn, StandIn, String) {
    let webhook = StandIn::start(Reply::Answer(204, ""), Reply::Answer(401, ""), webhook_replies, verify_webhook).await;
    let wecom =
        StandIn::start(Reply::Answer(200, r#"{"errcode":0,"errmsg":"ok"}"#), Reply::Answer(200, "{}"), vec![], ok_json)
            .await;
    let slack = StandIn::start(Reply::Answer(200, "ok"), Reply::Answer(400, "invalid_payload"), vec![], ok_json).await;
    let toml = format!(
        r#"
[notification]
lease_secs = 30
send_timeout_ms = 5000
[notification.channels.seller]
kind = "webhook"
url = "{}"
secret = "{WEBHOOK_SECRET}"
[notification.channels.team]
kind = "wecom"
url = "{}"
[notification.channels.chat]
kind = "slack"
url = "{}"
[[notification.rules]]
events = ["instance.*"]
channels = ["seller", "team"]
[[notification.rules]]
events = ["*.failed"]
channels = ["team", "chat"]
"#,
        webhook.url("/hooks/koofill"),
        wecom.url("/cgi-bin/webhook/send?key=robot-key"),
        slack.url("/services/T/B/X"),
    );
    (webhook, wecom, slack, toml)
}

#[tokio::test]
async fn one_event_reaches_three_channels_once_even_when_it_comes_again() {
    let (webhook, wecom, slack, toml) = three_channels(vec![]).await;
    let w = TestWorker::start(&toml).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn({
        let (worker, stop) = (w.worker.clone(), shutdown.clone());
        async move { worker.run(stop).await }
    });
    let data =
        json!({"type": "instance.failed", "instance_id": "i-1", "order_id": "CS1", "reason": "provisioner down"});
    w.publish("evt-1", "evt-1", "instance.failed", false, data.clone()).await;

    let rows = eventually("three deliveries delivered", || async {
        let rows = w.deliveries("evt-1").await;
        (rows.len() == 3 && rows.iter().all(|r| r.state == "delivered")).then_some(rows)
    })
    .await;
    assert_eq!(rows.iter().map(|r| r.channel_id.as_str()).collect::<Vec<_>>(), ["chat", "seller", "team"]);
    assert!(rows.iter().all(|r| r.attempts == 1));

    // The same event again (a producer's retry stored under a new stream id): nothing new.
    w.publish("evt-1", "evt-1-again", "instance.failed", false, data).await;
    eventually("the repeat is consumed", || async {
        let pending = w.worker.host().bus().js.get_stream("KOOFILL_EVENTS").await.ok()?;
        let mut consumer =
            pending.get_consumer::<async_nats::jetstream::consumer::pull::Config>("notification").await.ok()?;
        let info = consumer.info().await.ok()?;
        (info.num_pending == 0 && info.num_ack_pending == 0).then_some(())
    })
    .await;
    w.worker.dispatch_due().await.expect("dispatched");
    assert_eq!(w.deliveries("evt-1").await.len(), 3);
    for (name, s) in [("webhook", &webhook), ("wecom", &wecom), ("slack", &slack)] {
        assert_eq!(s.seen().len(), 1, "{name} received the event once");
        s.assert_all_verified();
    }

    // What each provider received.
    let hook = &webhook.seen()[0];
    assert_eq!(hook.headers["webhook-id"], rows[1].id.as_str());
    let body = hook.json();
    assert_eq!(body["type"], "instance.failed");
    assert_eq!(body["data"]["order_id"], "CS1");
    assert_eq!(wecom.seen()[0].query, "key=robot-key");
    let md = wecom.seen()[0].json();
    assert_eq!(md["msgtype"], "markdown");
    assert!(md["markdown"]["content"].as_str().unwrap().contains("**Instance could not be opened**"), "{md}");
    assert!(slack.seen()[0].json()["text"].as_str().unwrap().contains("*Order*: CS1"));

    let metrics = w.worker.host().render_metrics();
    assert!(
        metrics.contains(r#"koofill_worker_notification_deliveries_total{worker="koofill-notification",channel="team",outcome="delivered"} 1"#)
            || metrics.contains(r#"channel="team",outcome="delivered"} 1"#),
        "{metrics}"
    );
    shutdown.cancel();
    running.await.expect("joined").expect("worker stopped cleanly");
}

#[tokio::test]
async fn a_worker_killed_mid_send_resends_the_same_delivery_and_only_that_one() {
    // The seller's endpoint takes the first request and never answers: the sender is killed
    // while it waits, after the provider may already have acted on it.
    let (webhook, wecom, slack, toml) = three_channels(vec![Reply::Hang]).await;
    let w = TestWorker::start(&toml).await;
    w.publish("evt-2", "evt-2", "instance.failed", false, json!({"instance_id": "i-2", "order_id": "CS2"})).await;
    w.worker.drain().await.expect("drained");
    assert_eq!(w.deliveries("evt-2").await.len(), 3);

    let sending = tokio::spawn({
        let worker = w.worker.clone();
        async move { worker.dispatch_due().await }
    });
    eventually("the webhook request arrives", || async { (webhook.seen().len() == 1).then_some(()) }).await;
    eventually("the other channels are delivered", || async {
        let done = w.deliveries("evt-2").await.iter().filter(|r| r.state == "delivered").count();
        (done == 2).then_some(())
    })
    .await;
    sending.abort(); // the process dies mid-send
    let _ = sending.await;
    assert_eq!(w.delivery("evt-2", "seller").await.state, "sending");

    // A restarted worker: the claim still holds within its lease…
    assert_eq!(w.settle().await, 0);
    assert_eq!(webhook.seen().len(), 1);
    // …and once it runs out the same delivery is sent again, with the same id.
    w.clock.advance(Duration::from_secs(31));
    assert_eq!(w.settle().await, 1);
    let seller = w.delivery("evt-2", "seller").await;
    assert_eq!(seller.state, "delivered");
    assert_eq!(seller.attempts, 2);
    let seen = webhook.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].headers["webhook-id"], seen[1].headers["webhook-id"]);
    assert_eq!(seen[1].headers["webhook-id"], seller.id.as_str());
    webhook.assert_all_verified();

    // The others were not sent again, and there are still three deliveries.
    assert_eq!(wecom.seen().len(), 1);
    assert_eq!(slack.seen().len(), 1);
    let rows = w.deliveries("evt-2").await;
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.state == "delivered"));
}

#[test]
fn the_standard_webhooks_test_vector_verifies() {
    // notification-channels.md: the reference libraries' vector.
    let secret = WebhookSecret::parse(WEBHOOK_SECRET).expect("secret");
    let body = br#"{"email":"test@example.com","username":"test_user"}"#;
    let sig = secret.sign("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1_649_367_553, body);
    assert_eq!(sig, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    secret
        .verify("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", "1649367553", &sig, body, 1_649_367_553 + 299, 300)
        .expect("verifies within five minutes");
    assert!(
        secret.verify("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", "1649367553", &sig, body, 1_649_367_553 + 301, 300).is_err()
    );
}
