//! `inbox`: which messages each consumer has processed, unique per `(consumer, event_id)`, so
//! duplicates are recognised long after JetStream's deduplication window.

use sea_orm::entity::prelude::*;

/// One processed message.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox")]
pub struct Model {
    /// The consumer (durable name) that processed it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub consumer: String,
    /// The envelope id (also its `Nats-Msg-Id`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    /// When its transaction committed.
    pub processed_at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
