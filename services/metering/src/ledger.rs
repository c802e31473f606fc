//! The push scheduler and the per-window ledger:
//! `open → closed → pushed → accepted | rejected(code)`, or `held` (instance not known yet) and
//! `unbilled(reason)` (never pushed: `released_before_window`, `rounds_to_zero`,
//! `older_than_21_days`).
//!
//! A round ([`Ledger::round`]) at the injected clock's `now`:
//! 1. **close** every open window that ended at least `grace` ago, and every held one: the record
//!    is built once and stored (`metering_sn` from instance, begin and end; the total rounded to 4
//!    decimals, half away from zero; `record_time` = the close time), so every later push of it
//!    sends identical bytes for that record;
//! 2. **push** the closed windows, and the rejected ones that can now succeed, in calls of at most
//!    `max_records_per_push`; a call KooGallery answered `MKT.0000` marks them `pushed` (and emits
//!    `usage.window_pushed`); a failed call leaves them `closed`, for the next round. A crash after
//!    KooGallery took a call but before the ledger was written therefore re-sends the same records,
//!    which KooGallery keeps once (first record per `metering_sn` and per instance and window).
//!
//! KooGallery validates records after answering, and shows each one's result only in the seller
//! console; [`Ledger::apply_verdict`] records it (`koofill usage verdict`, or a feed such as the
//! simulator's). `005` (this `metering_sn` was already accepted) means the record counted: it is
//! recorded as accepted. `013` (the instance's status, e.g. frozen) is re-pushed once the instance
//! is no longer frozen, within 21 days; every other code is final, since the same record would be
//! refused again.

use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use koofill_config::MeteringConfig;
use koofill_marketplace::UsageRecord;
use koofill_model::{DomainEvent, InstanceId, time::format_open_api, usage::Quantity};
use koofill_store::{
    OutboxSignal, StoreError,
    entities::{metering_instances, usage_pushes, usage_windows},
    outbox,
    sea_orm::{
        ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
        TransactionTrait, sea_query::Expr,
    },
};
use koofill_worker::EventFactory;

use crate::{
    MeteringError,
    clock::Clock,
    metrics::{CodeLabels, MeteringMetrics, StateLabels},
    push::Pusher,
    window,
};

/// Oldest `begin_time` KooGallery takes (spec §8.3).
const MAX_AGE: Duration = Duration::days(21);
/// The reason code of a rejection that can succeed later (the instance's status).
const RETRYABLE_CODE: &str = "013";
/// The reason code meaning "this metering_sn was already accepted".
const ALREADY_ACCEPTED_CODE: &str = "005";

/// A window's place in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Taking events.
    Open,
    /// Record built, waiting to be pushed (or re-pushed after a failed call).
    Closed,
    /// KooGallery answered `MKT.0000` to a call carrying it.
    Pushed,
    /// KooGallery counted it.
    Accepted,
    /// KooGallery refused it with a reason code.
    Rejected,
    /// Not pushed yet: the instance is not known (reason `unknown_instance`).
    Held,
    /// Never pushed, with the reason.
    Unbilled,
}

impl State {
    /// Every state.
    pub const ALL: [State; 7] =
        [Self::Open, Self::Closed, Self::Pushed, Self::Accepted, Self::Rejected, Self::Held, Self::Unbilled];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Pushed => "pushed",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Held => "held",
            Self::Unbilled => "unbilled",
        }
    }

    /// The state stored as `text`.
    pub fn from_text(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A record-level result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Counted.
    Accepted,
    /// Refused with a reason code (`001`…`013`).
    Rejected(String),
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Windows closed (their record built).
    pub closed: usize,
    /// Windows held (instance unknown).
    pub held: usize,
    /// Windows that will never be pushed.
    pub unbilled: usize,
    /// Records KooGallery took (`MKT.0000`).
    pub pushed: usize,
    /// Records whose call failed (they stay closed, for the next round).
    pub failed: usize,
}

