//! The ingress end to end: real HTTP, a real nats-server per test, requests signed as KooGallery
//! signs them.
// Test helpers outside #[test] functions may unwrap too: a failure is a failed test.
#![allow(clippy::unwrap_used)]

mod activities;
mod auth;
mod idempotency;
mod license_proxy;
mod outage;
mod rejections;
mod replay;
mod request_identity;
mod usage;
mod v1;

use std::time::Duration;

use async_nats::jetstream::consumer::pull;
use futures::StreamExt;
use koofill_bus::names;
use koofill_model::{Envelope, InboundCallback};
use koofill_testkit::{CallbackClient, TestNats};
use tokio_util::sync::CancellationToken;

pub const BASIC_KEY: &str = "test-basic-key-0123456789";
pub const KIT_KEY: &str = "test-kit-key-9876543210";
pub const PREFIX: &str = "koofill";

/// A running ingress on its own nats-server.
#[allow(missing_debug_implementations)]
pub struct TestApp {
    pub nats: TestNats,
    pub client: CallbackClient,
    pub base_url: String,
    pub root_url: String,
    pub js: async_nats::jetstream::Context,
    pub nats_client: async_nats::Client,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts with extra `KOOFILL__…` settings.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        koofill_telemetry::init_for_tests();
        let nats = TestNats::start();
        let (base_url, root_url, shutdown) = start_ingress(&nats.url(), extra).await;
        let nats_client = async_nats::connect(nats.url()).await.expect("test client connects");
        Self {
            client: CallbackClient::new(base_url.clone(), BASIC_KEY, KIT_KEY),
            base_url,
            root_url,
            js: async_nats::jetstream::new(nats_client.clone()),
            nats_client,
            nats,
            shutdown,
        }
    }

    /// A second ingress replica on the same nats-server; it stops with the app.
    pub async fn replica(&self) -> CallbackClient {
        let (base_url, _, shutdown) = start_ingress(&self.nats.url(), &[]).await;
        let stop = self.shutdown.clone();
        tokio::spawn(async move {
            stop.cancelled().await;
            shutdown.cancel();
        });
        CallbackClient::new(base_url, BASIC_KEY, KIT_KEY)
    }

    /// Every message on KOOFILL_INBOUND, with its dedup id (the envelope's id, which the workers'
    /// inbox keys on).
    pub async fn inbound(&self) -> Vec<(String, Envelope<InboundCallback>)> {
        self.inbound_messages().await.into_iter().map(|(_, env)| (env.id.clone(), env)).collect()
    }

    /// Every message on KOOFILL_INBOUND, with its `Nats-Msg-Id` (the request's replay key).
    pub async fn inbound_messages(&self) -> Vec<(String, Envelope<InboundCallback>)> {
        let stream = self.js.get_stream(names::stream(PREFIX, names::INBOUND)).await.expect("stream");
        let consumer = stream.create_consumer(pull::Config::default()).await.expect("ephemeral consumer");
        let mut out = Vec::new();
        loop {
            let mut batch =
                consumer.fetch().max_messages(500).expires(Duration::from_millis(300)).messages().await.expect("fetch");
            let mut got = 0;
            while let Some(Ok(m)) = batch.next().await {
                let id = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                out.push((id, serde_json::from_slice(&m.payload).expect("envelope")));
                got += 1;
            }
            if got == 0 {
                return out;
            }
        }
    }

    /// The ingress's `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.root_url))
            .await
            .expect("metrics answer")
            .text()
            .await
            .expect("metrics text")
    }
}

/// Builds and runs an ingress on `nats_url` with extra `KOOFILL__…` settings; returns its base
/// and root URLs and its stop token.
async fn start_ingress(nats_url: &str, extra: &[(&str, &str)]) -> (String, String, CancellationToken) {
    let mut env: Vec<(String, String)> = vec![
        ("KOOFILL__KOOGALLERY__BASIC_KEY".into(), BASIC_KEY.into()),
        ("KOOFILL__KOOGALLERY__KIT_KEY".into(), KIT_KEY.into()),
        ("KOOFILL__NATS__URL".into(), nats_url.into()),
        ("KOOFILL__NATS__PREFIX".into(), PREFIX.into()),
        ("KOOFILL__INGRESS__LISTEN".into(), "127.0.0.1:0".into()),
        ("KOOFILL__INGRESS__CHANGE_CHECK_TIMEOUT_MS".into(), "300".into()),
        ("KOOFILL__INGRESS__PUBLISH_TIMEOUT_MS".into(), "1000".into()),
        ("KOOFILL__INGRESS__REQUEST_TIMEOUT_MS".into(), "2000".into()),
    ];
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let cfg = koofill_config::load_with_env(None, env).expect("test configuration loads");
    let app = koofill_ingress::Application::build(&cfg).await.expect("ingress starts");
    let addr = app.local_addr().expect("bound");
    let shutdown = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    (format!("http://{addr}{}", cfg.ingress.base_path), format!("http://{addr}"), shutdown)
}
