//! `instance_transitions`: the audit trail of every state change, and the unique
//! `(instance_id, idem_key)` that enforces the keyed idempotency of spec §4.4 (create, refresh,
//! upgrade, release).

use sea_orm::entity::prelude::*;

/// One transition.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "instance_transitions")]
pub struct Model {
    /// Sequence.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The instance.
    pub instance_id: String,
    /// The state before (`none` for a first row).
    pub from_state: String,
    /// The state after (equal to `from_state` for changes that keep the state, e.g. renewal).
    pub to_state: String,
    /// `create`, `renew`, `freeze`, `unfreeze`, `upgrade`, `release`, `fail`, `skip`.
    pub step: String,
    /// The idempotency key (`create`, `refresh:{orderId}:{scene}`, `upgrade:{orderId}`,
    /// `release`); `None` for target-state steps (freeze/unfreeze), which may repeat.
    pub idem_key: Option<String>,
    /// The order that caused it.
    pub order_id: Option<String>,
    /// The refresh scene, for renewals.
    pub scene: Option<String>,
    /// The envelope id of the message that caused it.
    pub event_id: String,
    /// Extra detail as JSON text (expiry, product, provisioner).
    pub detail: Option<String>,
    /// When.
    pub at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
