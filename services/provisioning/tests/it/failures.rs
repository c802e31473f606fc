//! Failure handling: a flaky ISV webhook, a worker killed mid-message, a database outage, and
//! poison messages in the dead-letter queue.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use async_nats::HeaderMap;
use axum::{Router, body::Bytes, extract::State, http::HeaderMap as HttpHeaders, routing::post};
use koofill_bus::{Publisher, names};
use koofill_model::{Envelope, Family, InboundCallback};
use koofill_provisioning::{BuildOptions, Worker, cli, provisioner::WebhookOptions};
use koofill_signing::webhook::WebhookSecret;
use koofill_store::{
    entities::{instances, provisioner_calls},
    sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, TransactionTrait},
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::support::{PREFIX, TestWorker, instance_id, new_instance};

const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Clone, Default)]
struct Isv {
    fail_first: Arc<AtomicU32>,
    hang_first: Arc<AtomicU32>,
    seen: Arc<Mutex<Vec<(String, String)>>>,
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
    if !verified {
        return (axum::http::StatusCode::UNAUTHORIZED, String::new());
    }
    if isv.hang_first.load(Ordering::SeqCst) > 0 {
        isv.hang_first.fetch_sub(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    if isv.fail_first.load(Ordering::SeqCst) > 0 {
        isv.fail_first.fetch_sub(1, Ordering::SeqCst);
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "busy".into());
    }
    let answer = if step == "instance.create" {
        json!({"appInfo": {"frontEndUrl": "https://isv.example.com/t/acme", "adminUrl": "https://isv.example.com/admin",
            "userName": "acme-admin", "password": "S3cret!pass", "memo": "welcome"}})
    } else {
        json!({})
    };
    (axum::http::StatusCode::OK, answer.to_string())
}

async fn start_isv(isv: Isv) -> SocketAddr {
    let app = Router::new().route("/hooks", post(isv_hook)).with_state(isv);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn webhook_worker(isv: &Isv, timeout_ms: &str) -> TestWorker {
    let addr = start_isv(isv.clone()).await;
    let url = format!("http://{addr}/hooks");
    let options = BuildOptions {
        reconcile_bus: false,
        webhook: Some(WebhookOptions {
            attempts: 4,
            backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            ..WebhookOptions::default()
        }),
    };
    TestWorker::start_with(
        &[
            ("KOOFILL__PROVISIONER__KIND", "webhook"),
            ("KOOFILL__PROVISIONER__WEBHOOK_URL", &url),
            ("KOOFILL__PROVISIONER__WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("KOOFILL__PROVISIONER__TIMEOUT_MS", timeout_ms),
        ],
        options,
    )
    .await
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
    assert_eq!(row.state, "active");
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
async fn a_database_outage_is_retried_and_caught_up_with_nothing_lost() {
    let app = TestWorker::start_with(&[("KOOFILL__CONSUMER__MAX_DELIVER", "20")], BuildOptions::default()).await;
    let orders = ["GENOUT1", "GENOUT2", "GENOUT3"];
    let outage = database_outage(&app).await;
    for o in orders {
        app.send_basic(new_instance(o, false)).await;
    }
    // Every attempt during the outage fails and is retried later.
    let failing = tokio::time::timeout(Duration::from_secs(8), app.worker.drain()).await;
    assert!(!matches!(failing, Ok(Ok(n)) if n == 0), "the messages were attempted");
    outage.end().await;
    app.settle().await;
    for o in orders {
        let id = instance_id(o);
        assert_eq!(app.state(&id).await.as_deref(), Some("active"), "{o}");
        assert_eq!(app.event_counts(&id).await.get("instance.active"), Some(&1), "{o}");
    }
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
    assert_eq!(row.state, "failed");
    assert!(row.failure_reason.unwrap().contains("MKT.0100"));
    assert_eq!(app.view(&id).await.unwrap().state, koofill_bus::views::InstanceState::Failed);
    assert_eq!(app.event_counts(&id).await.get("instance.failed"), Some(&1));

    let letters = cli::list_dead_letters(app.worker.bus()).await.unwrap();
    assert_eq!(letters.len(), 2, "{letters:?}");
    let poison = letters
        .iter()
        .find(|l| {
            l.letter.headers.get("Nats-Msg-Id").map(String::as_str) == Some("newInstance:CSUNKNOWN1:CSUNKNOWN1-000001")
        })
        .unwrap();
    assert_eq!(poison.letter.consumer, "provisioning-saas");
    assert!(!poison.letter.retryable);
    let env: Envelope<InboundCallback> = serde_json::from_slice(&poison.letter.payload()).unwrap();
    assert_eq!(env.data.body["orderId"], "CSUNKNOWN1");
    assert!(letters.iter().any(|l| l.letter.payload() == b"not json"));

    // The order becomes known (the real fix would be elsewhere); redrive it.
    let mut info = koofill_provisioning::stand_in::known_order("GENX").unwrap();
    info["orderId"] = "CSUNKNOWN1".into();
    info["orderLine"][0]["orderLineId"] = "CSUNKNOWN1-000001".into();
    app.stand_in.insert(info);
    let publisher = Publisher::new(app.worker.bus().js.clone(), Duration::from_secs(2));
    let report = cli::redrive(app.worker.bus(), &publisher, poison.seq).await.unwrap();
    assert!(report.renamed, "the original id is still inside the dedup window");
    app.settle().await;
    assert_eq!(app.state(&id).await.as_deref(), Some("active"));
    assert_eq!(app.event_counts(&id).await.get("instance.active"), Some(&1));
    let left = cli::list_dead_letters(app.worker.bus()).await.unwrap();
    assert_eq!(left.len(), 1, "the redriven letter is gone, the garbage stays");
}
