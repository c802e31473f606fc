//! The license worker crashed mid-message: JetStream redelivers to the next process, and the
//! change takes effect once (one provisioner call id, one transition, one event).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use chrono::Utc;
use koofill_license::Worker;
use koofill_signing::webhook::WebhookSecret;
use koofill_store::{
    entities::license_transitions,
    sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter},
};
use tokio_util::sync::CancellationToken;

use crate::support::{TestWorker, refresh};

const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The seller's product: verifies each call, hangs on the first `hang_first` of them, records
/// (webhook-id, type) of every verified one.
#[derive(Clone, Default)]
struct Product {
    hang_first: Arc<AtomicU32>,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

async fn hook(State(product): State<Product>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let secret = WebhookSecret::parse(WEBHOOK_SECRET).unwrap();
    let now = Utc::now().timestamp();
    if secret.verify(&h("webhook-id"), &h("webhook-timestamp"), &h("webhook-signature"), &body, now, 300).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    let step = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["type"].as_str().unwrap_or("").to_owned();
    product.seen.lock().unwrap().push((h("webhook-id"), step));
    if product.hang_first.load(Ordering::SeqCst) > 0 {
        product.hang_first.fetch_sub(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    StatusCode::OK
}

async fn start_product(product: Product) -> String {
    let app = Router::new().route("/hooks", post(hook)).with_state(product);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hooks")
}

#[tokio::test]
async fn the_license_worker_crashed_mid_message_is_redelivered_with_one_effect() {
    let product = Product::default();
    product.hang_first.store(1, Ordering::SeqCst);
    let url = start_product(product.clone()).await;
    let app = TestWorker::start_with(&[
        ("KOOFILL__PROVISIONER__KIND", "webhook"),
        ("KOOFILL__PROVISIONER__WEBHOOK_URL", &url),
        ("KOOFILL__PROVISIONER__WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("KOOFILL__PROVISIONER__TIMEOUT_MS", "20000"),
    ])
    .await;
    let code = "PLCRASH0001";
    app.send_at(refresh(code, "CSCRASH1", "20300101000000"), Utc::now()).await;

    // The doomed process runs on a runtime of its own; shutting that runtime down drops every
    // task where it stands (the handler waiting on the product, its progress ticker, the
    // connection), as a crash would.
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
    while product.seen.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the product was never called");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill.send(()).unwrap();
    process.join().unwrap();
    assert_eq!(app.license(code).await, None, "nothing committed by the crashed process");

    // A new process takes over; JetStream redelivers after ack_wait (2 s here).
    let replacement = Worker::build(&app.cfg).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while app.license(code).await.is_none() {
        assert!(tokio::time::Instant::now() < deadline, "not redelivered");
        replacement.drain().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    replacement.drain().await.unwrap();

    let row = app.license(code).await.unwrap();
    assert_eq!(row.status, "active");
    let seen = product.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], seen[1], "the redelivery reaches the product with the same webhook-id and step");
    assert_eq!(seen[0].1, "license.renew");
    assert_eq!(app.provisioner_effects().await.get("license.renew"), Some(&1));
    assert_eq!(app.event_counts(code).await.get("license.refreshed"), Some(&1));
    let transitions = license_transitions::Entity::find()
        .filter(license_transitions::Column::Code.eq(code))
        .count(app.worker.db())
        .await
        .unwrap();
    assert_eq!(transitions, 1);
}
