//! The harness: a license worker with its own NATS, database and simulator.

use std::{collections::HashMap, time::Duration};

use async_nats::HeaderMap;
use chrono::{DateTime, Utc};
use koofill_bus::{Publisher, names};
use koofill_license::Worker;
use koofill_model::{BasicRequest, DomainEvent, Envelope};
use koofill_simulator::{SimConfig, SimKeys, Simulator};
use koofill_store::{
    entities::{licenses, provisioner_calls},
    sea_orm::EntityTrait,
};
use koofill_testkit::{TestDb, TestNats};
use serde_json::Value;

pub const PREFIX: &str = "koofill";
pub const AK: &str = "LICTESTAK0001";
pub const SK: &str = "lic-test-secret-access-key";
/// A fixed Ed25519 seed (base64 of 32 bytes of 0x2a): tests only.
pub const SIGNING_SEED: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

#[allow(missing_debug_implementations)]
pub struct TestWorker {
    /// The configuration the worker was built with (a second process builds from it too).
    pub cfg: koofill_config::Config,
    pub _nats: TestNats,
    pub _db: TestDb,
    pub sim: Simulator,
    pub worker: Worker,
    pub publisher: Publisher,
}

impl TestWorker {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts with extra `KOOFILL__…` settings.
    pub async fn start_with(extra: &[(&str, &str)]) -> Self {
        koofill_telemetry::init_for_tests();
        let nats = TestNats::start();
        let db = TestDb::fresh().await;
        let keys = SimKeys::new("lic-test-basic-key-0123456789").with_access_key(AK, SK);
        let sim = Simulator::start(SimConfig::for_keys(&keys)).await.unwrap();
        let mut env = vec![
            ("KOOFILL__KOOGALLERY__ACCESS_KEY_ID", AK.to_owned()),
            ("KOOFILL__KOOGALLERY__SECRET_ACCESS_KEY", SK.to_owned()),
            ("KOOFILL__KOOGALLERY__API_BASE", sim.base_url()),
            ("KOOFILL__KOOGALLERY__API_FALLBACK_BASE", sim.base_url()),
            ("KOOFILL__LICENSE__SIGNING_KEY", SIGNING_SEED.to_owned()),
            ("KOOFILL__NATS__URL", nats.url()),
            ("KOOFILL__NATS__PREFIX", PREFIX.to_owned()),
            ("KOOFILL__DATABASE__URL", db.url().to_owned()),
            ("KOOFILL__WORKER__LISTEN", "127.0.0.1:0".to_owned()),
            ("KOOFILL__CONSUMER__ACK_WAIT_SECS", "2".to_owned()),
            ("KOOFILL__CONSUMER__NAK_BASE_DELAY_MS", "50".to_owned()),
            ("KOOFILL__CONSUMER__NAK_MAX_DELAY_MS", "400".to_owned()),
            ("KOOFILL__SHUTDOWN__GRACE_SECS", "1".to_owned()),
        ];
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let cfg = koofill_config::load_with_env(None, env.into_iter().map(|(k, v)| (k.to_owned(), v))).unwrap();
        let worker = Worker::build(&cfg).await.expect("worker starts");
        let publisher = Publisher::new(worker.host().bus().js.clone(), Duration::from_secs(2));
        Self { cfg, _nats: nats, _db: db, sim, worker, publisher }
    }

    /// Publishes a License 2.0 callback as the ingress does for a call KooGallery signed at `at`.
    pub async fn send_at(&self, body: Value, at: DateTime<Utc>) -> String {
        let request = BasicRequest::from_value(&body).unwrap();
        let nonce = format!("{:x}", rand_nonce());
        let env = koofill_testkit::inbound::basic_envelope(&request, body, &at.timestamp_millis().to_string(), &nonce)
            .unwrap();
        let subject = names::inbound(PREFIX, request.family(), request.activity().as_str());
        self.publisher.publish(&subject, &env).await.unwrap();
        env.id
    }

    /// KooGallery resends outside JetStream's deduplication window: the same envelope id, stored
    /// as a new stream message.
    pub async fn resend(&self, body: Value, at: DateTime<Utc>) {
        let request = BasicRequest::from_value(&body).unwrap();
        let env = koofill_testkit::inbound::basic_envelope(
            &request,
            body,
            &at.timestamp_millis().to_string(),
            &format!("{:x}", rand_nonce()),
        )
        .unwrap();
        let subject = names::inbound(PREFIX, request.family(), request.activity().as_str());
        let payload = serde_json::to_vec(&env).unwrap();
        let msg_id = format!("{}:again:{:x}", env.id, rand_nonce());
        self.publisher.publish_raw(&subject, &msg_id, HeaderMap::new(), payload.into()).await.unwrap();
    }

    /// Drains until nothing is left.
    pub async fn settle(&self) {
        let mut quiet = 0;
        while quiet < 2 {
            if self.worker.drain().await.unwrap() == 0 {
                quiet += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            } else {
                quiet = 0;
            }
        }
    }

    pub async fn license(&self, code: &str) -> Option<licenses::Model> {
        licenses::Entity::find_by_id(code.to_owned()).one(self.worker.db()).await.unwrap()
    }

    /// How many distinct calls (call ids) reached the provisioner, by step.
    pub async fn provisioner_effects(&self) -> HashMap<String, usize> {
        let calls = provisioner_calls::Entity::find().all(self.worker.db()).await.unwrap();
        let mut ids: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
        for call in calls {
            ids.entry(call.step).or_default().insert(call.call_id);
        }
        ids.into_iter().map(|(step, ids)| (step, ids.len())).collect()
    }

    /// How many events of each type concern `code`.
    pub async fn event_counts(&self, code: &str) -> HashMap<String, usize> {
        let js = &self.worker.host().bus().js;
        let events: Vec<Envelope<DomainEvent>> = koofill_testkit_read(js, &names::stream(PREFIX, names::EVENTS)).await;
        let mut out = HashMap::new();
        for e in events.into_iter().filter(|e| e.data.aggregate_id() == code) {
            *out.entry(e.r#type.clone()).or_default() += 1;
        }
        out
    }
}

async fn koofill_testkit_read<T: serde::de::DeserializeOwned>(
    js: &async_nats::jetstream::Context,
    name: &str,
) -> Vec<T> {
    use futures::StreamExt;
    let stream = js.get_stream(name).await.unwrap();
    let consumer = stream.create_consumer(async_nats::jetstream::consumer::pull::Config::default()).await.unwrap();
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

fn rand_nonce() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    t ^ (u128::from(COUNTER.fetch_add(1, Ordering::SeqCst)) << 100)
}

pub fn refresh(code: &str, order: &str, expire: &str) -> Value {
    serde_json::json!({"activity": "refreshLicenseCode", "scene": "RENEWAL", "orderId": order,
        "orderLineId": format!("{order}-000001"), "license": code, "productId": "P1", "expireTime": expire})
}

pub fn status(code: &str, status: &str) -> Value {
    serde_json::json!({"activity": "updateLicenseCodeStatus", "license": code, "status": status})
}

pub fn release(code: &str) -> Value {
    serde_json::json!({"activity": "releaseLicenseCode", "license": code})
}
