//! The runner: creates (or checks) the durable consumer, fetches, handles and settles.

use std::{panic::AssertUnwindSafe, sync::Arc, time::Duration};

use async_nats::jetstream::{
    self, AckKind,
    consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull},
};
use futures::{FutureExt, StreamExt};
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::Instrument;

use super::{ConsumerSpec, DeadLetter, Delivery, Handler, HandlerError};
use crate::{BusError, Publisher, names};

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
}

#[derive(Debug)]
struct HandlerPanicked;

impl std::fmt::Display for HandlerPanicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("handler panicked")
    }
}
impl std::error::Error for HandlerPanicked {}

fn pull_config(spec: &ConsumerSpec) -> pull::Config {
    pull::Config {
        durable_name: Some(spec.durable.clone()),
        filter_subject: spec.filter_subject.clone(),
        ack_policy: AckPolicy::Explicit,
        deliver_policy: DeliverPolicy::All,
        ack_wait: spec.policy.ack_wait,
        // The server never gives up on its own: the runner decides, at delivery `max_deliver`, to
        // dead-letter. A server-side limit equal to the budget would strand a message whose last
        // delivery failed to dead-letter (or whose process died), with no one left to decide.
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
    ) -> Result<Self, BusError> {
        let stream =
            js.get_stream(&spec.stream).await.map_err(|e| BusError::js(format!("get stream {}", spec.stream), e))?;
        let consumer: PullConsumer = match stream.get_consumer::<pull::Config>(&spec.durable).await {
            Ok(mut existing) => {
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
            Err(_) => stream
                .create_consumer(pull_config(&spec))
                .await
                .map_err(|e| BusError::js(format!("create consumer {}", spec.durable), e))?,
        };
        let dlq = Publisher::new(js.clone(), publish_timeout);
        Ok(Self { inner: Arc::new(Inner { spec, prefix: prefix.to_owned(), handler, consumer, dlq }) })
    }

    /// The consumer's spec.
    pub fn spec(&self) -> &ConsumerSpec {
        &self.inner.spec
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.inner.handler
    }

    /// Fetches and handles messages until `shutdown`, at most `policy.concurrency` at once, then
    /// waits up to `grace` for in-flight handlers. What does not finish stays unacknowledged and is
    /// redelivered.
    ///
    /// # Errors
    /// Never for transient bus trouble (it is logged and retried); only if the consumer vanished.
    pub async fn run(&self, shutdown: CancellationToken, grace: Duration) -> Result<(), BusError> {
        let concurrency = self.inner.spec.policy.concurrency.max(1);
        let permits = Arc::new(Semaphore::new(concurrency));
        let tracker = TaskTracker::new();
        'outer: while !shutdown.is_cancelled() {
            // Prefetch no more than we can handle: AckWait runs from delivery, even while a
            // message waits in the client's buffer.
            let stream = self.inner.consumer.stream().max_messages_per_batch(concurrency).messages().await;
            let mut messages = match stream {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = &e as &dyn std::error::Error, consumer = %self.inner.spec.durable, "cannot pull; retrying");
                    tokio::select! { () = shutdown.cancelled() => break, () = tokio::time::sleep(Duration::from_secs(1)) => continue }
                }
            };
            loop {
                let permit = tokio::select! {
                    () = shutdown.cancelled() => break 'outer,
                    p = Arc::clone(&permits).acquire_owned() => match p { Ok(p) => p, Err(_) => break 'outer },
                };
                let next = tokio::select! {
                    () = shutdown.cancelled() => break 'outer,
                    n = messages.next() => n,
                };
                match next {
                    Some(Ok(msg)) => {
                        let this = self.clone();
                        tracker.spawn(async move {
                            this.process_one(msg).await;
                            drop(permit);
                        });
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = &e as &dyn std::error::Error, consumer = %self.inner.spec.durable, "pull stream error");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue 'outer;
                    }
                    None => continue 'outer,
                }
            }
        }
        tracker.close();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!(consumer = %self.inner.spec.durable, "in-flight messages left for redelivery at shutdown");
        }
        Ok(())
    }

    /// Fetches whatever is available right now and handles it, batch after batch, until a fetch
    /// comes back empty; returns how many messages were handled. For tests and one-shot tools.
    ///
    /// # Errors
    /// [`BusError::JetStream`] when fetching fails.
    pub async fn drain_until_empty(&self) -> Result<usize, BusError> {
        let mut handled = 0;
        loop {
            let mut batch = self
                .inner
                .consumer
                .fetch()
                .max_messages(self.inner.spec.policy.concurrency.max(1))
                .messages()
                .await
                .map_err(|e| BusError::js("fetch", e))?;
            let mut got = 0;
            while let Some(msg) = batch.next().await {
                let msg = msg.map_err(|e| BusError::js("fetch", e))?;
                self.process_one(msg).await;
                got += 1;
            }
            if got == 0 {
                return Ok(handled);
            }
            handled += got;
        }
    }

    /// Handles one message and settles it.
    pub async fn process_one(&self, msg: jetstream::Message) -> Outcome {
        let (stream_sequence, delivered) = match msg.info() {
            Ok(info) => (info.stream_sequence, info.delivered),
            Err(_) => (0, 1),
        };
        let delivery = Delivery {
            subject: msg.subject.to_string(),
            payload: msg.payload.clone(),
            headers: msg.headers.clone(),
            stream_sequence,
            delivered,
        };
        let span = koofill_telemetry::nats::delivery_span(
            &delivery.subject,
            stream_sequence,
            delivered,
            delivery.headers.as_ref(),
        );
        self.handle_and_settle(&msg, &delivery).instrument(span).await
    }

    async fn handle_and_settle(&self, msg: &jetstream::Message, delivery: &Delivery) -> Outcome {
        let policy = &self.inner.spec.policy;
        let result = {
            let handle = AssertUnwindSafe(self.inner.handler.handle(delivery)).catch_unwind();
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
        match result {
            Ok(Ok(())) => {
                self.ack(msg).await;
                Outcome::Acked
            }
            Ok(Err(e)) => self.fail(msg, delivery, &e, e.is_retryable()).await,
            Err(_) => self.fail(msg, delivery, &HandlerPanicked, true).await,
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
        delivery: &Delivery,
        error: &(dyn std::error::Error + Send + Sync + 'static),
        retryable: bool,
    ) -> Outcome {
        let policy = &self.inner.spec.policy;
        if retryable && delivery.delivered < policy.max_deliver {
            let delay = policy.nak_delay(delivery.delivered);
            tracing::warn!(error, delivered = delivery.delivered, ?delay, "will retry");
            if let Err(e) = msg.ack_with(AckKind::Nak(Some(delay))).await {
                tracing::warn!(error = &*e as &dyn std::error::Error, "nak not sent; redelivered after ack_wait");
            }
            return Outcome::Retried(delay);
        }
        tracing::error!(error, delivered = delivery.delivered, retryable, "dead-lettering");
        let letter = DeadLetter::new(&self.inner.spec.durable, &self.inner.spec.stream, delivery, error, retryable);
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
                let delay = policy.nak_max;
                tracing::error!(error = &e as &dyn std::error::Error, "dead letter not stored; keeping the message");
                let _ = msg.ack_with(AckKind::Nak(Some(delay))).await;
                Outcome::Retried(delay)
            }
        }
    }
}
