use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_nats::HeaderMap;
use futures::StreamExt;
use koofill_bus::{
    BusError, Publisher,
    consumer::{Consumer, ConsumerPolicy, ConsumerSpec, DeadLetter, Delivery, Handler, HandlerError, Outcome},
    names,
};
use koofill_model::{Envelope, Family};
use serde::{Deserialize, Serialize};

use crate::{PREFIX, bus};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    /// Fail retryably this many times before succeeding.
    fail_times: u32,
    /// Fail permanently.
    poison: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("job failed (retryable: {0})")]
struct JobError(bool);

impl HandlerError for JobError {
    fn is_retryable(&self) -> bool {
        self.0
    }
}

#[derive(Debug, Default, Clone)]
struct Recorder {
    attempts: Arc<Mutex<HashMap<String, u32>>>,
    done: Arc<Mutex<Vec<String>>>,
}

impl Handler for Recorder {
    type Error = JobError;

    async fn handle(&self, d: &Delivery) -> Result<(), JobError> {
        let env: Envelope<Job> = d.decode().map_err(|_| JobError(false))?;
        let n = {
            let mut a = self.attempts.lock().unwrap();
            let n = a.entry(env.id.clone()).or_default();
            *n += 1;
            *n
        };
        if env.data.poison {
            return Err(JobError(false));
        }
        if n <= env.data.fail_times {
            return Err(JobError(true));
        }
        self.done.lock().unwrap().push(env.id);
        Ok(())
    }
}

fn spec(max_deliver: i64) -> ConsumerSpec {
    ConsumerSpec {
        stream: names::stream(PREFIX, names::INBOUND),
        durable: "provisioning-saas".into(),
        filter_subject: names::inbound_family(PREFIX, Family::Saas),
        policy: ConsumerPolicy {
            max_deliver,
            ack_wait: Duration::from_secs(5),
            nak_base: Duration::from_millis(50),
            nak_max: Duration::from_millis(200),
            concurrency: 4,
            max_ack_pending: 16,
        },
    }
}

async fn publish(publisher: &Publisher, id: &str, job: Job) {
    let env = Envelope::new(id, "saas.newInstance", "test", chrono::Utc::now(), false, job);
    publisher.publish(&names::inbound(PREFIX, Family::Saas, "newInstance"), &env).await.unwrap();
}

