//! The Kit directory (spec §5): tenants, applications, users and departments.
//!
//! Every write is an upsert by the natural key of spec §5 (unique indexes), and a delete is a
//! tombstone (`state = deleted`, `revoked` for a revoked user), never an error, whether or not the
//! instance or the row exists: deleting a key never seen leaves a tombstone too, so an older add
//! handled later (a retry) cannot bring it back. Each row keeps KooGallery's `timeStamp` of the
//! call that last changed it; an older call that arrives late (a redelivery, a retry by the
//! buyer) changes nothing. allOrgSync is the full set: listed departments are upserted, the
//! tenant's others are tombstoned.
//!
//! Ordering and concurrency:
//! - a tenant's messages are handled one at a time in a process (the handler holds the
//!   `kit:{instanceId}:{tenantId}` lock), so two adds of one key cannot both insert; across
//!   replicas the unique index refuses the second insert and the message is retried
//!   ([`ProvisioningError::Contended`]), reading the row the other one wrote;
//! - whether a call is older than everything it would change is decided before the provisioner
//!   is called: such a call is acknowledged with no provisioner call, no write and no event.
//!
//! applicationSync's `clientSecret` is decrypted with the configured RSA key (spec §2.7) and
//! stored sealed by [`koofill_store::SecretBox`] (key derived from that RSA key, see
//! [`crate::client_secret`]); it is never forwarded to the provisioner.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use koofill_model::{
    DirectoryState, DomainEvent, InstanceId, KitRequest,
    kit::{AllOrgSync, ApplicationSync, AuthSync, SingleOrgSync, SyncFlag, TenantSync, User},
};
use koofill_store::{
    StoreError,
    entities::{applications, departments, directory_users, tenants},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set, sea_query::Expr,
};

use super::Msg;
use crate::{
    ProvisioningError,
    context::Deps,
    provisioner::{Change, Provisioner},
};

const ACTIVE: DirectoryState = DirectoryState::Active;
const DELETED: DirectoryState = DirectoryState::Deleted;
const REVOKED: DirectoryState = DirectoryState::Revoked;

fn instance_key(id: Option<&InstanceId>) -> String {
    id.map(ToString::to_string).unwrap_or_default()
}

/// The directory change forwarded to the provisioner: the callback minus its secret.
fn directory_change(kind: &'static str, request: &KitRequest) -> Change {
    let mut body = serde_json::to_value(request).unwrap_or_default();
    if let Some(obj) = body.as_object_mut() {
        obj.remove("clientSecret");
    }
    Change::Directory { kind, body }
}

/// The lock a Kit message holds while it is handled: one tenant's messages take turns.
pub(super) fn lock_key(request: &KitRequest) -> String {
    let (instance, tenant) = match request {
        KitRequest::TenantSync(r) => (instance_key(r.instance_id.as_ref()), r.tenant_id.as_str()),
        KitRequest::ApplicationSync(r) => (instance_key(r.instance_id.as_ref()), r.tenant_id.as_str()),
        KitRequest::AuthSync(r) => (r.instance_id.to_string(), r.tenant_id.as_str()),
        KitRequest::SingleOrgSync(r) => (r.instance_id.to_string(), r.tenant_id.as_str()),
        KitRequest::AllOrgSync(r) => (r.instance_id.to_string(), r.tenant_id.as_str()),
    };
    format!("kit:{instance}:{tenant}")
}

pub(super) async fn handle(deps: &Deps, msg: &Msg<'_>, request: &KitRequest) -> Result<(), ProvisioningError> {
    let test = request.is_test();
    let kind = match request {
        KitRequest::TenantSync(_) => "tenant.sync",
        KitRequest::ApplicationSync(_) => "application.sync",
        KitRequest::AuthSync(_) => "users.sync",
        KitRequest::SingleOrgSync(_) => "department.sync",
        KitRequest::AllOrgSync(_) => "departments.replace",
    };
    // A call older than every row it would change is history: the ISV is not told, no event.
    if is_stale(&deps.db, request).await? {
        tracing::info!(kind, event_id = %msg.env.id, "older than the directory's rows; ignored");
        return msg.no_effect(deps).await;
    }
    // Decrypt before the provisioner call: a secret that cannot be read is a permanent failure.
    let sealed_secret = match request {
        KitRequest::ApplicationSync(r) if r.flag != SyncFlag::Delete => Some(seal_client_secret(deps, r)?),
        _ => None,
    };
    let change = directory_change(kind, request);
    deps.provisioners.for_order(test).apply(&msg.follow_up(kind), test, &change).await?;

    let Some(mut uow) = deps.unit(msg.consumer, &msg.env.id).await? else {
        return Ok(());
    };
    let txn = uow.txn();
    let event = match request {
        KitRequest::TenantSync(r) => tenant(txn, r).await?,
        KitRequest::ApplicationSync(r) => application(txn, r, sealed_secret).await?,
        KitRequest::AuthSync(r) => users(txn, r).await?,
        KitRequest::SingleOrgSync(r) => department(txn, r).await?,
        KitRequest::AllOrgSync(r) => all_departments(txn, r).await?,
    };
    uow.emit(deps.event(msg.follow_up(event.subject_suffix()), test, event)?);
    uow.commit().await?;
    Ok(())
}