/// The scheduler and ledger. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Ledger {
    db: DatabaseConnection,
    outbox: OutboxSignal,
    events: EventFactory,
    pusher: Arc<dyn Pusher>,
    clock: Arc<dyn Clock>,
    cfg: MeteringConfig,
    metrics: MeteringMetrics,
}

impl Ledger {
    /// A ledger pushing through `pusher` at `clock`'s time.
    pub fn new(
        db: DatabaseConnection,
        outbox: OutboxSignal,
        events: EventFactory,
        pusher: Arc<dyn Pusher>,
        clock: Arc<dyn Clock>,
        cfg: MeteringConfig,
        metrics: MeteringMetrics,
    ) -> Self {
        Self { db, outbox, events, pusher, clock, cfg, metrics }
    }

    /// The same ledger pushing through another pusher.
    pub fn with_pusher(&self, pusher: Arc<dyn Pusher>) -> Self {
        Self { pusher, ..self.clone() }
    }

    /// One scheduled round: closes what ended `metering.grace_secs` ago, then pushes.
    ///
    /// # Errors
    /// [`MeteringError::Store`] for database failures (push failures are recorded, not returned).
    pub async fn round(&self) -> Result<RoundReport, MeteringError> {
        let grace = Duration::from_std(self.cfg.grace()).unwrap_or(Duration::zero());
        self.round_with_grace(grace).await
    }

    /// `koofill usage flush`: closes every window that has ended, now, and pushes.
    ///
    /// # Errors
    /// As [`Ledger::round`].
    pub async fn flush(&self) -> Result<RoundReport, MeteringError> {
        self.round_with_grace(Duration::zero()).await
    }

    async fn round_with_grace(&self, grace: Duration) -> Result<RoundReport, MeteringError> {
        let now = self.clock.now();
        let mut report = RoundReport::default();
        self.close(now, grace, &mut report).await?;
        self.push(now, &mut report).await?;
        self.refresh_gauges(now).await?;
        Ok(report)
    }

    async fn close(&self, now: DateTime<Utc>, grace: Duration, report: &mut RoundReport) -> Result<(), MeteringError> {
        use usage_windows::Column as C;
        let due = usage_windows::Entity::find()
            .filter(
                Condition::any()
                    .add(Condition::all().add(C::State.eq(State::Open.as_str())).add(C::WindowEnd.lte(now - grace)))
                    .add(C::State.eq(State::Held.as_str())),
            )
            .order_by_asc(C::WindowEnd)
            .all(&self.db)
            .await
            .map_err(StoreError::from)?;
        for w in due {
            let instance = metering_instances::Entity::find_by_id(w.instance_id.clone())
                .one(&self.db)
                .await
                .map_err(StoreError::from)?;
            let decision = decide(&w, instance.as_ref(), now, self.cfg.require_known_instance)?;
            let (state, reason, record) = match decision {
                Decision::Hold => (State::Held, Some("unknown_instance".to_owned()), None),
                Decision::Unbilled(reason) => (State::Unbilled, Some(reason.to_owned()), None),
                Decision::Close(record) => (State::Closed, None, Some(record)),
            };
            if state == State::Held && w.state == State::Held.as_str() {
                continue; // still waiting for the instance
            }
            let mut update = usage_windows::Entity::update_many()
                .col_expr(C::State, Expr::value(state.as_str()))
                .col_expr(C::Reason, Expr::value(reason))
                .col_expr(C::Version, Expr::value(w.version + 1))
                .col_expr(C::UpdatedAt, Expr::value(now));
            if let Some(r) = &record {
                update = update
                    .col_expr(C::MeteringSn, Expr::value(r.metering_sn.clone()))
                    .col_expr(C::RecordBegin, Expr::value(r.begin))
                    .col_expr(C::RecordEnd, Expr::value(r.end))
                    .col_expr(C::RecordTime, Expr::value(now.duration_trunc(Duration::seconds(1)).unwrap_or(now)))
                    .col_expr(C::UsageValue, Expr::value(r.value.clone()));
            }
            // Compare-and-set: an event counted since the window was read makes this a no-op, and
            // the next round closes it with that event in it.
            let done = update
                .filter(C::InstanceId.eq(w.instance_id.as_str()))
                .filter(C::WindowBegin.eq(w.window_begin))
                .filter(C::Version.eq(w.version))
                .exec(&self.db)
                .await
                .map_err(StoreError::from)?;
            if done.rows_affected == 1 {
                match state {
                    State::Held => report.held += 1,
                    State::Unbilled => report.unbilled += 1,
                    _ => report.closed += 1,
                }
            }
        }
        Ok(())
    }

