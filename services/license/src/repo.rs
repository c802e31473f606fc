//! Reads and writes of `licenses`, `license_transitions` and `license_checks`.

use chrono::{DateTime, Utc};
use koofill_store::{
    StoreError,
    entities::{license_checks, license_transitions, licenses},
};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::Expr};

use crate::LicenseError;

/// `licenses.status` values.
pub mod status {
    /// Usable (as far as the callbacks go).
    pub const ACTIVE: &str = "active";
    /// Frozen after expiry.
    pub const FROZEN: &str = "frozen";
    /// Released.
    pub const RELEASED: &str = "released";
    /// The from-state of a code's first transition.
    pub const NONE: &str = "none";
}

/// The row of `code`.
pub async fn find(db: &impl ConnectionTrait, code: &str) -> Result<Option<licenses::Model>, StoreError> {
    Ok(licenses::Entity::find_by_id(code.to_owned()).one(db).await?)
}

/// A new row for `code` in `status`, first seen at `now`.
pub fn new_row(code: &str, status: &str, test: bool, now: DateTime<Utc>) -> licenses::ActiveModel {
    licenses::ActiveModel {
        code: Set(code.to_owned()),
        order_id: Set(None),
        order_line_id: Set(None),
        product_id: Set(None),
        status: Set(status.to_owned()),
        expire_time: Set(None),
        test: Set(test),
        released_before_known: Set(false),
        status_requested_at: Set(None),
        expiry_requested_at: Set(None),
        activated_at: Set(None),
        activation_announced: Set(false),
        kg_status: Set(None),
        checked_at: Set(None),
        check_due: Set(true),
        version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Writes `changes` to the row of `code` if it is still at `version` (bumping it); else
/// [`LicenseError::Concurrent`].
pub async fn update(
    db: &impl ConnectionTrait,
    code: &str,
    version: i64,
    changes: licenses::ActiveModel,
) -> Result<(), LicenseError> {
    let mut changes = changes;
    changes.version = Set(version + 1);
    changes.updated_at = Set(Utc::now());
    let done = licenses::Entity::update_many()
        .set(changes)
        .filter(licenses::Column::Code.eq(code))
        .filter(licenses::Column::Version.eq(version))
        .exec(db)
        .await
        .map_err(StoreError::from)?;
    if done.rows_affected == 0 {
        return Err(LicenseError::Concurrent(code.to_owned()));
    }
    Ok(())
}

/// Writes the proxy's columns (what KooGallery said) without touching `version`, so a callback's
/// compare-and-set is not disturbed; `check_due` is cleared only if no callback changed the row
/// since it was read at `version`.
pub async fn record_check(
    db: &impl ConnectionTrait,
    code: &str,
    version: i64,
    changes: licenses::ActiveModel,
) -> Result<(), StoreError> {
    let mut changes = changes;
    changes.updated_at = Set(Utc::now());
    licenses::Entity::update_many().set(changes).filter(licenses::Column::Code.eq(code)).exec(db).await?;
    licenses::Entity::update_many()
        .col_expr(licenses::Column::CheckDue, Expr::value(false))
        .filter(licenses::Column::Code.eq(code))
        .filter(licenses::Column::Version.eq(version))
        .exec(db)
        .await?;
    Ok(())
}

/// One transition row.
#[derive(Debug)]
pub struct Transition<'a> {
    /// The code.
    pub code: &'a str,
    /// Status before.
    pub from: &'a str,
    /// Status after.
    pub to: &'a str,
    /// `renew`, `freeze`, `unfreeze`, `release`.
    pub step: &'a str,
    /// The idempotency key, for keyed steps.
    pub idem_key: Option<String>,
    /// The order.
    pub order_id: Option<&'a str>,
    /// The refresh scene.
    pub scene: Option<&'a str>,
    /// The envelope id.
    pub event_id: &'a str,
    /// Detail, JSON.
    pub detail: Option<serde_json::Value>,
}

/// Adds a transition.
pub async fn add_transition(db: &impl ConnectionTrait, t: Transition<'_>) -> Result<(), StoreError> {
    license_transitions::ActiveModel {
        code: Set(t.code.to_owned()),
        from_status: Set(t.from.to_owned()),
        to_status: Set(t.to.to_owned()),
        step: Set(t.step.to_owned()),
        idem_key: Set(t.idem_key),
        order_id: Set(t.order_id.map(str::to_owned)),
        scene: Set(t.scene.map(str::to_owned)),
        event_id: Set(t.event_id.to_owned()),
        detail: Set(t.detail.map(|d| d.to_string())),
        at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Whether the keyed step `key` happened to `code`.
pub async fn has_transition(db: &impl ConnectionTrait, code: &str, key: &str) -> Result<bool, StoreError> {
    Ok(license_transitions::Entity::find()
        .filter(license_transitions::Column::Code.eq(code))
        .filter(license_transitions::Column::IdemKey.eq(key))
        .one(db)
        .await?
        .is_some())
}

/// Records one call to KooGallery.
pub async fn add_check(
    db: &impl ConnectionTrait,
    code: &str,
    call: &str,
    outcome: &str,
    status: Option<&str>,
    duration_ms: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    license_checks::ActiveModel {
        code: Set(code.to_owned()),
        call: Set(call.to_owned()),
        outcome: Set(outcome.to_owned()),
        status: Set(status.map(str::to_owned)),
        duration_ms: Set(duration_ms),
        at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
