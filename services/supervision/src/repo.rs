//! Reads and writes of the supervision tables, and the read-only look-ups of the orders that
//! provisioning recorded.

use chrono::{DateTime, Utc};
use koofill_store::{
    StoreError,
    entities::{
        instances, licenses, order_lines, orders, supervision_cases as cases, supervision_deadlines as deadlines,
        supervision_reminders as reminders, supervision_steps as steps,
    },
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::OnConflict,
};
use serde_json::Value;

use crate::{SupervisionError, deadline::DeadlineKind, state::CaseState};

/// What the order tells about one line: enough to decide on supervision and open its case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFacts {
    /// The order.
    pub order_id: String,
    /// The order line.
    pub order_line_id: String,
    /// `NEW`, `RENEW`, ... (`None` when the order could not be queried).
    pub order_type: Option<String>,
    /// `(product ID, SKU code)` of each product on the line.
    pub products: Vec<(String, String)>,
    /// `PERIOD`, `ONE_TIME`, `ON_DEMAND`, `ON_DEMAND_PKG`.
    pub charging_mode: Option<String>,
    /// Debug order.
    pub test: bool,
    /// The line's price after discounts, as the order states it.
    pub amount: Option<String>,
    /// When the order was created (paid).
    pub paid_at: Option<DateTime<Utc>>,
}

fn store(e: sea_orm::DbErr) -> SupervisionError {
    SupervisionError::Store(StoreError::from(e))
}

/// The facts of `(order_id, order_line_id)` from provisioning's `orders` and `order_lines` rows.
///
/// Supervision reads these rows rather than asking query order again: provisioning recorded them in
/// the same database before emitting the event that brings us here, and a second query-order call
/// per order would only add a dependency on KooGallery's API.
pub async fn line_facts<C: ConnectionTrait>(
    db: &C,
    order_id: &str,
    order_line_id: &str,
) -> Result<Option<LineFacts>, SupervisionError> {
    let Some(line) = order_lines::Entity::find_by_id((order_id.to_owned(), order_line_id.to_owned()))
        .one(db)
        .await
        .map_err(store)?
    else {
        return Ok(None);
    };
    let order = orders::Entity::find_by_id(order_id.to_owned()).one(db).await.map_err(store)?;
    let products = line
        .products
        .as_deref()
        .and_then(|text| serde_json::from_str::<Vec<Value>>(text).ok())
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let field = |name: &str| p.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
            (field("productId"), field("skuCode"))
        })
        .collect();
    let amount = order.as_ref().and_then(|o| o.detail.as_deref()).and_then(|detail| line_amount(detail, order_line_id));
    Ok(Some(LineFacts {
        order_id: order_id.to_owned(),
        order_line_id: order_line_id.to_owned(),
        order_type: order.as_ref().and_then(|o| o.order_type.clone()),
        products,
        charging_mode: line.charging_mode,
        test: order.as_ref().is_some_and(|o| o.test),
        amount,
        paid_at: order.and_then(|o| o.create_time),
    }))
}

/// `currencyAfterDiscount` of the line in the stored `orderInfo`.
fn line_amount(detail: &str, order_line_id: &str) -> Option<String> {
    let info: Value = serde_json::from_str(detail).ok()?;
    let line =
        info.get("orderLine")?.as_array()?.iter().find(|l| l.get("orderLineId") == Some(&order_line_id.into()))?;
    let amount = line.get("currencyAfterDiscount")?;
    amount.as_str().map(str::to_owned).or_else(|| amount.as_number().map(ToString::to_string))
}

/// `(order_id, order_line_id)` of an instance provisioning created.
pub async fn instance_line<C: ConnectionTrait>(
    db: &C,
    instance_id: &str,
) -> Result<Option<(String, String)>, SupervisionError> {
    let row = instances::Entity::find_by_id(instance_id.to_owned()).one(db).await.map_err(store)?;
    Ok(row.and_then(|r| Some((r.order_id?, r.order_line_id?))))
}

/// Whether provisioning released the instance of an order line.
pub async fn line_released<C: ConnectionTrait>(
    db: &C,
    order_id: &str,
    order_line_id: &str,
) -> Result<bool, SupervisionError> {
    let released = instances::Entity::find()
        .filter(instances::Column::OrderId.eq(order_id))
        .filter(instances::Column::OrderLineId.eq(order_line_id))
        .filter(instances::Column::State.eq(instances::InstanceState::Released))
        .one(db)
        .await
        .map_err(store)?;
    Ok(released.is_some())
}