/// Whether every row the call would change was already changed by a newer call (and it would
/// create none). Rows are checked again when written, in the transaction.
async fn is_stale<C: ConnectionTrait>(db: &C, request: &KitRequest) -> Result<bool, ProvisioningError> {
    let newer = |stored: DateTime<Utc>, at: DateTime<Utc>| !is_current(at, stored);
    Ok(match request {
        KitRequest::TenantSync(r) => tenants::Entity::find()
            .filter(tenants::Column::InstanceId.eq(instance_key(r.instance_id.as_ref())))
            .filter(tenants::Column::TenantId.eq(r.tenant_id.as_str()))
            .one(db)
            .await
            .map_err(StoreError::from)?
            .is_some_and(|row| newer(row.source_time, r.time_stamp.at())),
        KitRequest::ApplicationSync(r) => applications::Entity::find()
            .filter(applications::Column::InstanceId.eq(instance_key(r.instance_id.as_ref())))
            .filter(applications::Column::TenantId.eq(r.tenant_id.as_str()))
            .filter(applications::Column::AppId.eq(r.app_id.as_str()))
            .one(db)
            .await
            .map_err(StoreError::from)?
            .is_some_and(|row| newer(row.source_time, r.time_stamp.at())),
        KitRequest::AuthSync(r) => {
            let names: BTreeSet<&str> = r.users().iter().map(|u| u.user_name.as_str()).collect();
            if names.is_empty() {
                return Ok(false);
            }
            let newer_rows = directory_users::Entity::find()
                .filter(directory_users::Column::InstanceId.eq(r.instance_id.as_str()))
                .filter(directory_users::Column::TenantId.eq(r.tenant_id.as_str()))
                .filter(directory_users::Column::AppId.eq(r.app_id.as_str()))
                .filter(directory_users::Column::UserName.is_in(names.iter().copied()))
                .filter(directory_users::Column::SourceTime.gt(r.time_stamp.at()))
                .count(db)
                .await
                .map_err(StoreError::from)?;
            newer_rows == names.len() as u64
        }
        KitRequest::SingleOrgSync(r) => departments::Entity::find()
            .filter(departments::Column::InstanceId.eq(r.instance_id.as_str()))
            .filter(departments::Column::TenantId.eq(r.tenant_id.as_str()))
            .filter(departments::Column::OrgCode.eq(r.org_code.as_str()))
            .one(db)
            .await
            .map_err(StoreError::from)?
            .is_some_and(|row| newer(row.source_time, r.time_stamp.at())),
        KitRequest::AllOrgSync(r) => {
            let at = r.time_stamp.at();
            let listed: BTreeSet<String> = r.orgs().iter().map(|o| o.org_code.to_string()).collect();
            let tenant_rows = || {
                departments::Entity::find()
                    .filter(departments::Column::InstanceId.eq(r.instance_id.as_str()))
                    .filter(departments::Column::TenantId.eq(r.tenant_id.as_str()))
            };
            let listed_newer = tenant_rows()
                .filter(departments::Column::OrgCode.is_in(listed.iter().cloned()))
                .filter(departments::Column::SourceTime.gt(at))
                .count(db)
                .await
                .map_err(StoreError::from)?;
            // Nothing the replace would tombstone (or re-stamp) either.
            let others_older = tenant_rows()
                .filter(departments::Column::OrgCode.is_not_in(listed.iter().cloned()))
                .filter(departments::Column::SourceTime.lte(at))
                .count(db)
                .await
                .map_err(StoreError::from)?;
            listed_newer == listed.len() as u64 && others_older == 0
        }
    })
}

