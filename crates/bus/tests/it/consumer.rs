use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_nats::HeaderMap;
use futures::StreamExt;
use koofill_bus::{
    BusError, Publisher,
    consumer::{
        Consumer, ConsumerMetrics, ConsumerPolicy, ConsumerSpec, DeadLetter, Delivery, ErrorClass, Handler,
        HandlerError, Outcome,
    },
    names,
};
use koofill_model::{Envelope, Family};
use serde::{Deserialize, Serialize};

use crate::{PREFIX, bus};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Job {
    /// Fail retryably this many times before succeeding.
    fail_times: u32,
    /// Fail permanently.
    poison: bool,
    /// Fail as a configuration error on the seller's side this many times.
    misconfigured_times: u32,
    /// Sleep this long (milliseconds) in the handler.
    sleep_ms: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("job failed ({0:?})")]
struct JobError(ErrorClass);

impl HandlerError for JobError {
    fn class(&self) -> ErrorClass {
        self.0
    }
}

#[derive(Debug, Default, Clone)]
struct Recorder {
    attempts: Arc<Mutex<HashMap<String, u32>>>,
    done: Arc<Mutex<Vec<String>>>,
    /// `Attempt::is_last` of every invocation, in order.
    told_last: Arc<Mutex<Vec<bool>>>,
}

impl Handler for Recorder {
    type Msg = Envelope<Job>;
    type Error = JobError;

    async fn handle(&self, d: &Delivery<Envelope<Job>>) -> Result<(), JobError> {
        let env = d.msg.clone();
        self.told_last.lock().unwrap().push(d.attempt.is_last);
        tokio::time::sleep(Duration::from_millis(env.data.sleep_ms)).await;
        let n = {
            let mut a = self.attempts.lock().unwrap();
            let n = a.entry(env.id.clone()).or_default();
            *n += 1;
            *n
        };
        if env.data.poison {
            return Err(JobError(ErrorClass::Permanent));
        }
        if n <= env.data.misconfigured_times {
            return Err(JobError(ErrorClass::Misconfigured));
        }
        if n <= env.data.fail_times {
            return Err(JobError(ErrorClass::Transient));
        }
        self.done.lock().unwrap().push(env.id);
        Ok(())
    }
}

fn spec(retry_horizon: Duration) -> ConsumerSpec {
    ConsumerSpec {
        stream: names::stream(PREFIX, names::INBOUND),
        durable: "provisioning-saas".into(),
        filter_subject: names::inbound_family(PREFIX, Family::Saas),
        policy: ConsumerPolicy {
            retry_horizon,
            handler_timeout: Duration::from_secs(10),
            ack_wait: Duration::from_secs(5),
            nak_base: Duration::from_millis(50),
            nak_max: Duration::from_millis(200),
            concurrency: 4,
            max_ack_pending: 16,
        },
    }
}

const DAY: Duration = Duration::from_secs(86_400);

async fn ensure(bus: &koofill_bus::Bus, spec: ConsumerSpec, handler: Recorder) -> Consumer<Recorder> {
    ensure_with(bus, spec, handler, ConsumerMetrics::default()).await
}

