//! The outbox relay when several processes relay one outbox (every worker of a deployment does):
//! each event is published by one of them, and none fails on the others' marks.

use std::time::Duration;

use koofill_bus::Publisher;
use koofill_store::{OutboxSignal, outbox};
use koofill_worker::{Relay, RelayMetrics};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::support::{PREFIX, TestHost};

const EVENTS: usize = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_of_several_processes_publish_each_event_once() {
    let t = TestHost::start().await;
    let db = t.host.db().clone();
    for i in 0..EVENTS {
        let event = outbox::NewEvent {
            id: format!("relay-test:{i:04}"),
            subject: koofill_bus::names::event(PREFIX, "greeting.relayed"),
            payload: format!("{{\"n\":{i}}}"),
            headers: Default::default(),
        };
        outbox::push(&db, event).await.unwrap();
    }
    // Three relays, as three worker processes would run them (each with its own round lock).
    let relay = || {
        let publisher = Publisher::new(t.host.bus().js.clone(), Duration::from_secs(5));
        Relay::new(db.clone(), publisher, OutboxSignal::new(), RelayMetrics::default())
    };
    let (a, b, c) = (relay(), relay(), relay());
    let (ra, rb, rc) = tokio::join!(a.flush(), b.flush(), c.flush());
    let published = ra.unwrap() + rb.unwrap() + rc.unwrap();
    let unsent = koofill_store::entities::outbox::Entity::find()
        .filter(koofill_store::entities::outbox::Column::SentAt.is_null())
        .count(&db)
        .await
        .unwrap();
    assert_eq!(unsent, 0, "everything is marked sent");
    if !koofill_store::is_sqlite_connection(&db) {
        // PostgreSQL: claimed rows are skipped by the other relays.
        assert_eq!(published, EVENTS, "each event published by exactly one relay");
    } else {
        assert!(published >= EVENTS, "SQLite (one writer) may publish an event twice; JetStream drops the copy");
    }
    let mut stream =
        t.host.bus().js.get_stream(koofill_bus::names::stream(PREFIX, koofill_bus::names::EVENTS)).await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, EVENTS as u64, "one message per event on the stream");
}
