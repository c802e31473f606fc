//! The dispatcher: sends due deliveries, each claimed before it is sent and settled after, and
//! schedules retries per channel.
//!
//! Claim → send → settle is what makes a delivery happen once: two senders cannot claim the same
//! due row (the claim is a conditional update), and a sender that dies after sending leaves a
//! `sending` row whose lease runs out, so the same delivery (same id) is sent again — a repeat
//! the provider can recognise, never a second delivery.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use futures::StreamExt;
use koofill_config::ChannelKind;
use koofill_store::{StoreError, entities::notification_deliveries as deliveries};
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    Clock,
    channels::{Channel, Message, Outcome},
    limiter::{Limiter, Permit},
    metrics::Metrics,
    repo::{self, DELIVERED, FAILED, PENDING, Settle},
};

/// Deliveries read per round.
const ROUND: u64 = 256;
/// Wait after a rate-limit code that named no penalty.
const DEFAULT_PENALTY: Duration = Duration::from_secs(60);

/// A channel with its schedule and limiter.
#[derive(Debug)]
pub struct ChannelRuntime {
    /// The channel id.
    pub id: String,
    /// Its kind.
    pub kind: ChannelKind,
    channel: Channel,
    schedule: Vec<Duration>,
    limiter: Limiter,
}

impl ChannelRuntime {
    /// `channel` with retry delays `schedule` and at most `per_minute` sends a minute.
    pub fn new(
        id: String,
        kind: ChannelKind,
        channel: Channel,
        schedule: Vec<Duration>,
        per_minute: Option<u32>,
    ) -> Self {
        Self { id, kind, channel, schedule, limiter: Limiter::new(per_minute) }
    }
}

/// Sends due deliveries.
#[derive(Debug)]
pub struct Dispatcher {
    db: DatabaseConnection,
    channels: BTreeMap<String, Arc<ChannelRuntime>>,
    clock: Arc<dyn Clock>,
    lease: Duration,
    send_timeout: Duration,
    poll: Duration,
    concurrency: usize,
    wake: Arc<Notify>,
    metrics: Metrics,
}

/// Settings of a [`Dispatcher`].
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// How long a claim holds.
    pub lease: Duration,
    /// Deadline of one send.
    pub send_timeout: Duration,
    /// How often due deliveries are looked for.
    pub poll: Duration,
    /// Sends at once.
    pub concurrency: usize,
}

impl Dispatcher {
    pub(crate) fn new(
        db: DatabaseConnection,
        channels: BTreeMap<String, Arc<ChannelRuntime>>,
        clock: Arc<dyn Clock>,
        settings: &DispatchSettings,
        metrics: Metrics,
    ) -> Self {
        Self {
            db,
            channels,
            clock,
            lease: settings.lease,
            send_timeout: settings.send_timeout,
            poll: settings.poll,
            concurrency: settings.concurrency.max(1),
            wake: Arc::new(Notify::new()),
            metrics,
        }
    }

