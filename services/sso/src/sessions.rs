//! `sso_sessions`: the rows of the logins the broker made. Every state change is one conditional
//! UPDATE, so two replicas (or two requests) racing on a row cannot both win: an assertion is
//! redeemed once, a session ends once.

use chrono::{DateTime, Utc};
use koofill_store::{StoreError, entities::sso_sessions};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, sea_query::Expr};

/// What a redeem did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redeemed {
    /// This call consumed the assertion.
    Now,
    /// The assertion was redeemed before.
    AlreadyUsed,
    /// The session has ended, or the assertion is not (or no longer) the session's latest.
    Void,
}

/// Stores a new session.
pub(crate) async fn create(db: &DatabaseConnection, row: sso_sessions::Model) -> Result<(), StoreError> {
    sso_sessions::ActiveModel::from(row).insert(db).await?;
    Ok(())
}

/// The session `sid`.
pub(crate) async fn find(db: &DatabaseConnection, sid: &str) -> Result<Option<sso_sessions::Model>, StoreError> {
    Ok(sso_sessions::Entity::find_by_id(sid.to_owned()).one(db).await?)
}

/// Consumes the assertion `jti` of session `sid`, exactly once.
pub(crate) async fn redeem(
    db: &DatabaseConnection,
    sid: &str,
    jti: &str,
    now: DateTime<Utc>,
) -> Result<Redeemed, StoreError> {
    let done = sso_sessions::Entity::update_many()
        .col_expr(sso_sessions::Column::RedeemedAt, Expr::value(now))
        .filter(sso_sessions::Column::Id.eq(sid))
        .filter(sso_sessions::Column::AssertionJti.eq(jti))
        .filter(sso_sessions::Column::RedeemedAt.is_null())
        .filter(sso_sessions::Column::EndedAt.is_null())
        .exec(db)
        .await?;
    if done.rows_affected == 1 {
        return Ok(Redeemed::Now);
    }
    let row = find(db, sid).await?;
    Ok(match row {
        Some(r) if r.assertion_jti == jti && r.ended_at.is_none() && r.redeemed_at.is_some() => Redeemed::AlreadyUsed,
        _ => Redeemed::Void,
    })
}

/// New tokens and a new assertion for a session.
pub(crate) struct Renewal {
    pub access_token_enc: String,
    pub refresh_token_enc: Option<String>,
    pub token_expires_at: DateTime<Utc>,
    pub jti: String,
    pub assertion_expires_at: DateTime<Utc>,
}

/// Records a refresh: the new tokens, and the new assertion (not redeemed yet); `false` when
/// the session has ended meanwhile.
pub(crate) async fn renew(db: &DatabaseConnection, sid: &str, renewal: Renewal) -> Result<bool, StoreError> {
    let done = sso_sessions::Entity::update_many()
        .col_expr(sso_sessions::Column::AccessTokenEnc, Expr::value(renewal.access_token_enc))
        .col_expr(sso_sessions::Column::RefreshTokenEnc, Expr::value(renewal.refresh_token_enc))
        .col_expr(sso_sessions::Column::TokenExpiresAt, Expr::value(renewal.token_expires_at))
        .col_expr(sso_sessions::Column::AssertionJti, Expr::value(renewal.jti))
        .col_expr(sso_sessions::Column::AssertionExpiresAt, Expr::value(renewal.assertion_expires_at))
        .col_expr(sso_sessions::Column::RedeemedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(sso_sessions::Column::Id.eq(sid))
        .filter(sso_sessions::Column::EndedAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Ends the session; `false` when it had ended already (or never existed).
pub(crate) async fn end(db: &DatabaseConnection, sid: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let done = sso_sessions::Entity::update_many()
        .col_expr(sso_sessions::Column::EndedAt, Expr::value(now))
        .filter(sso_sessions::Column::Id.eq(sid))
        .filter(sso_sessions::Column::EndedAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}
