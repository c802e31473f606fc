//! The harness: the notification worker with its own NATS, database and configuration file.

use std::{io::Write, sync::Arc, time::Duration};

use async_nats::HeaderMap;
use koofill_bus::{Publisher, names};
use koofill_model::Envelope;
use koofill_notification::{BuildOptions, ManualClock, Worker, repo};
use koofill_store::entities::{notification_attempts as attempts, notification_deliveries as deliveries};
use koofill_testkit::{TestDb, TestNats};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use tempfile::NamedTempFile;

pub const PREFIX: &str = "koofill";
/// How long a test waits for something the worker does in the background.
pub const DEADLINE: Duration = Duration::from_secs(5);

#[allow(missing_debug_implementations)]
pub struct TestWorker {
    pub _nats: TestNats,
    pub _db: TestDb,
    _file: NamedTempFile,
    pub worker: Worker,
    pub clock: ManualClock,
    publisher: Publisher,
}

impl TestWorker {
    /// A worker configured with `notification_toml` (the `[notification…]` tables).
    pub async fn start(notification_toml: &str) -> Self {
        koofill_telemetry::init_for_tests();
        let nats = TestNats::start();
        let db = TestDb::fresh().await;
        let mut file = NamedTempFile::new().expect("temp file");
        file.write_all(notification_toml.as_bytes()).expect("config written");
        let env = [
            ("KOOFILL__NATS__URL", nats.url()),
            ("KOOFILL__NATS__PREFIX", PREFIX.to_owned()),
            ("KOOFILL__DATABASE__URL", db.url().to_owned()),
            ("KOOFILL__WORKER__LISTEN", "127.0.0.1:0".to_owned()),
            ("KOOFILL__CONSUMER__ACK_WAIT_SECS", "2".to_owned()),
            ("KOOFILL__CONSUMER__NAK_BASE_DELAY_MS", "50".to_owned()),
            ("KOOFILL__SHUTDOWN__GRACE_SECS", "2".to_owned()),
        ];
        let cfg = koofill_config::load_with_env(Some(file.path()), env.map(|(k, v)| (k.to_owned(), v)))
            .expect("configuration loads");
        let clock = ManualClock::new(chrono::Utc::now());
        let options = BuildOptions { clock: Some(Arc::new(clock.clone())), ..BuildOptions::default() };
        let worker = Worker::build_with(&cfg, options).await.expect("worker builds");
        let publisher = Publisher::new(worker.host().bus().js.clone(), Duration::from_secs(2));
        Self { _nats: nats, _db: db, _file: file, worker, clock, publisher }
    }

    /// Publishes an event envelope as a producing worker's relay would, stored under
    /// `Nats-Msg-Id` `msg_id`.
    pub async fn publish(&self, id: &str, msg_id: &str, event_type: &str, test: bool, data: Value) {
        let env = Envelope::new(id, event_type, "test", chrono::Utc::now(), test, data);
        let payload = serde_json::to_vec(&env).expect("encodes");
        let subject = names::event(PREFIX, event_type);
        let ack = self.publisher.publish_raw(&subject, msg_id, HeaderMap::new(), payload.into()).await.expect("stored");
        assert!(!ack.duplicate, "{msg_id} stored as a new stream message");
    }

    /// Handles what is on the stream, then attempts what is due; returns the deliveries due.
    pub async fn settle(&self) -> usize {
        self.worker.drain().await.expect("drained");
        self.worker.dispatch_due().await.expect("dispatched")
    }

    /// Every delivery of `event_id`, by channel.
    pub async fn deliveries(&self, event_id: &str) -> Vec<deliveries::Model> {
        deliveries::Entity::find()
            .filter(deliveries::Column::EventId.eq(event_id))
            .order_by_asc(deliveries::Column::ChannelId)
            .all(self.worker.db())
            .await
            .expect("read")
    }

    /// The delivery of `event_id` to `channel`.
    pub async fn delivery(&self, event_id: &str, channel: &str) -> deliveries::Model {
        deliveries::Entity::find_by_id(repo::delivery_id(event_id, channel))
            .one(self.worker.db())
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("no delivery of {event_id} to {channel}"))
    }

    /// Every attempt at the delivery of `event_id` to `channel`.
    pub async fn attempts(&self, event_id: &str, channel: &str) -> Vec<attempts::Model> {
        repo::attempts_of(self.worker.db(), &repo::delivery_id(event_id, channel)).await.expect("read")
    }
}

/// Polls `probe` until it returns `Some`, or panics with `what` at the deadline.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < until, "not within {DEADLINE:?}: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