/// An insert refused by a natural key's unique index: another replica inserted the same key
/// between our read and our write. Retried; the redelivery finds the row and updates it.
fn inserted<T>(result: Result<T, sea_orm::DbErr>, key: impl FnOnce() -> String) -> Result<(), ProvisioningError> {
    match result.map_err(StoreError::from) {
        Ok(_) => Ok(()),
        Err(e) if e.is_conflict() => Err(ProvisioningError::Contended(key())),
        Err(e) => Err(e.into()),
    }
}

fn seal_client_secret(deps: &Deps, r: &ApplicationSync) -> Result<String, ProvisioningError> {
    let (Some(key), Some(sealer)) = (&deps.client_secret_key, &deps.secret_box) else {
        return Err(ProvisioningError::Secret("koogallery.client_secret_private_key is not configured".into()));
    };
    let (plain, variant) = key
        .decrypt(r.client_secret.expose_encrypted())
        .map_err(|e| ProvisioningError::Secret(format!("cannot decrypt clientSecret: {e}")))?;
    tracing::debug!(oaep = variant.as_str(), "clientSecret decrypted");
    Ok(sealer.seal(&plain)?)
}

/// Whether a call made at `incoming` may change a row last changed by a call made at `stored`.
fn is_current(incoming: DateTime<Utc>, stored: DateTime<Utc>) -> bool {
    incoming >= stored
}

async fn tenant<C: ConnectionTrait>(db: &C, r: &TenantSync) -> Result<DomainEvent, ProvisioningError> {
    let instance = instance_key(r.instance_id.as_ref());
    let at = r.time_stamp.at();
    let existing = tenants::Entity::find()
        .filter(tenants::Column::InstanceId.eq(&instance))
        .filter(tenants::Column::TenantId.eq(r.tenant_id.as_str()))
        .one(db)
        .await
        .map_err(StoreError::from)?;
    let state = if r.flag == SyncFlag::Delete { DELETED } else { ACTIVE };
    match existing {
        Some(row) if !is_current(at, row.source_time) => {}
        Some(row) => {
            let id = row.id;
            let mut m: tenants::ActiveModel = row.into();
            m.state = Set(state);
            m.source_time = Set(at);
            m.updated_at = Set(Utc::now());
            if r.flag != SyncFlag::Delete {
                m.tenant_code = Set(r.tenant_code.clone());
                m.name = Set(r.name.clone());
                m.domain_name = Set(r.domain_name.clone());
                m.order_id = Set(r.order_id.as_ref().map(ToString::to_string));
            }
            tenants::Entity::update_many()
                .set(m)
                .filter(tenants::Column::Id.eq(id))
                // A newer call committed by another replica since our read wins.
                .filter(tenants::Column::SourceTime.lte(at))
                .exec(db)
                .await
                .map_err(StoreError::from)?;
        }
        // Deleting what was never added leaves a tombstone, so a late add stays deleted.
        None => {
            let key = format!("tenant {instance}/{}", r.tenant_id.as_str());
            let row = tenants::ActiveModel {
                instance_id: Set(instance),
                tenant_id: Set(r.tenant_id.to_string()),
                order_id: Set(r.order_id.as_ref().map(ToString::to_string)),
                tenant_code: Set(r.tenant_code.clone()),
                name: Set(r.name.clone()),
                domain_name: Set(r.domain_name.clone()),
                state: Set(state),
                test: Set(r.test_flag),
                source_time: Set(at),
                updated_at: Set(Utc::now()),
                ..Default::default()
            };
            inserted(row.insert(db).await, || key)?;
        }
    }
    Ok(DomainEvent::TenantSynced { instance_id: r.instance_id.clone(), tenant_id: r.tenant_id.clone(), flag: r.flag })
}

