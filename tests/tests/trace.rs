//! One trace per order: the W3C trace context of KooGallery's HTTP request travels through
//! NATS to the provisioning worker and on to the seller's product. The services export their
//! spans over OTLP/HTTP to a receiver in this test, which decodes what they sent.
//!
//! Its own test binary: telemetry is initialised once per process, with the OTLP exporter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use koofill_provisioning::{Worker, stand_in::QueryOrderStandIn};
use koofill_testkit::{CallbackClient, TestDb, TestNats};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// (trace id, span name) of every span received.
type Spans = Arc<Mutex<Vec<(String, String)>>>;

async fn otlp_traces(State(spans): State<Spans>, body: Bytes) -> &'static str {
    let request = ExportTraceServiceRequest::decode(body).expect("OTLP/HTTP protobuf");
    let mut spans = spans.lock().unwrap();
    for resource in request.resource_spans {
        for scope in resource.scope_spans {
            for span in scope.spans {
                spans.push((hex::encode(span.trace_id), span.name));
            }
        }
    }
    ""
}

/// The seller's product: answers `instance.create` with an appInfo, and records the
/// `traceparent` each call carried.
async fn product(State(seen): State<Arc<Mutex<Vec<String>>>>, headers: HeaderMap) -> String {
    let traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok()).unwrap_or_default();
    seen.lock().unwrap().push(traceparent.to_owned());
    json!({"appInfo": {"frontEndUrl": "https://isv.example.com/t/traced", "userName": "u", "password": "p"}})
        .to_string()
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_instance_is_one_trace_from_the_callback_to_the_sellers_product() {
    let spans: Spans = Arc::default();
    let collector = serve(Router::new().route("/v1/traces", post(otlp_traces)).with_state(Arc::clone(&spans))).await;
    let traceparents: Arc<Mutex<Vec<String>>> = Arc::default();
    let isv = serve(Router::new().route("/hooks", post(product)).with_state(Arc::clone(&traceparents))).await;

    let nats = TestNats::start();
    let db = TestDb::fresh().await;
    let stand_in = QueryOrderStandIn::start("TRACEAK", "trace-sk").await.unwrap();
    let env: Vec<(String, String)> = [
        ("KOOFILL__KOOGALLERY__BASIC_KEY", "trace-basic-key".to_owned()),
        ("KOOFILL__KOOGALLERY__KIT_KEY", "trace-kit-key".to_owned()),
        ("KOOFILL__KOOGALLERY__ACCESS_KEY_ID", "TRACEAK".to_owned()),
        ("KOOFILL__KOOGALLERY__SECRET_ACCESS_KEY", "trace-sk".to_owned()),
        ("KOOFILL__KOOGALLERY__API_BASE", stand_in.base_url()),
        ("KOOFILL__KOOGALLERY__API_FALLBACK_BASE", stand_in.base_url()),
        ("KOOFILL__NATS__URL", nats.url()),
        ("KOOFILL__DATABASE__URL", db.url().to_owned()),
        ("KOOFILL__INGRESS__LISTEN", "127.0.0.1:0".to_owned()),
        ("KOOFILL__WORKER__LISTEN", "127.0.0.1:0".to_owned()),
        ("KOOFILL__PROVISIONER__KIND", "webhook".to_owned()),
        ("KOOFILL__PROVISIONER__WEBHOOK_URL", format!("http://{isv}/hooks")),
        ("KOOFILL__PROVISIONER__WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()),
        ("KOOFILL__PROVISIONER__PROVISION_DEBUG_ORDERS", "true".to_owned()),
        ("KOOFILL__TELEMETRY__OTLP_ENDPOINT", format!("http://{collector}")),
        ("KOOFILL__TELEMETRY__LOG_FILTER", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let cfg = koofill_config::load_with_env(None, env).expect("configuration loads");
    let telemetry = koofill_telemetry::init(&cfg.telemetry, "koofill-trace-test").expect("telemetry starts");

    let shutdown = CancellationToken::new();
    let ingress = koofill_ingress::Application::build(&cfg).await.expect("ingress starts");
    let addr = ingress.local_addr().unwrap();
    tokio::spawn(ingress.run_until_stopped(shutdown.clone()));
    let worker = Worker::build(&cfg).await.expect("worker starts");

    let client =
        CallbackClient::new(format!("http://{addr}{}", cfg.ingress.base_path), "trace-basic-key", "trace-kit-key");
    let reply = client.send_basic(&koofill_testkit::fixtures::spec_example("newInstance")).await;
    assert_eq!(reply.status, 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while traceparents.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the product was never called");
        worker.drain().await.unwrap();
    }
    shutdown.cancel();
    // Flushes the batch exporter: every span ended so far reaches the receiver.
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await.unwrap();

    let spans = spans.lock().unwrap().clone();
    let trace_of =
        |name: &str| -> Vec<String> { spans.iter().filter(|(_, n)| n == name).map(|(t, _)| t.clone()).collect() };
    let ingress_traces = trace_of("POST /kg/produce");
    let handler_traces = trace_of("saas");
    let call_traces = trace_of("provisioner.call");
    assert!(!ingress_traces.is_empty(), "no ingress span among {spans:?}");
    let trace = &ingress_traces[0];
    assert!(handler_traces.contains(trace), "the provisioning handler is in the callback's trace: {spans:?}");
    assert!(call_traces.contains(trace), "the provisioner call is in the callback's trace: {spans:?}");
    let sent = traceparents.lock().unwrap().clone();
    assert!(sent[0].contains(trace.as_str()), "the product received the trace context: {sent:?}");
}
