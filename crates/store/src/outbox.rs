//! The outbox: events written in the handler's transaction, published afterwards by a relay.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, LockBehavior, LockType, OnConflict},
};

use crate::{StoreError, entities::outbox};

/// An event to store for publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Deterministic id (`{source event id}:{step}`): a replayed handler writes the same id, and
    /// the relay publishes it as `Nats-Msg-Id`.
    pub id: String,
    /// The subject.
    pub subject: String,
    /// The payload (JSON text).
    pub payload: String,
    /// Headers to publish with (trace context).
    pub headers: BTreeMap<String, String>,
}

/// Stores `event` unless an event with its id is already stored (then it is the same event).
///
/// # Errors
/// [`StoreError`] for database failures.
pub async fn push<C: ConnectionTrait>(db: &C, event: NewEvent) -> Result<(), StoreError> {
    let headers = if event.headers.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&event.headers).map_err(StoreError::Encode)?)
    };
    let row = outbox::ActiveModel {
        id: Set(event.id),
        subject: Set(event.subject),
        payload: Set(event.payload),
        headers: Set(headers),
        created_at: Set(Utc::now()),
        sent_at: Set(None),
    };
    outbox::Entity::insert(row)
        .on_conflict(OnConflict::column(outbox::Column::Id).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Up to `limit` unsent events, oldest first.
///
/// # Errors
/// [`StoreError`] for database failures.
pub async fn pending<C: ConnectionTrait>(db: &C, limit: u64) -> Result<Vec<outbox::Model>, StoreError> {
    Ok(pending_query(limit).all(db).await?)
}

/// Up to `limit` unsent events, oldest first, locked for the transaction `txn` — skipping rows
/// another transaction has locked, so relays of several processes take disjoint events instead
/// of publishing the same ones and then waiting on (or deadlocking over) each other's marks.
/// PostgreSQL only; SQLite has one writer and no row locks (use [`pending`]).
///
/// # Errors
/// [`StoreError`] for database failures.
pub async fn claim_pending<C: ConnectionTrait>(txn: &C, limit: u64) -> Result<Vec<outbox::Model>, StoreError> {
    Ok(pending_query(limit).lock_with_behavior(LockType::Update, LockBehavior::SkipLocked).all(txn).await?)
}

fn pending_query(limit: u64) -> sea_orm::Select<outbox::Entity> {
    outbox::Entity::find()
        .filter(outbox::Column::SentAt.is_null())
        .order_by_asc(outbox::Column::CreatedAt)
        .order_by_asc(outbox::Column::Id)
        .limit(limit)
}

/// How many events wait to be published.
///
/// # Errors
/// [`StoreError`] for database failures.
pub async fn pending_count<C: ConnectionTrait>(db: &C) -> Result<u64, StoreError> {
    Ok(outbox::Entity::find().filter(outbox::Column::SentAt.is_null()).count(db).await?)
}

/// Marks events as published.
///
/// # Errors
/// [`StoreError`] for database failures.
pub async fn mark_sent<C: ConnectionTrait>(db: &C, ids: &[String], at: DateTime<Utc>) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    outbox::Entity::update_many()
        .col_expr(outbox::Column::SentAt, Expr::value(at))
        .filter(outbox::Column::Id.is_in(ids.iter().cloned()))
        .exec(db)
        .await?;
    Ok(())
}

/// The headers of a stored event.
pub fn headers(row: &outbox::Model) -> BTreeMap<String, String> {
    row.headers.as_deref().and_then(|h| serde_json::from_str(h).ok()).unwrap_or_default()
}