async fn application<C: ConnectionTrait>(
    db: &C,
    r: &ApplicationSync,
    sealed_secret: Option<String>,
) -> Result<DomainEvent, ProvisioningError> {
    let instance = instance_key(r.instance_id.as_ref());
    let at = r.time_stamp.at();
    let existing = applications::Entity::find()
        .filter(applications::Column::InstanceId.eq(&instance))
        .filter(applications::Column::TenantId.eq(r.tenant_id.as_str()))
        .filter(applications::Column::AppId.eq(r.app_id.as_str()))
        .one(db)
        .await
        .map_err(StoreError::from)?;
    let deleting = r.flag == SyncFlag::Delete;
    match existing {
        Some(row) if !is_current(at, row.source_time) => {}
        Some(row) => {
            let id = row.id;
            let mut m: applications::ActiveModel = row.into();
            m.state = Set(if deleting { DELETED } else { ACTIVE });
            m.source_time = Set(at);
            m.updated_at = Set(Utc::now());
            // A deleted application keeps no secret.
            m.client_secret_enc = Set(sealed_secret);
            if !deleting {
                m.client_id = Set(r.client_id.clone());
            }
            applications::Entity::update_many()
                .set(m)
                .filter(applications::Column::Id.eq(id))
                // A newer call committed by another replica since our read wins.
                .filter(applications::Column::SourceTime.lte(at))
                .exec(db)
                .await
                .map_err(StoreError::from)?;
        }
        None => {
            let key = format!("application {instance}/{}/{}", r.tenant_id.as_str(), r.app_id.as_str());
            let row = applications::ActiveModel {
                instance_id: Set(instance),
                tenant_id: Set(r.tenant_id.to_string()),
                app_id: Set(r.app_id.to_string()),
                client_id: Set(r.client_id.clone()),
                // A tombstone keeps no secret (there is none to seal for a delete).
                client_secret_enc: Set(sealed_secret),
                state: Set(if deleting { DELETED } else { ACTIVE }),
                test: Set(r.test_flag),
                source_time: Set(at),
                updated_at: Set(Utc::now()),
                ..Default::default()
            };
            inserted(row.insert(db).await, || key)?;
        }
    }
    Ok(DomainEvent::ApplicationSynced {
        instance_id: r.instance_id.clone(),
        tenant_id: r.tenant_id.clone(),
        app_id: r.app_id.clone(),
        flag: r.flag,
    })
}

fn user_fields(m: &mut directory_users::ActiveModel, u: &User) {
    m.name = Set(u.name.clone());
    m.org_code = Set(u.org_code.to_string());
    m.role = Set(u.role.as_str().to_owned());
    m.enabled = Set(u.enable.is_enabled());
    m.position = Set(u.position().map(str::to_owned));
    m.employee_code = Set(u.employee_code().map(str::to_owned));
    m.employee_type = Set(u.employee_type().map(|t| t.code()));
    m.mobile = Set(u.mobile().map(str::to_owned));
    m.email = Set(u.email().map(str::to_owned));
    m.work_place = Set(u.work_place().map(str::to_owned));
    m.entry_date = Set(u.entry_date().map(str::to_owned));
}

async fn users<C: ConnectionTrait>(db: &C, r: &AuthSync) -> Result<DomainEvent, ProvisioningError> {
    let at = r.time_stamp.at();
    let state = match r.flag {
        SyncFlag::Delete => DELETED,
        SyncFlag::Revoke => REVOKED,
        SyncFlag::Add | SyncFlag::Modify => ACTIVE,
    };
    let removing = state != ACTIVE;
    for u in r.users() {
        let existing = directory_users::Entity::find()
            .filter(directory_users::Column::InstanceId.eq(r.instance_id.as_str()))
            .filter(directory_users::Column::TenantId.eq(r.tenant_id.as_str()))
            .filter(directory_users::Column::AppId.eq(r.app_id.as_str()))
            .filter(directory_users::Column::UserName.eq(&u.user_name))
            .one(db)
            .await
            .map_err(StoreError::from)?;
        match existing {
            Some(row) if !is_current(at, row.source_time) => {}
            Some(row) => {
                let id = row.id;
                let mut m: directory_users::ActiveModel = row.into();
                if !removing {
                    user_fields(&mut m, u);
                }
                m.state = Set(state);
                m.source_time = Set(at);
                m.updated_at = Set(Utc::now());
                directory_users::Entity::update_many()
                    .set(m)
                    .filter(directory_users::Column::Id.eq(id))
                    // A newer call committed by another replica since our read wins.
                    .filter(directory_users::Column::SourceTime.lte(at))
                    .exec(db)
                    .await
                    .map_err(StoreError::from)?;
            }
            None => {
                let mut m = directory_users::ActiveModel {
                    instance_id: Set(r.instance_id.to_string()),
                    tenant_id: Set(r.tenant_id.to_string()),
                    app_id: Set(r.app_id.to_string()),
                    user_name: Set(u.user_name.clone()),
                    state: Set(state),
                    test: Set(r.test_flag),
                    source_time: Set(at),
                    updated_at: Set(Utc::now()),
                    ..Default::default()
                };
                user_fields(&mut m, u);
                let key =
                    || format!("user {}/{}/{}/{}", r.instance_id, r.tenant_id.as_str(), r.app_id.as_str(), u.user_name);
                inserted(m.insert(db).await, key)?;
            }
        }
    }
    Ok(DomainEvent::UsersSynced {
        instance_id: r.instance_id.clone(),
        tenant_id: r.tenant_id.clone(),
        app_id: r.app_id.clone(),
        flag: r.flag,
        user_names: r.users().iter().map(|u| u.user_name.clone()).collect(),
    })
}

