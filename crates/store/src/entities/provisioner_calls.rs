//! `provisioner_calls`: every attempt to reach the ISV's provisioner (architecture §7), whatever
//! its outcome, so a flaky endpoint can be diagnosed.

use sea_orm::entity::prelude::*;

/// One attempt.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "provisioner_calls")]
pub struct Model {
    /// Sequence.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The instance concerned, when there is one.
    pub instance_id: Option<String>,
    /// The lifecycle step, e.g. `instance.create`.
    pub step: String,
    /// The `webhook-id` sent: the same on every attempt of one step, so the ISV can deduplicate.
    pub call_id: String,
    /// 1 for the first attempt of this delivery.
    pub attempt: i32,
    /// `ok`, `http_error`, `timeout`, `unreachable`, `invalid_answer`.
    pub outcome: String,
    /// The HTTP status, when an answer came.
    pub status_code: Option<i32>,
    /// How long the attempt took.
    pub duration_ms: i64,
    /// What went wrong (no secrets).
    pub error: Option<String>,
    /// When it started.
    pub at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
