//! Failure handling: a flaky ISV webhook, a worker killed mid-message, a database outage, and
//! poison messages in the dead-letter queue.

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use async_nats::HeaderMap;
use axum::{Router, body::Bytes, extract::State, http::HeaderMap as HttpHeaders, routing::post};
use koofill_bus::{Publisher, dlq, names, rpc};
use koofill_config::ConsumerConfig;
use koofill_model::{Envelope, Family, InboundCallback, KitInterface, basic::ChangeProductInfo};
use koofill_provisioning::{BuildOptions, ChangeCheckReply, ChangeCheckRequest, Worker, provisioner::WebhookOptions};
use koofill_signing::webhook::WebhookSecret;
use koofill_store::{
    entities::{instances, provisioner_calls, tenants},
    sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait},
};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::support::{PREFIX, TestWorker, instance_id, new_instance};

const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Clone, Default)]
struct Isv {
    fail_first: Arc<AtomicU32>,
    hang_first: Arc<AtomicU32>,
    seen: Arc<Mutex<Vec<(String, String)>>>,
    /// Per step: the statuses to answer its next calls with, in order; then it succeeds.
    script: Arc<Mutex<HashMap<String, VecDeque<u16>>>>,
    /// Per step: each call waits for a permit (a step never given one hangs).
    held: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
    /// (step, status) of every answer given.
    answers: Arc<Mutex<Vec<(String, u16)>>>,
}

impl Isv {
    fn script(&self, step: &str, statuses: impl IntoIterator<Item = u16>) {
        self.script.lock().unwrap().insert(step.to_owned(), statuses.into_iter().collect());
    }

    /// Holds every call of `step` until a permit is added to the returned gate.
    fn hold(&self, step: &str) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        self.held.lock().unwrap().insert(step.to_owned(), Arc::clone(&gate));
        gate
    }

    fn calls(&self, step: &str) -> usize {
        self.seen.lock().unwrap().iter().filter(|(_, s)| s == step).count()
    }

    fn answered(&self, step: &str, status: u16) -> usize {
        self.answers.lock().unwrap().iter().filter(|(s, code)| s == step && *code == status).count()
    }
}

async fn isv_hook(State(isv): State<Isv>, headers: HttpHeaders, body: Bytes) -> (axum::http::StatusCode, String) {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let secret = WebhookSecret::parse(WEBHOOK_SECRET).unwrap();
    let verified = secret
        .verify(
            &h("webhook-id"),
            &h("webhook-timestamp"),
            &h("webhook-signature"),
            &body,
            chrono::Utc::now().timestamp(),
            300,
        )
        .is_ok();
    let step =
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["type"].as_str().unwrap_or_default().to_owned();
    isv.seen.lock().unwrap().push((h("webhook-id"), step.clone()));
    let (status, answer) = if verified { isv_answer(&isv, &step).await } else { (401, String::new()) };
    isv.answers.lock().unwrap().push((step, status));
    (axum::http::StatusCode::from_u16(status).unwrap(), answer)
}

