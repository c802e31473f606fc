//! The metering worker's registration on the worker host: the usage consumer, the instance-event
//! consumer and the push scheduler.

use std::sync::Arc;

use koofill_config::{Config, ExposeSecret, PushSortDepth};
use koofill_marketplace::{UsagePushClient, UsagePushConfig};
use koofill_signing::usage::SortDepth;
use koofill_store::{OutboxSignal, sea_orm::DatabaseConnection};
use koofill_worker::{EventFactory, Host, HostBuilder, HostOptions, Source};
use tokio_util::sync::CancellationToken;

use crate::{
    StartError,
    clock::{Clock, SystemClock},
    ingest::{self, UsageHandler},
    instances::{self, InstanceHandler},
    ledger::Ledger,
    metrics::MeteringMetrics,
    push::Pusher,
};

/// The client name the worker connects to NATS with.
pub const SERVICE: &str = "koofill-metering";
/// The `source` of the events the worker emits.
pub const SOURCE: &str = "metering";

/// Options that are not configuration keys.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Host options (`--reconcile-bus`, `--wait-for`).
    pub host: HostOptions,
    /// The scheduler's clock; the system clock when `None`.
    pub clock: Option<Arc<dyn Clock>>,
    /// Where records go; KooGallery's usage push (`koogallery.api_base`) when `None`.
    pub pusher: Option<Arc<dyn Pusher>>,
}

/// The metering worker: its registration on a [`Host`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Worker {
    host: Host,
    ledger: Ledger,
    usage: UsageHandler,
}

impl Worker {
    /// Connects the host, registers the `metering` and `metering-instances` consumers and the
    /// scheduler task (a round every `metering.tick_secs`).
    ///
    /// # Errors
    /// [`StartError::Config`] without `koogallery.basic_key` (the push signature) when no pusher
    /// is given; [`StartError::Host`] otherwise.
    pub async fn build(cfg: &Config, options: BuildOptions) -> Result<Self, StartError> {
        let pusher = match options.pusher {
            Some(p) => p,
            None => Arc::new(push_client(cfg)?),
        };
        let clock = options.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let mut host = HostBuilder::connect(cfg, SERVICE, options.host).await?;
        let metrics = MeteringMetrics::registered(host.registry_mut());
        let usage = UsageHandler {
            db: host.db().clone(),
            outbox: host.outbox().clone(),
            cycle: cfg.metering.cycle,
            metrics: metrics.clone(),
        };
        host.consumer(ingest::CONSUMER, Source::Usage, usage.clone()).await?;
        let instance_handler =
            InstanceHandler { db: host.db().clone(), outbox: host.outbox().clone(), config: cfg.metering.clone() };
        host.consumer(instances::CONSUMER, Source::Events("instance.>".into()), instance_handler).await?;
        let ledger = Ledger::new(
            host.db().clone(),
            host.outbox().clone(),
            host.events(SOURCE),
            pusher,
            clock,
            cfg.metering.clone(),
            metrics,
        );
        let ticking = ledger.clone();
        let tick = cfg.metering.tick();
        host.task("metering-scheduler", move |shutdown| {
            let ledger = ticking.clone();
            async move { schedule(ledger, tick, shutdown).await }
        });
        Ok(Self { host: host.build()?, ledger, usage })
    }

    /// Runs the consumers, the scheduler, the relay and `/healthz`, `/readyz`, `/metrics` until
    /// `shutdown`.
    ///
    /// # Errors
    /// [`StartError::Host`] when a consumer failed.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), StartError> {
        Ok(self.host.run(shutdown).await?)
    }

    /// Handles everything available on both consumers now, then publishes the outbox; returns
    /// how many messages were handled (for tests and one-shot tools; the scheduler does not run).
    ///
    /// # Errors
    /// [`koofill_bus::BusError`] when fetching fails.
    pub async fn drain(&self) -> Result<usize, koofill_bus::BusError> {
        self.host.drain().await
    }

    /// The push scheduler and ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The usage handler (to apply a batch directly).
    pub fn usage(&self) -> &UsageHandler {
        &self.usage
    }

    /// The worker host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        self.host.db()
    }
}

impl Ledger {
    /// The ledger as operator commands use it (`koofill usage flush`): pushing to KooGallery's
    /// usage push (`koogallery.api_base`) at the system clock's time, counting into metrics nobody
    /// serves. Its `usage.window_pushed` events stay in the outbox until a running worker's relay
    /// publishes them. A flush concurrent with the worker's own round is safe: a window is pushed
    /// from `closed` with its stored record, so a record sent by both is identical and KooGallery
    /// keeps it once.
    ///
    /// # Errors
    /// As [`push_client`].
    pub fn for_operators(db: DatabaseConnection, cfg: &Config) -> Result<Self, StartError> {
        Ok(Ledger::new(
            db,
            OutboxSignal::new(),
            EventFactory::new(&cfg.nats.prefix, SOURCE),
            Arc::new(push_client(cfg)?),
            Arc::new(SystemClock),
            cfg.metering.clone(),
            MeteringMetrics::default(),
        ))
    }
}

/// The usage-push client from `[koogallery]` and `[metering]`.
///
/// # Errors
/// [`StartError::Config`] without `koogallery.basic_key`; [`StartError::Marketplace`] for an
/// unusable `koogallery.api_base`.
pub fn push_client(cfg: &Config) -> Result<UsagePushClient, StartError> {
    let kg = &cfg.koogallery;
    let key = kg
        .basic_key
        .clone()
        .filter(|k| !k.expose_secret().is_empty())
        .ok_or_else(|| StartError::Config("koogallery.basic_key is required (usage-push signature)".into()))?;
    let mut push = UsagePushConfig::new(kg.api_base.clone(), key);
    push.fallback_base = Some(kg.api_fallback_base.clone());
    push.sort_depth = match cfg.metering.sort_depth {
        PushSortDepth::AllLevels => SortDepth::AllLevels,
        PushSortDepth::TopLevel => SortDepth::TopLevel,
    };
    Ok(UsagePushClient::new(push)?)
}

async fn schedule(ledger: Ledger, tick: std::time::Duration, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        match ledger.round().await {
            Ok(report) if report != Default::default() => tracing::info!(?report, "metering round"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = &e as &dyn std::error::Error, "metering round failed; next round retries"),
        }
    }
}

/// Builds and runs the worker until `shutdown` (what `koofill serve metering` and `koofill dev`
/// call).
///
/// # Errors
/// As [`Worker::build`] and [`Worker::run`].
pub async fn run(cfg: Config, shutdown: CancellationToken) -> Result<(), StartError> {
    Worker::build(&cfg, BuildOptions::default()).await?.run(shutdown).await
}
