//! The test harness: a worker with its own NATS, database and query-order stand-in.

use std::{collections::HashMap, time::Duration};

use async_nats::{HeaderMap, jetstream::consumer::pull};
use futures::StreamExt;
use koofill_bus::{
    Publisher, names,
    views::{InstanceView, InstanceViews},
};
use koofill_config::Config;
use koofill_model::{BasicRequest, DomainEvent, Envelope, KitInterface, KitRequest};
use koofill_provisioning::{BuildOptions, Worker, stand_in::QueryOrderStandIn};
use koofill_store::{entities::instances, sea_orm::EntityTrait};
use koofill_testkit::{TestDb, TestNats};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub const PREFIX: &str = "koofill";
pub const BASIC_KEY: &str = "test-basic-key-0123456789";
pub const AK: &str = "TESTAK";
pub const SK: &str = "test-sk";

/// A worker with everything it needs, built but not running (tests drive it with `drain`).
#[allow(missing_debug_implementations)]
pub struct TestWorker {
    /// Held for its `Drop`, which stops the server.
    pub _nats: TestNats,
    pub db: TestDb,
    pub stand_in: QueryOrderStandIn,
    pub cfg: Config,
    pub worker: Worker,
    pub views: InstanceViews,
    pub publisher: Publisher,
}

