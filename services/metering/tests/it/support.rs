//! The harness: the metering worker with its own NATS, database and simulated KooGallery.

use std::{sync::Arc, time::Duration};

use async_nats::HeaderMap;
use chrono::{DateTime, DurationRound, Utc};
use koofill_bus::{Publisher, names};
use koofill_config::Config;
use koofill_marketplace::{MarketplaceError, UsageRecord};
use koofill_metering::{
    BuildOptions, Worker,
    clock::ManualClock,
    ledger::Verdict,
    push::{PushFuture, Pusher},
};
use koofill_model::{DomainEvent, Envelope, InstanceId, usage::UsageBatch};
use koofill_simulator::{SimConfig, Simulator, usage_rules::UsageStatus};
use koofill_store::{
    entities::usage_windows,
    sea_orm::{EntityTrait, QueryOrder},
};
use koofill_testkit::{TestDb, TestNats};

pub const PREFIX: &str = "koofill";
pub const BASIC_KEY: &str = "metering-test-basic-key";

#[allow(missing_debug_implementations)]
pub struct Harness {
    pub _nats: TestNats,
    pub _db: TestDb,
    pub cfg: Config,
    pub sim: Simulator,
    pub clock: ManualClock,
    publisher: Option<Publisher>,
}

impl Harness {
    pub async fn start() -> Self {
        koofill_telemetry::init_for_tests();
        let nats = TestNats::start();
        let db = TestDb::fresh().await;
        let sim = Simulator::start(SimConfig { usage_key: Some(BASIC_KEY.into()), ..SimConfig::default() })
            .await
            .expect("simulator starts");
        let env = [
            ("KOOFILL__NATS__URL", nats.url()),
            ("KOOFILL__NATS__PREFIX", PREFIX.to_owned()),
            ("KOOFILL__DATABASE__URL", db.url().to_owned()),
            ("KOOFILL__WORKER__LISTEN", "127.0.0.1:0".to_owned()),
            ("KOOFILL__CONSUMER__ACK_WAIT_SECS", "1".to_owned()),
            ("KOOFILL__CONSUMER__NAK_BASE_DELAY_MS", "50".to_owned()),
            ("KOOFILL__CONSUMER__NAK_MAX_DELAY_MS", "200".to_owned()),
            ("KOOFILL__CONSUMER__CONCURRENCY", "4".to_owned()),
            ("KOOFILL__KOOGALLERY__BASIC_KEY", BASIC_KEY.to_owned()),
            ("KOOFILL__KOOGALLERY__API_BASE", sim.base_url()),
            ("KOOFILL__KOOGALLERY__API_FALLBACK_BASE", sim.base_url()),
        ];
        let cfg =
            koofill_config::load_with_env(None, env.map(|(k, v)| (k.to_owned(), v))).expect("configuration loads");
        let clock = ManualClock::at(Utc::now());
        Self { _nats: nats, _db: db, cfg, sim, clock, publisher: None }
    }

    /// Builds a worker (a fresh process, as after a restart).
    pub async fn worker(&mut self) -> Worker {
        let options = BuildOptions { clock: Some(Arc::new(self.clock.clone())), ..BuildOptions::default() };
        let worker = Worker::build(&self.cfg, options).await.expect("worker builds");
        self.publisher = Some(Publisher::new(worker.host().bus().js.clone(), Duration::from_secs(5)));
        worker
    }

    fn publisher(&self) -> &Publisher {
        self.publisher.as_ref().expect("a worker was built first")
    }

    /// Publishes a batch directly to the usage stream, as a producer inside the seller's NATS.
    pub async fn publish(&self, msg_id: &str, batch: &UsageBatch) {
        let subject = names::usage(PREFIX, "0");
        let payload = serde_json::to_vec(batch).unwrap();
        self.publisher().publish_raw(&subject, msg_id, HeaderMap::new(), payload.into()).await.unwrap();
    }

    /// Publishes an `instance.*` event as provisioning would.
    pub async fn instance_event(&self, id: &str, at: DateTime<Utc>, event: DomainEvent) {
        let subject = names::event(PREFIX, event.subject_suffix());
        let env = Envelope::event(id, "provisioning", at, false, event);
        let payload = serde_json::to_vec(&env).unwrap();
        self.publisher().publish_raw(&subject, id, HeaderMap::new(), payload.into()).await.unwrap();
    }

    /// Makes `instance_id` active (for metering) since `at`.
    pub async fn activate(&self, instance_id: &str, at: DateTime<Utc>) {
        let event = DomainEvent::InstanceActive {
            instance_id: InstanceId::from(instance_id),
            order_id: "CS1".into(),
            expire_time: None,
            product_id: None,
            sku_code: None,
        };
        self.instance_event(&format!("{instance_id}:active"), at, event).await;
    }

    /// Feeds the simulator's record-level results to the ledger, as an operator would from the
    /// seller console.
    pub async fn feed_verdicts(&self, worker: &Worker) {
        for result in self.sim.usage_records() {
            let Some(sn) = result.metering_sn.as_deref() else { continue };
            let verdict = match result.status {
                UsageStatus::Accepted => Verdict::Accepted,
                UsageStatus::Rejected(reason) => Verdict::Rejected(reason.code().to_owned()),
            };
            worker.ledger().apply_verdict(sn, &verdict).await.unwrap();
        }
    }
}

pub async fn windows(worker: &Worker) -> Vec<usage_windows::Model> {
    usage_windows::Entity::find()
        .order_by_asc(usage_windows::Column::InstanceId)
        .order_by_asc(usage_windows::Column::WindowBegin)
        .all(worker.db())
        .await
        .unwrap()
}

/// The start of the hour `hours_ago` hours before now.
pub fn hour_start(hours_ago: i64) -> DateTime<Utc> {
    (Utc::now() - chrono::Duration::hours(hours_ago)).duration_trunc(chrono::Duration::hours(1)).unwrap()
}

/// Pushes through KooGallery, then fails as if the process died before the ledger was written.
#[derive(Debug)]
pub struct CrashAfterSend(pub Arc<dyn Pusher>);

impl Pusher for CrashAfterSend {
    fn push<'a>(&'a self, records: &'a [UsageRecord]) -> PushFuture<'a> {
        Box::pin(async move {
            self.0.push(records).await?;
            Err(MarketplaceError::Config("process died after KooGallery answered".into()))
        })
    }
}