/// Drains until `done` holds `want` items or the deadline passes (NAK delays are short).
async fn drain_until<H: Handler>(consumer: &Consumer<H>, mut done: impl FnMut() -> bool) {
    for _ in 0..100 {
        consumer.drain_until_empty().await.unwrap();
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn publisher_deduplicates_by_envelope_id() {
    let (_nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let env = Envelope::new("newInstance:O1:O1-1", "saas.newInstance", "test", chrono::Utc::now(), false, 1u8);
    let subject = names::inbound(PREFIX, Family::Saas, "newInstance");
    let first = publisher.publish(&subject, &env).await.unwrap();
    let second = publisher.publish(&subject, &env).await.unwrap();
    assert!(!first.duplicate);
    assert!(second.duplicate);
    assert_eq!(first.sequence, second.sequence);
    let mut stream = bus.js.get_stream(names::stream(PREFIX, names::INBOUND)).await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
}

#[tokio::test]
async fn retryable_failures_are_retried_then_acked_once() {
    let (_nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let handler = Recorder::default();
    let consumer =
        Consumer::ensure(&bus.js, PREFIX, spec(6), handler.clone(), false, Duration::from_secs(2)).await.unwrap();
    publish(&publisher, "job-ok", Job { fail_times: 0, poison: false }).await;
    publish(&publisher, "job-flaky", Job { fail_times: 2, poison: false }).await;
    drain_until(&consumer, || handler.done.lock().unwrap().len() == 2).await;

    let done = handler.done.lock().unwrap().clone();
    assert_eq!(done.iter().filter(|d| *d == "job-flaky").count(), 1, "{done:?}");
    assert_eq!(handler.attempts.lock().unwrap()["job-flaky"], 3);
    assert_eq!(handler.attempts.lock().unwrap()["job-ok"], 1);
    // Nothing left: every message was acknowledged.
    assert_eq!(consumer.drain_until_empty().await.unwrap(), 0);
}

#[tokio::test]
async fn a_nak_is_delayed_not_immediate() {
    let (_nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let mut s = spec(6);
    s.policy.nak_base = Duration::from_secs(2);
    s.policy.nak_max = Duration::from_secs(2);
    let handler = Recorder::default();
    let consumer = Consumer::ensure(&bus.js, PREFIX, s, handler.clone(), false, Duration::from_secs(2)).await.unwrap();
    publish(&publisher, "job-late", Job { fail_times: 1, poison: false }).await;
    assert_eq!(consumer.drain_until_empty().await.unwrap(), 1);
    // Straight after the NAK nothing is redelivered (a plain NAK would redeliver at once).
    assert_eq!(consumer.drain_until_empty().await.unwrap(), 0);
    drain_until(&consumer, || !handler.done.lock().unwrap().is_empty()).await;
    assert_eq!(handler.done.lock().unwrap().as_slice(), ["job-late"]);
}

async fn dead_letters(bus: &koofill_bus::Bus) -> Vec<DeadLetter> {
    let stream = bus.js.get_stream(names::stream(PREFIX, names::DLQ)).await.unwrap();
    let consumer =
        stream.create_consumer(async_nats::jetstream::consumer::pull::Config { ..Default::default() }).await.unwrap();
    let mut batch = consumer.fetch().max_messages(10).messages().await.unwrap();
    let mut out = Vec::new();
    while let Some(m) = batch.next().await {
        out.push(serde_json::from_slice(&m.unwrap().payload).unwrap());
    }
    out
}

#[tokio::test]
async fn poison_goes_to_the_dlq_with_its_payload_and_is_not_redelivered() {
    let (_nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let handler = Recorder::default();
    let consumer =
        Consumer::ensure(&bus.js, PREFIX, spec(6), handler.clone(), false, Duration::from_secs(2)).await.unwrap();
    publish(&publisher, "job-poison", Job { fail_times: 0, poison: true }).await;
    // Not even an envelope: fails to decode, which is permanent too.
    publisher
        .publish_raw(
            &names::inbound(PREFIX, Family::Saas, "newInstance"),
            "garbage-1",
            HeaderMap::new(),
            "not json".into(),
        )
        .await
        .unwrap();
    assert_eq!(consumer.drain_until_empty().await.unwrap(), 2);
    assert_eq!(consumer.drain_until_empty().await.unwrap(), 0, "terminated, not redelivered");

    let letters = dead_letters(&bus).await;
    assert_eq!(letters.len(), 2, "{letters:?}");
    let poison =
        letters.iter().find(|l| l.headers.get("Nats-Msg-Id").map(String::as_str) == Some("job-poison")).unwrap();
    assert_eq!(poison.consumer, "provisioning-saas");
    assert_eq!(poison.subject, "koofill.inbound.saas.newInstance");
    assert!(!poison.retryable);
    assert_eq!(poison.delivered, 1);
    let env: Envelope<Job> = serde_json::from_slice(&poison.payload()).unwrap();
    assert!(env.data.poison);
    let garbage = letters.iter().find(|l| l.payload() == b"not json").unwrap();
    assert!(garbage.error.contains("job failed"), "{}", garbage.error);
}

#[tokio::test]
async fn exhausted_retries_are_dead_lettered() {
    let (_nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let handler = Recorder::default();
    let consumer =
        Consumer::ensure(&bus.js, PREFIX, spec(3), handler.clone(), false, Duration::from_secs(2)).await.unwrap();
    publish(&publisher, "job-hopeless", Job { fail_times: 100, poison: false }).await;
    drain_until(&consumer, || handler.attempts.lock().unwrap().get("job-hopeless") == Some(&3)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(consumer.drain_until_empty().await.unwrap(), 0);
    assert_eq!(handler.attempts.lock().unwrap()["job-hopeless"], 3, "max_deliver bounds the attempts");
    let letters = dead_letters(&bus).await;
    assert_eq!(letters.len(), 1);
    assert!(letters[0].retryable);
    assert_eq!(letters[0].delivered, 3);
}

#[tokio::test]
async fn consumer_drift_is_refused_unless_reconciled() {
    let (_nats, bus) = bus().await;
    Consumer::ensure(&bus.js, PREFIX, spec(6), Recorder::default(), false, Duration::from_secs(2)).await.unwrap();
    let mut wider = spec(6);
    wider.policy.max_ack_pending = 64;
    let err = Consumer::ensure(&bus.js, PREFIX, wider.clone(), Recorder::default(), false, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(matches!(&err, BusError::Drift(m) if m.contains("max_ack_pending is 16, expected 64")), "{err}");
    Consumer::ensure(&bus.js, PREFIX, wider.clone(), Recorder::default(), true, Duration::from_secs(2)).await.unwrap();
    // Now in line with the configuration: accepted without reconciling.
    Consumer::ensure(&bus.js, PREFIX, wider, Recorder::default(), false, Duration::from_secs(2)).await.unwrap();
}

#[tokio::test]
async fn process_one_reports_the_outcome() {
    let (_nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let consumer =
        Consumer::ensure(&bus.js, PREFIX, spec(6), Recorder::default(), false, Duration::from_secs(2)).await.unwrap();
    publish(&publisher, "job-a", Job { fail_times: 1, poison: false }).await;
    let stream = bus.js.get_stream(names::stream(PREFIX, names::INBOUND)).await.unwrap();
    let raw: async_nats::jetstream::consumer::PullConsumer = stream.get_consumer("provisioning-saas").await.unwrap();
    let msg = raw.fetch().max_messages(1).messages().await.unwrap().next().await.unwrap().unwrap();
    assert_eq!(consumer.process_one(msg).await, Outcome::Retried(Duration::from_millis(50)));
}
