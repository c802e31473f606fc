//! Provisioning end to end: signed callbacks through the real ingress, the real worker behind it,
//! a real nats-server, SQLite (or PostgreSQL with `KOOFILL_TEST_DATABASE_URL`), and a query-order
//! stand-in that checks APIG signatures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::HashMap, time::Duration};

use async_nats::jetstream::consumer::pull;
use futures::StreamExt;
use koofill_bus::{
    dlq, names,
    views::{InstanceState, InstanceViews},
};
use koofill_config::Config;
use koofill_model::{CallbackResponse, DomainEvent, Envelope, InstanceId, ResultCode};
use koofill_provisioning::{
    Worker,
    stand_in::{MOCK_ORDERS, QueryOrderStandIn},
};
use koofill_signing::field_crypto::{EncryptType, FieldCipher};
use koofill_store::entities::instances;
use koofill_testkit::{CallbackClient, CallbackReply, TestDb, TestNats};
use rand::{SeedableRng, seq::SliceRandom};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const BASIC_KEY: &str = "e2e-basic-key-0123456789";
const KIT_KEY: &str = "e2e-kit-key-9876543210";
const PREFIX: &str = "koofill";

#[allow(missing_debug_implementations)]
struct System {
    _nats: TestNats,
    _db: TestDb,
    _stand_in: QueryOrderStandIn,
    client: CallbackClient,
    worker: Worker,
    views: InstanceViews,
    cfg: Config,
    shutdown: CancellationToken,
}

