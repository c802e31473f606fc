//! `usage_events`: the metering worker's event inbox, one row per `(instance_id, event_id)`.

use sea_orm::entity::prelude::*;

/// One usage event, counted once.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_events")]
pub struct Model {
    /// The instance.
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_id: String,
    /// The producer's event ID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    /// The value as received (exact decimal text).
    pub usage_value: String,
    /// When the usage happened.
    pub occurred_at: DateTimeUtc,
    /// The window it was added to; none for `late_unbilled`.
    pub window_begin: Option<DateTimeUtc>,
    /// `counted` (its own window), `late` (a later window: its own was closed) or `late_unbilled`
    /// (arrived after its window closed and the instance was released).
    pub disposition: String,
    /// When the worker counted it.
    pub received_at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
