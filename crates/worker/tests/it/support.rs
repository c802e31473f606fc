//! The harness: the greeter registered on a host with its own NATS and database.

use std::time::Duration;

use async_nats::{HeaderMap, jetstream::consumer::pull};
use futures::StreamExt;
use koofill_bus::{Publisher, consumer::Consumer, names};
use koofill_config::Config;
use koofill_model::{DomainEvent, Envelope};
use koofill_store::{
    entities::orders,
    sea_orm::{EntityTrait, PaginatorTrait},
};
use koofill_testkit::{TestDb, TestNats};
use koofill_worker::{Host, HostBuilder, HostError, HostOptions, Source};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::greeter::{GREETER, Greeter, Greeting};

pub const PREFIX: &str = "koofill";
/// The worker's name: its NATS client name and the `worker` label of its metrics.
pub const WORKER: &str = "koofill-greeter";
/// How long a test waits for something the worker does in the background.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// A built (not yet running) greeter worker.
#[allow(missing_debug_implementations)]
pub struct TestHost {
    pub nats: TestNats,
    /// Held for its `Drop`, which removes the database.
    pub _db: TestDb,
    pub cfg: Config,
    pub host: Host,
    pub greeter: Consumer<Greeter>,
    publisher: Publisher,
}

impl TestHost {
    pub async fn start() -> Self {
        koofill_telemetry::init_for_tests();
        let nats = TestNats::start();
        let db = TestDb::fresh().await;
        let env = [
            ("KOOFILL__NATS__URL", nats.url()),
            ("KOOFILL__NATS__PREFIX", PREFIX.to_owned()),
            ("KOOFILL__DATABASE__URL", db.url().to_owned()),
            ("KOOFILL__WORKER__LISTEN", "127.0.0.1:0".to_owned()),
            ("KOOFILL__CONSUMER__ACK_WAIT_SECS", "2".to_owned()),
            ("KOOFILL__CONSUMER__NAK_BASE_DELAY_MS", "50".to_owned()),
            ("KOOFILL__CONSUMER__NAK_MAX_DELAY_MS", "400".to_owned()),
            ("KOOFILL__SHUTDOWN__GRACE_SECS", "2".to_owned()),
        ];
        let cfg =
            koofill_config::load_with_env(None, env.map(|(k, v)| (k.to_owned(), v))).expect("configuration loads");

        // The registration a worker's `main` makes.
        let mut builder = HostBuilder::connect(&cfg, WORKER, HostOptions::default()).await.expect("host connects");
        let greeter = Greeter::new(&builder);
        let greeter =
            builder.consumer(GREETER, Source::Events("greeting.>".into()), greeter).await.expect("consumer binds");
        let host = builder.build().expect("listener binds");

        let publisher = Publisher::new(host.bus().js.clone(), Duration::from_secs(2));
        Self { nats, _db: db, cfg, host, greeter, publisher }
    }

    /// Publishes a greeting in an envelope with id `envelope_id`, stored under `Nats-Msg-Id`
    /// `msg_id`.
    pub async fn greet(&self, envelope_id: &str, msg_id: &str, order_id: &str) {
        let greeting = Greeting { order_id: order_id.to_owned(), order_line_id: format!("{order_id}-1") };
        let env = Envelope::new(envelope_id, "greeting.hello", "test", chrono::Utc::now(), true, greeting);
        let payload = serde_json::to_vec(&env).unwrap();
        let subject = names::event(PREFIX, "greeting.hello");
        let ack = self.publisher.publish_raw(&subject, msg_id, HeaderMap::new(), payload.into()).await.unwrap();
        assert!(!ack.duplicate, "{msg_id} was stored as a new stream message");
    }

    /// Runs the host in a task until the returned token is cancelled.
    pub fn spawn_run(&self) -> (CancellationToken, JoinHandle<Result<(), HostError>>) {
        let shutdown = CancellationToken::new();
        let host = self.host.clone();
        let running = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { host.run(shutdown).await }
        });
        (shutdown, running)
    }

    /// Every event stored on `<prefix>.event.<suffix>`, oldest first.
    pub async fn events(&self, suffix: &str) -> Vec<Envelope<DomainEvent>> {
        let stream = self.host.bus().js.get_stream(names::stream(PREFIX, names::EVENTS)).await.unwrap();
        let reader = stream
            .create_consumer(pull::Config { filter_subject: names::event(PREFIX, suffix), ..Default::default() })
            .await
            .unwrap();
        let mut batch = reader.fetch().max_messages(100).messages().await.unwrap();
        let mut out = Vec::new();
        while let Some(msg) = batch.next().await {
            out.push(serde_json::from_slice(&msg.unwrap().payload).expect("an event envelope"));
        }
        out
    }

    /// Rows of the effect table.
    pub async fn orders(&self) -> u64 {
        orders::Entity::find().count(self.host.db()).await.unwrap()
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        let url = format!("http://{}/metrics", self.host.http_addr());
        reqwest::get(url).await.unwrap().text().await.unwrap()
    }
}

/// The value of the sample of `name` whose labels include every one of `labels`
/// (`key="value"`), if there is one.
pub fn sample(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
        (metric == name && labels.iter().all(|l| rest.contains(l))).then(|| value.parse().ok())?
    })
}

/// Polls `probe` until it returns `Some`, or panics with `what` at the deadline.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < until, "not within {DEADLINE:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
