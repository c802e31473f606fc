//! The broker's registration on the worker host: no consumer, just the `/v1/sso` routes beside
//! `/healthz`, `/readyz` and `/metrics` on `worker.listen`, and the login counter.

use std::{net::SocketAddr, time::Duration};

use koofill_config::Config;
use koofill_worker::{Host, HostBuilder, HostError, HostOptions};
use tokio_util::sync::CancellationToken;

use crate::{Settings, SsoState, metrics::Metrics, routes};

/// The client name the broker connects to NATS with, and its metrics' `worker` label.
pub const SERVICE: &str = "koofill-sso";

/// Why the broker could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A required key is missing or unusable; the message names it.
    #[error("{0}")]
    Config(String),
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
}

/// The SSO broker. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Worker {
    host: Host,
    state: SsoState,
}

impl Worker {
    /// Resolves `[sso]` (before connecting anything, so a missing key fails fast), connects the
    /// host, and registers the routes and the metrics.
    ///
    /// # Errors
    /// [`StartError::Config`] naming a missing or unusable key; [`StartError::Host`] otherwise.
    pub async fn build(cfg: &Config, options: BuildOptions) -> Result<Self, StartError> {
        let settings = Settings::from_config(cfg)?;
        if settings.api_tokens.is_empty() {
            tracing::warn!("sso.api_token is not set: /v1/sso/redeem and /v1/sso/refresh answer 401");
        }
        let host_options = HostOptions { reconcile_bus: options.reconcile_bus, wait_for: options.wait_for };
        let mut host = HostBuilder::connect(cfg, SERVICE, host_options).await?;
        let metrics = Metrics::registered(host.registry_mut());
        let state = SsoState::with_metrics(host.db().clone(), settings, metrics);
        host.routes(routes::router(state.clone()));
        Ok(Self { host: host.build()?, state })
    }

    /// Serves the routes until `shutdown`.
    ///
    /// # Errors
    /// [`StartError::Host`] when the server failed.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), StartError> {
        Ok(self.host.run(shutdown).await?)
    }

    /// Where the routes are served (the real port when `worker.listen` asked for port 0).
    pub fn http_addr(&self) -> SocketAddr {
        self.host.http_addr()
    }

    /// The state the routes share (settings, public keys).
    pub fn state(&self) -> &SsoState {
        &self.state
    }

    /// The worker host.
    pub fn host(&self) -> &Host {
        &self.host
    }
}

/// Runs the broker until `shutdown` (what `koofill serve sso` runs).
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

/// Builds the broker (like [`Worker::build`]); the name the other services use.
///
/// # Errors
/// As [`Worker::build`].
pub async fn build(cfg: &Config, options: BuildOptions) -> Result<Worker, StartError> {
    Worker::build(cfg, options).await
}
