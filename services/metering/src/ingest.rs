//! The `metering` consumer: usage batches from `<prefix>.usage.>` added to their windows.
//!
//! One batch is one transaction: the batch's inbox row, one `usage_events` row per new
//! `(instance_id, event_id)` and the window totals it changes commit together, so an event is
//! never marked seen without being counted, nor counted twice (a repeat finds its row and adds
//! nothing). A window's total is changed with a compare-and-set on its `version` and only while it
//! is `open`: when the scheduler closed it in between, the batch is redone, and its late events
//! go to the next open window.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use koofill_bus::consumer::{Delivery, Handler};
use koofill_config::BillingCycle;
use koofill_model::usage::{Quantity, UsageBatch, UsageEvent};
use koofill_store::{
    OutboxSignal, UnitOfWork,
    entities::{metering_instances, usage_events, usage_windows},
    sea_orm::{
        ActiveValue::Set,
        ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter,
        sea_query::{Expr, OnConflict},
    },
};

use crate::{MeteringError, ledger::State, metrics::MeteringMetrics, window};

/// The durable name of the usage consumer.
pub const CONSUMER: &str = "metering";
/// How often a batch is redone at once when a window changed under it, before the runner retries.
const CONTENTION_RETRIES: usize = 8;

/// Handles usage batches.
#[derive(Debug, Clone)]
pub struct UsageHandler {
    /// The database.
    pub db: DatabaseConnection,
    /// Wakes the outbox relay (the unit of work needs it; usage batches emit no event).
    pub outbox: OutboxSignal,
    /// The billing cycle windows are aligned to.
    pub cycle: BillingCycle,
    /// Event counters.
    pub metrics: MeteringMetrics,
}

/// What happened to the events of one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Counted for the first time.
    pub counted: u64,
    /// Seen before (same instance and event ID).
    pub duplicates: u64,
    /// Counted in a later window because their own was closed.
    pub late: u64,
    /// Not billable: they arrived after their window closed and the instance was released.
    pub late_unbilled: u64,
    /// Refused (the batch rules; only direct publishers can send these).
    pub rejected: u64,
}

impl Handler for UsageHandler {
    type Msg = UsageBatch;
    type Error = MeteringError;

    async fn handle(&self, delivery: &Delivery<UsageBatch>) -> Result<(), MeteringError> {
        let message_id = delivery.msg_id().map_or_else(|| format!("seq:{}", delivery.stream_sequence), str::to_owned);
        let outcome = self.apply(&message_id, &delivery.msg).await?;
        self.metrics.record(&outcome);
        Ok(())
    }
}

impl UsageHandler {
    /// Applies one batch exactly once per `message_id` (and each event once per
    /// `(instance_id, event_id)`), redoing it when a window changed concurrently.
    ///
    /// # Errors
    /// [`MeteringError::Store`] for database failures, [`MeteringError::Contended`] when windows
    /// kept changing (the runner retries).
    pub async fn apply(&self, message_id: &str, batch: &UsageBatch) -> Result<BatchOutcome, MeteringError> {
        let mut tries = 0;
        loop {
            match self.apply_once(message_id, batch).await {
                Err(e) if tries < CONTENTION_RETRIES && is_contention(&e) => tries += 1,
                other => return other,
            }
        }
    }