async fn ensure_with(
    bus: &koofill_bus::Bus,
    spec: ConsumerSpec,
    handler: Recorder,
    metrics: ConsumerMetrics,
) -> Consumer<Recorder> {
    Consumer::ensure(&bus.js, PREFIX, spec, handler, false, Duration::from_secs(2), metrics).await.unwrap()
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
    let consumer = ensure(&bus, spec(DAY), handler.clone()).await;
    publish(&publisher, "job-ok", Job::default()).await;
    publish(&publisher, "job-flaky", Job { fail_times: 2, ..Job::default() }).await;
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
    let mut s = spec(DAY);
    s.policy.nak_base = Duration::from_secs(2);
    s.policy.nak_max = Duration::from_secs(2);
    let handler = Recorder::default();
    let consumer = ensure(&bus, s, handler.clone()).await;
    publish(&publisher, "job-late", Job { fail_times: 1, ..Job::default() }).await;
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

/// Drains until something is dead-lettered or `limit` passes; returns the dead letters.
async fn drain_until_dead_lettered(
    bus: &koofill_bus::Bus,
    consumer: &Consumer<Recorder>,
    limit: Duration,
) -> Vec<DeadLetter> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        consumer.drain_until_empty().await.unwrap();
        let letters = dead_letters(bus).await;
        if !letters.is_empty() || tokio::time::Instant::now() > deadline {
            return letters;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn poison_goes_to_the_dlq_with_its_payload_and_is_not_redelivered() {
    let (_nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let handler = Recorder::default();
    let consumer = ensure(&bus, spec(DAY), handler.clone()).await;
    publish(&publisher, "job-poison", Job { poison: true, ..Job::default() }).await;
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
    let env: Envelope<Job> = serde_json::from_slice(&poison.payload().unwrap()).unwrap();
    assert!(env.data.poison);
    // The runner decodes; the handler never saw the garbage.
    let garbage = letters.iter().find(|l| l.payload().unwrap() == b"not json").unwrap();
    assert!(garbage.error.contains("Envelope"), "{}", garbage.error);
    assert!(!garbage.retryable);
    assert_eq!(handler.attempts.lock().unwrap().len(), 1, "only the poison job reached the handler");
}

#[tokio::test]
async fn retries_stop_at_the_horizon_counted_from_when_the_message_was_stored() {
    let (_nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let handler = Recorder::default();
    let consumer = ensure(&bus, spec(Duration::from_millis(700)), handler.clone()).await;
    publish(&publisher, "job-hopeless", Job { fail_times: 1000, ..Job::default() }).await;
    // Keep draining past the horizon: the message must be dead-lettered, not retried forever.
    let letters = drain_until_dead_lettered(&bus, &consumer, Duration::from_secs(5)).await;
    assert_eq!(letters.len(), 1, "dead-lettered once the horizon passed");
    assert!(letters[0].retryable);
    let attempts = handler.attempts.lock().unwrap()["job-hopeless"];
    assert!(attempts >= 2, "retried within the horizon ({attempts} attempts)");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(consumer.drain_until_empty().await.unwrap(), 0, "terminated, not redelivered");
    assert_eq!(handler.attempts.lock().unwrap()["job-hopeless"], attempts);
}

/// Retry or dead letter is decided as the handler was told when its attempt began: a handler
/// that runs across the horizon was not on its last attempt (provisioning marks an order failed
/// only on the last), so the message gets one more attempt, which is told it is the last.
#[tokio::test]
async fn a_handler_running_across_the_horizon_still_gets_a_last_attempt() {
    let (_nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let handler = Recorder::default();
    let consumer = ensure(&bus, spec(Duration::from_secs(1)), handler.clone()).await;
    publish(&publisher, "job-slow", Job { fail_times: 1000, sleep_ms: 1200, ..Job::default() }).await;
    let letters = drain_until_dead_lettered(&bus, &consumer, Duration::from_secs(15)).await;
    assert_eq!(letters.len(), 1);
    let told = handler.told_last.lock().unwrap().clone();
    assert_eq!(told, [false, true], "dead-lettered after the attempt told it was the last, not before");
}

#[tokio::test]
async fn a_configuration_error_is_retried_and_counted_not_dead_lettered() {
    let (_nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let handler = Recorder::default();
    let metrics = ConsumerMetrics::default();
    let consumer = ensure_with(&bus, spec(DAY), handler.clone(), metrics.clone()).await;
    publish(&publisher, "job-401", Job { misconfigured_times: 3, ..Job::default() }).await;
    drain_until(&consumer, || !handler.done.lock().unwrap().is_empty()).await;
    assert_eq!(handler.done.lock().unwrap().as_slice(), ["job-401"]);
    assert_eq!(handler.attempts.lock().unwrap()["job-401"], 4);
    let labels = koofill_bus::consumer::ConsumerLabels { consumer: "provisioning-saas".into() };
    assert_eq!(metrics.misconfigured.get_or_create(&labels).get(), 3);
    assert!(dead_letters(&bus).await.is_empty());
}

#[tokio::test]
async fn a_handler_past_its_deadline_is_abandoned_and_retried() {
    let (_nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let handler = Recorder::default();
    let metrics = ConsumerMetrics::default();
    let mut s = spec(DAY);
    s.policy.handler_timeout = Duration::from_millis(200);
    // The retry waits longer than the drain, which then sees the one abandoned attempt.
    s.policy.nak_base = Duration::from_secs(2);
    s.policy.nak_max = Duration::from_secs(2);
    let consumer = ensure_with(&bus, s, handler.clone(), metrics.clone()).await;
    publish(&publisher, "job-stuck", Job { sleep_ms: 60_000, ..Job::default() }).await;
    let started = tokio::time::Instant::now();
    assert_eq!(consumer.drain_until_empty().await.unwrap(), 1);
    assert!(started.elapsed() < Duration::from_secs(5), "abandoned at the deadline, not after the sleep");
    let labels = koofill_bus::consumer::ConsumerLabels { consumer: "provisioning-saas".into() };
    assert_eq!(metrics.timeouts.get_or_create(&labels).get(), 1);
    assert!(dead_letters(&bus).await.is_empty(), "a timeout is transient");
}

/// Messages fetched but not started must not outlive `ack_wait` in a client buffer, or another
/// delivery would hand them out again: with a slow handler, a short `ack_wait` and more messages
/// than slots, every message is still handled exactly once.
#[tokio::test]
async fn buffered_messages_never_outlive_ack_wait() {
    let (_nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let handler = Recorder::default();
    let mut s = spec(DAY);
    s.policy.ack_wait = Duration::from_secs(1);
    s.policy.concurrency = 2;
    let consumer = ensure(&bus, s, handler.clone()).await;
    let jobs: Vec<String> = (0..8).map(|i| format!("job-slow-{i}")).collect();
    for id in &jobs {
        publish(&publisher, id, Job { sleep_ms: 700, ..Job::default() }).await;
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn({
        let (consumer, stop) = (consumer.clone(), stop.clone());
        async move { consumer.run(stop, Duration::from_secs(5)).await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while handler.done.lock().unwrap().len() < jobs.len() {
        assert!(tokio::time::Instant::now() < deadline, "not all handled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Longer than ack_wait: a message handed out twice would show up now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.cancel();
    running.await.unwrap().unwrap();
    let attempts = handler.attempts.lock().unwrap().clone();
    for id in &jobs {
        assert_eq!(attempts.get(id), Some(&1), "{id} handled once: {attempts:?}");
    }
}

#[tokio::test]
async fn consumer_drift_is_refused_unless_reconciled() {
    let (_nats, bus) = bus().await;
    ensure(&bus, spec(DAY), Recorder::default()).await;
    let mut wider = spec(DAY);
    wider.policy.max_ack_pending = 64;
    let err = Consumer::ensure(
        &bus.js,
        PREFIX,
        wider.clone(),
        Recorder::default(),
        false,
        Duration::from_secs(2),
        ConsumerMetrics::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(&err, BusError::Drift(m) if m.contains("max_ack_pending is 16, expected 64")), "{err}");
    Consumer::ensure(
        &bus.js,
        PREFIX,
        wider.clone(),
        Recorder::default(),
        true,
        Duration::from_secs(2),
        ConsumerMetrics::default(),
    )
    .await
    .unwrap();
    // Now in line with the configuration: accepted without reconciling.
    ensure(&bus, wider, Recorder::default()).await;
}

#[tokio::test]
async fn process_one_reports_the_outcome() {
    let (_nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let consumer = ensure(&bus, spec(DAY), Recorder::default()).await;
    publish(&publisher, "job-a", Job { fail_times: 1, ..Job::default() }).await;
    let stream = bus.js.get_stream(names::stream(PREFIX, names::INBOUND)).await.unwrap();
    let raw: async_nats::jetstream::consumer::PullConsumer = stream.get_consumer("provisioning-saas").await.unwrap();
    let msg = raw.fetch().max_messages(1).messages().await.unwrap().next().await.unwrap().unwrap();
    assert_eq!(consumer.process_one(msg).await, Outcome::Retried(Duration::from_millis(50)));
}