async fn isv_answer(isv: &Isv, step: &str) -> (u16, String) {
    if isv.hang_first.load(Ordering::SeqCst) > 0 {
        isv.hang_first.fetch_sub(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    let gate = isv.held.lock().unwrap().get(step).cloned();
    if let Some(gate) = gate {
        gate.acquire().await.unwrap().forget();
    }
    if isv.fail_first.load(Ordering::SeqCst) > 0 {
        isv.fail_first.fetch_sub(1, Ordering::SeqCst);
        return (503, "busy".into());
    }
    let scripted = isv.script.lock().unwrap().get_mut(step).and_then(VecDeque::pop_front);
    if let Some(status) = scripted {
        return (status, "no".into());
    }
    let answer = if step == "instance.create" {
        json!({"appInfo": {"frontEndUrl": "https://isv.example.com/t/acme", "adminUrl": "https://isv.example.com/admin",
            "userName": "acme-admin", "password": "S3cret!pass", "memo": "welcome"}})
    } else {
        json!({})
    };
    (200, answer.to_string())
}

async fn start_isv(isv: Isv) -> SocketAddr {
    let app = Router::new().route("/hooks", post(isv_hook)).with_state(isv);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn webhook_options() -> BuildOptions {
    BuildOptions {
        reconcile_bus: false,
        wait_for: None,
        webhook: Some(WebhookOptions {
            attempts: 4,
            backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            ..WebhookOptions::default()
        }),
    }
}

async fn webhook_worker(isv: &Isv, timeout_ms: &str) -> TestWorker {
    let addr = start_isv(isv.clone()).await;
    webhook_worker_at(&format!("http://{addr}/hooks"), timeout_ms).await
}

async fn webhook_worker_at(url: &str, timeout_ms: &str) -> TestWorker {
    webhook_worker_with(url, timeout_ms, &[]).await
}

async fn webhook_worker_with(url: &str, timeout_ms: &str, extra: &[(&str, &str)]) -> TestWorker {
    let mut env = vec![
        ("KOOFILL__PROVISIONER__KIND", "webhook"),
        ("KOOFILL__PROVISIONER__WEBHOOK_URL", url),
        ("KOOFILL__PROVISIONER__WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("KOOFILL__PROVISIONER__TIMEOUT_MS", timeout_ms),
    ];
    env.extend_from_slice(extra);
    TestWorker::start_with(&env, webhook_options()).await
}

/// Drains until `done` holds, or fails after `limit`.
async fn drain_until(app: &TestWorker, limit: Duration, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        app.worker.drain().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_webhook_failing_three_times_then_succeeding_creates_once_with_four_attempts_recorded() {
    let isv = Isv::default();
    isv.fail_first.store(3, Ordering::SeqCst);
    let app = webhook_worker(&isv, "2000").await;
    let id = instance_id("GENFLAKY");
    app.send_basic(new_instance("GENFLAKY", false)).await;
    // A debug order never reaches the real webhook.
    app.send_basic(new_instance("GENDEBUG", true)).await;
    app.settle().await;

    let row = app.instance(&id).await.unwrap();
    assert_eq!(row.state.as_str(), "active");
    assert_eq!(row.front_end_url.as_deref(), Some("https://isv.example.com/t/acme"));
    let seen = isv.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen.iter().all(|(hook_id, step)| hook_id == &seen[0].0 && step == "instance.create"), "one id: {seen:?}");
    let calls = provisioner_calls::Entity::find().all(app.worker.db()).await.unwrap();
    let outcomes: Vec<(i32, &str)> = calls.iter().map(|c| (c.attempt, c.outcome.as_str())).collect();
    assert_eq!(outcomes, [(1, "http_error"), (2, "http_error"), (3, "http_error"), (4, "ok")]);
    assert_eq!(app.event_counts(&id).await.get("instance.active"), Some(&1));
    assert_eq!(app.state(&instance_id("GENDEBUG")).await.as_deref(), Some("active"));
}

#[tokio::test]
async fn a_worker_killed_mid_message_is_redelivered_and_takes_effect_once() {
    let isv = Isv::default();
    isv.hang_first.store(1, Ordering::SeqCst);
    let app = webhook_worker(&isv, "20000").await;
    let id = instance_id("GENKILLED");
    app.send_basic(new_instance("GENKILLED", false)).await;
    // The doomed process runs on a runtime of its own; shutting that runtime down drops every
    // task where it stands (the handler waiting on the ISV, its progress ticker, the connection),
    // as a crash would.
    let (kill, killed) = std::sync::mpsc::channel::<()>();
    let cfg = app.cfg.clone();
    let process = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        runtime.spawn(async move {
            let doomed = Worker::build(&cfg).await.unwrap();
            doomed.run(CancellationToken::new()).await
        });
        let _ = killed.recv();
        runtime.shutdown_background();
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while isv.seen.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the ISV was never called");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill.send(()).unwrap();
    process.join().unwrap();
    assert_eq!(app.state(&id).await, None);

    // A new process takes over; JetStream redelivers after ack_wait (2 s here).
    let replacement = Worker::build(&app.cfg).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while app.state(&id).await.as_deref() != Some("active") {
        assert!(tokio::time::Instant::now() < deadline, "not redelivered");
        replacement.drain().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    replacement.drain().await.unwrap();
    let seen = isv.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].0, seen[1].0, "the redelivery reaches the ISV with the same webhook-id");
    assert_eq!(app.event_counts(&id).await.get("instance.active"), Some(&1));
    assert_eq!(instances::Entity::find().count(app.worker.db()).await.unwrap(), 1);
}

/// Makes the database refuse work until the returned guard is restored.
enum Outage {
    /// SQLite: another connection holds the write lock.
    Sqlite(koofill_store::sea_orm::DatabaseTransaction, koofill_store::sea_orm::DatabaseConnection),
    /// PostgreSQL: connections refused and existing ones terminated.
    Postgres { admin: koofill_store::sea_orm::DatabaseConnection, name: String },
}

async fn database_outage(app: &TestWorker) -> Outage {
    if app.db.is_postgres() {
        let admin_url = std::env::var(koofill_testkit::DATABASE_URL_ENV).unwrap();
        let admin = koofill_store::connect(&admin_url).await.unwrap();
        let name = app.db.url().rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
        admin.execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false")).await.unwrap();
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            ))
            .await
            .unwrap();
        Outage::Postgres { admin, name }
    } else {
        let other = koofill_store::connect(app.db.url()).await.unwrap();
        let txn = other.begin().await.unwrap();
        txn.execute_unprepared(
            "INSERT INTO inbox (consumer, event_id, processed_at) VALUES ('lock', 'lock', '2024-01-01')",
        )
        .await
        .unwrap();
        Outage::Sqlite(txn, other)
    }
}

impl Outage {
    async fn end(self) {
        match self {
            Outage::Sqlite(txn, _other) => txn.rollback().await.unwrap(),
            Outage::Postgres { admin, name } => {
                admin.execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true")).await.unwrap();
            }
        }
    }
}

#[tokio::test]
async fn a_ten_minute_database_outage_is_retried_and_caught_up_with_nothing_lost_at_the_default_horizon() {
    // A paid order must ride out an outage of minutes (architecture §13). Every duration here
    // is a ten-minute outage at the default delays scaled down 100 times (delays from 10 ms, a
    // 6 s outage); the retry horizon is the default itself.
    const SCALE: u32 = 100;
    let defaults = ConsumerConfig::default();
    let nak_base = (defaults.nak_base_delay_ms / u64::from(SCALE)).to_string();
    let nak_max = (defaults.nak_max_delay_ms / u64::from(SCALE)).to_string();
    let outage_len = Duration::from_secs(10 * 60) / SCALE;
    let app = TestWorker::start_with(
        &[("KOOFILL__CONSUMER__NAK_BASE_DELAY_MS", &nak_base), ("KOOFILL__CONSUMER__NAK_MAX_DELAY_MS", &nak_max)],
        BuildOptions::default(),
    )
    .await;
    let orders = ["GENOUT1", "GENOUT2", "GENOUT3"];
    let outage = database_outage(&app).await;
    for o in orders {
        app.send_basic(new_instance(o, false)).await;
    }
    // Through the whole outage the worker keeps taking the messages; every attempt fails and is
    // retried later. (A drain cut short leaves its message to be redelivered after ack_wait.)
    let started = tokio::time::Instant::now();
    while let Some(left) = outage_len.checked_sub(started.elapsed()) {
        let _ = tokio::time::timeout(left, app.worker.drain()).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stream = app.worker.bus().js.get_stream(names::stream(PREFIX, names::INBOUND)).await.unwrap();
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer("provisioning-saas").await.unwrap();
    let delivered = consumer.info().await.unwrap().delivered.consumer_sequence;
    assert!(delivered >= orders.len() as u64, "every message was attempted during the outage ({delivered} deliveries)");
    assert!(dlq::list(app.worker.bus()).await.unwrap().is_empty(), "nothing given up during the outage");

    outage.end().await;
    // The retries now wait up to 64 base delays each: drain until they have all come through.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    for o in orders {
        while app.state(&instance_id(o)).await.as_deref() != Some("active") {
            assert!(tokio::time::Instant::now() < deadline, "{o} was not caught up");
            app.worker.drain().await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    app.settle().await;
    for o in orders {
        let id = instance_id(o);
        assert_eq!(app.state(&id).await.as_deref(), Some("active"), "{o}");
        assert_eq!(app.event_counts(&id).await.get("instance.active"), Some(&1), "{o}");
    }
    let letters = dlq::list(app.worker.bus()).await.unwrap();
    assert!(letters.is_empty(), "{letters:?}");
}

#[tokio::test]
async fn poison_messages_are_dead_lettered_with_their_payload_and_can_be_redriven() {
    let app = TestWorker::start().await;
    let id = instance_id("CSUNKNOWN1");
    // A real order query order has never heard of: permanent, so no retries.
    app.send_basic(new_instance("CSUNKNOWN1", false)).await;
    // Not even an envelope.
    let subject = names::inbound(PREFIX, Family::Saas, "newInstance");
    app.publisher.publish_raw(&subject, "garbage-1", HeaderMap::new(), "not json".into()).await.unwrap();
    app.settle().await;

    let row = app.instance(&id).await.unwrap();
    assert_eq!(row.state.as_str(), "failed");
    assert!(row.failure_reason.unwrap().contains("MKT.0100"));
    assert_eq!(app.view(&id).await.unwrap().state, koofill_bus::views::InstanceState::Failed);
    assert_eq!(app.event_counts(&id).await.get("instance.failed"), Some(&1));

    let letters = dlq::list(app.worker.bus()).await.unwrap();
    assert_eq!(letters.len(), 2, "{letters:?}");
    let poison = letters
        .iter()
        .find(|l| {
            let env =
                l.letter.payload().ok().and_then(|p| serde_json::from_slice::<Envelope<InboundCallback>>(&p).ok());
            env.is_some_and(|e| e.id == "newInstance:CSUNKNOWN1:CSUNKNOWN1-000001")
        })
        .unwrap();
    assert_eq!(poison.letter.consumer, "provisioning-saas");
    assert!(!poison.letter.retryable);
    let env: Envelope<InboundCallback> = serde_json::from_slice(&poison.letter.payload().unwrap()).unwrap();
    assert_eq!(env.data.body["orderId"], "CSUNKNOWN1");
    assert!(letters.iter().any(|l| l.letter.payload().unwrap() == b"not json"));

    // The order becomes known (the real fix would be elsewhere); redrive it.
    let mut info = koofill_provisioning::stand_in::known_order("GENX").unwrap();
    info["orderId"] = "CSUNKNOWN1".into();
    info["orderLine"][0]["orderLineId"] = "CSUNKNOWN1-000001".into();
    app.stand_in.insert(info);
    let publisher = Publisher::new(app.worker.bus().js.clone(), Duration::from_secs(2));
    let report = dlq::redrive(app.worker.bus(), &publisher, poison.seq).await.unwrap();
    assert!(report.renamed, "the original id is still inside the dedup window");
    app.settle().await;
    assert_eq!(app.state(&id).await.as_deref(), Some("active"));
    assert_eq!(app.event_counts(&id).await.get("instance.active"), Some(&1));
    let left = dlq::list(app.worker.bus()).await.unwrap();
    assert_eq!(left.len(), 1, "the redriven letter is gone, the garbage stays");
}

#[tokio::test]
async fn a_client_error_from_the_isv_is_final_at_once_while_429_is_retried() {
    let isv = Isv::default();
    isv.script("instance.create", [422]);
    let app = webhook_worker(&isv, "2000").await;
    let id = instance_id("GEN422");
    app.send_basic(new_instance("GEN422", false)).await;
    app.settle().await;

    let row = app.instance(&id).await.unwrap();
    assert_eq!(row.state.as_str(), "failed");
    assert!(row.failure_reason.as_deref().is_some_and(|r| r.contains("422")), "{:?}", row.failure_reason);
    assert_eq!(isv.calls("instance.create"), 1, "refused requests are not repeated");
    let letters = dlq::list(app.worker.bus()).await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(!letters[0].letter.retryable);
    assert_eq!(letters[0].letter.delivered, 1, "dead-lettered on the first delivery");

    // Too Many Requests (and 5xx) are worth another attempt.
    isv.script("instance.create", [429, 503]);
    let id = instance_id("GEN429");
    app.send_basic(new_instance("GEN429", false)).await;
    app.settle().await;
    assert_eq!(app.state(&id).await.as_deref(), Some("active"));
    let calls = provisioner_calls::Entity::find()
        .filter(provisioner_calls::Column::InstanceId.eq(id.as_str()))
        .all(app.worker.db())
        .await
        .unwrap();
    let statuses: Vec<Option<i32>> = calls.iter().map(|c| c.status_code).collect();
    assert_eq!(statuses, [Some(429), Some(503), Some(200)]);
}

#[tokio::test]
async fn the_change_check_answers_while_the_ingress_still_waits_when_the_isv_hangs() {
    let isv = Isv::default();
    let _never = isv.hold("instance.change_check");
    // A provisioner timeout longer than the ingress's wait: only the change check's own budget
    // can keep the answer in time.
    let app = webhook_worker(&isv, "5000").await;
    let id = instance_id("GENCHKHANG");
    app.send_basic(new_instance("GENCHKHANG", false)).await;
    app.settle().await;
    assert_eq!(app.state(&id).await.as_deref(), Some("active"));

    let stop = CancellationToken::new();
    let responder = tokio::spawn({
        let worker = app.worker.clone();
        let stop = stop.clone();
        async move { worker.serve_change_check(stop).await }
    });
    let product: ChangeProductInfo =
        serde_json::from_value(json!({"productId": "OFFI1", "skuCode": "sku-2", "linearValue": 10})).unwrap();
    let ask = |instance: &str, test: bool| ChangeCheckRequest {
        instance_id: instance.into(),
        product_info: product.clone(),
        test,
    };
    let subject = names::rpc_change_check(PREFIX);
    let client = &app.worker.bus().client;
    // The responder subscribes asynchronously: a debug question (answered at once) tells when.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while rpc::request_json::<_, ChangeCheckReply>(client, &subject, &ask("probe", true), Duration::from_millis(300))
        .await
        .is_err()
    {
        assert!(tokio::time::Instant::now() < deadline, "the responder never answered");
    }

    let wait = app.cfg.ingress.change_check_timeout();
    let started = tokio::time::Instant::now();
    let reply: ChangeCheckReply = rpc::request_json(client, &subject, &ask(&id, false), wait)
        .await
        .expect("answered before the ingress gives up");
    assert!(started.elapsed() < wait);
    assert!(reply.allowed, "the configured default (allow) when the ISV gives no verdict");
    assert_eq!(isv.calls("instance.change_check"), 1, "a single attempt");
    stop.cancel();
    let _ = responder.await;
}

fn tenant(name: &str, secs: u32) -> serde_json::Value {
    json!({"instanceId": "inst-1", "orderId": "CS1", "tenantId": "t-1", "tenantCode": "acme", "name": name,
        "domainName": "https://acme.example.com", "flag": 1, "testFlag": 0,
        "timeStamp": format!("2024061210{:02}{:02}000", secs / 60, secs % 60)})
}

#[tokio::test]
async fn a_stale_kit_call_reaches_neither_the_isv_nor_the_events() {
    let isv = Isv::default();
    let app = webhook_worker(&isv, "2000").await;
    app.send_kit(KitInterface::TenantSync, tenant("Acme New", 2)).await;
    app.settle().await;
    app.send_kit(KitInterface::TenantSync, tenant("Acme Old", 1)).await;
    app.settle().await;

    assert_eq!(isv.calls("tenant.sync"), 1, "{:?}", isv.seen.lock().unwrap());
    let rows = tenants::Entity::find().all(app.worker.db()).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["Acme New"]);
    let synced = app.events().await.iter().filter(|e| e.r#type == "tenant.synced").count();
    assert_eq!(synced, 1);
}

#[tokio::test]
async fn a_tenant_created_after_its_release_is_released_at_the_isv_even_if_that_fails_at_first() {
    let isv = Isv::default();
    let create = isv.hold("instance.create");
    // Every attempt of the first delivery's release fails.
    isv.script("instance.release", [503; 4]);
    let app = webhook_worker(&isv, "20000").await;
    let id = instance_id("GENORPHAN");

    // One replica takes the create and waits on the ISV...
    app.send_basic(new_instance("GENORPHAN", false)).await;
    let replica = Worker::build_with(&app.cfg, webhook_options()).await.unwrap();
    let creating = tokio::spawn(async move { replica.drain().await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while isv.calls("instance.create") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the ISV was never asked to create");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...while another records the release that overtook it (nothing to release yet).
    app.send_basic(json!({"activity": "releaseInstance", "instanceId": id})).await;
    app.worker.drain().await.unwrap();
    assert_eq!(app.state(&id).await.as_deref(), Some("released"));

    // The ISV finishes the create: that tenant must be released, and the failed release retried.
    create.add_permits(1);
    creating.await.unwrap().unwrap();
    app.settle().await;

    assert_eq!(isv.answered("instance.release", 503), 4);
    assert_eq!(isv.answered("instance.release", 200), 1, "{:?}", isv.answers.lock().unwrap());
    let row = app.instance(&id).await.unwrap();
    assert_eq!((row.state.as_str(), row.front_end_url.as_deref()), ("released", None));
    let counts = app.event_counts(&id).await;
    assert_eq!((counts.get("instance.active"), counts.get("instance.released")), (None, Some(&1)), "{counts:?}");
    assert!(dlq::list(app.worker.bus()).await.unwrap().is_empty());
}

#[tokio::test]
async fn webhook_errors_never_show_the_webhook_url() {
    // A port nobody listens on, and a token in the query.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    // An unreachable endpoint is an outage, retried until the horizon (shortened here).
    let url = format!("http://{closed}/hooks?token=SUPERSECRETTOKEN");
    let app = webhook_worker_with(&url, "2000", &[("KOOFILL__CONSUMER__RETRY_HORIZON_SECS", "2")]).await;
    let id = instance_id("GENLEAK");
    app.send_basic(new_instance("GENLEAK", false)).await;
    drain_until(&app, Duration::from_secs(20), "failed after the horizon", async || {
        app.state(&id).await.as_deref() == Some("failed")
    })
    .await;
    app.settle().await;

    let row = app.instance(&id).await.unwrap();
    assert_eq!(row.state.as_str(), "failed");
    let reason = row.failure_reason.unwrap();
    assert!(reason.contains("unreachable"), "{reason}");
    let calls = provisioner_calls::Entity::find().all(app.worker.db()).await.unwrap();
    assert!(!calls.is_empty());
    let events = app.events().await;
    let failed: Vec<String> =
        events.iter().filter(|e| e.r#type == "instance.failed").map(|e| serde_json::to_string(e).unwrap()).collect();
    assert!(!failed.is_empty());
    let letters = dlq::list(app.worker.bus()).await.unwrap();
    let mut recorded = vec![reason];
    recorded.extend(calls.into_iter().filter_map(|c| c.error));
    recorded.extend(failed);
    recorded.extend(letters.into_iter().map(|l| l.letter.error));
    for text in &recorded {
        assert!(!text.contains("SUPERSECRETTOKEN") && !text.contains("/hooks"), "{text}");
    }
}

#[tokio::test]
async fn a_401_from_the_webhook_is_retried_until_fixed_not_failed() {
    // The webhook secret differs on the two sides for a while: the seller fixes it, and the paid
    // order opens instead of failing.
    let isv = Isv::default();
    isv.script("instance.create", [401, 403, 401]);
    let app = webhook_worker(&isv, "2000").await;
    let id = instance_id("GEN401");
    app.send_basic(new_instance("GEN401", false)).await;
    drain_until(&app, Duration::from_secs(20), "active once the key was fixed", async || {
        app.state(&id).await.as_deref() == Some("active")
    })
    .await;
    assert_eq!(isv.answered("instance.create", 401), 2);
    assert_eq!(isv.answered("instance.create", 403), 1);
    assert!(dlq::list(app.worker.bus()).await.unwrap().is_empty());
    assert!(!app.event_counts(&id).await.contains_key("instance.failed"));
    let metrics = app.worker.host().render_metrics();
    assert!(
        metrics.contains(
            "koofill_worker_misconfigured_total{worker=\"koofill-provisioning\",consumer=\"provisioning-saas\"} 3"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_ten_minute_webhook_outage_ends_with_every_order_active_and_nothing_dead_lettered() {
    // Ten minutes scaled down 100 times: delays from 10 ms, the seller's endpoint answering 503
    // for 6 s.
    let isv = Isv::default();
    isv.fail_first.store(u32::MAX, Ordering::SeqCst);
    let addr = start_isv(isv.clone()).await;
    let app = webhook_worker_with(
        &format!("http://{addr}/hooks"),
        "2000",
        &[("KOOFILL__CONSUMER__NAK_BASE_DELAY_MS", "10"), ("KOOFILL__CONSUMER__NAK_MAX_DELAY_MS", "3000")],
    )
    .await;
    let orders = ["GENWOUT1", "GENWOUT2"];
    for o in orders {
        app.send_basic(new_instance(o, false)).await;
    }
    let outage = Duration::from_secs(10 * 60) / 100;
    let started = tokio::time::Instant::now();
    while started.elapsed() < outage {
        app.worker.drain().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(isv.calls("instance.create") >= orders.len(), "the endpoint was tried during the outage");
    isv.fail_first.store(0, Ordering::SeqCst);
    for o in orders {
        let id = instance_id(o);
        drain_until(&app, Duration::from_secs(20), "caught up", async || {
            app.state(&id).await.as_deref() == Some("active")
        })
        .await;
    }
    assert!(dlq::list(app.worker.bus()).await.unwrap().is_empty());
}

/// A FREEZE whose provisioner call succeeded but whose database write failed leaves the product
/// frozen and koofill's row active; the UNFREEZE that follows must still reach the product.
#[tokio::test]
async fn an_unfreeze_after_a_freeze_lost_in_the_database_unfreezes_the_product() {
    // Retries wait 3 s, so the FREEZE's retry comes back only after the UNFREEZE was handled.
    let isv = Isv::default();
    let addr = start_isv(isv.clone()).await;
    let app = webhook_worker_with(
        &format!("http://{addr}/hooks"),
        "2000",
        &[("KOOFILL__CONSUMER__NAK_BASE_DELAY_MS", "3000"), ("KOOFILL__CONSUMER__NAK_MAX_DELAY_MS", "3000")],
    )
    .await;
    let id = instance_id("GENCONV");
    app.send_basic(new_instance("GENCONV", false)).await;
    app.settle().await;
    assert_eq!(app.state(&id).await.as_deref(), Some("active"));

    let gate = isv.hold("instance.freeze");
    let t0 = chrono::Utc::now();
    app.send_basic_at(json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"}), t0).await;
    let draining = tokio::spawn({
        let worker = app.worker.clone();
        async move { worker.drain().await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while isv.calls("instance.freeze") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the freeze never reached the product");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The product freezes; the database goes away before koofill can record it.
    let outage = database_outage(&app).await;
    gate.add_permits(100);
    draining.await.unwrap().unwrap();
    outage.end().await;
    assert_eq!(isv.answered("instance.freeze", 200), 1);
    assert_eq!(app.state(&id).await.as_deref(), Some("active"), "the freeze was not recorded");

    // KooGallery unfreezes; koofill's row already says active, yet the product must hear it.
    let t1 = t0 + chrono::Duration::seconds(5);
    app.send_basic_at(json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "UNFREEZE"}), t1).await;
    app.worker.drain().await.unwrap();
    assert_eq!(isv.calls("instance.unfreeze"), 1, "the product was told to unfreeze");
    // The FREEZE's retry is older than the UNFREEZE: it changes nothing, at the product either.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while app.worker.drain().await.unwrap() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the FREEZE was never retried");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(isv.calls("instance.freeze"), 1, "the stale FREEZE did not reach the product again");
    let last = isv
        .seen
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(_, step)| step == "instance.freeze" || step == "instance.unfreeze")
        .map(|(_, step)| step.clone());
    assert_eq!(last.as_deref(), Some("instance.unfreeze"), "the product ends in the requested state");
    assert_eq!(app.state(&id).await.as_deref(), Some("active"));
    assert!(dlq::list(app.worker.bus()).await.unwrap().is_empty());
}
