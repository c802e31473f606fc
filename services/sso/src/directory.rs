//! Reads of the Kit directory the provisioning worker keeps (spec §5.2–§5.4): the tenant's
//! domain, the app's OAuth client, and whether a user is authorised.
//!
//! The directory is keyed by instance too (a tenant bound to two instances has two rows, and
//! credential application syncs with an empty instance), so every read takes the most recently
//! changed row in force.

use koofill_store::{
    StoreError,
    entities::{
        applications,
        directory_users::{self, DirectoryState},
        tenants,
    },
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

/// An active tenant, by tenantId.
pub(crate) async fn tenant(db: &DatabaseConnection, tenant_id: &str) -> Result<Option<tenants::Model>, StoreError> {
    Ok(tenants::Entity::find()
        .filter(tenants::Column::TenantId.eq(tenant_id))
        .filter(tenants::Column::State.eq(DirectoryState::Active))
        .order_by_desc(tenants::Column::UpdatedAt)
        .one(db)
        .await?)
}

/// The tenant's active application `app_id` that has a client secret.
pub(crate) async fn application(
    db: &DatabaseConnection,
    tenant_id: &str,
    app_id: &str,
) -> Result<Option<applications::Model>, StoreError> {
    Ok(applications::Entity::find()
        .filter(applications::Column::TenantId.eq(tenant_id))
        .filter(applications::Column::AppId.eq(app_id))
        .filter(applications::Column::State.eq(DirectoryState::Active))
        .filter(applications::Column::ClientSecretEnc.is_not_null())
        .order_by_desc(applications::Column::UpdatedAt)
        .one(db)
        .await?)
}

/// The tenant's application when it has exactly one in force; `None` when it has none or several
/// (the callback then cannot tell which app the login was for).
pub(crate) async fn only_application(
    db: &DatabaseConnection,
    tenant_id: &str,
) -> Result<Option<applications::Model>, StoreError> {
    let apps = applications::Entity::find()
        .filter(applications::Column::TenantId.eq(tenant_id))
        .filter(applications::Column::State.eq(DirectoryState::Active))
        .filter(applications::Column::ClientSecretEnc.is_not_null())
        .order_by_desc(applications::Column::UpdatedAt)
        .all(db)
        .await?;
    let first = apps.first().map(|a| a.app_id.clone());
    if apps.iter().all(|a| Some(&a.app_id) == first.as_ref()) { Ok(apps.into_iter().next()) } else { Ok(None) }
}

/// Whether a user may log in to an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UserCheck {
    /// Authorised and enabled: the row in force.
    Authorised(Box<directory_users::Model>),
    /// Authorised, but the account is disabled (`enable = "false"`).
    Disabled,
    /// Not authorised for the app (never synced, deleted or revoked).
    NotAuthorised,
}

/// Looks `user_name` up among the users authSync authorised for `(tenant_id, app_id)`.
pub(crate) async fn user(
    db: &DatabaseConnection,
    tenant_id: &str,
    app_id: &str,
    user_name: &str,
) -> Result<UserCheck, StoreError> {
    let rows = directory_users::Entity::find()
        .filter(directory_users::Column::TenantId.eq(tenant_id))
        .filter(directory_users::Column::AppId.eq(app_id))
        .filter(directory_users::Column::UserName.eq(user_name))
        .filter(directory_users::Column::State.eq(DirectoryState::Active))
        .order_by_desc(directory_users::Column::UpdatedAt)
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(UserCheck::NotAuthorised);
    }
    Ok(rows.into_iter().find(|u| u.enabled).map_or(UserCheck::Disabled, |u| UserCheck::Authorised(Box::new(u))))
}
