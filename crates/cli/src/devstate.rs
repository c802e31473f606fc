//! The state file `koofill dev` keeps under its state directory (`.koofill/dev.toml`), so that the
//! operator commands run in the same folder find what it runs: the child NATS server (on a port
//! chosen at start-up), the SQLite file under the state directory, the ingress and the
//! simulator's open APIs.
//!
//! It records only what `koofill dev` chose itself; a configured NATS or database is left out (so
//! no credentials of a URL end up on disk), and the commands read those from their own
//! configuration. For each key the precedence is: a value someone configured (the configuration
//! file, `--config`, `KOOFILL_CONFIG`, a `KOOFILL__` variable, or `<key>_file`) wins, even when it
//! equals the default; else the state file's value; else the embedded default.
//!
//! `koofill dev` writes the file when everything has started and marks it stopped on the way out.
//! The database of a stopped instance is still there to read; its NATS server is not, which the
//! commands say before trying to connect. A file left by a `koofill dev` that was killed still
//! reads as running; the connection error then names the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use koofill_config::{Config, ConfiguredKeys};
use serde::{Deserialize, Serialize};

/// The file name under the state directory.
pub const FILE: &str = "dev.toml";

/// Says what the file is to someone who opens it.
const HEADER: &str = "\
# Written by `koofill dev`: what it runs, for the commands run in this folder (koofill dlq,
# instances, migrate, sim). Configured values (koofill.toml, --config, KOOFILL__* variables) win.
# Rewritten at every start; deleting it is safe.
";

/// What one `koofill dev` runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevState {
    /// The `koofill dev` process.
    pub pid: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it stopped; absent while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<DateTime<Utc>>,
    /// The ingress's bound address.
    pub ingress: IngressState,
    /// The child NATS server, when `koofill dev` started one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats: Option<NatsState>,
    /// The SQLite database under the state directory, when `database.url` was not configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseState>,
    /// The simulator's open APIs, when `koofill dev` started them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulator: Option<SimulatorState>,
}

/// `[ingress]` of the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngressState {
    /// The address the ingress listens on.
    pub listen: SocketAddr,
}

/// `[nats]` of the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatsState {
    /// The child server's client URL.
    pub url: String,
}

/// `[database]` of the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseState {
    /// The database URL `koofill dev` opens (with `mode=rwc`; readers drop the `c`).
    pub url: String,
}

/// `[simulator]` of the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulatorState {
    /// Base URL of the simulated open APIs (`koogallery.api_base` of the dev instance).
    pub api_base: String,
}

/// The state file of `state_dir`.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

impl DevState {
    /// Writes the file atomically: readers see the previous content or this one, never a part.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write(&self, state_dir: &Path) -> anyhow::Result<()> {
        let file = path(state_dir);
        let body = toml::to_string(self).context("encoding the dev state")?;
        let partial = state_dir.join(format!(".{FILE}.{}", std::process::id()));
        std::fs::write(&partial, format!("{HEADER}{body}"))
            .with_context(|| format!("writing {}", partial.display()))?;
        std::fs::rename(&partial, &file).with_context(|| format!("replacing {}", file.display()))
    }

    /// Reads the file of `state_dir`, if there is one.
    ///
    /// # Errors
    /// When it exists but cannot be read or parsed.
    pub fn read(state_dir: &Path) -> anyhow::Result<Option<Self>> {
        let file = path(state_dir);
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
        };
        let state = toml::from_str(&text)
            .with_context(|| format!("{} is not a koofill dev state file; delete it", file.display()))?;
        Ok(Some(state))
    }

    /// Whether the `koofill dev` that wrote it has not said it stopped.
    pub fn running(&self) -> bool {
        self.stopped_at.is_none()
    }
}

/// What an operator command took from the state file, kept to explain failures.
#[derive(Debug, Clone)]
pub struct Followed {
    /// The state file.
    pub path: PathBuf,
    /// Its content.
    pub state: DevState,
    /// Whether `nats.url` came from it.
    pub nats: bool,
    /// Whether `database.url` came from it.
    pub database: bool,
}

/// Points `cfg` at what the state file under `cfg.dev.state_dir` records, for each key not in
/// `configured`. The ingress and the simulator are followed only while `koofill dev` runs (a
/// stopped instance's simulator is gone), NATS and the database always, so that errors can name
/// the file.
///
/// # Errors
/// When the state file exists but cannot be read.
pub fn follow(cfg: &mut Config, configured: &ConfiguredKeys) -> anyhow::Result<Option<Followed>> {
    let state_dir = cfg.dev.state_dir.clone();
    let Some(state) = DevState::read(&state_dir)? else { return Ok(None) };
    let mut followed = Followed { path: path(&state_dir), state, nats: false, database: false };
    let state = &followed.state;
    if let Some(nats) = state.nats.as_ref().filter(|_| !configured.contains("nats.url")) {
        cfg.nats.url.clone_from(&nats.url);
        followed.nats = true;
    }
    if let Some(database) = state.database.as_ref().filter(|_| !configured.contains("database.url")) {
        cfg.database.url.clone_from(&database.url);
        followed.database = true;
    }
    if state.running() {
        if !configured.contains("ingress.listen") {
            cfg.ingress.listen = state.ingress.listen;
        }
        if let Some(sim) = state.simulator.as_ref().filter(|_| !configured.contains("koogallery.api_base")) {
            cfg.koogallery.api_base.clone_from(&sim.api_base);
        }
    }
    Ok(Some(followed))
}

impl Followed {
    /// Fails at once when NATS was taken from a `koofill dev` that has stopped: its child server
    /// stopped with it, and waiting for a connection timeout would only hide that.
    ///
    /// # Errors
    /// In exactly that case.
    pub fn check_nats(&self) -> anyhow::Result<()> {
        match self.state.stopped_at {
            Some(at) if self.nats => anyhow::bail!(
                "koofill dev stopped at {} (per {}), and its NATS server with it; start `koofill dev` again, \
                 or set nats.url",
                at.format("%Y-%m-%d %H:%M:%S UTC"),
                self.path.display()
            ),
            _ => Ok(()),
        }
    }

    /// Where `nats.url` came from, for a connection error.
    pub fn nats_origin(&self) -> Option<String> {
        self.nats.then(|| {
            format!(
                "recorded in {} by koofill dev, pid {}; if it is no longer running, start it again, or set nats.url",
                self.path.display(),
                self.state.pid
            )
        })
    }

    /// Where `database.url` came from, for an error.
    pub fn database_origin(&self) -> Option<String> {
        self.database.then(|| format!("recorded by koofill dev in {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests;