    async fn apply_once(&self, message_id: &str, batch: &UsageBatch) -> Result<BatchOutcome, MeteringError> {
        let Some(uow) = UnitOfWork::begin(&self.db, &self.outbox, CONSUMER, message_id).await? else {
            return Ok(BatchOutcome::default()); // the whole batch was handled before
        };
        let now = Utc::now();
        let mut work = Work { txn: uow.txn(), cycle: self.cycle, windows: HashMap::new(), releases: HashMap::new() };
        let mut outcome = BatchOutcome::default();
        for (index, event) in batch.events.iter().enumerate() {
            let quantity = match checked(event, index, now) {
                Some(q) => q,
                None => {
                    outcome.rejected += 1;
                    continue;
                }
            };
            let placement = work.place(event).await?;
            let (window_begin, disposition) = match placement {
                Placement::Window { begin, late } => (Some(begin), if late { "late" } else { "counted" }),
                Placement::LateUnbilled => (None, "late_unbilled"),
            };
            let row = usage_events::ActiveModel {
                instance_id: Set(event.instance_id.clone()),
                event_id: Set(event.event_id.clone()),
                usage_value: Set(quantity.to_plain()),
                occurred_at: Set(event.occurred_at),
                window_begin: Set(window_begin),
                disposition: Set(disposition.to_owned()),
                received_at: Set(now),
            };
            let inserted = usage_events::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([usage_events::Column::InstanceId, usage_events::Column::EventId])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(work.txn)
                .await
                .map_err(koofill_store::StoreError::from)?;
            if inserted == 0 {
                outcome.duplicates += 1;
                continue;
            }
            match placement {
                Placement::Window { begin, late } => {
                    work.add(&event.instance_id, begin, quantity)?;
                    if late {
                        outcome.late += 1;
                    }
                    outcome.counted += 1;
                }
                Placement::LateUnbilled => outcome.late_unbilled += 1,
            }
        }
        work.write(now).await?;
        uow.commit().await?;
        Ok(outcome)
    }
}

fn is_contention(e: &MeteringError) -> bool {
    matches!(e, MeteringError::Contended(_)) || matches!(e, MeteringError::Store(s) if s.is_conflict())
}

/// The exact value of an event that follows the batch rules on values and IDs, or `None` (logged).
/// Times are the ingress's to check against its clock: a stale event here lands in a window that
/// cannot be billed, and is recorded there.
fn checked(event: &UsageEvent, index: usize, now: DateTime<Utc>) -> Option<Quantity> {
    let problems: Vec<_> = event.problems(index, now).into_iter().filter(|p| p.field != "occurred_at").collect();
    if let Some(problem) = problems.first() {
        tracing::warn!(%problem, instance_id = %event.instance_id, "usage event refused");
        return None;
    }
    event.quantity().ok()
}

enum Placement {
    Window { begin: DateTime<Utc>, late: bool },
    LateUnbilled,
}

struct Slot {
    stored: Option<usage_windows::Model>,
    end: DateTime<Utc>,
    total: Quantity,
    events: i64,
    changed: bool,
}

struct Work<'a> {
    txn: &'a DatabaseTransaction,
    cycle: BillingCycle,
    windows: HashMap<(String, DateTime<Utc>), Slot>,
    releases: HashMap<String, Option<DateTime<Utc>>>,
}

