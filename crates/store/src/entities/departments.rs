//! `departments`: the tenant's departments from Kit singleOrgSync and allOrgSync (spec §5.5,
//! §5.6), unique per `(instance_id, tenant_id, org_code)`.

pub use koofill_model::DirectoryState;
use sea_orm::entity::prelude::*;

/// One department.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "departments")]
pub struct Model {
    /// Sequence.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The instance.
    pub instance_id: String,
    /// The enterprise.
    pub tenant_id: String,
    /// The department code, unique within the tenant.
    pub org_code: String,
    /// Its name.
    pub org_name: String,
    /// The parent's code; `None` at the top level.
    pub parent_code: Option<String>,
    /// `active`, `deleted` or `revoked`; an unknown stored name fails the read.
    pub state: DirectoryState,
    /// Whether it came from a debug call.
    pub test: bool,
    /// KooGallery's `timeStamp` of the call that last changed the row.
    pub source_time: DateTimeUtc,
    /// When koofill last changed the row.
    pub updated_at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