/// `(order_id, order_line_id)` the license worker last recorded for a license code (the order it
/// was sold with, or its latest renewal).
pub async fn license_line<C: ConnectionTrait>(
    db: &C,
    code: &str,
) -> Result<Option<(String, String)>, SupervisionError> {
    let row = licenses::Entity::find_by_id(code.to_owned()).one(db).await.map_err(store)?;
    Ok(row.and_then(|r| Some((r.order_id?, r.order_line_id?))))
}

/// The case of an order line.
pub async fn case_by_line<C: ConnectionTrait>(
    db: &C,
    order_id: &str,
    order_line_id: &str,
) -> Result<Option<cases::Model>, SupervisionError> {
    cases::Entity::find()
        .filter(cases::Column::OrderId.eq(order_id))
        .filter(cases::Column::OrderLineId.eq(order_line_id))
        .one(db)
        .await
        .map_err(store)
}

/// A case by its number, or by its order line ID.
pub async fn case_by_ref<C: ConnectionTrait>(db: &C, reference: &str) -> Result<cases::Model, SupervisionError> {
    let found = match reference.parse::<i64>() {
        Ok(id) => cases::Entity::find_by_id(id).one(db).await.map_err(store)?,
        Err(_) => {
            cases::Entity::find().filter(cases::Column::OrderLineId.eq(reference)).one(db).await.map_err(store)?
        }
    };
    found.ok_or_else(|| SupervisionError::NotFound(reference.to_owned()))
}

/// Inserts a case unless the line has one; the row when inserted.
pub async fn insert_case<C: ConnectionTrait>(
    db: &C,
    row: cases::ActiveModel,
    order_id: &str,
    order_line_id: &str,
) -> Result<Option<cases::Model>, SupervisionError> {
    let inserted = cases::Entity::insert(row)
        .on_conflict(OnConflict::columns([cases::Column::OrderId, cases::Column::OrderLineId]).do_nothing().to_owned())
        .exec_without_returning(db)
        .await
        .map_err(store)?;
    if inserted == 0 {
        return Ok(None);
    }
    case_by_line(db, order_id, order_line_id).await
}

/// Writes `row` (the case after a step) only if the case is still at `version`.
pub async fn update_case<C: ConnectionTrait>(
    db: &C,
    id: i64,
    version: i64,
    row: cases::ActiveModel,
) -> Result<(), SupervisionError> {
    let result = cases::Entity::update_many()
        .set(row)
        .filter(cases::Column::Id.eq(id))
        .filter(cases::Column::Version.eq(version))
        .exec(db)
        .await
        .map_err(store)?;
    if result.rows_affected == 0 {
        return Err(SupervisionError::Concurrent(id));
    }
    Ok(())
}

/// Records a step.
pub async fn insert_step<C: ConnectionTrait>(db: &C, row: steps::ActiveModel) -> Result<(), SupervisionError> {
    steps::Entity::insert(row).exec_without_returning(db).await.map_err(|e| match StoreError::from(e) {
        e if e.is_conflict() => SupervisionError::Concurrent(0),
        e => SupervisionError::Store(e),
    })?;
    Ok(())
}

/// Every step of a case, in order.
pub async fn steps_of<C: ConnectionTrait>(db: &C, case_id: i64) -> Result<Vec<steps::Model>, SupervisionError> {
    steps::Entity::find()
        .filter(steps::Column::CaseId.eq(case_id))
        .order_by_asc(steps::Column::Seq)
        .all(db)
        .await
        .map_err(store)
}

/// Every deadline of a case.
pub async fn deadlines_of<C: ConnectionTrait>(db: &C, case_id: i64) -> Result<Vec<deadlines::Model>, SupervisionError> {
    deadlines::Entity::find()
        .filter(deadlines::Column::CaseId.eq(case_id))
        .order_by_asc(deadlines::Column::DueAt)
        .all(db)
        .await
        .map_err(store)
}

/// Every reminder sent for a case.
pub async fn reminders_of<C: ConnectionTrait>(db: &C, case_id: i64) -> Result<Vec<reminders::Model>, SupervisionError> {
    reminders::Entity::find()
        .filter(reminders::Column::CaseId.eq(case_id))
        .order_by_asc(reminders::Column::SentAt)
        .all(db)
        .await
        .map_err(store)
}

