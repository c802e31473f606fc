//! `[shutdown]` and `[dev]`: settings of the process itself rather than of a component.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Graceful shutdown.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ShutdownConfig {
    /// Seconds in-flight work may take to finish after a stop signal; keep it below the
    /// orchestrator's kill timeout. Default: 20.
    pub grace_secs: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self { grace_secs: 20 }
    }
}

impl ShutdownConfig {
    /// [`ShutdownConfig::grace_secs`] as a duration.
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.grace_secs)
    }
}

/// `koofill dev`, the whole system in one process.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct DevConfig {
    /// Directory for the child NATS store, the SQLite database and generated development keys.
    /// Default: `.koofill`.
    pub state_dir: PathBuf,
}

impl Default for DevConfig {
    fn default() -> Self {
        Self { state_dir: PathBuf::from(".koofill") }
    }
}

/// `[worker]`: the small HTTP server every worker runs beside its consumers.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct WorkerConfig {
    /// Address of `/healthz`, `/readyz` and `/metrics`. Default: `0.0.0.0:9090`.
    pub listen: SocketAddr,
    /// Seconds a starting worker waits for NATS and the database to accept connections (what
    /// `--wait-for` sets); 0 fails at once. Default: 0.
    pub wait_for_secs: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self { listen: SocketAddr::from(([0, 0, 0, 0], 9090)), wait_for_secs: 0 }
    }
}
