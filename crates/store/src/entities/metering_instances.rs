//! `metering_instances`: what the `instance.*` events said about each instance, as far as
//! metering needs it (whether it is known, frozen or released, and since when).

use sea_orm::entity::prelude::*;

/// One instance.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "metering_instances")]
pub struct Model {
    /// The instance.
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_id: String,
    /// `opening`, `active`, `frozen`, `released` or `failed`.
    pub status: String,
    /// When it was first seen (the resource start: no record begins before it).
    pub opened_at: Option<DateTimeUtc>,
    /// When it was released (no record ends after it).
    pub released_at: Option<DateTimeUtc>,
    /// `hourly` or `daily`: the billing cycle of its product, from `instance.active`; unset
    /// until then.
    pub cycle: Option<String>,
    /// When the row last changed.
    pub updated_at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
