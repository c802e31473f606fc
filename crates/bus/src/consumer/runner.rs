//! The runner: creates (or checks) the durable consumer, fetches, handles and settles.

use std::{panic::AssertUnwindSafe, sync::Arc, time::Duration};

use async_nats::jetstream::{
    self, AckKind, ErrorCode,
    consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull},
    context::ConsumerInfoErrorKind,
};
use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::Instrument;

use super::{
    Attempt, ConsumerMetrics, ConsumerSpec, DeadLetter, Delivery, ErrorClass, Handler, HandlerError, RawDelivery,
};
use crate::{BusError, Publisher, names};

/// How long one pull request waits on the server for messages before it is renewed. Short
/// enough that a stop is noticed promptly, long enough not to busy-poll an idle stream.
const PULL_EXPIRES: Duration = Duration::from_secs(5);
/// How long after [`PULL_EXPIRES`] a pull is given up locally. nats-server 2.9 drops a request
/// that expires while it is matching a message to it without sending the closing "408 Request
/// Timeout"; async-nats would then wait five more seconds, and the worker would pull nothing.
/// Past the expiry the server sends nothing more for the request, so a second is ample.
const PULL_GRACE: Duration = Duration::from_secs(1);
/// How long [`Consumer::drain_until_empty`] waits before it confirms that nothing is left.
/// nats-server acknowledges a publish before it counts the message for its consumers, so a
/// no-wait fetch right after a publish can find nothing; an empty fetch is repeated once after
/// this pause before the drain ends.
const DRAIN_SETTLE: Duration = Duration::from_millis(50);
/// The longest a drain waits for the server's next answer to one fetch (handlers' time not
/// counted). A no-wait fetch without expiry is answered at once, but the server parks it when the
/// consumer is at `max_ack_pending`; this bounds that wait.
const DRAIN_STALL: Duration = Duration::from_secs(10);

/// How a message was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Handled and acknowledged.
    Acked,
    /// Failed; negatively acknowledged to come back after the delay.
    Retried(Duration),
    /// Copied to the dead-letter subject and terminated.
    DeadLettered,
}

/// A durable pull consumer bound to a handler. Cheap to clone.
#[derive(Debug)]
pub struct Consumer<H> {
    inner: Arc<Inner<H>>,
}

impl<H> Clone for Consumer<H> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner) }
    }
}

#[derive(Debug)]
struct Inner<H> {
    spec: ConsumerSpec,
    prefix: String,
    handler: H,
    consumer: PullConsumer,
    dlq: Publisher,
    metrics: ConsumerMetrics,
}

/// Why a handler invocation produced no result.
#[derive(Debug, thiserror::Error)]
enum Abandoned {
    #[error("handler panicked")]
    Panicked,
    #[error("handler did not finish within its deadline of {0:?}")]
    TimedOut(Duration),
}

fn pull_config(spec: &ConsumerSpec) -> pull::Config {
    pull::Config {
        durable_name: Some(spec.durable.clone()),
        filter_subject: spec.filter_subject.clone(),
        ack_policy: AckPolicy::Explicit,
        deliver_policy: DeliverPolicy::All,
        ack_wait: spec.policy.ack_wait,
        // The server never gives up on its own: the runner decides, from the message's age, to
        // dead-letter. A server-side limit would strand a message whose last delivery failed to
        // dead-letter (or whose process died), with no one left to decide.
        max_deliver: -1,
        max_ack_pending: spec.policy.max_ack_pending,
        ..Default::default()
    }
}

/// Differences between a deployed consumer and the spec, one line each.
pub(crate) fn consumer_drift(spec: &ConsumerSpec, actual: &jetstream::consumer::Config) -> Vec<String> {
    let expected = pull_config(spec);
    let mut out = Vec::new();
    let mut check = |field: &str, e: String, a: String| {
        if e != a {
            out.push(format!("consumer {}: {field} is {a}, expected {e}", spec.durable));
        }
    };
    check("filter_subject", expected.filter_subject.clone(), actual.filter_subject.clone());
    check("ack_policy", format!("{:?}", expected.ack_policy), format!("{:?}", actual.ack_policy));
    check("ack_wait", format!("{:?}", expected.ack_wait), format!("{:?}", actual.ack_wait));
    check("max_deliver", expected.max_deliver.to_string(), actual.max_deliver.to_string());
    check("max_ack_pending", expected.max_ack_pending.to_string(), actual.max_ack_pending.to_string());
    out
}

