//! A child `nats-server -js` for `koofill dev` and the benchmarks.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio::process::{Child, Command};

/// A running child server; killed when dropped.
#[derive(Debug)]
pub struct NatsChild {
    child: Child,
    port: u16,
    /// The log file.
    pub log: PathBuf,
}

impl NatsChild {
    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Starts `nats-server` with JetStream, its store under `dir`, on a free loopback port.
    ///
    /// # Errors
    /// When the binary is missing or the server does not accept connections within 10 s.
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let port = free_port()?;
        let log = dir.join("nats.log");
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "--store_dir"])
            .arg(dir.join("store"))
            .arg("-l")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting nats-server (is it installed? `apt-get install nats-server`)")?;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if crate::wait_for::reachable(&format!("127.0.0.1:{port}"), Duration::from_millis(200)).await {
                return Ok(Self { child, port, log });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let tail = std::fs::read_to_string(&log).unwrap_or_default();
        anyhow::bail!(
            "nats-server did not start within 10 s; its log:\n{}",
            tail.lines().rev().take(20).collect::<Vec<_>>().join("\n")
        )
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// Points `cfg` at `url` when given, else starts a child server under `dir` and points `cfg` at it
/// (the benchmarks' choice between a shared server and their own).
///
/// # Errors
/// When the child server cannot start.
pub async fn given_or_child(
    url: Option<&str>,
    dir: &Path,
    cfg: &mut koofill_config::Config,
) -> anyhow::Result<Option<NatsChild>> {
    match url {
        Some(url) => {
            cfg.nats.url = url.to_owned();
            Ok(None)
        }
        None => {
            let child = NatsChild::start(dir).await?;
            cfg.nats.url = child.url();
            Ok(Some(child))
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}
