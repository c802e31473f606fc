//! `usage_pushes`: every usage-push call to KooGallery and its answer.

use sea_orm::entity::prelude::*;

/// One call.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_pushes")]
pub struct Model {
    /// Sequence.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// When it was made.
    pub at: DateTimeUtc,
    /// How many records it carried (at most 1000).
    pub records: i64,
    /// `accepted` (`MKT.0000`) or `failed`.
    pub outcome: String,
    /// KooGallery's error code (`MKT.…`), when it answered one.
    pub error_code: Option<String>,
    /// The error, for operators (no secrets).
    pub detail: Option<String>,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
