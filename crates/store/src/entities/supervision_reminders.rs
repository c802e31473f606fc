//! `supervision_reminders`: the reminders sent before deadlines; `(case_id, kind, cycle, threshold)`
//! is unique, so each is sent once.

use sea_orm::entity::prelude::*;

/// One reminder sent.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "supervision_reminders")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The case.
    pub case_id: i64,
    /// The deadline kind.
    pub kind: String,
    /// The deadline's cycle.
    pub cycle: i64,
    /// How long before the deadline, as configured (`7 days`).
    pub threshold: String,
    /// When it was sent.
    pub sent_at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
