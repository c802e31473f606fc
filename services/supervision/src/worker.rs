//! The supervision worker's registration on the worker host: the `supervision` consumer on every
//! domain event, the deadline tick, and the admin API.

use std::{sync::Arc, time::Duration};

use koofill_bus::BusError;
use koofill_config::Config;
use koofill_worker::{Host, HostBuilder, HostError, HostOptions, Source};
use tokio_util::sync::CancellationToken;

use crate::{
    Clock, Supervision, SystemClock, admin,
    deadline::Settings,
    handler::{CONSUMER, EventHandler},
};

/// The client name the worker connects to NATS with.
pub const SERVICE: &str = "koofill-supervision";
/// The `source` of the events it emits.
pub const SOURCE: &str = "supervision";

/// Why the worker could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `[supervision]` is unusable.
    #[error(transparent)]
    Config(#[from] koofill_config::ConfigError),
    /// The host failed.
    #[error(transparent)]
    Host(#[from] HostError),
}

/// Options that are not configuration keys.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Update consumers whose deployed settings differ instead of refusing to start.
    pub reconcile_bus: bool,
    /// Wait up to this long for NATS and the database.
    pub wait_for: Option<Duration>,
    /// The clock; the system clock when `None` (tests travel in time with a
    /// [`crate::ManualClock`]).
    pub clock: Option<Arc<dyn Clock>>,
}

/// The supervision worker. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Worker {
    host: Host,
    supervision: Supervision,
}

impl Worker {
    /// Connects the host, then registers the consumer, the tick and the admin routes.
    ///
    /// # Errors
    /// [`StartError::Config`] for unusable deadlines; [`StartError::Host`] otherwise.
    pub async fn build(cfg: &Config, options: BuildOptions) -> Result<Self, StartError> {
        let settings = Settings::new(&cfg.supervision)?;
        let host_options = HostOptions { reconcile_bus: options.reconcile_bus, wait_for: options.wait_for };
        let mut host = HostBuilder::connect(cfg, SERVICE, host_options).await?;
        let clock = options.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let supervision =
            Supervision::new(host.db().clone(), host.outbox().clone(), host.events(SOURCE), settings, clock);
        host.consumer(CONSUMER, Source::Events(">".into()), EventHandler { supervision: supervision.clone() }).await?;
        if cfg.supervision.admin_token.is_none() {
            tracing::warn!("supervision.admin_token is not set: the admin API answers 401 to every call");
        }
        host.routes(admin::router(supervision.clone(), cfg.supervision.admin_token.clone()));
        let every = Duration::from_secs(cfg.supervision.tick_secs);
        let ticking = supervision.clone();
        host.task("supervision-tick", move |shutdown| tick_until(ticking.clone(), every, shutdown));
        Ok(Self { host: host.build()?, supervision })
    }

    /// Runs the consumer, the tick, the admin API and the relay until `shutdown`.
    ///
    /// # Errors
    /// [`StartError::Host`] when the consumer failed.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), StartError> {
        Ok(self.host.run(shutdown).await?)
    }

    /// Handles every event available now and publishes the outbox (tests and one-shot tools).
    ///
    /// # Errors
    /// [`BusError`] when fetching fails.
    pub async fn drain(&self) -> Result<usize, BusError> {
        self.host.drain().await
    }

    /// The library the worker acts through.
    pub fn supervision(&self) -> &Supervision {
        &self.supervision
    }

    /// The worker host.
    pub fn host(&self) -> &Host {
        &self.host
    }
}

/// Evaluates the deadlines now and then every `every`, until `shutdown`.
async fn tick_until(supervision: Supervision, every: Duration, shutdown: CancellationToken) {
    loop {
        match supervision.tick().await {
            Ok(report) if report.reminders + report.breaches > 0 => {
                tracing::info!(reminders = report.reminders, breaches = report.breaches, "deadlines evaluated");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = &e as &dyn std::error::Error, "deadline tick failed; retried next tick"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// Runs the supervision worker until `shutdown` (what `koofill serve supervision` runs).
///
/// # Errors
/// As [`Worker::build`] and [`Worker::run`].
pub async fn run(cfg: Config, shutdown: CancellationToken) -> Result<(), StartError> {
    let options = BuildOptions {
        wait_for: (cfg.worker.wait_for_secs > 0).then(|| Duration::from_secs(cfg.worker.wait_for_secs)),
        ..BuildOptions::default()
    };
    Worker::build(&cfg, options).await?.run(shutdown).await
}
