//! Reads and writes of provisioning's tables that more than one handler needs.

use chrono::{DateTime, Utc};
use koofill_bus::views::{InstanceState, InstanceView};
use koofill_model::{AppInfo, InstanceId, OrderId, OrderLineId, order::OrderInfo};
use koofill_store::{
    StoreError,
    entities::{instance_transitions, instances, order_lines, orders},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, OnConflict},
};

use crate::ProvisioningError;

/// The instance row, if any.
///
/// # Errors
/// [`ProvisioningError::Store`].
pub async fn find_instance<C: ConnectionTrait>(
    db: &C,
    id: &InstanceId,
) -> Result<Option<instances::Model>, ProvisioningError> {
    Ok(instances::Entity::find_by_id(id.to_string()).one(db).await.map_err(StoreError::from)?)
}

/// The view entry for a row: its state and, once provisioned, the appInfo with the credentials
/// as stored (already encrypted in KooGallery's format).
pub fn view_of(row: &instances::Model) -> InstanceView {
    let app_info = row.front_end_url.as_ref().map(|url| AppInfo {
        front_end_url: url.clone(),
        admin_url: row.admin_url.clone(),
        user_name: row.user_name_enc.clone(),
        password: row.password_enc.clone(),
        memo: row.memo.clone(),
    });
    InstanceView {
        instance_id: InstanceId::from(row.instance_id.as_str()),
        order_id: OrderId::from(row.order_id.as_deref().unwrap_or_default()),
        order_line_id: OrderLineId::from(row.order_line_id.as_deref().unwrap_or_default()),
        state: row.state,
        test: row.test,
        app_info,
        usage_info: None,
        updated_at: row.updated_at,
    }
}

/// Updates the row only if it is still at `expected_version` (another replica may have changed
/// it since it was read), bumping the version.
///
/// # Errors
/// [`ProvisioningError::Concurrent`] when the row moved on; [`ProvisioningError::Store`].
pub async fn update_instance<C: ConnectionTrait>(
    db: &C,
    id: &InstanceId,
    expected_version: i64,
    mut changes: instances::ActiveModel,
) -> Result<(), ProvisioningError> {
    changes.version = Set(expected_version + 1);
    changes.updated_at = Set(Utc::now());
    let result = instances::Entity::update_many()
        .set(changes)
        .filter(instances::Column::InstanceId.eq(id.as_str()))
        .filter(instances::Column::Version.eq(expected_version))
        .exec(db)
        .await
        .map_err(StoreError::from)?;
    if result.rows_affected == 1 { Ok(()) } else { Err(ProvisioningError::Concurrent(id.clone())) }
}

/// A transition to record.
#[derive(Debug, Clone)]
pub struct Transition<'a> {
    /// The instance.
    pub instance_id: &'a InstanceId,
    /// State before (`None` for a new row).
    pub from: Option<InstanceState>,
    /// State after.
    pub to: InstanceState,
    /// The step.
    pub step: &'a str,
    /// The idempotency key, for keyed steps.
    pub idem_key: Option<String>,
    /// The order.
    pub order_id: Option<&'a str>,
    /// The refresh scene.
    pub scene: Option<&'a str>,
    /// The message that caused it.
    pub event_id: &'a str,
    /// Extra detail.
    pub detail: Option<serde_json::Value>,
}

