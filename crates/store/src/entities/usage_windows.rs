//! `usage_windows`: one billing window of one instance, its exact total and its push ledger
//! (`open → closed → pushed → accepted | rejected`, or `held` / `unbilled` with a reason).

use sea_orm::entity::prelude::*;

/// One window.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_windows")]
pub struct Model {
    /// The instance.
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_id: String,
    /// Start of the window (aligned to the billing cycle, UTC).
    #[sea_orm(primary_key, auto_increment = false)]
    pub window_begin: DateTimeUtc,
    /// End of the window (exclusive).
    pub window_end: DateTimeUtc,
    /// `hourly` or `daily`.
    pub cycle: String,
    /// The exact sum of the events counted in it (8 decimals).
    pub total: String,
    /// How many events were counted in it.
    pub events: i64,
    /// `open`, `closed`, `pushed`, `accepted`, `rejected`, `held` or `unbilled`.
    pub state: String,
    /// The record-level reason code of a rejection (`001`…), or why a window is held or unbilled.
    pub reason: Option<String>,
    /// The record's unique ID, deterministic from (instance, record begin, record end).
    pub metering_sn: Option<String>,
    /// The record's `begin_time` (the window start, or the resource start if later).
    pub record_begin: Option<DateTimeUtc>,
    /// The record's `end_time` (the window end, or the release time if earlier).
    pub record_end: Option<DateTimeUtc>,
    /// The record's `record_time`: when it was built (at close), the same on every re-push.
    pub record_time: Option<DateTimeUtc>,
    /// The value sent: the total rounded to 4 decimals when the window closed.
    pub usage_value: Option<String>,
    /// Push calls that carried this record.
    pub push_attempts: i64,
    /// When the last of them was made.
    pub last_push_at: Option<DateTimeUtc>,
    /// When KooGallery first answered `MKT.0000` for a push carrying it.
    pub pushed_at: Option<DateTimeUtc>,
    /// When its record-level result was recorded.
    pub verdict_at: Option<DateTimeUtc>,
    /// Incremented by every change; guards compare-and-set updates between handlers and replicas.
    pub version: i64,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row last changed.
    pub updated_at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