    async fn push(&self, now: DateTime<Utc>, report: &mut RoundReport) -> Result<(), MeteringError> {
        use usage_windows::Column as C;
        let candidates = usage_windows::Entity::find()
            .filter(
                Condition::any()
                    .add(C::State.eq(State::Closed.as_str()))
                    .add(Condition::all().add(C::State.eq(State::Rejected.as_str())).add(C::Reason.eq(RETRYABLE_CODE))),
            )
            .order_by_asc(C::InstanceId)
            .order_by_asc(C::WindowBegin)
            .all(&self.db)
            .await
            .map_err(StoreError::from)?;
        let mut ready = Vec::new();
        for w in candidates {
            let begin = w.record_begin.unwrap_or(w.window_begin);
            if begin < now - MAX_AGE {
                // KooGallery would refuse the whole call (MKT.9004): it can no longer be billed.
                self.set_state(&w, State::Unbilled, Some("older_than_21_days"), now).await?;
                report.unbilled += 1;
                continue;
            }
            if w.state == State::Rejected.as_str()
                && self.instance_status(&w.instance_id).await?.as_deref() == Some("frozen")
            {
                continue; // 013 again until the instance is unfrozen
            }
            ready.push(w);
        }
        for chunk in ready.chunks(self.cfg.max_records_per_push.max(1)) {
            let records: Vec<UsageRecord> = chunk.iter().map(record_of).collect::<Result<_, _>>()?;
            let result = self.pusher.push(&records).await;
            let (outcome, code, detail) = match &result {
                Ok(()) => ("accepted", Some("MKT.0000".to_owned()), None),
                Err(e) => ("failed", e.code().map(str::to_owned), Some(koofill_bus::consumer::error_chain(e))),
            };
            let label = code.clone().unwrap_or_else(|| "unreachable".into());
            self.metrics.pushes.get_or_create(&CodeLabels { code: label }).inc();
            let txn = self.db.begin().await.map_err(StoreError::from)?;
            usage_pushes::Entity::insert(usage_pushes::ActiveModel {
                at: Set(now),
                records: Set(i64::try_from(chunk.len()).unwrap_or(i64::MAX)),
                outcome: Set(outcome.to_owned()),
                error_code: Set(code.filter(|c| c != "MKT.0000")),
                detail: Set(detail.clone()),
                ..Default::default()
            })
            .exec_without_returning(&txn)
            .await
            .map_err(StoreError::from)?;
            let mut emitted = false;
            for (w, record) in chunk.iter().zip(&records) {
                let mut update = usage_windows::Entity::update_many()
                    .col_expr(C::PushAttempts, Expr::col(C::PushAttempts).add(1))
                    .col_expr(C::LastPushAt, Expr::value(now))
                    .col_expr(C::Version, Expr::col(C::Version).add(1))
                    .col_expr(C::UpdatedAt, Expr::value(now));
                if result.is_ok() {
                    update = update
                        .col_expr(C::State, Expr::value(State::Pushed.as_str()))
                        .col_expr(C::Reason, Expr::value(Option::<String>::None))
                        .col_expr(C::PushedAt, Expr::value(w.pushed_at.unwrap_or(now)));
                    let event = DomainEvent::UsageWindowPushed {
                        instance_id: InstanceId::from(w.instance_id.as_str()),
                        begin_time: w.record_begin.unwrap_or(w.window_begin),
                        end_time: w.record_end.unwrap_or(w.window_end),
                        usage_value: record.usage_value.clone(),
                        metering_sn: record.metering_sn.clone(),
                    };
                    let id = format!("usage:{}:pushed:{}", record.metering_sn, w.push_attempts + 1);
                    outbox::push(&txn, self.events.event(id, false, event)?).await?;
                    emitted = true;
                }
                update
                    .filter(C::InstanceId.eq(w.instance_id.as_str()))
                    .filter(C::WindowBegin.eq(w.window_begin))
                    .filter(C::State.is_in([State::Closed.as_str(), State::Rejected.as_str()]))
                    .exec(&txn)
                    .await
                    .map_err(StoreError::from)?;
            }
            txn.commit().await.map_err(StoreError::from)?;
            if emitted {
                self.outbox.wake();
            }
            match result {
                Ok(()) => report.pushed += chunk.len(),
                Err(e) => {
                    report.failed += chunk.len();
                    tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        records = chunk.len(),
                        "usage push failed; the records stay closed for the next round"
                    );
                }
            }
        }
        Ok(())
    }

    /// Records KooGallery's result for the record `metering_sn`; returns whether a window has it.
    ///
    /// # Errors
    /// [`MeteringError::Store`].
    pub async fn apply_verdict(&self, metering_sn: &str, verdict: &Verdict) -> Result<bool, MeteringError> {
        use usage_windows::Column as C;
        let now = self.clock.now();
        let (state, reason, label) = match verdict {
            Verdict::Accepted => (State::Accepted, None, "accepted".to_owned()),
            Verdict::Rejected(code) if code == ALREADY_ACCEPTED_CODE => {
                (State::Accepted, Some(code.clone()), code.clone())
            }
            Verdict::Rejected(code) => (State::Rejected, Some(code.clone()), code.clone()),
        };
        let done = usage_windows::Entity::update_many()
            .col_expr(C::State, Expr::value(state.as_str()))
            .col_expr(C::Reason, Expr::value(reason))
            .col_expr(C::VerdictAt, Expr::value(now))
            .col_expr(C::Version, Expr::col(C::Version).add(1))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::MeteringSn.eq(metering_sn))
            // Once accepted, a later duplicate answer for the same record changes nothing.
            .filter(C::State.ne(State::Accepted.as_str()))
            .exec(&self.db)
            .await
            .map_err(StoreError::from)?;
        if done.rows_affected > 0 {
            self.metrics.records.get_or_create(&CodeLabels { code: label }).inc();
        }
        Ok(done.rows_affected > 0)
    }

    async fn set_state(
        &self,
        w: &usage_windows::Model,
        state: State,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), MeteringError> {
        use usage_windows::Column as C;
        usage_windows::Entity::update_many()
            .col_expr(C::State, Expr::value(state.as_str()))
            .col_expr(C::Reason, Expr::value(reason.map(str::to_owned)))
            .col_expr(C::Version, Expr::value(w.version + 1))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::InstanceId.eq(w.instance_id.as_str()))
            .filter(C::WindowBegin.eq(w.window_begin))
            .filter(C::Version.eq(w.version))
            .exec(&self.db)
            .await
            .map_err(StoreError::from)?;
        Ok(())
    }

    async fn instance_status(&self, instance_id: &str) -> Result<Option<String>, MeteringError> {
        let row = metering_instances::Entity::find_by_id(instance_id.to_owned())
            .one(&self.db)
            .await
            .map_err(StoreError::from)?;
        Ok(row.map(|r| r.status))
    }

    async fn refresh_gauges(&self, now: DateTime<Utc>) -> Result<(), MeteringError> {
        use usage_windows::Column as C;
        for state in State::ALL {
            let n = usage_windows::Entity::find().filter(C::State.eq(state.as_str())).count_rows(&self.db).await?;
            self.metrics.windows.get_or_create(&StateLabels { state: state.as_str().into() }).set(n);
        }
        let oldest = usage_windows::Entity::find()
            .filter(C::State.is_in([State::Closed.as_str(), State::Held.as_str()]))
            .order_by_asc(C::WindowEnd)
            .one(&self.db)
            .await
            .map_err(StoreError::from)?;
        let age = oldest.map_or(0, |w| (now - w.window_end).num_seconds().max(0));
        self.metrics.oldest_unpushed_secs.set(age);
        Ok(())
    }
}