/// When the server first stored a message, from its delivery metadata.
fn stored_at(info: &jetstream::message::Info<'_>) -> DateTime<Utc> {
    let nanos = info.published.unix_timestamp_nanos();
    let secs = i64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(0);
    let sub = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    DateTime::from_timestamp(secs, sub).unwrap_or_else(Utc::now)
}

impl<H: Handler> Consumer<H> {
    /// Creates the durable consumer if missing, or checks an existing one against `spec`.
    ///
    /// nats-server 2.9 silently ignores "strict" creation, so drift is detected here: a consumer
    /// whose settings differ is refused (service start fails) unless `reconcile` is set, in which
    /// case its editable settings are updated.
    ///
    /// # Errors
    /// [`BusError::Drift`] on drift without `reconcile`; [`BusError::JetStream`] otherwise.
    pub async fn ensure(
        js: &jetstream::Context,
        prefix: &str,
        spec: ConsumerSpec,
        handler: H,
        reconcile: bool,
        publish_timeout: Duration,
        metrics: ConsumerMetrics,
    ) -> Result<Self, BusError> {
        let stream =
            js.get_stream(&spec.stream).await.map_err(|e| BusError::js(format!("get stream {}", spec.stream), e))?;
        // Only "not found" means "create it": a timeout or an unreachable server must not make
        // us try to create over an existing consumer.
        let existing = match stream.consumer_info(&spec.durable).await {
            Ok(_) => Some(
                stream
                    .get_consumer::<pull::Config>(&spec.durable)
                    .await
                    .map_err(|e| BusError::js(format!("get consumer {}", spec.durable), e))?,
            ),
            Err(e) if matches!(e.kind(), ConsumerInfoErrorKind::NotFound) => None,
            Err(e) if matches!(e.kind(), ConsumerInfoErrorKind::JetStream(ref j) if j.error_code() == ErrorCode::CONSUMER_NOT_FOUND) => {
                None
            }
            Err(e) => return Err(BusError::js(format!("consumer info {}", spec.durable), e)),
        };
        let consumer: PullConsumer = match existing {
            Some(mut existing) => {
                let info = existing.info().await.map_err(|e| BusError::js("consumer info", e))?;
                let drift = consumer_drift(&spec, &info.config);
                if drift.is_empty() {
                    existing
                } else if reconcile {
                    tracing::warn!(?drift, consumer = %spec.durable, "updating consumer to the configured settings");
                    // 2.9 has no create-vs-update action: creating an existing durable updates
                    // its editable settings.
                    stream
                        .create_consumer(pull_config(&spec))
                        .await
                        .map_err(|e| BusError::js(format!("update consumer {}", spec.durable), e))?;
                    stream.get_consumer(&spec.durable).await.map_err(|e| BusError::js("get consumer", e))?
                } else {
                    return Err(BusError::Drift(format!(
                        "{}; start with --reconcile-bus to update it",
                        drift.join("; ")
                    )));
                }
            }
            None => stream
                .create_consumer(pull_config(&spec))
                .await
                .map_err(|e| BusError::js(format!("create consumer {}", spec.durable), e))?,
        };
        let dlq = Publisher::new(js.clone(), publish_timeout);
        metrics.init_consumer(&spec.durable);
        Ok(Self { inner: Arc::new(Inner { spec, prefix: prefix.to_owned(), handler, consumer, dlq, metrics }) })
    }

    /// The consumer's spec.
    pub fn spec(&self) -> &ConsumerSpec {
        &self.inner.spec
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.inner.handler
    }

