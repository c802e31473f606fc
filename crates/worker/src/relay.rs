//! The outbox relay: publishes committed events with `Nats-Msg-Id = outbox id`, then marks
//! them sent.
//!
//! It wakes when a handler commits and also every [`POLL`], so events left by a crash between
//! commit and publish go out when the worker is back. A crash after the publish and before the
//! mark republishes the same id: JetStream's deduplication window drops it, and consumers'
//! inboxes catch anything older.

use std::{sync::Arc, time::Duration};

use async_nats::HeaderMap;
use chrono::Utc;
use koofill_bus::{BusError, Publisher};
use koofill_store::{OutboxSignal, StoreError, outbox};
use prometheus_client::metrics::{counter::Counter, gauge::Gauge};
use sea_orm::{DatabaseConnection, TransactionTrait};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// How often the relay looks for pending events without being woken.
pub const POLL: Duration = Duration::from_secs(1);
/// Events read per round.
const BATCH: u64 = 200;

/// Errors of one relay round.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading or marking the outbox failed.
    #[error("outbox")]
    Store(#[from] StoreError),
    /// Publishing failed.
    #[error("publish")]
    Bus(#[from] BusError),
}

/// The relay's metrics.
#[derive(Debug, Clone, Default)]
pub struct RelayMetrics {
    /// Events published.
    pub published: Counter,
    /// Events waiting to be published (measured after each round).
    pub backlog: Gauge,
}

/// Publishes the outbox.
#[derive(Debug, Clone)]
pub struct Relay {
    db: DatabaseConnection,
    publisher: Publisher,
    wake: OutboxSignal,
    metrics: RelayMetrics,
    /// One round at a time in this process, so two rounds do not publish the same rows.
    round: Arc<Mutex<()>>,
}

impl Relay {
    /// A relay over `db` publishing with `publisher`, woken through `wake`.
    pub fn new(db: DatabaseConnection, publisher: Publisher, wake: OutboxSignal, metrics: RelayMetrics) -> Self {
        Self { db, publisher, wake, metrics, round: Arc::new(Mutex::new(())) }
    }

    /// Publishes everything pending now; returns how many events were published.
    ///
    /// # Errors
    /// [`RelayError`] when the outbox cannot be read or an event cannot be published; what was
    /// published before the failure is marked sent.
    pub async fn flush(&self) -> Result<usize, RelayError> {
        let _round = self.round.lock().await;
        let sqlite = koofill_store::is_sqlite_connection(&self.db);
        let mut total = 0;
        loop {
            // On PostgreSQL the rows are claimed (locked, skipping those another relay holds) for
            // the round's transaction: every worker process relays the one outbox, and without
            // the claim they would all publish the same events and deadlock over marking them.
            let (published, failure) = if sqlite {
                let rows = outbox::pending(&self.db, BATCH).await?;
                let (sent, failure) = self.publish(&rows).await;
                outbox::mark_sent(&self.db, &sent, Utc::now()).await?;
                (sent.len(), failure)
            } else {
                let txn = self.db.begin().await.map_err(StoreError::from)?;
                let rows = outbox::claim_pending(&txn, BATCH).await?;
                let (sent, failure) = self.publish(&rows).await;
                outbox::mark_sent(&txn, &sent, Utc::now()).await?;
                txn.commit().await.map_err(StoreError::from)?;
                (sent.len(), failure)
            };
            self.metrics.published.inc_by(published as u64);
            total += published;
            if let Some(e) = failure {
                return Err(e.into());
            }
            if published == 0 {
                // Nothing left, or everything left is being relayed by another process.
                self.metrics.backlog.set(0);
                return Ok(total);
            }
        }
    }

    /// Publishes `rows` in order until one fails; the ids published, and the failure.
    async fn publish(&self, rows: &[koofill_store::entities::outbox::Model]) -> (Vec<String>, Option<BusError>) {
        let mut sent = Vec::with_capacity(rows.len());
        for row in rows {
            let mut headers = HeaderMap::new();
            for (k, v) in outbox::headers(row) {
                headers.insert(k.as_str(), v.as_str());
            }
            match self.publisher.publish_raw(&row.subject, &row.id, headers, row.payload.clone().into()).await {
                Ok(_) => sent.push(row.id.clone()),
                Err(e) => return (sent, Some(e)),
            }
        }
        (sent, None)
    }

    /// Records the number of events waiting (measured by the host between rounds).
    pub fn set_backlog(&self, backlog: u64) {
        self.metrics.backlog.set(i64::try_from(backlog).unwrap_or(i64::MAX));
    }

    /// Flushes on every wake-up and every [`POLL`] until `shutdown`, then once more.
    pub async fn run(&self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.flush().await {
                tracing::warn!(error = &e as &dyn std::error::Error, "outbox relay round failed; retrying");
                if let Ok(backlog) = outbox::pending_count(&self.db).await {
                    self.metrics.backlog.set(i64::try_from(backlog).unwrap_or(i64::MAX));
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.woken() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
        if let Err(e) = self.flush().await {
            tracing::warn!(error = &e as &dyn std::error::Error, "outbox not fully published at shutdown");
        }
    }
}
