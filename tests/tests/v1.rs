//! V1 products end to end: the retired V1 calls (GET with `authToken`, Kit to
//! `/produceAPI/{name}`), sent by the simulator's V1 dialect to the real ingress and the real
//! provisioning worker, with the simulator as KooGallery's query order (which refuses V1's
//! `productId` as an order line, so the worker's whole-order fallback is on the path). Each call
//! must have the effect its V2 twin has.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use koofill_model::{InstanceId, OrderId, OrderLineId};
use koofill_provisioning::Worker;
use koofill_signing::client_secret::{self, OaepVariant};
use koofill_simulator::{SimConfig, SimKeys, Simulator, bodies, callback::CallbackSender};
use koofill_store::entities::{applications, departments, directory_users, instances, tenants};
use koofill_testkit::{TestDb, TestNats};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const BASIC_KEY: &str = "v1-basic-key-0123456789";
const KIT_KEY: &str = "v1-kit-key-9876543210";
const AK: &str = "V1AK";
const SK: &str = "v1-sk";
const PRIVATE_KEY_PEM: &str = include_str!("../../crates/signing/fixtures/test-client-secret-key.pem");
const PUBLIC_KEY_PEM: &str = include_str!("../../crates/signing/fixtures/test-client-secret-key.pub.pem");
/// A V1 product id: what V1 calls carry instead of an order line.
const PRODUCT: &str = "00301-666666-0--0";

#[allow(missing_debug_implementations)]
struct System {
    _nats: TestNats,
    _db: TestDb,
    sim: Simulator,
    v1: CallbackSender,
    worker: Worker,
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
        let keys = SimKeys::new(BASIC_KEY).with_kit_key(KIT_KEY).with_access_key(AK, SK);
        let sim = Simulator::start(SimConfig::for_keys(&keys)).await.expect("simulator starts");
        let env: Vec<(String, String)> = [
            ("KOOFILL__KOOGALLERY__BASIC_KEY", BASIC_KEY.to_owned()),
            ("KOOFILL__KOOGALLERY__KIT_KEY", KIT_KEY.to_owned()),
            ("KOOFILL__KOOGALLERY__V1_ENABLED", "true".to_owned()),
            ("KOOFILL__KOOGALLERY__ACCESS_KEY_ID", AK.to_owned()),
            ("KOOFILL__KOOGALLERY__SECRET_ACCESS_KEY", SK.to_owned()),
            ("KOOFILL__KOOGALLERY__CLIENT_SECRET_PRIVATE_KEY", PRIVATE_KEY_PEM.to_owned()),
            ("KOOFILL__KOOGALLERY__API_BASE", sim.base_url()),
            ("KOOFILL__KOOGALLERY__API_FALLBACK_BASE", sim.base_url()),
            ("KOOFILL__NATS__URL", nats.url()),
            ("KOOFILL__DATABASE__URL", db.url().to_owned()),
            ("KOOFILL__INGRESS__LISTEN", "127.0.0.1:0".to_owned()),
            ("KOOFILL__WORKER__LISTEN", "127.0.0.1:0".to_owned()),
            ("KOOFILL__CONSUMER__NAK_BASE_DELAY_MS", "50".to_owned()),
            ("KOOFILL__CONSUMER__NAK_MAX_DELAY_MS", "300".to_owned()),
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
        let v1 = CallbackSender::new(&format!("http://{addr}{}", cfg.ingress.base_path), keys).unwrap().v1();
        Self { _nats: nats, _db: db, sim, v1, worker, shutdown }
    }

    /// Sends a call (built as V2, sent as V1) and expects `000000` with a Body-Sign that verifies.
    async fn send(&self, body: Value) {
        let exchange = self.v1.send_basic(&body).await;
        assert_eq!(exchange.transport_problem(), None, "{body}");
        assert_eq!(exchange.result_code(), "000000", "{body}: {}", exchange.summary());
    }

    async fn kit(&self, interface: &str, body: Value) {
        let exchange = self.v1.send_kit(interface, &body).await;
        assert_eq!(exchange.transport_problem(), None, "{interface}");
        assert_eq!(exchange.result_code(), "000000", "{interface}: {}", exchange.summary());
    }

    async fn settle(&self) {
        let mut quiet = 0;
        while quiet < 3 {
            if self.worker.drain().await.unwrap() == 0 {
                quiet += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            } else {
                quiet = 0;
            }
        }
    }

    async fn row(&self, id: &str) -> instances::Model {
        instances::Entity::find_by_id(id.to_owned()).one(self.worker.db()).await.unwrap().expect("instance row")
    }
}