    /// What wakes the dispatcher when new deliveries are stored.
    pub(crate) fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Attempts every delivery due now (up to one round); returns how many were due.
    ///
    /// # Errors
    /// [`StoreError`] when the due deliveries cannot be read; failures of single deliveries are
    /// logged and left for the next round.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let due = repo::due(&self.db, self.clock.now(), ROUND).await?;
        let n = due.len();
        futures::stream::iter(due)
            .for_each_concurrent(self.concurrency, |row| async move {
                let id = row.id.clone();
                if let Err(e) = self.deliver(row).await {
                    tracing::warn!(error = &e as &dyn std::error::Error, delivery = %id, "delivery not settled; retried later");
                }
            })
            .await;
        Ok(n)
    }

    /// Rounds until `shutdown`: after every commit of new deliveries and every poll interval.
    /// At shutdown a round in progress gets `grace` to finish; what it leaves `sending` is sent
    /// again (same delivery id) once its lease runs out.
    pub async fn run(&self, shutdown: CancellationToken, grace: Duration) {
        loop {
            let round = self.run_once();
            tokio::pin!(round);
            let result = tokio::select! {
                r = &mut round => r,
                () = shutdown.cancelled() => {
                    let _ = tokio::time::timeout(grace, round).await;
                    return;
                }
            };
            if let Err(e) = result {
                tracing::warn!(error = &e as &dyn std::error::Error, "due deliveries not read");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    async fn deliver(&self, row: deliveries::Model) -> Result<(), StoreError> {
        let Some(channel) = self.channels.get(&row.channel_id).cloned() else {
            return self.give_up(&row, format!("channel {:?} is no longer configured", row.channel_id)).await;
        };
        match channel.limiter.acquire(self.clock.now()) {
            Permit::Defer(wait) => {
                let until = self.clock.now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                return repo::defer(&self.db, &row.id, until).await;
            }
            Permit::After(wait) if !wait.is_zero() => tokio::time::sleep(wait).await,
            Permit::After(_) => {}
        }
        let Some(claimed) = repo::claim(&self.db, &row.id, self.clock.now(), self.lease).await? else {
            return Ok(()); // another sender has it, or it is no longer due
        };
        let msg = Message {
            delivery_id: claimed.id.clone(),
            event_id: claimed.event_id.clone(),
            event_type: claimed.event_type.clone(),
            test: claimed.test,
            title: claimed.title.clone(),
            body: claimed.body.clone(),
            data: serde_json::from_str(&claimed.data).unwrap_or(serde_json::Value::Null),
        };
        let started_at = self.clock.now();
        let started = std::time::Instant::now();
        // Channels bound their own sends; this outer deadline only guards against one that
        // does not, so that a claim is always settled before its lease runs out.
        let outer = self.send_timeout + Duration::from_secs(1);
        let outcome = tokio::time::timeout(outer, channel.channel.send(&msg))
            .await
            .unwrap_or_else(|_| Outcome::retry(format!("no answer within {outer:?}")));
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let now = self.clock.now();
        let settle = self.decide(&channel, claimed.attempts, &outcome, started_at, duration_ms, now);
        self.metrics.attempt(&channel.id, outcome.label());
        match settle.state {
            DELIVERED => {
                tracing::info!(delivery = %claimed.id, channel = %channel.id, attempt = claimed.attempts, "delivered");
                self.metrics.settled(&channel.id, DELIVERED);
            }
            FAILED => {
                tracing::error!(delivery = %claimed.id, channel = %channel.id, attempt = claimed.attempts,
                    error = settle.error.as_deref().unwrap_or_default(), "delivery failed; not retried");
                self.metrics.settled(&channel.id, FAILED);
            }
            _ => tracing::warn!(delivery = %claimed.id, channel = %channel.id, attempt = claimed.attempts,
                error = settle.error.as_deref().unwrap_or_default(), next = %settle.next_attempt_at, "will retry"),
        }
        if !repo::settle(&self.db, &claimed.id, claimed.attempts, &settle, now).await? {
            tracing::warn!(delivery = %claimed.id, "the claim had run out before the outcome was recorded");
        }
        Ok(())
    }

    /// The new state after `attempt` (1-based) ended with `outcome`.
    fn decide(
        &self,
        channel: &ChannelRuntime,
        attempt: i32,
        outcome: &Outcome,
        started_at: chrono::DateTime<chrono::Utc>,
        duration_ms: i64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Settle {
        let mut s = Settle {
            state: FAILED,
            next_attempt_at: now,
            outcome: outcome.label(),
            status_code: None,
            answer: None,
            error: None,
            started_at,
            duration_ms,
        };
        let keep = |a: &str| (!a.is_empty()).then(|| a.to_owned());
        match outcome {
            Outcome::Delivered { status, answer } => {
                s.state = DELIVERED;
                s.status_code = status.map(i32::from);
                s.answer = keep(answer);
            }
            Outcome::Failed { status, answer, error } => {
                s.status_code = status.map(i32::from);
                s.answer = keep(answer);
                s.error = Some(error.clone());
            }
            Outcome::Retry { status, answer, error, after, rate_limited } => {
                s.status_code = status.map(i32::from);
                s.answer = keep(answer);
                if *rate_limited {
                    channel.limiter.penalise(now, after.unwrap_or(DEFAULT_PENALTY));
                }
                let index = usize::try_from(attempt.max(1) - 1).unwrap_or(usize::MAX);
                match channel.schedule.get(index) {
                    Some(delay) => {
                        let delay = (*delay).max(after.unwrap_or_default());
                        s.state = PENDING;
                        s.next_attempt_at = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                        s.error = Some(error.clone());
                    }
                    None => s.error = Some(format!("{error} (retries used up after {attempt} attempts)")),
                }
            }
        }
        s
    }

    async fn give_up(&self, row: &deliveries::Model, error: String) -> Result<(), StoreError> {
        let now = self.clock.now();
        let Some(claimed) = repo::claim(&self.db, &row.id, now, self.lease).await? else { return Ok(()) };
        let settle = Settle {
            state: FAILED,
            next_attempt_at: now,
            outcome: "failed",
            status_code: None,
            answer: None,
            error: Some(error),
            started_at: now,
            duration_ms: 0,
        };
        self.metrics.settled(&row.channel_id, FAILED);
        repo::settle(&self.db, &claimed.id, claimed.attempts, &settle, now).await.map(|_| ())
    }
}
