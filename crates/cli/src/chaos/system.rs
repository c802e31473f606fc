//! The system under test, as a seller runs it: a `nats-server` with a file store, a database,
//! and every koofill service as its own `koofill serve` process, all reaching NATS and the
//! database through [`Proxy`]s the suite can cut.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tokio::process::{Child, Command};

use super::{ports::free_port, product::Product, proxy::Proxy};
use crate::wait_for;

/// The keys the suite plays KooGallery with.
pub const BASIC_KEY: &str = "chaos-basic-key-0123456789";
/// The Kit key the suite signs its Kit syncs with.
pub const KIT_KEY: &str = "chaos-kit-key-9876543210";
/// The AK/SK the simulator accepts.
pub const AK: &str = "CHAOSAK";
/// See [`AK`].
pub const SK: &str = "chaos-sk";
/// The provisioner webhook's signing secret.
pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A `nats-server` on a fixed port and store, so a restart comes back where it was; alone, or
/// one node of a JetStream cluster with routes on loopback.
#[derive(Debug)]
pub struct Nats {
    dir: PathBuf,
    port: u16,
    cluster: Option<ClusterNode>,
    child: Option<Child>,
}

/// What makes a server a cluster node.
#[derive(Debug, Clone)]
struct ClusterNode {
    name: String,
    cluster_port: u16,
    routes: String,
}

impl Nats {
    /// Starts a server with its store under `dir`.
    ///
    /// # Errors
    /// When `nats-server` is missing or does not come up.
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let mut nats = Self { dir: dir.to_owned(), port: free_port()?, cluster: None, child: None };
        nats.spawn().await?;
        Ok(nats)
    }

    /// Starts three servers in one JetStream cluster (`koofill`), stores under `dir/n1..n3`.
    ///
    /// # Errors
    /// When a server does not come up.
    pub async fn start_cluster(dir: &Path) -> anyhow::Result<Vec<Self>> {
        let ports: Vec<(u16, u16)> = (0..3).map(|_| Ok((free_port()?, free_port()?))).collect::<anyhow::Result<_>>()?;
        let routes = ports.iter().map(|(_, c)| format!("nats://127.0.0.1:{c}")).collect::<Vec<_>>().join(",");
        let mut nodes = Vec::new();
        for (i, (port, cluster_port)) in ports.into_iter().enumerate() {
            let cluster = ClusterNode { name: format!("n{}", i + 1), cluster_port, routes: routes.clone() };
            nodes.push(Self { dir: dir.join(&cluster.name), port, cluster: Some(cluster), child: None });
        }
        for node in &mut nodes {
            node.spawn().await?;
        }
        Ok(nodes)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let mut command = Command::new("nats-server");
        command
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "--store_dir"])
            .arg(self.dir.join("store"));
        if let Some(node) = &self.cluster {
            command.args([
                "--server_name",
                &node.name,
                "--cluster_name",
                "koofill",
                "--cluster",
                &format!("nats://127.0.0.1:{}", node.cluster_port),
                "--routes",
                &node.routes,
            ]);
        }
        let child = command
            .arg("-l")
            .arg(self.dir.join("nats.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting nats-server (is it installed? `apt-get install nats-server`)")?;
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !wait_for::reachable(&self.addr().to_string(), Duration::from_millis(200)).await {
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "nats-server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Its client address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `SIGKILL`s the server (no clean shutdown), then starts it again on the same store.
    ///
    /// # Errors
    /// When it does not come back.
    pub async fn kill_and_restart(&mut self, down_for: Duration) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        tokio::time::sleep(down_for).await;
        self.spawn().await
    }
}

/// Where the services' database is.
#[derive(Debug)]
pub enum Database {
    /// A SQLite file (one writer process: the provisioning worker).
    Sqlite(PathBuf),
    /// A fresh PostgreSQL database on the server of `admin_url`, reached through a proxy.
    Postgres {
        /// The services' URL (through the proxy).
        url: String,
        /// The proxy.
        proxy: Proxy,
        /// The server's URL, and the database's name (dropped at the end).
        admin_url: String,
        /// The database's name.
        name: String,
    },
}

impl Database {
    /// The services' database URL.
    pub fn url(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}?mode=rwc", path.display()),
            Self::Postgres { url, .. } => url.clone(),
        }
    }

    /// Drops a PostgreSQL scenario database (the services must be stopped).
    pub async fn drop_database(&self) {
        if let Self::Postgres { admin_url, name, .. } = self
            && let Ok(admin) = koofill_store::connect(admin_url).await
        {
            let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
        }
    }

    /// The proxy in front of it, when it has one.
    pub fn proxy(&self) -> Option<&Proxy> {
        match self {
            Self::Sqlite(_) => None,
            Self::Postgres { proxy, .. } => Some(proxy),
        }
    }
}

