//! The deliveries and attempts tables: creating deliveries, claiming them before a send,
//! recording what happened, and reading them back for operators.

use chrono::{DateTime, Utc};
use koofill_store::{
    StoreError,
    entities::{notification_attempts as attempts, notification_deliveries as deliveries},
};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
    sea_query::{Expr, OnConflict},
};

/// A delivery waiting for its first attempt.
pub const PENDING: &str = "pending";
/// Claimed by a sender; `lease_until` says until when.
pub const SENDING: &str = "sending";
/// Accepted by the provider.
pub const DELIVERED: &str = "delivered";
/// Given up: a permanent answer, or the retry schedule used up.
pub const FAILED: &str = "failed";

/// Namespace of delivery ids (UUIDv5 of `{event id length}:{event id}{channel id}`).
const DELIVERY_NS: uuid::Uuid = uuid::Uuid::from_u128(0x6b6f_6f66_696c_6c2d_6e6f_7469_6679_0001);

/// The delivery id of (event, channel): deterministic, so the same pair always names the same
/// delivery, on every replica and after every crash.
pub fn delivery_id(event_id: &str, channel_id: &str) -> String {
    // Length-prefixed, so no two pairs share a name whatever characters the ids hold.
    let name = format!("{}:{event_id}{channel_id}", event_id.len());
    format!("ntf_{}", uuid::Uuid::new_v5(&DELIVERY_NS, name.as_bytes()).simple())
}

/// A delivery to create.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// Event envelope id.
    pub event_id: String,
    /// Event type.
    pub event_type: String,
    /// Debug event.
    pub test: bool,
    /// Channel id.
    pub channel_id: String,
    /// Channel kind name.
    pub channel_kind: String,
    /// Rendered title.
    pub title: String,
    /// Rendered body.
    pub body: String,
    /// Event data as JSON text.
    pub data: String,
}