impl Work<'_> {
    /// The window an event belongs in: its own while that is open, else the next open one; none
    /// when its own is closed and the instance was released before the next one begins.
    async fn place(&mut self, event: &UsageEvent) -> Result<Placement, MeteringError> {
        let (mut begin, _) = window::window_of(event.occurred_at, self.cycle);
        let mut late = false;
        loop {
            let key = (event.instance_id.clone(), begin);
            if !self.windows.contains_key(&key) {
                let slot = self.load(&event.instance_id, begin).await?;
                self.windows.insert(key.clone(), slot);
            }
            let slot = &self.windows[&key];
            let open = slot.stored.as_ref().is_none_or(|w| w.state == State::Open.as_str());
            if open {
                if late && self.released_at(&event.instance_id).await?.is_some_and(|r| begin >= r) {
                    return Ok(Placement::LateUnbilled);
                }
                return Ok(Placement::Window { begin, late });
            }
            late = true;
            begin = slot.end;
        }
    }

    async fn load(&self, instance_id: &str, begin: DateTime<Utc>) -> Result<Slot, MeteringError> {
        let stored = usage_windows::Entity::find_by_id((instance_id.to_owned(), begin))
            .one(self.txn)
            .await
            .map_err(koofill_store::StoreError::from)?;
        Ok(match stored {
            Some(w) => Slot {
                end: w.window_end,
                total: Quantity::parse(&w.total)
                    .map_err(|e| MeteringError::Corrupt(format!("usage_windows.total: {e}")))?,
                events: w.events,
                stored: Some(w),
                changed: false,
            },
            None => Slot {
                stored: None,
                end: begin + window::length(self.cycle),
                total: Quantity::ZERO,
                events: 0,
                changed: false,
            },
        })
    }

    async fn released_at(&mut self, instance_id: &str) -> Result<Option<DateTime<Utc>>, MeteringError> {
        if let Some(known) = self.releases.get(instance_id) {
            return Ok(*known);
        }
        let row = metering_instances::Entity::find_by_id(instance_id.to_owned())
            .one(self.txn)
            .await
            .map_err(koofill_store::StoreError::from)?;
        let released = row.and_then(|r| r.released_at);
        self.releases.insert(instance_id.to_owned(), released);
        Ok(released)
    }

    fn add(&mut self, instance_id: &str, begin: DateTime<Utc>, quantity: Quantity) -> Result<(), MeteringError> {
        let key = (instance_id.to_owned(), begin);
        let label = || format!("{instance_id}@{begin}");
        let slot = self.windows.get_mut(&key).ok_or_else(|| MeteringError::Corrupt(label()))?;
        slot.total = slot.total.checked_add(quantity).ok_or_else(|| MeteringError::Overflow(label()))?;
        slot.events += 1;
        slot.changed = true;
        Ok(())
    }

    /// Writes every changed window: new ones inserted (a concurrent insert is a conflict), known
    /// ones updated only if nobody changed them since they were read and they are still open.
    async fn write(&self, now: DateTime<Utc>) -> Result<(), MeteringError> {
        for ((instance_id, begin), slot) in self.windows.iter().filter(|(_, s)| s.changed) {
            match &slot.stored {
                None => {
                    let row = usage_windows::ActiveModel {
                        instance_id: Set(instance_id.clone()),
                        window_begin: Set(*begin),
                        window_end: Set(slot.end),
                        cycle: Set(self.cycle.as_str().to_owned()),
                        total: Set(slot.total.to_string()),
                        events: Set(slot.events),
                        state: Set(State::Open.as_str().to_owned()),
                        reason: Set(None),
                        metering_sn: Set(None),
                        record_begin: Set(None),
                        record_end: Set(None),
                        record_time: Set(None),
                        usage_value: Set(None),
                        push_attempts: Set(0),
                        last_push_at: Set(None),
                        pushed_at: Set(None),
                        verdict_at: Set(None),
                        version: Set(0),
                        created_at: Set(now),
                        updated_at: Set(now),
                    };
                    usage_windows::Entity::insert(row)
                        .exec_without_returning(self.txn)
                        .await
                        .map_err(koofill_store::StoreError::from)?;
                }
                Some(stored) => {
                    use usage_windows::Column as C;
                    let updated = usage_windows::Entity::update_many()
                        .col_expr(C::Total, Expr::value(slot.total.to_string()))
                        .col_expr(C::Events, Expr::value(slot.events))
                        .col_expr(C::Version, Expr::value(stored.version + 1))
                        .col_expr(C::UpdatedAt, Expr::value(now))
                        .filter(C::InstanceId.eq(instance_id.as_str()))
                        .filter(C::WindowBegin.eq(*begin))
                        .filter(C::Version.eq(stored.version))
                        .filter(C::State.eq(State::Open.as_str()))
                        .exec(self.txn)
                        .await
                        .map_err(koofill_store::StoreError::from)?;
                    if updated.rows_affected == 0 {
                        return Err(MeteringError::Contended(format!("{instance_id}@{begin}")));
                    }
                }
            }
        }
        Ok(())
    }
}
