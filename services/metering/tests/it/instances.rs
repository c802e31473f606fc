//! The `instance.*` events of a new instance are handled concurrently (`consumer.concurrency`):
//! when another handler's insert of the same instance is still uncommitted, this one waits for
//! it and merges into its row, on the first delivery, instead of failing on the unique key and
//! waiting out a redelivery. PostgreSQL only: SQLite has a single writer, so the race cannot
//! happen there.

use std::time::Duration;

use tokio::time::Instant;

use chrono::Utc;
use koofill_bus::consumer::{Attempt, Delivery, Handler};
use koofill_metering::instances::InstanceHandler;
use koofill_model::{DomainEvent, Envelope, InstanceId};
use koofill_store::{
    OutboxSignal,
    entities::metering_instances,
    sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseBackend, EntityTrait, TransactionTrait},
};

use crate::support::Harness;

#[tokio::test]
async fn an_instance_inserted_by_a_concurrent_handler_is_merged_on_the_first_delivery() {
    let mut h = Harness::start().await;
    let worker = h.worker().await;
    let db = worker.db().clone();
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return; // the race needs two writers
    }
    let opened = Utc::now() - chrono::Duration::hours(2);
    // The other handler: instance.accepted inserted, not committed yet.
    let other = db.begin().await.unwrap();
    metering_instances::ActiveModel {
        instance_id: Set("i-race".into()),
        status: Set("opening".into()),
        opened_at: Set(Some(opened)),
        released_at: Set(None),
        cycle: Set(None),
        updated_at: Set(opened),
    }
    .insert(&other)
    .await
    .unwrap();

    let handler = InstanceHandler { db: db.clone(), outbox: OutboxSignal::new(), config: h.cfg.metering.clone() };
    let event = DomainEvent::InstanceActive {
        instance_id: InstanceId::from("i-race"),
        order_id: "CS-RACE".into(),
        expire_time: None,
        product_id: Some("OFFI-ON-DEMAND".into()),
        sku_code: Some("sku-1".into()),
    };
    let delivery = Delivery {
        msg: Envelope::event("i-race:active", "provisioning", Utc::now(), false, event),
        subject: "koofill.events.instance.active".into(),
        headers: None,
        stream_sequence: 2,
        attempt: Attempt {
            delivered: 1,
            stored_at: Utc::now(),
            is_last: false,
            deadline: Instant::now() + Duration::from_secs(30),
        },
    };
    let handling = tokio::spawn(async move { handler.handle(&delivery).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!handling.is_finished(), "the handler waits for the other insert");
    other.commit().await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), handling).await.unwrap().unwrap();
    assert!(result.is_ok(), "handled on the first delivery: {result:?}");

    let row = metering_instances::Entity::find_by_id("i-race".to_owned()).one(&db).await.unwrap().unwrap();
    assert_eq!(row.status, "active");
    assert_eq!(row.cycle.as_deref(), Some("hourly"));
    assert_eq!(row.opened_at.map(|o| o.timestamp()), Some(opened.timestamp()), "the earlier open time stays");
}
