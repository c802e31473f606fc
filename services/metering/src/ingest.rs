//! The `metering` consumer: usage batches from `<prefix>.usage.>` added to their windows.
//!
//! One batch is one transaction: the batch's inbox row, one `usage_events` row per new
//! `(instance_id, event_id)` and the window totals it changes commit together, so an event is
//! never marked seen without being counted, nor counted twice (a repeat finds its row and adds
//! nothing). A window's total is changed with a compare-and-set on its `version` and only while it
//! is `open`: when the scheduler closed it in between, the batch is redone, and its late events
//! go to the next open window.
//!
//! An instance's windows all have one cycle: that of the windows it already has, else the one
//! `instance.active` fixed for its product ([`koofill_config::MeteringConfig::cycle_for`]), else
//! the configured default. Usage that arrives before the instance is known therefore keeps the
//! default cycle for that instance, rather than overlapping windows of two lengths.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use koofill_bus::consumer::{Delivery, Handler};
use koofill_config::BillingCycle;
use koofill_model::usage::{Quantity, UsageBatch, UsageEvent};
use koofill_store::{
    OutboxSignal, UnitOfWork,
    entities::{metering_instances, usage_events, usage_windows},
    sea_orm::{
        ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
        EntityTrait, QueryFilter, QuerySelect, Statement, TryInsertResult, Value, sea_query::OnConflict,
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
    /// The billing cycle of instances whose product does not set one.
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
        let mut work = Work {
            txn: uow.txn(),
            default_cycle: self.cycle,
            cycles: HashMap::new(),
            windows: HashMap::new(),
            releases: HashMap::new(),
        };
        let mut outcome = BatchOutcome::default();
        let valid: Vec<(&UsageEvent, Quantity)> = batch
            .events
            .iter()
            .enumerate()
            .filter_map(|(index, event)| {
                let quantity = checked(event, index, now);
                if quantity.is_none() {
                    outcome.rejected += 1;
                }
                quantity.map(|q| (event, q))
            })
            .collect();
        // Every instance's cycle and release, then every window the batch's events fall in, read
        // at once.
        work.learn_instances(valid.iter().map(|(e, _)| e.instance_id.as_str())).await?;
        let keys: Vec<(&str, DateTime<Utc>)> = valid
            .iter()
            .map(|(e, _)| (e.instance_id.as_str(), window::window_of(e.occurred_at, work.cycle_of(&e.instance_id)).0))
            .collect();
        work.prefetch(keys.into_iter()).await?;
        let mut placed = Vec::with_capacity(valid.len());
        let mut rows = Vec::with_capacity(valid.len());
        let mut in_batch = HashSet::with_capacity(valid.len());
        for (event, quantity) in valid {
            if !in_batch.insert((event.instance_id.as_str(), event.event_id.as_str())) {
                outcome.duplicates += 1; // twice in this very batch
                continue;
            }
            let placement = work.place(event).await?;
            let (window_begin, disposition) = match placement {
                Placement::Window { begin, late } => (Some(begin), if late { "late" } else { "counted" }),
                Placement::LateUnbilled => (None, "late_unbilled"),
            };
            let key = (event.instance_id.clone(), event.event_id.clone());
            rows.push((
                key,
                usage_events::ActiveModel {
                    instance_id: Set(event.instance_id.clone()),
                    event_id: Set(event.event_id.clone()),
                    usage_value: Set(quantity.to_plain()),
                    occurred_at: Set(event.occurred_at),
                    window_begin: Set(window_begin),
                    disposition: Set(disposition.to_owned()),
                    received_at: Set(now),
                },
            ));
            placed.push((event, quantity, placement));
        }
        let inserted = insert_new(work.txn, rows).await?;
        for (event, quantity, placement) in placed {
            if !inserted.contains(&(event.instance_id.clone(), event.event_id.clone())) {
                outcome.duplicates += 1; // seen in an earlier batch
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

/// Rows per multi-row statement (7 values each: far below both backends' parameter limits).
const ROWS_PER_STATEMENT: usize = 500;

/// Inserts the events' rows, skipping those seen before; returns the keys actually inserted.
///
/// PostgreSQL says which rows it inserted (`RETURNING`, read-committed replicas may race on a
/// key). SQLite has one connection, so nothing can come between reading which keys exist and
/// inserting the others.
async fn insert_new(
    txn: &DatabaseTransaction,
    rows: Vec<((String, String), usage_events::ActiveModel)>,
) -> Result<HashSet<(String, String)>, MeteringError> {
    let postgres = txn.get_database_backend() == DbBackend::Postgres;
    // Keys in one order, as for the windows: two batches sharing events wait, never deadlock.
    let mut rows = rows;
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut inserted = HashSet::with_capacity(rows.len());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let (keys, chunk): (Vec<(String, String)>, Vec<_>) = rows.by_ref().take(ROWS_PER_STATEMENT).unzip();
        let insert = usage_events::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::columns([usage_events::Column::InstanceId, usage_events::Column::EventId])
                    .do_nothing()
                    .to_owned(),
            )
            .do_nothing();
        if postgres {
            let result = insert.exec_with_returning_keys(txn).await.map_err(koofill_store::StoreError::from)?;
            if let TryInsertResult::Inserted(keys) = result {
                inserted.extend(keys);
            }
        } else {
            let existing: HashSet<(String, String)> = usage_events::Entity::find()
                .filter(usage_events::Column::InstanceId.is_in(keys.iter().map(|(i, _)| i.as_str())))
                .filter(usage_events::Column::EventId.is_in(keys.iter().map(|(_, e)| e.as_str())))
                .all(txn)
                .await
                .map_err(koofill_store::StoreError::from)?
                .into_iter()
                .map(|r| (r.instance_id, r.event_id))
                .collect();
            insert.exec_without_returning(txn).await.map_err(koofill_store::StoreError::from)?;
            inserted.extend(keys.into_iter().filter(|k| !existing.contains(k)));
        }
    }
    Ok(inserted)
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

impl Slot {
    fn stored(w: usage_windows::Model) -> Result<Self, MeteringError> {
        Ok(Slot {
            end: w.window_end,
            total: Quantity::parse(&w.total)
                .map_err(|e| MeteringError::Corrupt(format!("usage_windows.total: {e}")))?,
            events: w.events,
            stored: Some(w),
            changed: false,
        })
    }

    fn new(end: DateTime<Utc>) -> Self {
        Slot { stored: None, end, total: Quantity::ZERO, events: 0, changed: false }
    }
}

struct Work<'a> {
    txn: &'a DatabaseTransaction,
    default_cycle: BillingCycle,
    /// Each instance's cycle ([`Work::learn_instances`]).
    cycles: HashMap<String, BillingCycle>,
    windows: HashMap<(String, DateTime<Utc>), Slot>,
    releases: HashMap<String, Option<DateTime<Utc>>>,
}

impl Work<'_> {
    /// The window an event belongs in: its own while that is open, else the next open one; none
    /// when its own is closed and the instance was released before the next one begins.
    async fn place(&mut self, event: &UsageEvent) -> Result<Placement, MeteringError> {
        let (mut begin, _) = window::window_of(event.occurred_at, self.cycle_of(&event.instance_id));
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

    /// The cycle of `instance_id`'s windows (the default for an instance not learnt).
    fn cycle_of(&self, instance_id: &str) -> BillingCycle {
        self.cycles.get(instance_id).copied().unwrap_or(self.default_cycle)
    }

    /// Reads, for every instance of the batch, the cycle of its existing windows, and its
    /// metering row (cycle and release), in a few statements.
    async fn learn_instances<'i>(&mut self, instances: impl Iterator<Item = &'i str>) -> Result<(), MeteringError> {
        let wanted: Vec<&str> = instances.collect::<HashSet<_>>().into_iter().collect();
        for chunk in wanted.chunks(ROWS_PER_STATEMENT) {
            let rows = metering_instances::Entity::find()
                .filter(metering_instances::Column::InstanceId.is_in(chunk.iter().copied()))
                .all(self.txn)
                .await
                .map_err(koofill_store::StoreError::from)?;
            for row in rows {
                if let Some(cycle) = row.cycle.as_deref().and_then(window::cycle_from_text) {
                    self.cycles.insert(row.instance_id.clone(), cycle);
                }
                self.releases.insert(row.instance_id, row.released_at);
            }
            // Windows already stored win: one instance never gets windows of two lengths.
            let stored: Vec<(String, String)> = usage_windows::Entity::find()
                .select_only()
                .column(usage_windows::Column::InstanceId)
                .column(usage_windows::Column::Cycle)
                .distinct()
                .filter(usage_windows::Column::InstanceId.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(self.txn)
                .await
                .map_err(koofill_store::StoreError::from)?;
            for (instance_id, text) in stored {
                if let Some(cycle) = window::cycle_from_text(&text) {
                    self.cycles.insert(instance_id, cycle);
                }
            }
            for instance_id in chunk {
                self.releases.entry((*instance_id).to_owned()).or_insert(None);
            }
        }
        Ok(())
    }

    /// Reads the windows at `keys` in a few statements (instead of one read per window), so
    /// [`Work::place`] finds them cached; windows not stored yet are cached as new.
    async fn prefetch<'k>(
        &mut self,
        keys: impl Iterator<Item = (&'k str, DateTime<Utc>)>,
    ) -> Result<(), MeteringError> {
        let wanted: HashSet<(&str, DateTime<Utc>)> = keys.collect();
        let instances: Vec<&str> = wanted.iter().map(|(i, _)| *i).collect::<HashSet<_>>().into_iter().collect();
        let begins: Vec<DateTime<Utc>> = wanted.iter().map(|(_, b)| *b).collect::<HashSet<_>>().into_iter().collect();
        for chunk in instances.chunks(ROWS_PER_STATEMENT) {
            let stored = usage_windows::Entity::find()
                .filter(usage_windows::Column::InstanceId.is_in(chunk.iter().copied()))
                .filter(usage_windows::Column::WindowBegin.is_in(begins.iter().copied()))
                .all(self.txn)
                .await
                .map_err(koofill_store::StoreError::from)?;
            for w in stored {
                let key = (w.instance_id.clone(), w.window_begin);
                self.windows.insert(key, Slot::stored(w)?);
            }
        }
        for (instance_id, begin) in wanted {
            self.windows.entry((instance_id.to_owned(), begin)).or_insert_with(|| {
                Slot::new(begin + window::length(self.cycles.get(instance_id).copied().unwrap_or(self.default_cycle)))
            });
        }
        Ok(())
    }

    async fn load(&self, instance_id: &str, begin: DateTime<Utc>) -> Result<Slot, MeteringError> {
        let stored = usage_windows::Entity::find_by_id((instance_id.to_owned(), begin))
            .one(self.txn)
            .await
            .map_err(koofill_store::StoreError::from)?;
        match stored {
            Some(w) => Slot::stored(w),
            None => Ok(Slot::new(begin + window::length(self.cycle_of(instance_id)))),
        }
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
    /// ones updated only if nobody changed them since they were read and they are still open —
    /// a few multi-row statements whatever the number of windows.
    async fn write(&self, now: DateTime<Utc>) -> Result<(), MeteringError> {
        let mut changed: Vec<(&(String, DateTime<Utc>), &Slot)> =
            self.windows.iter().filter(|(_, s)| s.changed).collect();
        // One order for every transaction: concurrent batches then wait for each other's rows
        // instead of deadlocking over them.
        changed.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let created: Vec<usage_windows::ActiveModel> = changed
            .iter()
            .filter(|(_, slot)| slot.stored.is_none())
            .map(|((instance_id, begin), slot)| usage_windows::ActiveModel {
                instance_id: Set(instance_id.clone()),
                window_begin: Set(*begin),
                window_end: Set(slot.end),
                cycle: Set(self.cycle_of(instance_id).as_str().to_owned()),
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
            })
            .collect();
        let mut created = created.into_iter().peekable();
        while created.peek().is_some() {
            // 20 values a row: 100 rows stay far below both backends' parameter limits.
            let chunk: Vec<_> = created.by_ref().take(100).collect();
            usage_windows::Entity::insert_many(chunk)
                .exec_without_returning(self.txn)
                .await
                .map_err(koofill_store::StoreError::from)?;
        }
        let updated: Vec<WindowUpdate<'_>> = changed
            .iter()
            .filter_map(|((instance_id, begin), slot)| {
                slot.stored.as_ref().map(|stored| WindowUpdate {
                    instance_id,
                    begin: *begin,
                    total: slot.total.to_string(),
                    events: slot.events,
                    version: stored.version,
                })
            })
            .collect();
        for chunk in updated.chunks(ROWS_PER_STATEMENT) {
            let statement = cas_update(self.txn.get_database_backend(), chunk, now);
            let result = self.txn.execute(statement).await.map_err(koofill_store::StoreError::from)?;
            if result.rows_affected() != chunk.len() as u64 {
                // A window closed or changed since it was read: redo the batch.
                let first = chunk.first().map(|u| format!("{}@{}", u.instance_id, u.begin)).unwrap_or_default();
                return Err(MeteringError::Contended(first));
            }
        }
        Ok(())
    }
}

/// A known window's new total, written only over the version it was read at.
struct WindowUpdate<'a> {
    instance_id: &'a str,
    begin: DateTime<Utc>,
    total: String,
    events: i64,
    version: i64,
}

/// One `UPDATE … FROM (VALUES …)` for many windows, each row guarded by its version and the
/// `open` state; the caller compares the rows affected with the rows sent.
fn cas_update(backend: DbBackend, rows: &[WindowUpdate<'_>], now: DateTime<Utc>) -> Statement {
    let mut values: Vec<Value> = vec![now.into(), State::Open.as_str().into()];
    let mut tuples = Vec::with_capacity(rows.len());
    for row in rows {
        let n = values.len();
        let p = |i: usize| match backend {
            DbBackend::Postgres => format!("${}", n + i),
            _ => "?".to_owned(),
        };
        tuples.push(match backend {
            DbBackend::Postgres => {
                format!("({}, {}::timestamptz, {}, {}::bigint, {}::bigint)", p(1), p(2), p(3), p(4), p(5))
            }
            _ => format!("({}, {}, {}, {}, {})", p(1), p(2), p(3), p(4), p(5)),
        });
        values.extend([
            row.instance_id.into(),
            row.begin.into(),
            row.total.clone().into(),
            row.events.into(),
            row.version.into(),
        ]);
    }
    let tuples = tuples.join(", ");
    let sql = match backend {
        DbBackend::Postgres => format!(
            "UPDATE usage_windows AS w SET total = v.total, events = v.events, version = w.version + 1, \
             updated_at = $1 FROM (VALUES {tuples}) AS v(instance_id, window_begin, total, events, version) \
             WHERE w.instance_id = v.instance_id AND w.window_begin = v.window_begin \
             AND w.version = v.version AND w.state = $2"
        ),
        // SQLite names the columns of a VALUES list column1, column2, …
        _ => format!(
            "UPDATE usage_windows SET total = v.column3, events = v.column4, version = usage_windows.version + 1, \
             updated_at = ? FROM (VALUES {tuples}) AS v \
             WHERE usage_windows.instance_id = v.column1 AND usage_windows.window_begin = v.column2 \
             AND usage_windows.version = v.column5 AND usage_windows.state = ?"
        ),
    };
    // SQLite's `?` are positional in text order: the state comes last there.
    if backend != DbBackend::Postgres {
        let state = values.remove(1);
        values.push(state);
    }
    Statement::from_sql_and_values(backend, sql, values)
}