    /// Asks the server how far behind the consumer is and records it in the metrics; returns
    /// `(pending, ack_pending)`.
    ///
    /// # Errors
    /// [`BusError::JetStream`] when the server does not answer, or the consumer is gone.
    pub async fn poll_lag(&self) -> Result<(u64, usize), BusError> {
        let info = self.inner.consumer.get_info().await.map_err(|e| BusError::js("consumer info", e))?;
        let labels = ConsumerMetrics::labels(&self.inner.spec.durable);
        self.inner.metrics.pending.get_or_create(&labels).set(i64::try_from(info.num_pending).unwrap_or(i64::MAX));
        self.inner.metrics.ack_pending.get_or_create(&labels).set(i64::try_from(info.num_ack_pending).unwrap_or(0));
        Ok((info.num_pending, info.num_ack_pending))
    }

    /// Fetches and handles messages until `shutdown`, at most `policy.concurrency` at once, then
    /// waits up to `grace` for in-flight handlers. What does not finish stays unacknowledged and is
    /// redelivered.
    ///
    /// Each pull asks for exactly as many messages as there are free slots, and every message
    /// that arrives starts at once: none waits in a client buffer while its `ack_wait` runs.
    ///
    /// # Errors
    /// Never for transient bus trouble (it is logged and retried).
    pub async fn run(&self, shutdown: CancellationToken, grace: Duration) -> Result<(), BusError> {
        let concurrency = self.inner.spec.policy.concurrency.max(1);
        let slots = Arc::new(Semaphore::new(concurrency));
        let tracker = TaskTracker::new();
        let durable = &self.inner.spec.durable;
        'outer: while !shutdown.is_cancelled() {
            let first = tokio::select! {
                () = shutdown.cancelled() => break,
                p = Arc::clone(&slots).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            };
            let mut free: Vec<OwnedSemaphorePermit> = vec![first];
            while let Ok(p) = Arc::clone(&slots).try_acquire_owned() {
                free.push(p);
            }
            let batch = self.inner.consumer.batch().max_messages(free.len()).expires(PULL_EXPIRES).messages().await;
            let mut batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = &e as &dyn std::error::Error, consumer = %durable, "cannot pull; retrying");
                    drop(free);
                    tokio::select! { () = shutdown.cancelled() => break, () = tokio::time::sleep(Duration::from_secs(1)) => continue }
                }
            };
            let give_up = tokio::time::sleep(PULL_EXPIRES + PULL_GRACE);
            tokio::pin!(give_up);
            loop {
                let next = tokio::select! {
                    () = shutdown.cancelled() => break 'outer,
                    () = &mut give_up => break,
                    n = batch.next() => n,
                };
                match next {
                    Some(Ok(msg)) => {
                        // A pull never returns more than it asked for; the guard keeps it so.
                        let Some(slot) = free.pop() else {
                            tracing::warn!(consumer = %durable, "more messages than requested; left for redelivery");
                            continue;
                        };
                        let this = self.clone();
                        tracker.spawn(async move {
                            this.process_one(msg).await;
                            drop(slot);
                        });
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = &*e as &dyn std::error::Error, consumer = %durable, "pull error");
                        tokio::select! { () = shutdown.cancelled() => break 'outer, () = tokio::time::sleep(Duration::from_millis(200)) => {} }
                        break;
                    }
                    None => break,
                }
            }
        }
        tracker.close();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!(consumer = %durable, "in-flight messages left for redelivery at shutdown");
        }
        Ok(())
    }

    /// Fetches whatever is available right now and handles it, batch after batch, until nothing
    /// is left; returns how many messages were handled. For tests and one-shot tools.
    ///
    /// The fetches are no-wait requests without an expiry: the server answers at once, and ends a
    /// batch with a status once what it has is delivered. A request with an expiry could expire
    /// just as a redelivery is matched to it, which nats-server 2.9 mishandles (module docs).
    ///
    /// # Errors
    /// [`BusError::JetStream`] when fetching fails.
    pub async fn drain_until_empty(&self) -> Result<usize, BusError> {
        let mut handled = 0;
        let mut settled = false;
        loop {
            let got = self.fetch_and_handle().await?;
            handled += got;
            match (got, settled) {
                (0, true) => return Ok(handled),
                (0, false) => {
                    settled = true;
                    tokio::time::sleep(DRAIN_SETTLE).await;
                }
                _ => settled = false,
            }
        }
    }

    /// One no-wait fetch of up to `concurrency` messages, each handled in turn.
    async fn fetch_and_handle(&self) -> Result<usize, BusError> {
        let mut batch = self
            .inner
            .consumer
            .fetch()
            .max_messages(self.inner.spec.policy.concurrency.max(1))
            .messages()
            .await
            .map_err(|e| BusError::js("fetch", e))?;
        let mut got = 0;
        loop {
            let Ok(next) = tokio::time::timeout(DRAIN_STALL, batch.next()).await else {
                tracing::warn!(consumer = %self.inner.spec.durable, "a fetch got no answer; giving it up");
                return Ok(got);
            };
            let Some(msg) = next else { return Ok(got) };
            let msg = msg.map_err(|e| BusError::js("fetch", e))?;
            self.process_one(msg).await;
            got += 1;
        }
    }

    /// Handles one message and settles it.
    pub async fn process_one(&self, msg: jetstream::Message) -> Outcome {
        let (stream_sequence, delivered, stored) = match msg.info() {
            Ok(info) => (info.stream_sequence, info.delivered, stored_at(&info)),
            Err(_) => (0, 1, Utc::now()),
        };
        let raw = RawDelivery {
            subject: msg.subject.to_string(),
            payload: msg.payload.clone(),
            headers: msg.headers.clone(),
            stream_sequence,
            delivered,
        };
        let span =
            koofill_telemetry::nats::delivery_span(&raw.subject, stream_sequence, delivered, raw.headers.as_ref());
        let durable = self.inner.spec.durable.as_str();
        if delivered > 1 {
            self.inner.metrics.redeliveries.get_or_create(&ConsumerMetrics::labels(durable)).inc();
        }
        let outcome = async {
            let msg_value: H::Msg = match serde_json::from_slice(&raw.payload) {
                Ok(v) => v,
                Err(source) => {
                    let error = BusError::Decode {
                        subject: raw.subject.clone(),
                        expected: std::any::type_name::<H::Msg>(),
                        source,
                    };
                    return self.dead_letter(&msg, &raw, &error, false).await;
                }
            };
            let attempt = Attempt::new(delivered, stored, Utc::now(), &self.inner.spec.policy);
            let delivery = Delivery {
                msg: msg_value,
                subject: raw.subject.clone(),
                headers: raw.headers.clone(),
                stream_sequence,
                attempt,
            };
            self.handle_and_settle(&msg, &raw, &delivery).await
        }
        .instrument(span)
        .await;
        self.inner.metrics.settled(durable, outcome);
        outcome
    }

    async fn handle_and_settle(
        &self,
        msg: &jetstream::Message,
        raw: &RawDelivery,
        delivery: &Delivery<H::Msg>,
    ) -> Outcome {
        let policy = &self.inner.spec.policy;
        let labels = ConsumerMetrics::labels(&self.inner.spec.durable);
        let started = std::time::Instant::now();
        let result = {
            let handle = AssertUnwindSafe(self.inner.handler.handle(delivery)).catch_unwind();
            let handle = tokio::time::timeout_at(delivery.attempt.deadline, handle);
            tokio::pin!(handle);
            let mut progress = tokio::time::interval((policy.ack_wait / 2).max(Duration::from_millis(100)));
            progress.tick().await; // the first tick is immediate
            loop {
                tokio::select! {
                    r = &mut handle => break r,
                    _ = progress.tick() => {
                        if let Err(e) = msg.ack_with(AckKind::Progress).await {
                            tracing::debug!(error = &*e as &dyn std::error::Error, "progress not sent");
                        }
                    }
                }
            }
        };
        self.inner.metrics.handler_seconds.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
        match result {
            Ok(Ok(Ok(()))) => {
                self.ack(msg).await;
                Outcome::Acked
            }
            Ok(Ok(Err(e))) => self.fail(msg, raw, delivery, &e, e.class()).await,
            Ok(Err(_)) => self.fail(msg, raw, delivery, &Abandoned::Panicked, ErrorClass::Transient).await,
            Err(_) => {
                self.inner.metrics.timeouts.get_or_create(&labels).inc();
                let e = Abandoned::TimedOut(policy.handler_timeout);
                self.fail(msg, raw, delivery, &e, ErrorClass::Transient).await
            }
        }
    }

    async fn ack(&self, msg: &jetstream::Message) {
        for attempt in 1..=3 {
            match msg.double_ack().await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = &*e as &dyn std::error::Error, attempt, "ack not confirmed");
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
            }
        }
        // Redelivery plus the handler's idempotency cover an ack that never landed.
    }

    async fn fail(
        &self,
        msg: &jetstream::Message,
        raw: &RawDelivery,
        delivery: &Delivery<H::Msg>,
        error: &(dyn std::error::Error + Send + Sync + 'static),
        class: ErrorClass,
    ) -> Outcome {
        let policy = &self.inner.spec.policy;
        let attempt = &delivery.attempt;
        if class == ErrorClass::Misconfigured {
            self.inner.metrics.misconfigured.get_or_create(&ConsumerMetrics::labels(&self.inner.spec.durable)).inc();
        }
        let delay = policy.nak_delay(attempt.delivered);
        // Decided when the attempt began, as the handler was told: a handler that ran across the
        // horizon did not act on a last attempt (provisioning marks the order failed only then),
        // so its message gets the one retry that does.
        if class.is_retryable() && !attempt.is_last {
            match class {
                ErrorClass::Misconfigured => tracing::error!(
                    error,
                    delivered = attempt.delivered,
                    ?delay,
                    "configuration error on the seller's side; retrying until it is fixed"
                ),
                _ => tracing::warn!(error, delivered = attempt.delivered, ?delay, "will retry"),
            }
            if let Err(e) = msg.ack_with(AckKind::Nak(Some(delay))).await {
                tracing::warn!(error = &*e as &dyn std::error::Error, "nak not sent; redelivered after ack_wait");
            }
            return Outcome::Retried(delay);
        }
        self.dead_letter(msg, raw, error, class.is_retryable()).await
    }

    async fn dead_letter(
        &self,
        msg: &jetstream::Message,
        raw: &RawDelivery,
        error: &(dyn std::error::Error + Send + Sync + 'static),
        retryable: bool,
    ) -> Outcome {
        tracing::error!(error, delivered = raw.delivered, retryable, "dead-lettering");
        let letter = DeadLetter::new(&self.inner.spec.durable, &self.inner.spec.stream, raw, error, retryable);
        let subject = names::dlq(&self.inner.prefix, &self.inner.spec.durable);
        let published = match serde_json::to_vec(&letter) {
            Ok(body) => {
                self.inner.dlq.publish_raw(&subject, &letter.msg_id(), async_nats::HeaderMap::new(), body.into()).await
            }
            Err(source) => Err(BusError::Encode { what: "dead letter", source }),
        };
        match published {
            // Only now TERM: on a work-queue stream TERM deletes the message.
            Ok(_) => {
                if let Err(e) = msg.ack_with(AckKind::Term).await {
                    tracing::warn!(error = &*e as &dyn std::error::Error, "term not sent");
                }
                Outcome::DeadLettered
            }
            Err(e) => {
                let delay = self.inner.spec.policy.nak_max;
                tracing::error!(error = &e as &dyn std::error::Error, "dead letter not stored; keeping the message");
                let _ = msg.ack_with(AckKind::Nak(Some(delay))).await;
                Outcome::Retried(delay)
            }
        }
    }
}
