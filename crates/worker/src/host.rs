//! The host: a builder that connects and registers, and the running worker it builds.

use std::{
    fmt,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::future::BoxFuture;
use koofill_bus::{
    Bus, BusError, Publisher,
    consumer::{Consumer, ConsumerMetrics, ConsumerPolicy, ConsumerSpec, Handler},
    names, rpc,
    topology::{self, TopologyOptions},
};
use koofill_config::Config;
use koofill_model::Family;
use koofill_store::{OutboxSignal, StoreOptions, outbox};
use prometheus_client::{metrics::gauge::Gauge, registry::Registry};
use sea_orm::DatabaseConnection;
use serde::{Serialize, de::DeserializeOwned};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    EventFactory, HostError,
    relay::{Relay, RelayMetrics},
};

/// How often consumer lag, the outbox backlog and the dead-letter count are measured.
const LAG_POLL: Duration = Duration::from_secs(10);
/// How long `/readyz` waits for the database to answer a ping.
const READY_PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Options of the host that are not configuration keys.
#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    /// Update consumers whose deployed settings differ from the configuration instead of
    /// refusing to start (`--reconcile-bus`).
    pub reconcile_bus: bool,
    /// Wait up to this long for NATS and the database to accept connections (`--wait-for`).
    pub wait_for: Option<Duration>,
}

/// Which stream a consumer reads, and which of its subjects.
#[derive(Debug, Clone)]
pub enum Source {
    /// `KOOFILL_INBOUND`: one family of KooGallery callbacks (`<prefix>.inbound.<family>.>`).
    Inbound(Family),
    /// `KOOFILL_EVENTS`: domain events matching `<prefix>.event.<filter>` (`>` for all).
    Events(String),
    /// `KOOFILL_USAGE`: usage batches (`<prefix>.usage.>`).
    Usage,
    /// `KOOFILL_DLQ`: every dead letter (`<prefix>.dlq.>`), read to tell people, not to redrive.
    DeadLetters,
}

impl Source {
    fn stream_and_filter(&self, prefix: &str) -> (String, String) {
        match self {
            Self::Inbound(family) => (names::stream(prefix, names::INBOUND), names::inbound_family(prefix, *family)),
            Self::Events(filter) => (names::stream(prefix, names::EVENTS), names::event(prefix, filter)),
            Self::Usage => (names::stream(prefix, names::USAGE), names::usage(prefix, ">")),
            Self::DeadLetters => (names::stream(prefix, names::DLQ), names::dlq(prefix, ">")),
        }
    }
}

/// A bound consumer, whatever its handler.
trait Runnable: Send + Sync {
    fn durable(&self) -> &str;
    fn run(&self, shutdown: CancellationToken, grace: Duration) -> BoxFuture<'_, Result<(), BusError>>;
    fn drain(&self) -> BoxFuture<'_, Result<usize, BusError>>;
    fn poll_lag(&self) -> BoxFuture<'_, Result<(u64, usize), BusError>>;
}

impl<H: Handler> Runnable for Consumer<H> {
    fn durable(&self) -> &str {
        &self.spec().durable
    }
    fn run(&self, shutdown: CancellationToken, grace: Duration) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(Consumer::run(self, shutdown, grace))
    }
    fn drain(&self) -> BoxFuture<'_, Result<usize, BusError>> {
        Box::pin(self.drain_until_empty())
    }
    fn poll_lag(&self) -> BoxFuture<'_, Result<(u64, usize), BusError>> {
        Box::pin(Consumer::poll_lag(self))
    }
}

type Responder = Arc<dyn Fn(CancellationToken) -> BoxFuture<'static, Result<(), BusError>> + Send + Sync>;
/// A named background task: started by [`Host::run`], told to stop through its token.
type Task = (&'static str, Arc<dyn Fn(CancellationToken) -> BoxFuture<'static, ()> + Send + Sync>);

