//! `directory_users`: users authorised through Kit authSync (spec §5.4), unique per
//! `(instance_id, tenant_id, app_id, user_name)`.

pub use koofill_model::DirectoryState;
use sea_orm::entity::prelude::*;

/// One user.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "directory_users")]
pub struct Model {
    /// Sequence.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The instance.
    pub instance_id: String,
    /// The enterprise.
    pub tenant_id: String,
    /// The application.
    pub app_id: String,
    /// The joint-operation account name (the OAuth `userName`).
    pub user_name: String,
    /// Display name.
    pub name: String,
    /// Department code.
    pub org_code: String,
    /// `user` or `admin`.
    pub role: String,
    /// Whether the account is enabled.
    pub enabled: bool,
    /// Position.
    pub position: Option<String>,
    /// Employee number.
    pub employee_code: Option<String>,
    /// Employee type code (1 regular, 2 intern, 3 dispatched, 4 outsourced).
    pub employee_type: Option<i64>,
    /// Mobile number.
    pub mobile: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Work place.
    pub work_place: Option<String>,
    /// Entry date, as sent.
    pub entry_date: Option<String>,
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
