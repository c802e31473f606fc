//! The `metering-instances` consumer: what `instance.*` events say about each instance, as far as
//! metering needs it. The first event seen opens the instance (no record begins before it); a
//! release is final and sets the close time (no record ends after it, and usage arriving after its
//! window closed becomes `late_unbilled`). `instance.active` also names the product and SKU, which
//! fix the instance's billing cycle ([`MeteringConfig::cycle_for`]).

use koofill_bus::consumer::{Delivery, Handler};
use koofill_config::MeteringConfig;
use koofill_model::{DomainEvent, Envelope};
use koofill_store::{
    OutboxSignal, StoreError, UnitOfWork,
    entities::metering_instances,
    sea_orm::{
        ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait, IntoActiveModel, sea_query::OnConflict,
    },
};

use crate::MeteringError;

/// The durable name of the instance-event consumer.
pub const CONSUMER: &str = "metering-instances";

/// Handles `instance.*` events.
#[derive(Debug, Clone)]
pub struct InstanceHandler {
    /// The database.
    pub db: DatabaseConnection,
    /// Wakes the relay (the unit of work needs it; nothing is emitted).
    pub outbox: OutboxSignal,
    /// The cycle rules.
    pub config: MeteringConfig,
}

impl Handler for InstanceHandler {
    type Msg = Envelope<DomainEvent>;
    type Error = MeteringError;

    async fn handle(&self, delivery: &Delivery<Self::Msg>) -> Result<(), MeteringError> {
        let env = &delivery.msg;
        let Some(status) = status_after(&env.data) else { return Ok(()) };
        let instance_id = env.data.aggregate_id().to_owned();
        let Some(uow) = UnitOfWork::begin(&self.db, &self.outbox, CONSUMER, &env.id).await? else {
            return Ok(());
        };
        let at = env.occurred_at;
        let cycle = match &env.data {
            DomainEvent::InstanceActive { product_id, sku_code, .. } => {
                Some(self.config.cycle_for(product_id.as_deref(), sku_code.as_deref()).as_str().to_owned())
            }
            _ => None,
        };
        let find = || metering_instances::Entity::find_by_id(instance_id.clone()).one(uow.txn());
        let mut existing = find().await.map_err(StoreError::from)?;
        if existing.is_none() {
            // DO NOTHING rather than a unique violation: the events of a new instance are
            // handled concurrently, and on PostgreSQL a violation would abort the transaction.
            let inserted = metering_instances::Entity::insert(metering_instances::ActiveModel {
                instance_id: Set(instance_id.clone()),
                status: Set(status.to_owned()),
                opened_at: Set(Some(at)),
                released_at: Set((status == "released").then_some(at)),
                cycle: Set(cycle.clone()),
                updated_at: Set(at),
            })
            .on_conflict(OnConflict::column(metering_instances::Column::InstanceId).do_nothing().to_owned())
            .exec_without_returning(uow.txn())
            .await
            .map_err(StoreError::from)?;
            if inserted == 1 {
                uow.commit().await?;
                return Ok(());
            }
            // Another handler inserted it first (its statement committed): merge into its row.
            existing = find().await.map_err(StoreError::from)?;
        }
        match existing {
            None => {
                return Err(StoreError::Conflict(format!(
                    "metering instance {instance_id} neither inserted nor found"
                ))
                .into());
            }
            Some(row) if row.status == "released" => {} // final
            Some(row) => {
                let opened = row.opened_at.map_or(at, |o| o.min(at));
                let known_cycle = row.cycle.is_some();
                let mut active = row.into_active_model();
                if !known_cycle && cycle.is_some() {
                    active.cycle = Set(cycle);
                }
                active.status = Set(status.to_owned());
                active.opened_at = Set(Some(opened));
                if status == "released" {
                    active.released_at = Set(Some(at));
                }
                active.updated_at = Set(at);
                active.update(uow.txn()).await.map_err(StoreError::from)?;
            }
        }
        uow.commit().await?;
        Ok(())
    }
}

/// The status an event leaves the instance in; `None` for events metering ignores.
fn status_after(event: &DomainEvent) -> Option<&'static str> {
    Some(match event {
        DomainEvent::InstanceAccepted { .. } | DomainEvent::InstanceProvisioning { .. } => "opening",
        DomainEvent::InstanceActive { .. }
        | DomainEvent::InstanceUnfrozen { .. }
        | DomainEvent::InstanceRenewed { .. }
        | DomainEvent::InstanceUpgraded { .. } => "active",
        DomainEvent::InstanceFrozen { .. } => "frozen",
        DomainEvent::InstanceReleased { .. } => "released",
        DomainEvent::InstanceFailed { .. } => "failed",
        _ => return None,
    })
}
