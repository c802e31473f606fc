//! `applications`: OAuth clients synced by Kit applicationSync (spec §5.3), unique per
//! `(instance_id, tenant_id, app_id)`. The client secret is stored encrypted at rest
//! ([`crate::SecretBox`]).

pub use koofill_model::DirectoryState;
use sea_orm::entity::prelude::*;

/// One application.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    /// Sequence.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The instance; empty during credential application.
    pub instance_id: String,
    /// The enterprise.
    pub tenant_id: String,
    /// The application credential's app ID.
    pub app_id: String,
    /// The OAuth client ID.
    pub client_id: String,
    /// The OAuth client secret, sealed by [`crate::SecretBox`] (`None` after a delete).
    pub client_secret_enc: Option<String>,
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
