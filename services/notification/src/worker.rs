//! The notification worker's registration on the worker host: the `notification` consumer on
//! every event, and the dispatcher beside it.

use std::{collections::BTreeMap, path::Path, sync::Arc, time::Duration};

use koofill_bus::BusError;
use koofill_config::{ChannelConfig, ChannelKind, Config, NotificationConfig, RuleConfig, SmtpTls};
use koofill_store::StoreError;
use koofill_worker::{Host, HostBuilder, HostOptions, Source};
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::{
    Clock, StartError, SystemClock,
    channels::Channel,
    dispatch::{ChannelRuntime, DispatchSettings, Dispatcher},
    handler::{DeadLetterHandler, EventHandler},
    metrics::Metrics,
};

/// The client name the worker connects to NATS with.
pub const SERVICE: &str = "koofill-notification";
/// The durable consumer (and inbox consumer name).
pub const CONSUMER: &str = "notification";
/// The durable consumer of the dead-letter stream: every dead letter becomes a `dlq.message`
/// event for the routing rules.
pub const DLQ_CONSUMER: &str = "notification_dlq";

/// Options that are not configuration keys.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Update a consumer whose deployed settings differ instead of refusing to start.
    pub reconcile_bus: bool,
    /// Wait up to this long for NATS and the database.
    pub wait_for: Option<Duration>,
    /// The clock retries are scheduled by (tests move a [`crate::ManualClock`]); the system
    /// clock when `None`.
    pub clock: Option<Arc<dyn Clock>>,
}

/// The notification worker. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Worker {
    host: Host,
    dispatcher: Arc<Dispatcher>,
    grace: Duration,
}

/// Every configured channel, built (each checked: URL rules, secrets, addresses).
///
/// # Errors
/// [`StartError::Config`] naming the key at fault.
pub fn build_channels(cfg: &NotificationConfig) -> Result<BTreeMap<String, Arc<ChannelRuntime>>, StartError> {
    let mut channels = BTreeMap::new();
    for (id, c) in &cfg.channels {
        let channel = Channel::build(id, c, cfg.send_timeout()).map_err(|e| StartError::Config(e.to_string()))?;
        let schedule = c.retry_schedule_secs.iter().map(|s| Duration::from_secs(*s)).collect();
        let rate = c.rate_per_minute.or_else(|| Channel::default_rate(c.kind));
        channels.insert(id.clone(), Arc::new(ChannelRuntime::new(id.clone(), c.kind, channel, schedule, rate)));
    }
    Ok(channels)
}

impl Worker {
    /// Builds the worker with default [`BuildOptions`].
    ///
    /// # Errors
    /// As [`Worker::build_with`].
    pub async fn build(cfg: &Config) -> Result<Self, StartError> {
        Self::build_with(cfg, BuildOptions::default()).await
    }

    /// Checks every channel, connects the host and registers the consumer.
    ///
    /// # Errors
    /// [`StartError::Config`] for an unusable channel; [`StartError::Host`] otherwise.
    pub async fn build_with(cfg: &Config, options: BuildOptions) -> Result<Self, StartError> {
        let n = &cfg.notification;
        let channels = build_channels(n)?;
        if n.rules.is_empty() {
            tracing::warn!("notification.rules is empty: no event is routed anywhere");
        }
        let clock = options.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let host_options = HostOptions { reconcile_bus: options.reconcile_bus, wait_for: options.wait_for };
        let mut host = HostBuilder::connect(cfg, SERVICE, host_options).await?;
        let metrics = Metrics::registered(host.registry_mut(), channels.keys().map(String::as_str));
        let settings = DispatchSettings {
            lease: n.lease(),
            send_timeout: n.send_timeout(),
            poll: n.poll_interval(),
            concurrency: n.concurrency,
        };
        let dispatcher = Arc::new(Dispatcher::new(host.db().clone(), channels, Arc::clone(&clock), &settings, metrics));
        let handler =
            |clock| EventHandler::new(n, host.db().clone(), host.outbox().clone(), CONSUMER, clock, dispatcher.waker());
        let (events, letters) = (handler(Arc::clone(&clock)), handler(clock));
        host.consumer(CONSUMER, Source::Events(">".into()), events).await?;
        host.consumer(DLQ_CONSUMER, Source::DeadLetters, DeadLetterHandler::new(letters, DLQ_CONSUMER)).await?;
        Ok(Self { host: host.build()?, dispatcher, grace: cfg.shutdown.grace() })
    }

    /// Runs the consumer, the dispatcher and `/healthz`, `/readyz`, `/metrics` until `shutdown`
    /// (or until the host fails, which stops the dispatcher too).
    ///
    /// # Errors
    /// [`StartError::Host`] when the consumer failed.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), StartError> {
        let stop = shutdown.child_token();
        let dispatcher = Arc::clone(&self.dispatcher);
        let grace = self.grace;
        let dispatching = tokio::spawn({
            let stop = stop.clone();
            async move { dispatcher.run(stop, grace).await }
        });
        let hosted = self.host.run(stop.clone()).await;
        stop.cancel();
        let _ = dispatching.await;
        Ok(hosted?)
    }

    /// Handles every event available now (storing their deliveries); returns how many. For
    /// tests and one-shot tools; [`Worker::dispatch_due`] then sends them.
    ///
    /// # Errors
    /// [`BusError`] when fetching fails.
    pub async fn drain(&self) -> Result<usize, BusError> {
        self.host.drain().await
    }

    /// Attempts every delivery due now; returns how many were due.
    ///
    /// # Errors
    /// [`StoreError`] when the deliveries cannot be read.
    pub async fn dispatch_due(&self) -> Result<usize, StoreError> {
        self.dispatcher.run_once().await
    }

    /// The worker host (health, metrics).
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        self.host.db()
    }
}

/// Builds and runs the worker until `shutdown` (what `koofill serve notification` and `koofill
/// dev` call).
///
/// # Errors
/// As [`Worker::build`] and [`Worker::run`].
pub async fn run(cfg: Config, shutdown: CancellationToken) -> Result<(), StartError> {
    Worker::build(&cfg).await?.run(shutdown).await
}

/// `koofill dev`'s catch-all: when no channel and no rule is configured, every event goes to a
/// `dev-log` file channel at `<state_dir>/notifications.log`. Returns whether it was added.
pub fn dev_catch_all(cfg: &mut NotificationConfig, state_dir: &Path) -> bool {
    if !cfg.channels.is_empty() || !cfg.rules.is_empty() {
        return false;
    }
    let channel = ChannelConfig {
        kind: ChannelKind::File,
        url: None,
        secret: None,
        retry_schedule_secs: vec![1, 5, 30],
        rate_per_minute: None,
        language: None,
        smtp_host: None,
        smtp_port: None,
        smtp_tls: SmtpTls::default(),
        username: None,
        password: None,
        from: None,
        to: Vec::new(),
        path: Some(state_dir.join("notifications.log")),
    };
    cfg.channels.insert("dev-log".into(), channel);
    cfg.rules.push(RuleConfig {
        events: vec!["*".into()],
        test: None,
        products: Vec::new(),
        skus: Vec::new(),
        tenants: Vec::new(),
        channels: vec!["dev-log".into()],
        template: None,
        digest_secs: None,
    });
    true
}
