//! The inbox: "has this consumer processed this message?", answered by a unique key.

use chrono::Utc;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::OnConflict};

use crate::{StoreError, entities::inbox};

/// Records that `consumer` processed `event_id`; `false` if it already had (the caller then
/// rolls back its transaction: the effects happened the first time). Run it in the handler's
/// transaction, so the record commits with the effects or not at all.
///
/// # Errors
/// [`StoreError`] for database failures.
pub async fn claim<C: ConnectionTrait>(db: &C, consumer: &str, event_id: &str) -> Result<bool, StoreError> {
    let row = inbox::ActiveModel {
        consumer: Set(consumer.to_owned()),
        event_id: Set(event_id.to_owned()),
        processed_at: Set(Utc::now()),
    };
    let inserted = inbox::Entity::insert(row)
        .on_conflict(OnConflict::columns([inbox::Column::Consumer, inbox::Column::EventId]).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(inserted > 0)
}

/// Whether `consumer` has processed `event_id` (a cheap check before any outside call).
///
/// # Errors
/// [`StoreError`] for database failures.
pub async fn is_processed<C: ConnectionTrait>(db: &C, consumer: &str, event_id: &str) -> Result<bool, StoreError> {
    Ok(inbox::Entity::find()
        .filter(inbox::Column::Consumer.eq(consumer))
        .filter(inbox::Column::EventId.eq(event_id))
        .one(db)
        .await?
        .is_some())
}