/// Counting rows through sea-orm's paginator, as an `i64` gauge value.
trait CountRows {
    async fn count_rows(self, db: &DatabaseConnection) -> Result<i64, MeteringError>;
}

impl CountRows for koofill_store::sea_orm::Select<usage_windows::Entity> {
    async fn count_rows(self, db: &DatabaseConnection) -> Result<i64, MeteringError> {
        use koofill_store::sea_orm::PaginatorTrait;
        let n = self.count(db).await.map_err(StoreError::from)?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

struct Record {
    metering_sn: String,
    begin: DateTime<Utc>,
    end: DateTime<Utc>,
    value: String,
}

enum Decision {
    Hold,
    Unbilled(&'static str),
    Close(Record),
}

/// What closing a window makes of it, given what is known about its instance.
fn decide(
    w: &usage_windows::Model,
    instance: Option<&metering_instances::Model>,
    now: DateTime<Utc>,
    require_known: bool,
) -> Result<Decision, MeteringError> {
    if w.window_begin < now - MAX_AGE {
        return Ok(Decision::Unbilled("older_than_21_days"));
    }
    if instance.is_none() && require_known {
        return Ok(Decision::Hold);
    }
    let released = instance.and_then(|i| i.released_at);
    if released.is_some_and(|r| r <= w.window_begin) {
        return Ok(Decision::Unbilled("released_before_window"));
    }
    // `begin_time ≥ resource start` and `end_time ≤ resource close` (spec §8.3).
    let opened = instance.and_then(|i| i.opened_at).filter(|o| *o > w.window_begin && *o < w.window_end);
    let begin = opened.unwrap_or(w.window_begin);
    let end = released.map_or(w.window_end, |r| r.min(w.window_end));
    let total = Quantity::parse(&w.total).map_err(|e| MeteringError::Corrupt(format!("usage_windows.total: {e}")))?;
    let value = total.round_for_push();
    if value.is_zero() {
        return Ok(Decision::Unbilled("rounds_to_zero"));
    }
    // Second precision: that is what the record's time format carries.
    let trunc = |t: DateTime<Utc>| t.duration_trunc(Duration::seconds(1)).unwrap_or(t);
    let (begin, end) = (trunc(begin), trunc(end));
    Ok(Decision::Close(Record {
        metering_sn: window::metering_sn(&w.instance_id, begin, end),
        begin,
        end,
        value: value.to_plain(),
    }))
}

/// The record stored at close, as sent.
fn record_of(w: &usage_windows::Model) -> Result<UsageRecord, MeteringError> {
    let missing = |field: &str| {
        MeteringError::Corrupt(format!("closed window {}@{} has no {field}", w.instance_id, w.window_begin))
    };
    Ok(UsageRecord {
        instance_id: w.instance_id.clone(),
        record_time: format_open_api(w.record_time.ok_or_else(|| missing("record_time"))?),
        begin_time: format_open_api(w.record_begin.ok_or_else(|| missing("record_begin"))?),
        end_time: format_open_api(w.record_end.ok_or_else(|| missing("record_end"))?),
        usage_value: w.usage_value.clone().ok_or_else(|| missing("usage_value"))?,
        metering_sn: w.metering_sn.clone().ok_or_else(|| missing("metering_sn"))?,
    })
}
