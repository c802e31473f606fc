//! The baseline: the least an ingress can do — axum, one HMAC verification (the V2 basic
//! signature), one JetStream publish awaiting its PubAck — with none of koofill's checks
//! (timestamp window, nonce cache, validation, instance view, Body-Sign, metrics, tracing).

use std::time::Duration;

use async_nats::{HeaderMap, header, jetstream};
use axum::{
    Router,
    extract::{RawQuery, State},
    routing::post,
};
use bytes::Bytes;
use koofill_signing::{basic, percent};

/// The probe's stream.
pub const STREAM: &str = "BENCHPROBE";

#[derive(Clone)]
struct ProbeState {
    js: jetstream::Context,
    key: std::sync::Arc<Vec<u8>>,
    subject_prefix: String,
}

const OK: &str = r#"{"resultCode":"000000","resultMsg":"success"}"#;
const FAIL: &str = r#"{"resultCode":"000001","resultMsg":"token is invalid"}"#;
const DOWN: &str = r#"{"resultCode":"000005","resultMsg":"other inner error"}"#;

async fn handle(State(s): State<ProbeState>, RawQuery(query): RawQuery, body: Bytes) -> &'static str {
    let params = percent::parse_query(query.as_deref().unwrap_or_default());
    let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()).unwrap_or_default();
    let (sig, ts, nonce) = (get("signature"), get("timestamp"), get("nonce"));
    if basic::verify(&s.key, nonce, ts, &body, sig).is_err() {
        return FAIL;
    }
    let mut headers = HeaderMap::new();
    headers.insert(header::NATS_MESSAGE_ID, nonce);
    let subject = format!("{}.newInstance", s.subject_prefix);
    match s.js.publish_with_headers(subject, headers, body).await {
        Ok(ack) => match tokio::time::timeout(Duration::from_secs(2), ack).await {
            Ok(Ok(_)) => OK,
            _ => DOWN,
        },
        Err(_) => DOWN,
    }
}

/// Creates the probe's stream and serves the probe on a free loopback port; returns its URL.
///
/// # Errors
/// When the stream cannot be created or the port bound.
pub async fn start(
    js: jetstream::Context,
    key: Vec<u8>,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<String> {
    js.get_or_create_stream(jetstream::stream::Config {
        name: STREAM.into(),
        subjects: vec!["benchprobe.>".into()],
        duplicate_window: Duration::from_secs(600),
        max_age: Duration::from_secs(3600),
        ..Default::default()
    })
    .await?;
    let state = ProbeState { js, key: std::sync::Arc::new(key), subject_prefix: "benchprobe.inbound".into() };
    let app = Router::new().route("/probe", post(handle)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await;
    });
    Ok(format!("http://{addr}/probe"))
}