/// Short retry delays and few deliveries, so retries finish within a test.
pub fn base_env(nats: &TestNats, db: &TestDb, api: &str) -> Vec<(String, String)> {
    [
        ("KOOFILL__KOOGALLERY__BASIC_KEY", BASIC_KEY.to_owned()),
        ("KOOFILL__KOOGALLERY__ACCESS_KEY_ID", AK.to_owned()),
        ("KOOFILL__KOOGALLERY__SECRET_ACCESS_KEY", SK.to_owned()),
        ("KOOFILL__KOOGALLERY__API_BASE", api.to_owned()),
        ("KOOFILL__KOOGALLERY__API_FALLBACK_BASE", api.to_owned()),
        ("KOOFILL__KOOGALLERY__CLIENT_SECRET_PRIVATE_KEY", client_secret_pem().to_owned()),
        ("KOOFILL__NATS__URL", nats.url()),
        ("KOOFILL__NATS__PREFIX", PREFIX.to_owned()),
        ("KOOFILL__DATABASE__URL", db.url().to_owned()),
        ("KOOFILL__CONSUMER__RETRY_HORIZON_SECS", "600".to_owned()),
        ("KOOFILL__WORKER__LISTEN", "127.0.0.1:0".to_owned()),
        ("KOOFILL__CONSUMER__ACK_WAIT_SECS", "2".to_owned()),
        ("KOOFILL__CONSUMER__NAK_BASE_DELAY_MS", "50".to_owned()),
        ("KOOFILL__CONSUMER__NAK_MAX_DELAY_MS", "400".to_owned()),
        ("KOOFILL__CONSUMER__CONCURRENCY", "8".to_owned()),
        ("KOOFILL__CONSUMER__MAX_ACK_PENDING", "64".to_owned()),
        ("KOOFILL__SHUTDOWN__GRACE_SECS", "1".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub fn client_secret_pem() -> &'static str {
    include_str!("../../../../crates/signing/fixtures/test-client-secret-key.pem")
}

pub fn client_secret_public_pem() -> &'static str {
    include_str!("../../../../crates/signing/fixtures/test-client-secret-key.pub.pem")
}

impl TestWorker {
    pub async fn start() -> Self {
        Self::start_with(&[], BuildOptions::default()).await
    }

    pub async fn start_with(extra: &[(&str, &str)], options: BuildOptions) -> Self {
        koofill_telemetry::init_for_tests();
        let nats = TestNats::start();
        let db = TestDb::fresh().await;
        let stand_in = QueryOrderStandIn::start(AK, SK).await.unwrap();
        let mut env = base_env(&nats, &db, &stand_in.base_url());
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let cfg = koofill_config::load_with_env(None, env).expect("configuration loads");
        let worker = Worker::build_with(&cfg, options).await.expect("worker starts");
        let views = InstanceViews::open(&worker.bus().js, PREFIX).await.unwrap();
        let publisher = Publisher::new(worker.bus().js.clone(), Duration::from_secs(2));
        Self { _nats: nats, db, stand_in, cfg, worker, views, publisher }
    }

    /// Publishes a basic callback as the ingress does: under its replay key, and a newInstance on
    /// the subject naming its instance (which the instance view falls back to).
    pub async fn send_basic(&self, body: Value) -> String {
        self.send_basic_at(body, chrono::Utc::now()).await
    }

    /// As [`TestWorker::send_basic`], as if the ingress had accepted the call at `at`.
    pub async fn send_basic_at(&self, body: Value, at: chrono::DateTime<chrono::Utc>) -> String {
        let request = BasicRequest::from_value(&body).unwrap();
        // What the ingress publishes for a call KooGallery signed at `at` (a fresh nonce each).
        let nonce = uuid();
        let env = koofill_testkit::inbound::basic_envelope(&request, body, &at.timestamp_millis().to_string(), &nonce)
            .expect("a published activity");
        let subject = match &request {
            BasicRequest::NewInstance(r) => names::inbound_new_instance(PREFIX, r.instance_id().as_str()),
            _ => names::inbound(PREFIX, request.family(), request.activity().as_str()),
        };
        let once = self.publisher.publish_once(&subject, &env, &koofill_bus::replay_key("basic", &nonce)).await;
        assert_eq!(once.unwrap(), koofill_bus::Once::Stored);
        env.id
    }

    /// KooGallery re-sends hours later, outside JetStream's deduplication window: the envelope the
    /// ingress builds, with id `id`, as a new stream message.
    pub async fn resend_outside_window(&self, body: Value, id: &str) {
        let request = BasicRequest::from_value(&body).unwrap();
        let (timestamp, nonce) = koofill_testkit::inbound::fresh_identity();
        let mut env = koofill_testkit::inbound::basic_envelope(&request, body, &timestamp, &nonce).unwrap();
        env.id = id.to_owned();
        let subject = names::inbound(PREFIX, request.family(), request.activity().as_str());
        let payload = serde_json::to_vec(&env).unwrap();
        self.publisher
            .publish_raw(&subject, &format!("{id}:later:{}", uuid()), HeaderMap::new(), payload.into())
            .await
            .unwrap();
    }

    /// Runs the worker (its consumers handling messages concurrently) until every consumer is
    /// idle, including retries waiting out a delay, then publishes the outbox.
    pub async fn run_until_idle(&self, deadline: Duration) {
        let stop = CancellationToken::new();
        let running = tokio::spawn({
            let (worker, stop) = (self.worker.clone(), stop.clone());
            async move { worker.run(stop).await }
        });
        let until = tokio::time::Instant::now() + deadline;
        let stream = self.worker.bus().js.get_stream(names::stream(PREFIX, names::INBOUND)).await.unwrap();
        let mut quiet = 0;
        while quiet < 3 {
            let mut busy = false;
            for durable in ["provisioning-saas", "provisioning-order", "provisioning-kit"] {
                let mut consumer: async_nats::jetstream::consumer::PullConsumer =
                    stream.get_consumer(durable).await.unwrap();
                let info = consumer.info().await.unwrap();
                busy |= info.num_pending > 0 || info.num_ack_pending > 0;
            }
            quiet = if busy { 0 } else { quiet + 1 };
            assert!(tokio::time::Instant::now() < until, "the worker did not settle");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.cancel();
        running.await.unwrap().unwrap();
        self.worker.relay().flush().await.unwrap();
    }

    /// Publishes a Kit callback as the ingress does.
    pub async fn send_kit(&self, interface: KitInterface, body: Value) -> String {
        let request = KitRequest::from_value(interface, &body).unwrap();
        let (timestamp, nonce) = koofill_testkit::inbound::fresh_identity();
        let env = koofill_testkit::inbound::kit_envelope(&request, body, &timestamp, &nonce);
        let subject = names::inbound(PREFIX, request.family(), interface.path_name());
        self.publisher.publish(&subject, &env).await.unwrap();
        env.id
    }

    /// Drains until nothing is left, including messages waiting out a NAK delay.
    pub async fn settle(&self) {
        let mut quiet = 0;
        while quiet < 3 {
            if self.worker.drain().await.unwrap() == 0 {
                quiet += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            } else {
                quiet = 0;
            }
        }
    }

    pub async fn instance(&self, id: &str) -> Option<instances::Model> {
        instances::Entity::find_by_id(id.to_owned()).one(self.worker.db()).await.unwrap()
    }

    pub async fn state(&self, id: &str) -> Option<String> {
        self.instance(id).await.map(|r| r.state.to_string())
    }

    pub async fn view(&self, id: &str) -> Option<InstanceView> {
        self.views.get(id).await.unwrap()
    }

    /// Every event on KOOFILL_EVENTS, in order.
    pub async fn events(&self) -> Vec<Envelope<DomainEvent>> {
        read_stream(&self.worker.bus().js, &names::stream(PREFIX, names::EVENTS)).await
    }

    /// How many events of each type concern `aggregate_id`.
    pub async fn event_counts(&self, aggregate_id: &str) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for e in self.events().await.into_iter().filter(|e| e.data.aggregate_id() == aggregate_id) {
            *out.entry(e.r#type.clone()).or_default() += 1;
        }
        out
    }
}

pub async fn read_stream<T: serde::de::DeserializeOwned>(js: &async_nats::jetstream::Context, name: &str) -> Vec<T> {
    let stream = js.get_stream(name).await.unwrap();
    let consumer = stream.create_consumer(pull::Config::default()).await.unwrap();
    let mut out = Vec::new();
    loop {
        let mut batch =
            consumer.fetch().max_messages(500).expires(Duration::from_millis(200)).messages().await.unwrap();
        let mut got = 0;
        while let Some(Ok(m)) = batch.next().await {
            out.push(serde_json::from_slice(&m.payload).unwrap());
            got += 1;
        }
        if got == 0 {
            return out;
        }
    }
}

pub fn new_instance(order: &str, test: bool) -> Value {
    let mut v = serde_json::json!({"activity": "newInstance", "businessId": uuid(), "orderId": order,
        "orderLineId": format!("{order}-000001")});
    if test {
        v["testFlag"] = "1".into();
    }
    v
}

pub fn instance_id(order: &str) -> String {
    koofill_model::InstanceId::for_order_line(&order.into(), &format!("{order}-000001").as_str().into()).to_string()
}

pub fn uuid() -> String {
    format!("{:032x}", rand_u128())
}

fn rand_u128() -> u128 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    t ^ (u128::from(std::process::id()) << 64)
}
