//! `supervision_steps`: every transition of a supervision case (who, when, note, evidence);
//! `(case_id, seq)` is unique.

use sea_orm::entity::prelude::*;

/// One step.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "supervision_steps")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The case.
    pub case_id: i64,
    /// The case's version after this step (1 for the opening).
    pub seq: i64,
    /// `open`, `confirm`, `reject`, `deliver`, `complete`, `accept`, `appeal`, `resolve`,
    /// `license_activated`.
    pub action: String,
    /// The state before (`none` for the opening).
    pub from_state: String,
    /// The state after.
    pub to_state: String,
    /// Who: `cli:<user>`, `admin:<name>`, or `system:<worker>` for steps koofill took itself.
    pub actor: String,
    /// Free text from the operator.
    pub note: Option<String>,
    /// Reference to the evidence (the delivery proof's file name or URL).
    pub evidence: Option<String>,
    /// The service start recorded with this step.
    pub actual_start: Option<DateTimeUtc>,
    /// The message or request that caused it.
    pub source_id: String,
    /// When.
    pub at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