#[tokio::test]
async fn a_v1_order_goes_from_purchase_to_release_like_its_v2_twin() {
    let sys = System::start().await;
    let order = "MOCKPERIODYEARNEW";
    let id = InstanceId::for_order_line(&OrderId::new(order), &OrderLineId::new(PRODUCT)).to_string();
    sys.send(json!({"activity": "newInstance", "orderId": order, "orderLineId": PRODUCT, "businessId": "b-1"})).await;
    sys.settle().await;
    let row = sys.row(&id).await;
    assert_eq!(row.state.as_str(), "active");
    // Read from query order although the V1 productId is no order line there.
    assert_eq!(row.expire_time.unwrap().to_rfc3339(), "2025-11-21T23:59:59+00:00");
    assert_eq!(row.sku_code.as_deref(), Some("0a4d1578-5295-46a7-92d4-7c803dccc51d"));

    let steps: [(Value, &str); 6] = [
        (
            json!({"activity": "refreshInstance", "scene": "RENEWAL", "orderId": "MOCKMONTYRENEW",
                "orderLineId": PRODUCT, "instanceId": id, "expireTime": "20261121235959"}),
            "active",
        ),
        (json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"}), "frozen"),
        (json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "UNFREEZE"}), "active"),
        (
            json!({"activity": "upgradeInstance", "instanceId": id, "orderId": "MOCKMONTYCHANGE", "orderLineId": PRODUCT}),
            "active",
        ),
        (json!({"activity": "releaseInstance", "instanceId": id, "orderId": order}), "released"),
        (json!({"activity": "releaseInstance", "instanceId": id, "orderId": order}), "released"),
    ];
    for (body, state) in steps {
        sys.send(body.clone()).await;
        sys.settle().await;
        assert_eq!(sys.row(&id).await.state.as_str(), state, "after {body}");
    }
    let row = sys.row(&id).await;
    assert_eq!(row.expire_time.unwrap().to_rfc3339(), "2026-11-21T23:59:59+00:00", "renewed");
    let change = sys.sim.marketplace().order("MOCKMONTYCHANGE").unwrap();
    let upgraded = change.order_line[0].product_info[0].sku_code.clone();
    assert_eq!(row.sku_code.as_deref(), Some(upgraded.as_str()), "the SKU of the upgrade order");
    assert_ne!(row.sku_code.as_deref(), Some("0a4d1578-5295-46a7-92d4-7c803dccc51d"));
}

#[tokio::test]
async fn v1_expiry_freezes_the_instance() {
    let sys = System::start().await;
    let order = "MOCKPERIODYEARNEW";
    let id = InstanceId::for_order_line(&OrderId::new(order), &OrderLineId::new(PRODUCT)).to_string();
    sys.send(json!({"activity": "newInstance", "orderId": order, "orderLineId": PRODUCT, "businessId": "b-2"})).await;
    sys.settle().await;
    // V1's expireInstance has no body of its own in V2: it is sent raw.
    let params = vec![("activity".to_owned(), "expireInstance".to_owned()), ("instanceId".to_owned(), id.clone())];
    let query =
        koofill_simulator::v1::signed_query(BASIC_KEY.as_bytes(), &params, chrono::Utc::now().timestamp_millis());
    let exchange = sys.v1.send_v1_raw(&query).await;
    assert_eq!(exchange.result_code(), "000000", "{}", exchange.summary());
    sys.settle().await;
    assert_eq!(sys.row(&id).await.state.as_str(), "frozen");
}

#[tokio::test]
async fn kit_v1_syncs_fill_the_directory_like_their_v2_twins() {
    let sys = System::start().await;
    let tenant = bodies::Tenant {
        tenant_id: "t-v1".to_owned(),
        tenant_code: "v1corp".to_owned(),
        name: "V1 企业".to_owned(),
        domain_name: "https://v1corp.example.com".to_owned(),
    };
    sys.kit("tenantSync", bodies::tenant_sync("i-v1", "CSV1", &tenant, 1, false)).await;
    let secret = client_secret::encrypt(PUBLIC_KEY_PEM, "v1-client-secret", OaepVariant::Sha256Mgf1Sha1).unwrap();
    sys.kit("applicationSync", bodies::application_sync("i-v1", "t-v1", "app-v1", "client-v1", &secret, 1, false))
        .await;
    let users = [bodies::user("zhangsan01", "张三", "10000", "admin"), bodies::user("lisi02", "李四", "10000", "user")];
    // Sent with userList as a string holding JSON, as V1 does.
    sys.kit("authSync", bodies::auth_sync("i-v1", "t-v1", "app-v1", &users, 1, false)).await;
    let dev = ("20".to_owned(), "开发部".to_owned(), "10".to_owned());
    sys.kit("singleOrgSync", bodies::single_org_sync("i-v1", "t-v1", &dev, 1, false)).await;
    sys.settle().await;
    // The full list replaces the departments: sent as V1's `orgInfo` string with `name`.
    let all =
        [("10".to_owned(), "总部".to_owned(), String::new()), ("30".to_owned(), "测试部".to_owned(), "10".to_owned())];
    sys.kit("allOrgSync", bodies::all_org_sync("i-v1", "t-v1", &all, false)).await;
    sys.settle().await;

    let db = sys.worker.db();
    let tenant_row =
        tenants::Entity::find().filter(tenants::Column::TenantId.eq("t-v1")).one(db).await.unwrap().unwrap();
    assert_eq!(tenant_row.domain_name, "https://v1corp.example.com");
    let app =
        applications::Entity::find().filter(applications::Column::AppId.eq("app-v1")).one(db).await.unwrap().unwrap();
    assert_eq!(app.client_id, "client-v1");
    assert!(app.client_secret_enc.is_some_and(|sealed| !sealed.contains("v1-client-secret")));
    let mut names: Vec<String> = directory_users::Entity::find()
        .filter(directory_users::Column::TenantId.eq("t-v1"))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.user_name)
        .collect();
    names.sort();
    assert_eq!(names, ["lisi02", "zhangsan01"]);
    let mut departments: Vec<(String, String, String)> = departments::Entity::find()
        .filter(departments::Column::TenantId.eq("t-v1"))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.org_code, d.org_name, d.state.as_str().to_owned()))
        .collect();
    departments.sort();
    assert_eq!(
        departments,
        [
            ("10".to_owned(), "总部".to_owned(), "active".to_owned()),
            ("20".to_owned(), "开发部".to_owned(), "deleted".to_owned()),
            ("30".to_owned(), "测试部".to_owned(), "active".to_owned()),
        ],
        "the full sync replaced the single one"
    );
}
