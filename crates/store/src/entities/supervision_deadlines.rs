//! `supervision_deadlines`: one row per (case, kind) with its due time and outcome (spec §10.3).

use sea_orm::entity::prelude::*;

/// One deadline.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "supervision_deadlines")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The case.
    pub case_id: i64,
    /// `requirement`, `materials`, `feedback`, `completion`, `hardware_acceptance`, `seller_action`,
    /// `unaccepted`.
    pub kind: String,
    /// How often this deadline was (re)started; reminders are sent once per cycle.
    pub cycle: i64,
    /// When its clock started.
    pub started_at: DateTimeUtc,
    /// When it falls due (moved later by the time spent appealed).
    pub due_at: DateTimeUtc,
    /// When what it waits for happened.
    pub met_at: Option<DateTimeUtc>,
    /// When it was found overdue.
    pub breached_at: Option<DateTimeUtc>,
    /// Since when it is frozen by an appeal.
    pub paused_at: Option<DateTimeUtc>,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