/// Connects a worker and collects what it runs; [`HostBuilder::build`] makes the [`Host`].
pub struct HostBuilder {
    name: &'static str,
    cfg: Config,
    options: HostOptions,
    bus: Bus,
    db: DatabaseConnection,
    outbox: OutboxSignal,
    registry: Registry,
    consumer_metrics: ConsumerMetrics,
    consumers: Vec<Arc<dyn Runnable>>,
    responders: Vec<Responder>,
    tasks: Vec<Task>,
    routes: axum::Router,
}

impl fmt::Debug for HostBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostBuilder").field("name", &self.name).field("consumers", &self.consumers.len()).finish()
    }
}

impl HostBuilder {
    /// Connects to NATS (ensuring the topology) and to the database (applying migrations), as the
    /// worker `name` (the NATS client name and the metrics' `worker` label).
    ///
    /// # Errors
    /// [`HostError::Bus`] or [`HostError::Store`] when a dependency cannot be reached (within
    /// `options.wait_for`, if set) or prepared.
    pub async fn connect(cfg: &Config, name: &'static str, options: HostOptions) -> Result<Self, HostError> {
        // `--wait-for` reaches the host through `worker.wait_for_secs`; an explicit option wins.
        let wait = options
            .wait_for
            .or_else(|| (cfg.worker.wait_for_secs > 0).then(|| Duration::from_secs(cfg.worker.wait_for_secs)));
        let deadline = wait.map(|d| tokio::time::Instant::now() + d);
        let bus = loop {
            match koofill_bus::connect(
                &cfg.nats.url,
                &cfg.nats.prefix,
                name,
                cfg.nats.connect_timeout(),
                cfg.nats.request_timeout(),
                true,
            )
            .await
            {
                Ok(bus) => break bus,
                Err(e) if deadline.is_some_and(|d| tokio::time::Instant::now() < d) => {
                    tracing::info!(error = &e as &dyn std::error::Error, "NATS not ready yet");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let report = topology::ensure(&bus.js, &topology_options(cfg)).await?;
        if !report.created.is_empty() {
            tracing::info!(created = ?report.created, "JetStream topology created");
        }
        let store_options = StoreOptions { max_connections: cfg.database.max_connections, ..StoreOptions::default() };
        let db = loop {
            match koofill_store::connect_with(&cfg.database.url, &store_options).await {
                Ok(db) => break db,
                Err(e) if e.is_retryable() && deadline.is_some_and(|d| tokio::time::Instant::now() < d) => {
                    tracing::info!(error = &e as &dyn std::error::Error, "database not ready yet");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        koofill_store::migrate(&db).await?;
        let mut registry = Registry::with_prefix_and_labels(
            "koofill_worker",
            [(std::borrow::Cow::Borrowed("worker"), std::borrow::Cow::Borrowed(name))].into_iter(),
        );
        let consumer_metrics = ConsumerMetrics::registered(&mut registry);
        Ok(Self {
            name,
            cfg: cfg.clone(),
            options,
            bus,
            db,
            outbox: OutboxSignal::new(),
            registry,
            consumer_metrics,
            consumers: Vec::new(),
            responders: Vec::new(),
            tasks: Vec::new(),
            routes: axum::Router::new(),
        })
    }

    /// The NATS connection.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The signal that wakes this worker's outbox relay; [`koofill_store::UnitOfWork`]s take it.
    pub fn outbox(&self) -> &OutboxSignal {
        &self.outbox
    }

    /// Builds the outbox rows of events this worker emits with `source` as their source.
    pub fn events(&self, source: &'static str) -> EventFactory {
        EventFactory::new(&self.cfg.nats.prefix, source)
    }

    /// The registry rendered on `/metrics`, for the worker's own metrics.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Binds `handler` to the durable consumer `durable` on `source`, creating the consumer or
    /// checking its settings against `[consumer]`; returns it (for tests that settle messages one
    /// by one).
    ///
    /// # Errors
    /// [`HostError::Bus`] when the consumer cannot be created, or drifted without
    /// `reconcile_bus`.
    pub async fn consumer<H: Handler>(
        &mut self,
        durable: &str,
        source: Source,
        handler: H,
    ) -> Result<Consumer<H>, HostError> {
        let (stream, filter_subject) = source.stream_and_filter(&self.cfg.nats.prefix);
        let spec = ConsumerSpec {
            stream,
            durable: durable.to_owned(),
            filter_subject,
            policy: ConsumerPolicy::from_config(&self.cfg.consumer),
        };
        let consumer = Consumer::ensure(
            &self.bus.js,
            &self.cfg.nats.prefix,
            spec,
            handler,
            self.options.reconcile_bus,
            self.cfg.nats.request_timeout(),
            self.consumer_metrics.clone(),
        )
        .await?;
        self.consumers.push(Arc::new(consumer.clone()));
        Ok(consumer)
    }

    /// Answers JSON requests on `subject` (queue group `queue`, shared by replicas) with `f`.
    pub fn responder<Req, Resp, F, Fut>(&mut self, subject: String, queue: &str, f: F)
    where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + Send + 'static,
        F: Fn(Req) -> Fut + Clone + Send + Sync + 'static,
        Fut: std::future::Future<Output = Resp> + Send + 'static,
    {
        let client = self.bus.client.clone();
        let queue = queue.to_owned();
        self.responders.push(Arc::new(move |shutdown| {
            Box::pin(rpc::serve_json(client.clone(), subject.clone(), queue.clone(), f.clone(), shutdown))
        }));
    }

    /// Runs `f` as a background task named `name` while the host runs (a periodic tick, for
    /// example); `f` gets the shutdown token and should return soon after it is cancelled. The
    /// task is not run by [`Host::drain`].
    pub fn task<F, Fut>(&mut self, name: &'static str, f: F)
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.push((name, Arc::new(move |shutdown| Box::pin(f(shutdown)))));
    }

    /// Serves `routes` on the worker's HTTP server beside `/healthz`, `/readyz` and `/metrics`
    /// (the worker guards them itself).
    pub fn routes(&mut self, routes: axum::Router) {
        self.routes = std::mem::take(&mut self.routes).merge(routes);
    }

    /// Binds `worker.listen` and makes the runnable worker.
    ///
    /// # Errors
    /// [`HostError::Bind`] when the address is taken.
    pub fn build(self) -> Result<Host, HostError> {
        let listen = self.cfg.worker.listen;
        let listener = std::net::TcpListener::bind(listen)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|source| HostError::Bind { addr: listen, source })?;
        let http_addr = listener.local_addr().map_err(|source| HostError::Bind { addr: listen, source })?;
        let mut registry = self.registry;
        let relay_metrics = RelayMetrics::default();
        registry.register("outbox_published", "Events published from the outbox", relay_metrics.published.clone());
        registry.register("outbox_pending", "Events waiting in the outbox", relay_metrics.backlog.clone());
        let dlq_messages = Gauge::default();
        registry.register("dlq_messages", "Dead letters stored (all consumers)", dlq_messages.clone());
        let relay = Relay::new(
            self.db.clone(),
            Publisher::new(self.bus.js.clone(), self.cfg.nats.request_timeout()),
            self.outbox.clone(),
            relay_metrics,
        );
        Ok(Host {
            inner: Arc::new(Inner {
                name: self.name,
                topology: topology_options(&self.cfg),
                grace: self.cfg.shutdown.grace(),
                bus: self.bus,
                db: self.db,
                relay,
                consumers: self.consumers,
                responders: self.responders,
                tasks: self.tasks,
                routes: self.routes,
                registry,
                dlq_messages,
                ready: AtomicBool::new(false),
                listener: Mutex::new(Some(listener)),
                http_addr,
            }),
        })
    }
}

fn topology_options(cfg: &Config) -> TopologyOptions {
    TopologyOptions {
        prefix: cfg.nats.prefix.clone(),
        replicas: cfg.nats.replicas,
        clock_skew: cfg.koogallery.max_clock_skew(),
    }
}

/// A connected worker with its consumers, responders and relay. Cheap to clone.
#[derive(Clone)]
pub struct Host {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    name: &'static str,
    topology: TopologyOptions,
    grace: Duration,
    pub(crate) bus: Bus,
    pub(crate) db: DatabaseConnection,
    relay: Relay,
    consumers: Vec<Arc<dyn Runnable>>,
    responders: Vec<Responder>,
    tasks: Vec<Task>,
    routes: axum::Router,
    pub(crate) registry: Registry,
    dlq_messages: Gauge,
    /// Set while the consumers run: `/readyz` says "consumers bound".
    pub(crate) ready: AtomicBool,
    listener: Mutex<Option<std::net::TcpListener>>,
    http_addr: SocketAddr,
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("name", &self.inner.name)
            .field("consumers", &self.inner.consumers.iter().map(|c| c.durable()).collect::<Vec<_>>())
            .field("http_addr", &self.inner.http_addr)
            .finish()
    }
}

impl Host {
    /// The worker's name.
    pub fn name(&self) -> &'static str {
        self.inner.name
    }

    /// The NATS connection.
    pub fn bus(&self) -> &Bus {
        &self.inner.bus
    }

    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// The outbox relay.
    pub fn relay(&self) -> &Relay {
        &self.inner.relay
    }

    /// Where `/healthz`, `/readyz` and `/metrics` are served (the real port when `worker.listen`
    /// asked for port 0).
    pub fn http_addr(&self) -> SocketAddr {
        self.inner.http_addr
    }

    /// The metrics as `/metrics` renders them.
    pub fn render_metrics(&self) -> String {
        koofill_telemetry::metrics::render(&self.inner.registry)
    }

    /// Handles everything available on every consumer now, then publishes the outbox; returns how
    /// many messages were handled. For tests and one-shot tools.
    ///
    /// # Errors
    /// [`BusError`] when fetching fails.
    pub async fn drain(&self) -> Result<usize, BusError> {
        let mut handled = 0;
        for consumer in &self.inner.consumers {
            handled += consumer.drain().await?;
        }
        if let Err(e) = self.inner.relay.flush().await {
            tracing::warn!(error = &e as &dyn std::error::Error, "outbox not published");
        }
        Ok(handled)
    }

    /// Runs the consumers, the responders, the relay and the health and metrics server until
    /// `shutdown`; then stops fetching, lets in-flight handlers finish within
    /// `shutdown.grace_secs`, and publishes what is left in the outbox. A consumer or responder
    /// that fails stops the whole worker (the orchestrator restarts it).
    ///
    /// # Errors
    /// [`HostError::Bus`] when a consumer or responder failed; [`HostError::Serve`] when the
    /// health server could not run. Calling it a second time serves no HTTP.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), HostError> {
        let inner = &self.inner;
        let tracker = TaskTracker::new();
        let http_stop = CancellationToken::new();
        let listener = inner.listener.lock().map(|mut l| l.take()).unwrap_or(None);
        let http = match listener {
            Some(l) => {
                let l = tokio::net::TcpListener::from_std(l).map_err(HostError::Serve)?;
                let app = crate::http::router(self.clone()).merge(inner.routes.clone());
                let stop = http_stop.clone();
                Some(tokio::spawn(
                    async move { axum::serve(l, app).with_graceful_shutdown(stop.cancelled_owned()).await },
                ))
            }
            None => None,
        };
        tracker.spawn(topology::keep_ensured(inner.bus.clone(), inner.topology.clone(), shutdown.clone()));
        tracker.spawn(self.clone().poll_lag(shutdown.clone()));

        let (failed_tx, mut failed_rx) = tokio::sync::mpsc::unbounded_channel::<BusError>();
        let work = TaskTracker::new();
        for consumer in &inner.consumers {
            let (consumer, stop, failed) = (Arc::clone(consumer), shutdown.clone(), failed_tx.clone());
            let grace = inner.grace;
            work.spawn(async move {
                if let Err(e) = consumer.run(stop, grace).await {
                    let _ = failed.send(e);
                }
            });
        }
        for responder in &inner.responders {
            let (fut, failed) = (responder(shutdown.clone()), failed_tx.clone());
            work.spawn(async move {
                if let Err(e) = fut.await {
                    let _ = failed.send(e);
                }
            });
        }
        for (name, task) in &inner.tasks {
            let (fut, name) = (task(shutdown.clone()), *name);
            work.spawn(async move {
                fut.await;
                tracing::debug!(task = name, "task stopped");
            });
        }
        drop(failed_tx);
        work.close();
        let relay_stop = CancellationToken::new();
        let relay = inner.relay.clone();
        let relay_task = tokio::spawn({
            let stop = relay_stop.clone();
            async move { relay.run(stop).await }
        });
        inner.ready.store(true, Ordering::SeqCst);
        tracing::info!(worker = inner.name, http = %inner.http_addr, consumers = inner.consumers.len(), "worker running");

        let mut outcome = Ok(());
        tokio::select! {
            () = shutdown.cancelled() => {}
            Some(e) = failed_rx.recv() => {
                tracing::error!(error = &e as &dyn std::error::Error, "worker task failed; stopping");
                outcome = Err(HostError::Bus(e));
                shutdown.cancel();
            }
        }
        inner.ready.store(false, Ordering::SeqCst);
        // The consumers stop fetching and drain within the grace period; then the relay's last
        // round publishes what they committed; the health server goes last.
        work.wait().await;
        relay_stop.cancel();
        let _ = relay_task.await;
        tracker.close();
        tracker.wait().await;
        http_stop.cancel();
        if let Some(http) = http {
            match http.await {
                Ok(Err(e)) if outcome.is_ok() => outcome = Err(HostError::Serve(e)),
                _ => {}
            }
        }
        tracing::info!(worker = inner.name, "worker stopped");
        outcome
    }

    /// Serves only the request-reply responders until `shutdown` (for tests that settle messages
    /// themselves with [`Host::drain`]).
    ///
    /// # Errors
    /// [`BusError`] when a responder cannot subscribe.
    pub async fn serve_responders(&self, shutdown: CancellationToken) -> Result<(), BusError> {
        let running = self.inner.responders.iter().map(|r| r(shutdown.clone()));
        futures::future::try_join_all(running).await.map(|_| ())
    }

    async fn poll_lag(self, shutdown: CancellationToken) {
        let inner = &self.inner;
        let dlq = names::stream(&inner.topology.prefix, names::DLQ);
        loop {
            for consumer in &inner.consumers {
                if let Err(e) = consumer.poll_lag().await {
                    tracing::debug!(
                        error = &e as &dyn std::error::Error,
                        consumer = consumer.durable(),
                        "lag not measured"
                    );
                }
            }
            if let Ok(mut stream) = inner.bus.js.get_stream(&dlq).await
                && let Ok(info) = stream.info().await
            {
                inner.dlq_messages.set(i64::try_from(info.state.messages).unwrap_or(i64::MAX));
            }
            if let Ok(backlog) = outbox::pending_count(&inner.db).await {
                inner.relay.set_backlog(backlog);
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(LAG_POLL) => {}
            }
        }
    }

    /// Whether the worker can do its work now: NATS connected, database answering, consumers
    /// running. Each part is reported.
    pub async fn readiness(&self) -> Readiness {
        let inner = &self.inner;
        let database = matches!(tokio::time::timeout(READY_PING_TIMEOUT, inner.db.ping()).await, Ok(Ok(())));
        Readiness { nats: inner.bus.is_connected(), database, consumers: inner.ready.load(Ordering::SeqCst) }
    }
}

/// What `/readyz` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// The NATS client is connected.
    pub nats: bool,
    /// The database answered a ping.
    pub database: bool,
    /// The consumers are bound and running (false before `run` and while shutting down).
    pub consumers: bool,
}

impl Readiness {
    /// Whether every part is ready.
    pub fn is_ready(&self) -> bool {
        self.nats && self.database && self.consumers
    }
}
