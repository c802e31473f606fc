//! `notification_deliveries`: one row per (event, channel), the unit the notification worker
//! delivers exactly once.

use sea_orm::entity::prelude::*;

/// One delivery.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_deliveries")]
pub struct Model {
    /// `ntf_` + UUIDv5 of (event id, channel id): the same on every attempt, sent as
    /// `webhook-id` and shown to operators, so a repeated send is recognisable.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The event's envelope id.
    pub event_id: String,
    /// The event type, e.g. `instance.failed`.
    pub event_type: String,
    /// A debug event.
    pub test: bool,
    /// The channel (key of `notification.channels`).
    pub channel_id: String,
    /// The channel's kind when the delivery was made (`dingtalk`, …).
    pub channel_kind: String,
    /// `pending`, `sending` (claimed), `delivered` or `failed`.
    pub state: String,
    /// Attempts started.
    pub attempts: i32,
    /// When the next attempt is due (while `pending`).
    pub next_attempt_at: DateTimeUtc,
    /// While `sending`: when the claim expires and another sender may retry.
    pub lease_until: Option<DateTimeUtc>,
    /// The rendered title (email subject).
    pub title: String,
    /// The rendered body.
    pub body: String,
    /// The event's data as JSON (what webhooks receive).
    pub data: String,
    /// The last failure (no secrets).
    pub last_error: Option<String>,
    /// The provider's last answer (truncated).
    pub provider_answer: Option<String>,
    /// When the delivery was created.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
    /// When the provider accepted it.
    pub delivered_at: Option<DateTimeUtc>,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