/// Starts (or restarts, with the next cycle) the `kind` deadline of a case.
pub async fn start_deadline<C: ConnectionTrait>(
    db: &C,
    case_id: i64,
    kind: DeadlineKind,
    started_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
) -> Result<(), SupervisionError> {
    let existing = deadlines::Entity::find()
        .filter(deadlines::Column::CaseId.eq(case_id))
        .filter(deadlines::Column::Kind.eq(kind.as_str()))
        .one(db)
        .await
        .map_err(store)?;
    let mut row = deadlines::ActiveModel {
        case_id: Set(case_id),
        kind: Set(kind.as_str().to_owned()),
        cycle: Set(1),
        started_at: Set(started_at),
        due_at: Set(due_at),
        met_at: Set(None),
        breached_at: Set(None),
        paused_at: Set(None),
        ..Default::default()
    };
    match existing {
        None => {
            deadlines::Entity::insert(row).exec_without_returning(db).await.map_err(store)?;
        }
        Some(old) => {
            row.cycle = Set(old.cycle + 1);
            deadlines::Entity::update_many()
                .set(row)
                .filter(deadlines::Column::Id.eq(old.id))
                .exec(db)
                .await
                .map_err(store)?;
        }
    }
    Ok(())
}

/// Marks the open `kind` deadline of a case (or every open one) met at `at`.
pub async fn meet_deadlines<C: ConnectionTrait>(
    db: &C,
    case_id: i64,
    kind: Option<DeadlineKind>,
    at: DateTime<Utc>,
) -> Result<(), SupervisionError> {
    let mut update = deadlines::Entity::update_many()
        .col_expr(deadlines::Column::MetAt, at.into())
        .col_expr(deadlines::Column::PausedAt, Option::<DateTime<Utc>>::None.into())
        .filter(deadlines::Column::CaseId.eq(case_id))
        .filter(deadlines::Column::MetAt.is_null());
    if let Some(kind) = kind {
        update = update.filter(deadlines::Column::Kind.eq(kind.as_str()));
    }
    update.exec(db).await.map_err(store)?;
    Ok(())
}

/// Freezes every running deadline of a case at `at`.
pub async fn pause_deadlines<C: ConnectionTrait>(
    db: &C,
    case_id: i64,
    at: DateTime<Utc>,
) -> Result<(), SupervisionError> {
    deadlines::Entity::update_many()
        .col_expr(deadlines::Column::PausedAt, at.into())
        .filter(deadlines::Column::CaseId.eq(case_id))
        .filter(deadlines::Column::MetAt.is_null())
        .filter(deadlines::Column::BreachedAt.is_null())
        .filter(deadlines::Column::PausedAt.is_null())
        .exec(db)
        .await
        .map_err(store)?;
    Ok(())
}

/// Resumes every frozen deadline of a case at `at`, moving its due time by the time it was frozen.
pub async fn resume_deadlines<C: ConnectionTrait>(
    db: &C,
    case_id: i64,
    at: DateTime<Utc>,
) -> Result<(), SupervisionError> {
    let paused = deadlines::Entity::find()
        .filter(deadlines::Column::CaseId.eq(case_id))
        .filter(deadlines::Column::PausedAt.is_not_null())
        .all(db)
        .await
        .map_err(store)?;
    for row in paused {
        let frozen = row.paused_at.map_or(chrono::Duration::zero(), |p| (at - p).max(chrono::Duration::zero()));
        deadlines::Entity::update_many()
            .col_expr(deadlines::Column::DueAt, (row.due_at + frozen).into())
            .col_expr(deadlines::Column::PausedAt, Option::<DateTime<Utc>>::None.into())
            .filter(deadlines::Column::Id.eq(row.id))
            .exec(db)
            .await
            .map_err(store)?;
    }
    Ok(())
}

/// Running deadlines (not met, breached or frozen) due at or before `horizon`.
pub async fn running_due_before<C: ConnectionTrait>(
    db: &C,
    horizon: DateTime<Utc>,
) -> Result<Vec<deadlines::Model>, SupervisionError> {
    deadlines::Entity::find()
        .filter(deadlines::Column::MetAt.is_null())
        .filter(deadlines::Column::BreachedAt.is_null())
        .filter(deadlines::Column::PausedAt.is_null())
        .filter(deadlines::Column::DueAt.lte(horizon))
        .order_by_asc(deadlines::Column::DueAt)
        .all(db)
        .await
        .map_err(store)
}