/// Upserts (or tombstones, also when never added) one department unless a newer call already
/// changed it.
#[allow(clippy::too_many_arguments)]
async fn put_department<C: ConnectionTrait>(
    db: &C,
    instance: &str,
    tenant: &str,
    org_code: &str,
    org_name: &str,
    parent: Option<&str>,
    delete: bool,
    test: bool,
    at: DateTime<Utc>,
) -> Result<(), ProvisioningError> {
    let existing = departments::Entity::find()
        .filter(departments::Column::InstanceId.eq(instance))
        .filter(departments::Column::TenantId.eq(tenant))
        .filter(departments::Column::OrgCode.eq(org_code))
        .one(db)
        .await
        .map_err(StoreError::from)?;
    match existing {
        Some(row) if !is_current(at, row.source_time) => {}
        Some(row) => {
            let id = row.id;
            let mut m: departments::ActiveModel = row.into();
            if !delete {
                m.org_name = Set(org_name.to_owned());
                m.parent_code = Set(parent.map(str::to_owned));
            }
            m.state = Set(if delete { DELETED } else { ACTIVE });
            m.source_time = Set(at);
            m.updated_at = Set(Utc::now());
            departments::Entity::update_many()
                .set(m)
                .filter(departments::Column::Id.eq(id))
                // A newer call committed by another replica since our read wins.
                .filter(departments::Column::SourceTime.lte(at))
                .exec(db)
                .await
                .map_err(StoreError::from)?;
        }
        None => {
            let row = departments::ActiveModel {
                instance_id: Set(instance.to_owned()),
                tenant_id: Set(tenant.to_owned()),
                org_code: Set(org_code.to_owned()),
                org_name: Set(org_name.to_owned()),
                parent_code: Set(parent.map(str::to_owned)),
                state: Set(if delete { DELETED } else { ACTIVE }),
                test: Set(test),
                source_time: Set(at),
                updated_at: Set(Utc::now()),
                ..Default::default()
            };
            inserted(row.insert(db).await, || format!("department {instance}/{tenant}/{org_code}"))?;
        }
    }
    Ok(())
}

async fn department<C: ConnectionTrait>(db: &C, r: &SingleOrgSync) -> Result<DomainEvent, ProvisioningError> {
    put_department(
        db,
        r.instance_id.as_str(),
        r.tenant_id.as_str(),
        r.org_code.as_str(),
        &r.org_name,
        r.parent().map(|p| p.as_str()),
        r.flag == SyncFlag::Delete,
        r.test_flag,
        r.time_stamp.at(),
    )
    .await?;
    Ok(DomainEvent::DepartmentsSynced {
        instance_id: r.instance_id.clone(),
        tenant_id: r.tenant_id.clone(),
        full: false,
        flag: Some(r.flag),
        org_codes: vec![r.org_code.clone()],
    })
}

async fn all_departments<C: ConnectionTrait>(db: &C, r: &AllOrgSync) -> Result<DomainEvent, ProvisioningError> {
    let at = r.time_stamp.at();
    let (instance, tenant) = (r.instance_id.as_str(), r.tenant_id.as_str());
    let listed: Vec<String> = r.orgs().iter().map(|o| o.org_code.to_string()).collect();
    for org in r.orgs() {
        put_department(
            db,
            instance,
            tenant,
            org.org_code.as_str(),
            org.display_name(),
            org.parent().map(|p| p.as_str()),
            false,
            r.test_flag,
            at,
        )
        .await?;
    }
    // The list is the whole set: every other department of the tenant goes.
    departments::Entity::update_many()
        .col_expr(departments::Column::State, Expr::value(DELETED.as_str()))
        .col_expr(departments::Column::SourceTime, Expr::value(at))
        .col_expr(departments::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(departments::Column::InstanceId.eq(instance))
        .filter(departments::Column::TenantId.eq(tenant))
        .filter(departments::Column::OrgCode.is_not_in(listed.clone()))
        .filter(departments::Column::SourceTime.lte(at))
        .exec(db)
        .await
        .map_err(StoreError::from)?;
    Ok(DomainEvent::DepartmentsSynced {
        instance_id: r.instance_id.clone(),
        tenant_id: r.tenant_id.clone(),
        full: true,
        flag: None,
        org_codes: r.orgs().iter().map(|o| o.org_code.clone()).collect(),
    })
}
