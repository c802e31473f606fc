//! `outbox`: events a handler emitted, written in the handler's transaction and published by a
//! relay with `Nats-Msg-Id = id`.

use sea_orm::entity::prelude::*;

/// One event to publish.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    /// The event's deterministic id (`{source event id}:{step}`), also its `Nats-Msg-Id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The subject to publish on.
    pub subject: String,
    /// The payload (an envelope as JSON text).
    pub payload: String,
    /// Headers to send (trace context), as a JSON object of strings.
    pub headers: Option<String>,
    /// When it was written.
    pub created_at: DateTimeUtc,
    /// When JetStream confirmed it; `None` while pending.
    pub sent_at: Option<DateTimeUtc>,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