/// Inserts the deliveries, skipping any (event, channel) that exists already.
///
/// # Errors
/// [`StoreError`].
pub async fn insert(db: &impl ConnectionTrait, rows: Vec<NewDelivery>, now: DateTime<Utc>) -> Result<(), StoreError> {
    for row in rows {
        let model = deliveries::ActiveModel {
            id: Set(delivery_id(&row.event_id, &row.channel_id)),
            event_id: Set(row.event_id),
            event_type: Set(row.event_type),
            test: Set(row.test),
            channel_id: Set(row.channel_id),
            channel_kind: Set(row.channel_kind),
            state: Set(PENDING.into()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            lease_until: Set(None),
            title: Set(row.title),
            body: Set(row.body),
            data: Set(row.data),
            last_error: Set(None),
            provider_answer: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            delivered_at: Set(None),
        };
        deliveries::Entity::insert(model)
            .on_conflict(
                OnConflict::columns([deliveries::Column::EventId, deliveries::Column::ChannelId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

fn due_condition(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(
            Condition::all().add(deliveries::Column::State.eq(PENDING)).add(deliveries::Column::NextAttemptAt.lte(now)),
        )
        .add(Condition::all().add(deliveries::Column::State.eq(SENDING)).add(deliveries::Column::LeaseUntil.lt(now)))
}

/// Deliveries due at `now` (pending and due, or claimed by a sender whose lease ran out), oldest
/// due first.
///
/// # Errors
/// [`StoreError`].
pub async fn due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<deliveries::Model>, StoreError> {
    Ok(deliveries::Entity::find()
        .filter(due_condition(now))
        .order_by_asc(deliveries::Column::NextAttemptAt)
        .limit(limit)
        .all(db)
        .await?)
}

/// Claims delivery `id` for one attempt if it is still due: `sending` until `now + lease`, the
/// attempt counted. Returns the claimed row, or `None` when another sender got it first or it
/// is no longer due.
///
/// # Errors
/// [`StoreError`].
pub async fn claim(
    db: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
    lease: std::time::Duration,
) -> Result<Option<deliveries::Model>, StoreError> {
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    let claimed = deliveries::Entity::update_many()
        .col_expr(deliveries::Column::State, Expr::value(SENDING))
        .col_expr(deliveries::Column::LeaseUntil, Expr::value(Some(until)))
        .col_expr(deliveries::Column::Attempts, Expr::col(deliveries::Column::Attempts).add(1))
        .col_expr(deliveries::Column::UpdatedAt, Expr::value(now))
        .filter(deliveries::Column::Id.eq(id))
        .filter(due_condition(now))
        .exec(db)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(None);
    }
    Ok(deliveries::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// Moves a pending delivery's next attempt to `until` (its channel's limiter said "not yet");
/// no attempt is counted.
///
/// # Errors
/// [`StoreError`].
pub async fn defer(db: &impl ConnectionTrait, id: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
    deliveries::Entity::update_many()
        .col_expr(deliveries::Column::NextAttemptAt, Expr::value(until))
        .filter(deliveries::Column::Id.eq(id))
        .filter(deliveries::Column::State.eq(PENDING))
        .exec(db)
        .await?;
    Ok(())
}

/// What an attempt changes.
#[derive(Debug, Clone)]
pub struct Settle {
    /// The new state: `delivered`, `pending` (retry at `next_attempt_at`) or `failed`.
    pub state: &'static str,
    /// When the next attempt is due (for `pending`).
    pub next_attempt_at: DateTime<Utc>,
    /// The attempt's label (`delivered`, `retry`, `rate_limited`, `failed`).
    pub outcome: &'static str,
    /// HTTP or SMTP status.
    pub status_code: Option<i32>,
    /// The provider's answer.
    pub answer: Option<String>,
    /// What went wrong.
    pub error: Option<String>,
    /// When the attempt started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: i64,
}

/// Records attempt `attempt` of `id` and settles the delivery, in one transaction. The delivery
/// changes only if this sender's claim still holds (state `sending` with the same attempt
/// count); returns whether it did.
///
/// # Errors
/// [`StoreError`].
pub async fn settle(
    db: &(impl ConnectionTrait + TransactionTrait),
    id: &str,
    attempt: i32,
    s: &Settle,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let txn = db.begin().await?;
    attempts::Entity::insert(attempts::ActiveModel {
        id: NotSet,
        delivery_id: Set(id.to_owned()),
        attempt: Set(attempt),
        outcome: Set(s.outcome.to_owned()),
        status_code: Set(s.status_code),
        provider_answer: Set(s.answer.clone()),
        duration_ms: Set(s.duration_ms),
        error: Set(s.error.clone()),
        at: Set(s.started_at),
    })
    .exec_without_returning(&txn)
    .await?;
    let delivered_at = (s.state == DELIVERED).then_some(now);
    let updated = deliveries::Entity::update_many()
        .col_expr(deliveries::Column::State, Expr::value(s.state))
        .col_expr(deliveries::Column::NextAttemptAt, Expr::value(s.next_attempt_at))
        .col_expr(deliveries::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(deliveries::Column::LastError, Expr::value(s.error.clone()))
        .col_expr(deliveries::Column::ProviderAnswer, Expr::value(s.answer.clone()))
        .col_expr(deliveries::Column::DeliveredAt, Expr::value(delivered_at))
        .col_expr(deliveries::Column::UpdatedAt, Expr::value(now))
        .filter(deliveries::Column::Id.eq(id))
        .filter(deliveries::Column::State.eq(SENDING))
        .filter(deliveries::Column::Attempts.eq(attempt))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(updated.rows_affected == 1)
}

/// Deliveries for operators, newest first: of one event, and/or only the failed ones.
///
/// # Errors
/// [`StoreError`].
pub async fn list(
    db: &impl ConnectionTrait,
    event_id: Option<&str>,
    failed_only: bool,
    limit: u64,
) -> Result<Vec<deliveries::Model>, StoreError> {
    let mut q = deliveries::Entity::find();
    if let Some(e) = event_id {
        q = q.filter(deliveries::Column::EventId.eq(e));
    }
    if failed_only {
        q = q.filter(deliveries::Column::State.eq(FAILED));
    }
    Ok(q.order_by_desc(deliveries::Column::CreatedAt)
        .order_by_asc(deliveries::Column::ChannelId)
        .limit(limit)
        .all(db)
        .await?)
}

/// Every attempt at delivery `id`, first first.
///
/// # Errors
/// [`StoreError`].
pub async fn attempts_of(db: &impl ConnectionTrait, id: &str) -> Result<Vec<attempts::Model>, StoreError> {
    Ok(attempts::Entity::find()
        .filter(attempts::Column::DeliveryId.eq(id))
        .order_by_asc(attempts::Column::Attempt)
        .order_by_asc(attempts::Column::Id)
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_are_stable_and_distinct_per_pair() {
        assert_eq!(delivery_id("e1", "ops"), delivery_id("e1", "ops"));
        assert_ne!(delivery_id("e1", "ops"), delivery_id("e1", "mail"));
        assert_ne!(delivery_id("e1\nx", "y"), delivery_id("e1", "x\ny"));
        assert!(delivery_id("e1", "ops").starts_with("ntf_"));
    }
}