/// Creates a fresh database named `name` on the PostgreSQL server of `admin_url` and a proxy to
/// that server.
///
/// # Errors
/// When the server cannot be reached or the URL has no host.
pub async fn postgres(admin_url: &str, name: &str) -> anyhow::Result<Database> {
    let admin: DatabaseConnection = koofill_store::connect(admin_url).await.context("connecting to PostgreSQL")?;
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.context("creating the database")?;
    let (scheme_user, rest) = admin_url
        .rsplit_once('@')
        .map_or_else(
            || admin_url.split_once("://").map(|(s, r)| (format!("{s}://"), r.to_owned())),
            |(a, r)| Some((format!("{a}@"), r.to_owned())),
        )
        .context("the database URL has no host")?;
    let host_port = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = if host_port.contains(':') { host_port.to_owned() } else { format!("{host_port}:5432") };
    let target: SocketAddr =
        tokio::net::lookup_host(&host_port).await?.next().with_context(|| format!("cannot resolve {host_port}"))?;
    let proxy = Proxy::start(target).await?;
    let query = rest.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    Ok(Database::Postgres {
        url: format!("{scheme_user}{}/{name}{query}", proxy.addr()),
        proxy,
        admin_url: admin_url.to_owned(),
        name: name.to_owned(),
    })
}

/// One `koofill serve <role>` process, restartable.
#[derive(Debug)]
pub struct Service {
    role: &'static str,
    env: HashMap<String, String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Service {
    /// Starts `koofill serve <role>` with `env`, logging to `log`.
    ///
    /// # Errors
    /// When the process cannot be started.
    pub fn start(role: &'static str, env: HashMap<String, String>, log: PathBuf) -> anyhow::Result<Self> {
        let mut service = Self { role, env, log, child: None };
        service.spawn()?;
        Ok(service)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("finding the koofill binary")?;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let child = Command::new(exe)
            .args(["serve", self.role, "--wait-for", "90"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting koofill serve {}", self.role))?;
        self.child = Some(child);
        Ok(())
    }

    /// `SIGKILL`s it mid-work and starts it again.
    ///
    /// # Errors
    /// When it cannot be started again.
    pub async fn kill_and_restart(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        self.spawn()
    }

    /// Why it is not running, when it has exited: its exit status and the end of its log.
    pub fn exited(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Some(format!("koofill serve {} exited ({status}); the end of its log:\n{}", self.role, tail.join("\n")))
    }

    /// Stops it.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

/// The configuration every service process gets.
pub fn service_env(
    nats_url: &str,
    database_url: &str,
    api_base: &str,
    product: &Product,
    ingress_listen: SocketAddr,
    worker_listen: SocketAddr,
) -> HashMap<String, String> {
    [
        ("KOOFILL__KOOGALLERY__BASIC_KEY", BASIC_KEY.to_owned()),
        ("KOOFILL__KOOGALLERY__KIT_KEY", KIT_KEY.to_owned()),
        ("KOOFILL__KOOGALLERY__ACCESS_KEY_ID", AK.to_owned()),
        ("KOOFILL__KOOGALLERY__SECRET_ACCESS_KEY", SK.to_owned()),
        ("KOOFILL__KOOGALLERY__API_BASE", api_base.to_owned()),
        ("KOOFILL__KOOGALLERY__API_FALLBACK_BASE", api_base.to_owned()),
        ("KOOFILL__NATS__URL", nats_url.to_owned()),
        ("KOOFILL__DATABASE__URL", database_url.to_owned()),
        ("KOOFILL__INGRESS__LISTEN", ingress_listen.to_string()),
        ("KOOFILL__WORKER__LISTEN", worker_listen.to_string()),
        ("KOOFILL__PROVISIONER__KIND", "webhook".to_owned()),
        ("KOOFILL__PROVISIONER__WEBHOOK_URL", product.url.clone()),
        ("KOOFILL__PROVISIONER__WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        // Short delays: the suite measures how fast the system catches up after a fault.
        ("KOOFILL__CONSUMER__NAK_BASE_DELAY_MS", "100".to_owned()),
        ("KOOFILL__CONSUMER__NAK_MAX_DELAY_MS", "2000".to_owned()),
        ("KOOFILL__CONSUMER__ACK_WAIT_SECS", "10".to_owned()),
        ("KOOFILL__SHUTDOWN__GRACE_SECS", "2".to_owned()),
        ("KOOFILL__TELEMETRY__LOG_FILTER", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}