impl Drop for System {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl System {
    async fn start() -> Self {
        koofill_telemetry::init_for_tests();
        let nats = TestNats::start();
        let db = TestDb::fresh().await;
        let stand_in = QueryOrderStandIn::start("E2EAK", "e2e-sk").await.unwrap();
        let env: Vec<(String, String)> = [
            ("KOOFILL__KOOGALLERY__BASIC_KEY", BASIC_KEY.to_owned()),
            ("KOOFILL__KOOGALLERY__KIT_KEY", KIT_KEY.to_owned()),
            ("KOOFILL__KOOGALLERY__ACCESS_KEY_ID", "E2EAK".to_owned()),
            ("KOOFILL__KOOGALLERY__SECRET_ACCESS_KEY", "e2e-sk".to_owned()),
            ("KOOFILL__KOOGALLERY__API_BASE", stand_in.base_url()),
            ("KOOFILL__KOOGALLERY__API_FALLBACK_BASE", stand_in.base_url()),
            ("KOOFILL__NATS__URL", nats.url()),
            ("KOOFILL__NATS__PREFIX", PREFIX.to_owned()),
            ("KOOFILL__DATABASE__URL", db.url().to_owned()),
            ("KOOFILL__INGRESS__LISTEN", "127.0.0.1:0".to_owned()),
            ("KOOFILL__WORKER__LISTEN", "127.0.0.1:0".to_owned()),
            ("KOOFILL__CONSUMER__ACK_WAIT_SECS", "5".to_owned()),
            ("KOOFILL__CONSUMER__NAK_BASE_DELAY_MS", "50".to_owned()),
            ("KOOFILL__CONSUMER__NAK_MAX_DELAY_MS", "300".to_owned()),
            ("KOOFILL__SHUTDOWN__GRACE_SECS", "1".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let cfg = koofill_config::load_with_env(None, env).expect("configuration loads");
        let ingress = koofill_ingress::Application::build(&cfg).await.expect("ingress starts");
        let addr = ingress.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        tokio::spawn(ingress.run_until_stopped(shutdown.clone()));
        let worker = Worker::build(&cfg).await.expect("worker starts");
        let views = InstanceViews::open(&worker.bus().js, PREFIX).await.unwrap();
        let client = CallbackClient::new(format!("http://{addr}{}", cfg.ingress.base_path), BASIC_KEY, KIT_KEY);
        Self { _nats: nats, _db: db, _stand_in: stand_in, client, worker, views, cfg, shutdown }
    }

    async fn send(&self, body: Value) -> CallbackReply {
        let reply = self.client.send_basic(&body).await;
        assert_eq!(reply.status, 200);
        assert!(reply.verify_body_sign(BASIC_KEY.as_bytes()), "answers are signed");
        reply
    }

    /// Lets the worker handle everything, including retries waiting out a delay.
    async fn settle(&self) {
        let mut quiet = 0;
        while quiet < 3 {
            if self.worker.drain().await.unwrap() == 0 {
                quiet += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            } else {
                quiet = 0;
            }
        }
    }

    async fn row(&self, id: &str) -> Option<instances::Model> {
        instances::Entity::find_by_id(id.to_owned()).one(self.worker.db()).await.unwrap()
    }

    async fn view_state(&self, id: &str) -> Option<InstanceState> {
        self.views.get(id).await.unwrap().map(|v| v.state)
    }

    async fn events(&self) -> Vec<Envelope<DomainEvent>> {
        let stream = self.worker.bus().js.get_stream(names::stream(PREFIX, names::EVENTS)).await.unwrap();
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

    async fn count(&self, aggregate: &str) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for e in self.events().await.into_iter().filter(|e| e.data.aggregate_id() == aggregate) {
            *out.entry(e.r#type).or_default() += 1;
        }
        out
    }
}

fn instance_of(order: &str) -> String {
    InstanceId::for_order_line(&order.into(), &format!("{order}-000001").as_str().into()).to_string()
}

fn business_id() -> String {
    koofill_testkit::random_nonce().chars().take(32).collect()
}

#[tokio::test]
async fn a_period_order_from_purchase_to_release() {
    let sys = System::start().await;
    let order = "MOCKPERIODYEARNEW";
    let id = instance_of(order);
    let created = sys
        .send(json!({"activity": "newInstance", "businessId": business_id(), "orderId": order,
            "orderLineId": format!("{order}-000001")}))
        .await;
    assert_eq!(created.result_code(), "000000", "{}", created.text());
    assert_eq!(created.json["instanceId"], id);
    let query = json!({"activity": "queryInstance", "instanceId": id});
    assert_eq!(sys.send(query.clone()).await.result_code(), "000004", "accepted, not yet provisioned");

    sys.settle().await;
    let answer = sys.send(query.clone()).await;
    assert_eq!(answer.result_code(), "000000", "{}", answer.text());
    let response = CallbackResponse::from_slice(&answer.body).unwrap();
    assert_eq!(answer.json["encryptType"], "1");
    let app = response.info.unwrap().remove(0).app_info.unwrap();
    assert_eq!(app.front_end_url, "https://app.example.com/t/mock-user-01");
    let cipher = FieldCipher::new(BASIC_KEY.as_bytes(), EncryptType::Aes256);
    assert_eq!(cipher.decrypt(app.user_name.as_deref().unwrap()).unwrap(), "admin");
    let password = cipher.decrypt(app.password.as_deref().unwrap()).unwrap();
    assert_eq!(password.len(), 16);
    let row = sys.row(&id).await.unwrap();
    assert_eq!(row.expire_time.unwrap().to_rfc3339(), "2025-11-21T23:59:59+00:00", "from query order");
    assert!(!row.password_enc.unwrap().contains(&password), "stored encrypted");

    // Each lifecycle step: answered, reflected in the row and the view, one event.
    let steps: Vec<(Value, &str, InstanceState, Option<&str>)> = vec![
        (
            json!({"activity": "refreshInstance", "scene": "RENEWAL", "orderId": "MOCKMONTYRENEW",
                "orderLineId": "MOCKMONTYRENEW-000001", "instanceId": id, "expireTime": "20261121235959"}),
            "active",
            InstanceState::Active,
            Some("instance.renewed"),
        ),
        (
            json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"}),
            "frozen",
            InstanceState::Frozen,
            Some("instance.frozen"),
        ),
        (
            json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"}),
            "frozen",
            InstanceState::Frozen,
            None,
        ),
        (
            json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "UNFREEZE"}),
            "active",
            InstanceState::Active,
            Some("instance.unfrozen"),
        ),
        (
            json!({"activity": "upgradeInstance", "instanceId": id, "orderId": "MOCKMONTYCHANGE",
                "orderLineId": "MOCKMONTYCHANGE-000001"}),
            "active",
            InstanceState::Active,
            Some("instance.upgraded"),
        ),
        (
            json!({"activity": "releaseInstance", "instanceId": id, "orderId": order, "orderLineId": format!("{order}-000001")}),
            "released",
            InstanceState::Released,
            Some("instance.released"),
        ),
        (json!({"activity": "releaseInstance", "instanceId": id}), "released", InstanceState::Released, None),
    ];
    let mut expected: HashMap<String, usize> = HashMap::from([("instance.active".to_owned(), 1)]);
    for (body, state, view, event) in steps {
        let reply = sys.send(body.clone()).await;
        assert_eq!(reply.result_code(), "000000", "{body}: {}", reply.text());
        sys.settle().await;
        assert_eq!(sys.row(&id).await.unwrap().state.as_str(), state, "{body}");
        assert_eq!(sys.view_state(&id).await, Some(view), "{body}");
        if let Some(e) = event {
            *expected.entry(e.to_owned()).or_default() += 1;
        }
        assert_eq!(sys.count(&id).await, expected, "after {body}");
    }
    let row = sys.row(&id).await.unwrap();
    assert_eq!(row.expire_time.unwrap().to_rfc3339(), "2026-11-21T23:59:59+00:00");
    assert_eq!(row.sku_code.as_deref(), Some("0a4d1578-5295-46a7-92d4-7c803dccc51e"), "upgraded SKU");
    // A released instance still answers queryInstance (it is known), without a new event.
    assert_eq!(sys.send(query).await.result_code(), "000000");
}

/// What the debugger may answer for each case, as documented: lifecycle calls for an instance
/// whose newInstance has not been sent yet are unknown (`000003`); queryInstance may also be
/// still opening (`000004`).
fn allowed(activity: &str, code: &str) -> bool {
    match activity {
        "newInstance" | "orderNotify" => code == "000000",
        "queryInstance" => matches!(code, "000000" | "000003" | "000004"),
        _ => matches!(code, "000000" | "000003"),
    }
}

#[tokio::test]
async fn the_debug_case_set_for_every_mock_order_in_random_order_twice() {
    let sys = System::start().await;
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let (worker, stop) = (sys.worker.clone(), stop.clone());
        async move { worker.run(stop).await }
    });
    let mut cases: Vec<(String, Value)> = Vec::new();
    for order in MOCK_ORDERS {
        let id = instance_of(order);
        let line = format!("{order}-000001");
        let set = [
            json!({"activity": "newInstance", "businessId": business_id(), "orderId": order, "orderLineId": line}),
            json!({"activity": "queryInstance", "instanceId": id}),
            json!({"activity": "refreshInstance", "scene": "RENEWAL", "orderId": "MOCKMONTYRENEW",
                "orderLineId": "MOCKMONTYRENEW-000001", "instanceId": id, "expireTime": "20261121235959"}),
            json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"}),
            json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "UNFREEZE"}),
            json!({"activity": "upgradeInstance", "instanceId": id, "orderId": "MOCKMONTYCHANGE",
                "orderLineId": "MOCKMONTYCHANGE-000001"}),
            json!({"activity": "releaseInstance", "instanceId": id, "orderId": order, "orderLineId": line}),
            json!({"activity": "orderNotify", "orderId": order, "orderLineId": line}),
        ];
        for mut case in set {
            case["testFlag"] = "1".into();
            cases.push((order.to_owned(), case.clone()));
            cases.push((order.to_owned(), case));
        }
    }
    let seed: u64 = rand::random();
    println!("shuffle seed: {seed}");
    cases.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));

    let mut released: HashMap<String, bool> = HashMap::new();
    for (order, case) in &cases {
        let activity = case["activity"].as_str().unwrap().to_owned();
        let reply = sys.send(case.clone()).await;
        let code = reply.result_code().to_owned();
        assert!(allowed(&activity, &code), "seed {seed}: {case} → {}", reply.text());
        if code == ResultCode::Success.as_str() && activity == "releaseInstance" {
            released.insert(order.clone(), true);
        }
    }
    // Wait for the worker to finish everything (retries included).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut busy = false;
        for durable in ["provisioning-saas", "provisioning-order"] {
            let stream = sys.worker.bus().js.get_stream(names::stream(PREFIX, names::INBOUND)).await.unwrap();
            let mut consumer: async_nats::jetstream::consumer::PullConsumer =
                stream.get_consumer(durable).await.unwrap();
            let info = consumer.info().await.unwrap();
            busy |= info.num_pending > 0 || info.num_ack_pending > 0;
        }
        if !busy {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "seed {seed}: the worker did not settle");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    running.await.unwrap().unwrap();
    sys.worker.relay().flush().await.unwrap();

    let events = sys.events().await;
    for order in MOCK_ORDERS {
        let id = instance_of(order);
        let row = sys.row(&id).await.unwrap_or_else(|| panic!("seed {seed}: {order} has no instance"));
        let view = sys.view_state(&id).await.unwrap();
        let expected = if released.contains_key(order) { "released" } else { "active|frozen" };
        assert!(expected.contains(row.state.as_str()), "seed {seed}: {order} is {} (expected {expected})", row.state);
        assert_eq!(
            format!("{view:?}").to_lowercase(),
            row.state.as_str(),
            "seed {seed}: view and database agree for {order}"
        );
        let of = |t: &str| events.iter().filter(|e| e.r#type == t && e.data.aggregate_id() == id).count();
        assert!(of("instance.active") <= 1 && of("instance.released") <= 1, "seed {seed}: {order}");
        if row.released_before_create {
            assert_eq!(of("instance.active"), 0, "seed {seed}: {order} released before create, never provisioned");
        }
        assert_eq!(
            events.iter().filter(|e| e.r#type == "order.received" && e.data.aggregate_id() == order).count(),
            1,
            "seed {seed}: {order}"
        );
        // Every newInstance was answered 000000, so every instance the release did not overtake
        // was provisioned exactly once, and KooGallery's queryInstance sees it with its appInfo.
        if !row.released_before_create {
            assert_eq!(of("instance.active"), 1, "seed {seed}: {order} was provisioned once");
            assert!(row.front_end_url.is_some(), "seed {seed}: {order} has its appInfo");
        }
        let query = json!({"activity": "queryInstance", "instanceId": id, "testFlag": "1"});
        let answer = sys.send(query).await;
        assert_eq!(answer.result_code(), "000000", "seed {seed}: {order} → {}", answer.text());
        let info = CallbackResponse::from_slice(&answer.body).unwrap().info.unwrap().remove(0);
        assert_eq!(info.app_info.is_some(), !row.released_before_create, "seed {seed}: {order} appInfo");
    }
    let letters = dlq::list(sys.worker.bus()).await.unwrap();
    assert!(letters.is_empty(), "seed {seed}: {letters:?}");
    let _ = &sys.cfg;
}