/// Records a transition; `false` if its idempotency key was recorded before (the step already
/// happened).
///
/// A repeated key is skipped by `ON CONFLICT DO NOTHING`, not caught as an error: on
/// PostgreSQL a failed statement aborts the whole transaction, and its commit would then roll
/// back everything (the inbox row included) without a word.
///
/// # Errors
/// [`ProvisioningError::Store`].
pub async fn add_transition<C: ConnectionTrait>(db: &C, t: Transition<'_>) -> Result<bool, ProvisioningError> {
    let row = instance_transitions::ActiveModel {
        instance_id: Set(t.instance_id.to_string()),
        from_state: Set(t.from.map_or("none", InstanceState::as_str).to_owned()),
        to_state: Set(t.to.as_str().to_owned()),
        step: Set(t.step.to_owned()),
        idem_key: Set(t.idem_key),
        order_id: Set(t.order_id.map(str::to_owned)),
        scene: Set(t.scene.map(str::to_owned)),
        event_id: Set(t.event_id.to_owned()),
        detail: Set(t.detail.map(|d| d.to_string())),
        at: Set(Utc::now()),
        ..Default::default()
    };
    let inserted = instance_transitions::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([instance_transitions::Column::InstanceId, instance_transitions::Column::IdemKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map_err(StoreError::from)?;
    Ok(inserted > 0)
}

/// Whether a keyed step was recorded for the instance.
///
/// # Errors
/// [`ProvisioningError::Store`].
pub async fn has_transition<C: ConnectionTrait>(
    db: &C,
    instance_id: &InstanceId,
    idem_key: &str,
) -> Result<bool, ProvisioningError> {
    Ok(instance_transitions::Entity::find()
        .filter(instance_transitions::Column::InstanceId.eq(instance_id.as_str()))
        .filter(instance_transitions::Column::IdemKey.eq(idem_key))
        .one(db)
        .await
        .map_err(StoreError::from)?
        .is_some())
}

fn at(t: Option<&koofill_model::time::CompactTime>) -> Option<DateTime<Utc>> {
    t.map(koofill_model::time::CompactTime::at)
}

/// Records (or refreshes) an order and its lines as query order described them; marks
/// `notified_line` as notified (orderNotify).
///
/// # Errors
/// [`ProvisioningError::Store`].
pub async fn record_order<C: ConnectionTrait>(
    db: &C,
    info: &OrderInfo,
    test: bool,
    notified_line: Option<&OrderLineId>,
) -> Result<(), ProvisioningError> {
    let now = Utc::now();
    let buyer = info.buyer_info.as_ref();
    let row = orders::ActiveModel {
        order_id: Set(info.order_id.to_string()),
        order_type: Set(Some(info.order_type.to_string())),
        create_time: Set(at(info.create_time.as_ref())),
        customer_id: Set(buyer.and_then(|b| b.customer_id.clone())),
        customer_name: Set(buyer.and_then(|b| b.customer_name.clone())),
        test: Set(test),
        detail: Set(serde_json::to_string(info).ok()),
        recorded_at: Set(now),
        updated_at: Set(now),
    };
    orders::Entity::insert(row)
        .on_conflict(
            OnConflict::column(orders::Column::OrderId)
                .update_columns([
                    orders::Column::OrderType,
                    orders::Column::CreateTime,
                    orders::Column::CustomerId,
                    orders::Column::CustomerName,
                    orders::Column::Detail,
                    orders::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map_err(StoreError::from)?;
    for line in &info.order_line {
        let row = order_lines::ActiveModel {
            order_id: Set(info.order_id.to_string()),
            order_line_id: Set(line.order_line_id.to_string()),
            charging_mode: Set(Some(line.charging_mode.to_string())),
            period_type: Set(line.period_type.clone()),
            period_number: Set(line.period_number),
            expire_time: Set(at(line.expire_time.as_ref())),
            products: Set(serde_json::to_string(&line.product_info).ok()),
            notified: Set(notified_line == Some(&line.order_line_id)),
            recorded_at: Set(now),
        };
        order_lines::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([order_lines::Column::OrderId, order_lines::Column::OrderLineId])
                    .update_columns([
                        order_lines::Column::ChargingMode,
                        order_lines::Column::PeriodType,
                        order_lines::Column::PeriodNumber,
                        order_lines::Column::ExpireTime,
                        order_lines::Column::Products,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await
            .map_err(StoreError::from)?;
    }
    if let Some(line) = notified_line {
        mark_notified(db, &info.order_id, line, test, now).await?;
    }
    Ok(())
}

/// Records an order line that query order does not know (debug orders with made-up IDs) and
/// marks it notified when asked.
///
/// # Errors
/// [`ProvisioningError::Store`].
pub async fn record_unknown_order<C: ConnectionTrait>(
    db: &C,
    order_id: &OrderId,
    line: &OrderLineId,
    test: bool,
    notified: bool,
) -> Result<(), ProvisioningError> {
    let now = Utc::now();
    let row = orders::ActiveModel {
        order_id: Set(order_id.to_string()),
        order_type: Set(None),
        create_time: Set(None),
        customer_id: Set(None),
        customer_name: Set(None),
        test: Set(test),
        detail: Set(None),
        recorded_at: Set(now),
        updated_at: Set(now),
    };
    orders::Entity::insert(row)
        .on_conflict(OnConflict::column(orders::Column::OrderId).do_nothing().to_owned())
        .exec_without_returning(db)
        .await
        .map_err(StoreError::from)?;
    if notified {
        mark_notified(db, order_id, line, test, now).await?;
    }
    Ok(())
}

async fn mark_notified<C: ConnectionTrait>(
    db: &C,
    order_id: &OrderId,
    line: &OrderLineId,
    _test: bool,
    now: DateTime<Utc>,
) -> Result<(), ProvisioningError> {
    let row = order_lines::ActiveModel {
        order_id: Set(order_id.to_string()),
        order_line_id: Set(line.to_string()),
        charging_mode: Set(None),
        period_type: Set(None),
        period_number: Set(None),
        expire_time: Set(None),
        products: Set(None),
        notified: Set(true),
        recorded_at: Set(now),
    };
    order_lines::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([order_lines::Column::OrderId, order_lines::Column::OrderLineId])
                .value(order_lines::Column::Notified, Expr::value(true))
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use koofill_store::inbox;
    use koofill_testkit::TestDb;
    use sea_orm::{PaginatorTrait, TransactionTrait};

    use super::*;

    fn transition<'a>(id: &'a InstanceId, key: Option<&str>) -> Transition<'a> {
        Transition {
            instance_id: id,
            from: Some(InstanceState::Active),
            to: InstanceState::Released,
            step: "release",
            idem_key: key.map(str::to_owned),
            order_id: None,
            scene: None,
            event_id: "e",
            detail: None,
        }
    }

    /// On PostgreSQL a refused insert would abort the transaction and its commit would silently
    /// roll back the inbox row written before it.
    #[tokio::test]
    async fn a_repeated_key_leaves_the_transaction_usable() {
        let test_db = TestDb::fresh().await;
        let db = koofill_store::connect(test_db.url()).await.unwrap();
        koofill_store::migrate(&db).await.unwrap();
        let id = InstanceId::from("i-1");
        assert!(add_transition(&db, transition(&id, Some("release"))).await.unwrap());

        let txn = db.begin().await.unwrap();
        assert!(inbox::claim(&txn, "provisioning-saas", "releaseInstance:i-1:redriven").await.unwrap());
        assert!(!add_transition(&txn, transition(&id, Some("release"))).await.unwrap(), "recorded before");
        assert!(add_transition(&txn, transition(&id, None)).await.unwrap(), "unkeyed steps repeat");
        txn.commit().await.unwrap();

        assert!(inbox::is_processed(&db, "provisioning-saas", "releaseInstance:i-1:redriven").await.unwrap());
        assert_eq!(instance_transitions::Entity::find().count(&db).await.unwrap(), 2);
    }
}