/// Records a reminder unless it was recorded before; whether it was new.
pub async fn insert_reminder<C: ConnectionTrait>(
    db: &C,
    row: &deadlines::Model,
    threshold: &str,
    at: DateTime<Utc>,
) -> Result<bool, SupervisionError> {
    let reminder = reminders::ActiveModel {
        case_id: Set(row.case_id),
        kind: Set(row.kind.clone()),
        cycle: Set(row.cycle),
        threshold: Set(threshold.to_owned()),
        sent_at: Set(at),
        ..Default::default()
    };
    let inserted = reminders::Entity::insert(reminder)
        .on_conflict(
            OnConflict::columns([
                reminders::Column::CaseId,
                reminders::Column::Kind,
                reminders::Column::Cycle,
                reminders::Column::Threshold,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map_err(store)?;
    Ok(inserted == 1)
}

/// The deadline row exactly as it was read (same cycle and due time), still running.
fn running_as_read(row: &deadlines::Model) -> Condition {
    Condition::all()
        .add(deadlines::Column::Id.eq(row.id))
        .add(deadlines::Column::Cycle.eq(row.cycle))
        .add(deadlines::Column::DueAt.eq(row.due_at))
        .add(deadlines::Column::MetAt.is_null())
        .add(deadlines::Column::BreachedAt.is_null())
        .add(deadlines::Column::PausedAt.is_null())
}

/// Whether the deadline still runs as it was read (same cycle and due time; not met, breached or
/// frozen). It writes the row unchanged, so on PostgreSQL it also locks it until the caller's
/// transaction ends: a step meeting the deadline concurrently either committed before (and this
/// answers `false`) or waits until the caller is done.
pub async fn still_running<C: ConnectionTrait>(db: &C, row: &deadlines::Model) -> Result<bool, SupervisionError> {
    let result = deadlines::Entity::update_many()
        .col_expr(deadlines::Column::Cycle, row.cycle.into())
        .filter(running_as_read(row))
        .exec(db)
        .await
        .map_err(store)?;
    Ok(result.rows_affected == 1)
}

/// Marks the deadline breached unless it changed since it was read; whether it did.
pub async fn mark_breached<C: ConnectionTrait>(
    db: &C,
    row: &deadlines::Model,
    at: DateTime<Utc>,
) -> Result<bool, SupervisionError> {
    let result = deadlines::Entity::update_many()
        .col_expr(deadlines::Column::BreachedAt, at.into())
        .filter(running_as_read(row))
        .exec(db)
        .await
        .map_err(store)?;
    Ok(result.rows_affected == 1)
}

/// Cases, optionally in one state, oldest first.
pub async fn list_cases<C: ConnectionTrait>(
    db: &C,
    state: Option<&str>,
) -> Result<Vec<cases::Model>, SupervisionError> {
    let mut query = cases::Entity::find().order_by_asc(cases::Column::Id);
    if let Some(state) = state {
        query = query.filter(cases::Column::State.eq(state));
    }
    query.all(db).await.map_err(store)
}

/// Cases supervision is not over for: the orders it keeps from settlement, longest waiting
/// first. A closed case is not among them: its order was released and will never settle.
pub async fn unsettled<C: ConnectionTrait>(db: &C) -> Result<Vec<cases::Model>, SupervisionError> {
    let over = [CaseState::Completed, CaseState::Closed].map(CaseState::as_str);
    cases::Entity::find()
        .filter(cases::Column::State.is_not_in(over))
        .order_by_asc(cases::Column::PaidAt)
        .order_by_asc(cases::Column::Id)
        .all(db)
        .await
        .map_err(store)
}

/// Running deadlines of the given cases.
pub async fn running_of<C: ConnectionTrait>(
    db: &C,
    case_ids: Vec<i64>,
) -> Result<Vec<deadlines::Model>, SupervisionError> {
    deadlines::Entity::find()
        .filter(deadlines::Column::CaseId.is_in(case_ids))
        .filter(deadlines::Column::MetAt.is_null())
        .filter(deadlines::Column::BreachedAt.is_null())
        .order_by_asc(deadlines::Column::DueAt)
        .all(db)
        .await
        .map_err(store)
}
