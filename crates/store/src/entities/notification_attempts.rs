//! `notification_attempts`: every attempt at a delivery, whatever its outcome.

use sea_orm::entity::prelude::*;

/// One attempt.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_attempts")]
pub struct Model {
    /// Sequence.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The delivery (`notification_deliveries.id`).
    pub delivery_id: String,
    /// 1 for the first attempt.
    pub attempt: i32,
    /// `delivered`, `retry`, `rate_limited` or `failed`.
    pub outcome: String,
    /// The HTTP status, when an answer came.
    pub status_code: Option<i32>,
    /// The provider's answer (truncated; never a secret).
    pub provider_answer: Option<String>,
    /// How long the attempt took.
    pub duration_ms: i64,
    /// What went wrong.
    pub error: Option<String>,
    /// When it started.
    pub at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
