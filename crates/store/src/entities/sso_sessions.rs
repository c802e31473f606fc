//! `sso_sessions`: one row per 联营 login brokered by the SSO service (spec §6), keyed by the
//! session id handed to the seller's product. The OAuth tokens are sealed at rest
//! ([`crate::SecretBox`], purpose `sso_sessions.tokens`); `assertion_jti` is unique, so the
//! one-time redeem of a login assertion is a conditional UPDATE of exactly one row.

use sea_orm::entity::prelude::*;

/// One login session.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_sessions")]
pub struct Model {
    /// The session id (`sid` of the assertions).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The enterprise.
    pub tenant_id: String,
    /// The application.
    pub app_id: String,
    /// The instance the user was authorised under.
    pub instance_id: String,
    /// The joint-operation account name.
    pub user_name: String,
    /// KooGallery's access token, sealed.
    pub access_token_enc: String,
    /// KooGallery's refresh token, sealed; `None` when none was issued.
    pub refresh_token_enc: Option<String>,
    /// When the access token expires.
    pub token_expires_at: DateTimeUtc,
    /// The `jti` of the latest assertion issued for the session.
    pub assertion_jti: String,
    /// When that assertion expires.
    pub assertion_expires_at: DateTimeUtc,
    /// When that assertion was redeemed; `None` while it has not been.
    pub redeemed_at: Option<DateTimeUtc>,
    /// When the session began.
    pub created_at: DateTimeUtc,
    /// When the session ended (logout, or the user lost the authorisation).
    pub ended_at: Option<DateTimeUtc>,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
