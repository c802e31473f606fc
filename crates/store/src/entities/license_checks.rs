//! `license_checks`: every call koofill made to KooGallery's license activate / heartbeat APIs
//! (spec §7.3), so the once-a-day rule can be audited.

use sea_orm::entity::prelude::*;

/// One call.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "license_checks")]
pub struct Model {
    /// Sequence.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The license code.
    pub code: String,
    /// `activate` or `heartbeat`.
    pub call: String,
    /// KooGallery's `error_code` (`92020000`…), or `unreachable`.
    pub outcome: String,
    /// The status KooGallery answered, when it did.
    pub status: Option<String>,
    /// How long the call took.
    pub duration_ms: i64,
    /// When it started.
    pub at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
