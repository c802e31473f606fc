//! `license_transitions`: the audit trail of every license change, and the unique
//! `(code, idem_key)` that enforces spec §7.2's keys (`refresh:{orderId}:{scene}`, `release`).

use sea_orm::entity::prelude::*;

/// One transition.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "license_transitions")]
pub struct Model {
    /// Sequence.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The license code.
    pub code: String,
    /// The status before (`none` when the code was first seen).
    pub from_status: String,
    /// The status after.
    pub to_status: String,
    /// `renew`, `freeze`, `unfreeze`, `release`.
    pub step: String,
    /// The idempotency key; `None` for freeze/unfreeze (target state, may repeat).
    pub idem_key: Option<String>,
    /// The order that caused it.
    pub order_id: Option<String>,
    /// The refresh scene, for renewals.
    pub scene: Option<String>,
    /// The envelope id of the message that caused it.
    pub event_id: String,
    /// Extra detail as JSON text (expiry).
    pub detail: Option<String>,
    /// When.
    pub at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
