//! `tenants`: enterprises bound through Kit tenantSync (spec §5.2), unique per
//! `(instance_id, tenant_id)`.

pub use koofill_model::DirectoryState;
use sea_orm::entity::prelude::*;

/// One tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    /// Sequence.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The instance; empty while the seller applies for an application credential.
    pub instance_id: String,
    /// The enterprise.
    pub tenant_id: String,
    /// The order, when sent.
    pub order_id: Option<String>,
    /// The enterprise's sign-in code.
    pub tenant_code: String,
    /// The enterprise's name.
    pub name: String,
    /// The enterprise's sign-in domain (with `https://`).
    pub domain_name: String,
    /// `active`, `deleted` or `revoked`; an unknown stored name fails the read.
    pub state: DirectoryState,
    /// Whether it came from a debug call.
    pub test: bool,
    /// KooGallery's `timeStamp` of the call that last changed the row; older calls are ignored.
    pub source_time: DateTimeUtc,
    /// When koofill last changed the row.
    pub updated_at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
