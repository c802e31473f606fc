//! `koofill chaos`: the fault suite. Real processes (`koofill serve ingress`, `koofill serve
//! provisioning`, `koofill serve license`, `koofill serve metering`, `koofill serve
//! notification`, `koofill serve supervision`), a real `nats-server` with a file store, a real
//! database, the simulator's open APIs as KooGallery and a fake seller product; faults injected
//! mid-load; then it counts what a seller cares about: every acknowledged callback and usage
//! event applied, none applied twice.

mod lag;
mod load;
mod ports;
mod product;
mod proxy;
mod system;
mod usage;

use std::{
    collections::HashMap,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use clap::{Args, ValueEnum};
use futures::StreamExt;
use koofill_model::order::{ChargingMode, OrderType};
use koofill_simulator::{SimConfig, SimKeys, Simulator, callback::CallbackSender, orders::OrderSpec};
use koofill_store::entities::{
    directory_users,
    instances::{self, InstanceState},
    licenses, supervision_cases, tenants,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use self::{
    load::{Plan, Sent},
    product::Product,
    proxy::Proxy,
    system::{Database, Nats, Service},
    usage::UsageSent,
};

/// The bearer token of `POST /v1/usage` in the suite.
const USAGE_TOKEN: &str = "chaos-usage-token-0123456789";

/// One fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Each worker process `SIGKILL`ed twice and the ingress once, mid-load.
    Crash,
    /// nats-server `SIGKILL`ed and restarted on the same store mid-load.
    BrokerRestart,
    /// Every connection to NATS cut (a partition), then restored.
    Partition,
    /// The database unreachable, then back (PostgreSQL only: SQLite has no network to cut).
    DatabaseOutage,
    /// Malformed, oversized, wrongly signed, replayed and stale requests mixed into the load.
    BadInput,
    /// One order query order does not know: dead-lettered, the rest keep flowing.
    Poison,
    /// Three nats-servers in a JetStream cluster, streams and buckets at R3, clients connected to
    /// all three; one node `SIGKILL`ed mid-load and restarted.
    NodeLoss,
}

impl Scenario {
    const ALL: [Self; 7] = [
        Self::Crash,
        Self::BrokerRestart,
        Self::Partition,
        Self::DatabaseOutage,
        Self::BadInput,
        Self::Poison,
        Self::NodeLoss,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Crash => "crash",
            Self::BrokerRestart => "broker restart",
            Self::Partition => "partition",
            Self::DatabaseOutage => "database outage",
            Self::BadInput => "bad input",
            Self::Poison => "poison message",
            Self::NodeLoss => "node loss",
        }
    }
}

/// `koofill chaos` options.
#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// Scenarios to run (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub scenario: Vec<Scenario>,
    /// Orders per scenario (each opened, then renewed, frozen, frozen and unfrozen, released, or
    /// bound to an enterprise through the Kit syncs; or a License 2.0 code renewed and frozen; in
    /// equal parts), and as many usage events.
    #[arg(long, default_value_t = 10_000)]
    pub orders: usize,
    /// Callbacks in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// How long a partition or a database outage lasts, in seconds.
    #[arg(long, default_value_t = 20)]
    pub outage_secs: u64,
    /// Seed of the order IDs (runs with the same seed send the same callbacks).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// PostgreSQL server to create the scenario databases on (`postgres://user@host:port/db`);
    /// without it, SQLite, and the database-outage scenario is skipped.
    #[arg(long, env = "KOOFILL_CHAOS_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Keep the services' logs and stores in this directory (default: a temporary one, removed).
    #[arg(long)]
    pub work_dir: Option<std::path::PathBuf>,
    /// How long to wait for everything acknowledged to be applied after the load, in seconds.
    #[arg(long, default_value_t = 180)]
    pub settle_secs: u64,
}

/// What one scenario measured.
#[derive(Debug, Default)]
struct Row {
    scenario: &'static str,
    /// Orders acknowledged through their whole plan.
    acknowledged: usize,
    /// Of those, in the state the plan leads to.
    applied: usize,
    /// Usage events acknowledged (`202`), distinct.
    usage_events: usize,
    /// Whether the windows hold exactly their sum.
    usage_exact: bool,
    /// The most messages the consumers were behind at once.
    peak_lag: u64,
    lost: usize,
    duplicates: usize,
    dead_letters: u64,
    over_5s: u64,
    non_200: u64,
    settle: Option<Duration>,
    skipped: Option<&'static str>,
    /// Bad requests answered `000000` (each one would have been published).
    bad_accepted: usize,
    note: String,
}

impl Row {
    fn ok(&self) -> bool {
        self.skipped.is_some()
            || (self.lost == 0
                && self.duplicates == 0
                && self.non_200 == 0
                && self.bad_accepted == 0
                && self.settle.is_some())
    }
}

/// Runs the scenarios and prints the table; exits non-zero unless nothing was lost or doubled
/// and everything settled.
///
/// # Errors
/// When the system under test cannot be started.
pub async fn run(args: ChaosArgs) -> anyhow::Result<()> {
    let scenarios = if args.scenario.is_empty() { Scenario::ALL.to_vec() } else { args.scenario.clone() };
    let temporary = tempfile::Builder::new().prefix("koofill-chaos-").tempdir().context("a work directory")?;
    let work = args.work_dir.clone().unwrap_or_else(|| temporary.path().to_owned());
    let mut rows = Vec::new();
    for scenario in scenarios {
        eprintln!("==> {} ({} orders)", scenario.name(), args.orders);
        // A scenario whose system could not be started is a failed row, not the end of the run.
        let row = match run_one(scenario, &args, &work.join(scenario.name().replace(' ', "-"))).await {
            Ok(row) => row,
            Err(e) => Row { scenario: scenario.name(), note: format!("could not run: {e:#}"), ..Row::default() },
        };
        eprintln!("    {}", if row.ok() { "ok" } else { "FAILED" });
        rows.push(row);
    }
    print_table(&rows);
    let failed = rows.iter().filter(|r| !r.ok()).count();
    anyhow::ensure!(failed == 0, "{failed} scenario(s) lost or doubled work, or did not settle");
    Ok(())
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<16} {:>7} {:>7} {:>7} {:>6} {:>5} {:>9} {:>4} {:>5} {:>7} {:>8} {:>8}  note",
        "scenario",
        "orders",
        "applied",
        "usage",
        "exact",
        "lost",
        "duplicate",
        "dlq",
        ">5 s",
        "non-200",
        "settle",
        "peak lag"
    );
    for r in rows {
        if let Some(why) = r.skipped {
            println!("{:<16} skipped: {why}", r.scenario);
            continue;
        }
        let settle = r.settle.map_or_else(|| "never".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()));
        println!(
            "{:<16} {:>7} {:>7} {:>7} {:>6} {:>5} {:>9} {:>4} {:>5} {:>7} {:>8} {:>8}  {}",
            r.scenario,
            r.acknowledged,
            r.applied,
            r.usage_events,
            if r.usage_exact { "yes" } else { "NO" },
            r.lost,
            r.duplicates,
            r.dead_letters,
            r.over_5s,
            r.non_200,
            settle,
            r.peak_lag,
            r.note.trim()
        );
    }
}

async fn run_one(scenario: Scenario, args: &ChaosArgs, dir: &Path) -> anyhow::Result<Row> {
    std::fs::create_dir_all(dir)?;
    let mut row = Row { scenario: scenario.name(), ..Row::default() };
    if scenario == Scenario::DatabaseOutage && args.database_url.is_none() {
        row.skipped = Some("needs PostgreSQL (--database-url)");
        return Ok(row);
    }
    // The system: NATS behind a proxy, the database (behind one for PostgreSQL), the simulator,
    // the product, and the two services as processes.
    // One server behind a proxy; or, for node loss, a 3-node cluster the clients reach directly.
    let mut cluster =
        if scenario == Scenario::NodeLoss { Nats::start_cluster(&dir.join("nats")).await? } else { Vec::new() };
    let mut nats = match cluster.is_empty() {
        true => Nats::start(&dir.join("nats")).await?,
        false => cluster.remove(0),
    };
    let nats_proxy = Proxy::start(nats.addr()).await?;
    let nats_url = if cluster.is_empty() {
        format!("nats://{}", nats_proxy.addr())
    } else {
        let all = std::iter::once(nats.addr()).chain(cluster.iter().map(Nats::addr));
        let url = all.map(|a| format!("nats://{a}")).collect::<Vec<_>>().join(",");
        wait_for_meta_leader(&url).await?;
        url
    };
    let database = match &args.database_url {
        Some(url) => {
            let name = format!("koofill_chaos_{}_{:08x}", scenario.name().replace(' ', "_"), rand::random::<u32>());
            system::postgres(url, &name).await?
        }
        None => Database::Sqlite(dir.join("koofill.db")),
    };
    let keys = SimKeys::new(system::BASIC_KEY).with_kit_key(system::KIT_KEY).with_access_key(system::AK, system::SK);
    let sim = Simulator::start(SimConfig::for_keys(&keys)).await.context("starting the simulator")?;
    let product = Product::start().await?;
    let free = || ports::free_port().map(|p| std::net::SocketAddr::from(([127, 0, 0, 1], p)));
    let (ingress_addr, worker_addr, metering_addr) = (free()?, free()?, free()?);
    let mut env = system::service_env(&nats_url, &database.url(), &sim.base_url(), &product, ingress_addr, worker_addr);
    env.insert("KOOFILL__METERING__API_TOKEN".to_owned(), USAGE_TOKEN.to_owned());
    if !cluster.is_empty() {
        env.insert("KOOFILL__NATS__REPLICAS".to_owned(), "3".to_owned());
    }
    let mut metering_env = env.clone();
    metering_env.insert("KOOFILL__WORKER__LISTEN".to_owned(), metering_addr.to_string());
    // The license worker signs status tokens; the suite only needs it to start.
    let license_addr = free()?;
    let (license_key, _) = koofill_license::token::generate_pem().context("a license signing key")?;
    let mut license_env = env.clone();
    license_env.insert("KOOFILL__WORKER__LISTEN".to_owned(), license_addr.to_string());
    license_env.insert("KOOFILL__LICENSE__SIGNING_KEY".to_owned(), license_key);
    // The notification worker tells the product (its webhook channel) of every opened and
    // released instance; quick retries and a short lease (a killed sender's claim runs out after
    // 15 s, not the default 120 s), as the suite measures how fast it catches up. The product
    // is the seller's own endpoint: a webhook's default 600 a minute would make the suite
    // measure that limit (10,000 orders: 17 minutes) rather than recovery.
    let notification_addr = free()?;
    let notification_toml = dir.join("notification.toml");
    std::fs::write(
        &notification_toml,
        format!(
            "[notification]\nlease_secs = 15\nsend_timeout_ms = 5000\n\n[notification.channels.product]\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"{}\"\n\
             rate_per_minute = 60000\nretry_schedule_secs = [1, 2, 5, 10, 30, 60, 120]\n\n[[notification.rules]]\n\
             events = [\"instance.active\", \"instance.released\"]\nchannels = [\"product\"]\n",
            product.notify_url,
            system::WEBHOOK_SECRET
        ),
    )?;
    // Supervision follows every period order (SaaS delivered offline): one case per opened order.
    let supervision_addr = free()?;
    let supervision_toml = dir.join("supervision.toml");
    std::fs::write(
        &supervision_toml,
        "[supervision]\ntick_secs = 5\n\n[supervision.charging_modes]\nPERIOD = \"saas_offline\"\n",
    )?;
    let mut supervision_env = env.clone();
    supervision_env.insert("KOOFILL__WORKER__LISTEN".to_owned(), supervision_addr.to_string());
    supervision_env.insert("KOOFILL_CONFIG".to_owned(), supervision_toml.display().to_string());
    let mut notification_env = env.clone();
    notification_env.insert("KOOFILL__WORKER__LISTEN".to_owned(), notification_addr.to_string());
    notification_env.insert("KOOFILL_CONFIG".to_owned(), notification_toml.display().to_string());
    let mut ingress = Service::start("ingress", env.clone(), dir.join("ingress.log"))?;
    let mut worker = Service::start("provisioning", env, dir.join("provisioning.log"))?;
    let mut metering = Service::start("metering", metering_env, dir.join("metering.log"))?;
    let mut license = Service::start("license", license_env, dir.join("license.log"))?;
    let mut supervision = Service::start("supervision", supervision_env, dir.join("supervision.log"))?;
    let mut notification = Service::start("notification", notification_env, dir.join("notification.log"))?;
    let lag = lag::LagSampler::start(nats.addr());
    // Faults hit a system at work, not one still starting.
    wait_ready(&mut ingress, ingress_addr).await?;
    wait_ready(&mut worker, worker_addr).await?;
    wait_ready(&mut metering, metering_addr).await?;
    wait_ready(&mut license, license_addr).await?;
    wait_ready(&mut supervision, supervision_addr).await?;
    wait_ready(&mut notification, notification_addr).await?;

    // The orders, known to the simulator's query order (except the poison one).
    let orders: Vec<String> =
        (0..args.orders).map(|i| format!("CHAOS{:04}{:02}{i:07}", args.seed % 10_000, scenario as u8)).collect();
    // Halfway, on an order whose plan is to be opened only (a frozen or released poison order
    // would be answered 000003 by the ingress, which knows it only as failed).
    let poison = (scenario == Scenario::Poison).then(|| orders[orders.len() / 2 / Plan::COUNT * Plan::COUNT].clone());
    let now = chrono::Utc::now();
    for order in &orders {
        if Some(order) == poison.as_ref() {
            continue;
        }
        sim.register_order(
            OrderSpec {
                order_id: order.clone(),
                order_type: OrderType::New,
                charging_mode: ChargingMode::Period,
                period: Some(("month", 1)),
                create_time: now,
                expire_time: now.checked_add_months(chrono::Months::new(1)),
                products: vec![koofill_simulator::orders::MONTHLY_BASIC],
                amount: ("10", "10"),
            }
            .build(),
        );
    }
    // The License plan's codes, as KooGallery issued them.
    for (index, order) in orders.iter().enumerate() {
        if Plan::of(index) == Plan::License {
            let product = koofill_simulator::orders::MONTHLY_BASIC.0;
            sim.register_license(koofill_simulator::license::SimLicense::received(
                load::license_code(order),
                order.clone(),
                product,
            ));
        }
    }

    let sender =
        CallbackSender::with_timeout(&format!("http://{ingress_addr}/kg/produce"), keys, Duration::from_secs(6))
            .context("the callback sender")?;
    let progress = Arc::new(AtomicU64::new(0));
    let patience = Duration::from_secs(args.settle_secs.max(60));
    let renew_to = load::renewed_expiry(now);
    let load = {
        let (sender, orders, progress, renew_to) =
            (sender.clone(), orders.clone(), Arc::clone(&progress), renew_to.clone());
        let concurrency = args.concurrency;
        tokio::spawn(
            async move { load::send_orders(&sender, &orders, concurrency, patience, &renew_to, progress).await },
        )
    };
    let usage_load = tokio::spawn(usage::send_usage(
        format!("http://{ingress_addr}/v1/usage"),
        USAGE_TOKEN,
        args.orders,
        args.seed,
        patience,
        Arc::clone(&progress),
    ));
    let bad_input = (scenario == Scenario::BadInput)
        .then(|| tokio::spawn(bad_requests(sender.clone(), orders.iter().take(200).cloned().collect())));

    // The fault, once a third of the orders are through.
    let at = |fraction: f64| (args.orders as f64 * fraction) as u64;
    let outage = Duration::from_secs(args.outage_secs);
    wait_progress(&progress, at(0.3)).await;
    let fault_started = Instant::now();
    match scenario {
        Scenario::Crash => {
            worker.kill_and_restart().await?;
            metering.kill_and_restart().await?;
            notification.kill_and_restart().await?;
            license.kill_and_restart().await?;
            supervision.kill_and_restart().await?;
            wait_progress(&progress, at(0.5)).await;
            ingress.kill_and_restart().await?;
            wait_progress(&progress, at(0.6)).await;
            worker.kill_and_restart().await?;
            metering.kill_and_restart().await?;
            notification.kill_and_restart().await?;
            license.kill_and_restart().await?;
            supervision.kill_and_restart().await?;
        }
        Scenario::BrokerRestart => nats.kill_and_restart(Duration::from_secs(2)).await?,
        Scenario::Partition => {
            nats_proxy.cut();
            tokio::time::sleep(outage).await;
            nats_proxy.restore();
        }
        Scenario::DatabaseOutage => {
            if let Some(proxy) = database.proxy() {
                proxy.cut();
                tokio::time::sleep(outage).await;
                proxy.restore();
            }
        }
        Scenario::NodeLoss => {
            // The second node: streams and consumers have their leaders spread over all three.
            cluster[0].kill_and_restart(Duration::from_secs(3)).await?;
        }
        Scenario::BadInput | Scenario::Poison => {}
    }
    let fault_ended = Instant::now();
    let sent: Sent = load.await.context("the load")?;
    let used: UsageSent = usage_load.await.context("the usage load")?;
    if let Some(bad) = bad_input {
        let (refused, accepted, server_errors) = bad.await.context("the bad requests")?;
        row.bad_accepted = accepted;
        row.non_200 += server_errors;
        row.note = format!(" {refused} bad requests refused, {accepted} accepted, {server_errors} 5xx;");
    }
    row.acknowledged = sent.acknowledged.len();
    row.usage_events = used.acknowledged.len();
    row.over_5s = sent.over_5s;
    row.non_200 += sent.non_200 + used.server_errors + used.refused;
    if !sent.unacknowledged.is_empty() {
        row.note.push_str(&format!(" {} orders never acknowledged;", sent.unacknowledged.len()));
    }
    if used.unacknowledged_batches > 0 {
        row.note.push_str(&format!(" {} usage batches never acknowledged;", used.unacknowledged_batches));
    }

    // Settle: every acknowledged order (but the poison one) in the state its plan leads to, and
    // every acknowledged usage event counted in a window exactly once.
    let expected: Vec<&load::Done> = sent.acknowledged.iter().filter(|d| Some(&d.order) != poison.as_ref()).collect();
    let usage_expected = usage::total(used.acknowledged.values()).context("the usage sum overflowed")?;
    let db = koofill_store::connect(&database.url()).await.context("reading the results")?;
    let deadline = Instant::now() + Duration::from_secs(args.settle_secs);
    let (applied, counted, instances) = loop {
        let instances = Snapshot::read(&db).await?;
        let applied = expected.iter().filter(|d| reached_plan(d, &instances, &renew_to)).count();
        let counted = usage_counted(&db).await?;
        let unnotified = unnotified(&expected, &product);
        let unsupervised = unsupervised(&expected, &instances, &renew_to).len();
        if applied == expected.len() && counted >= usage_expected && unnotified == 0 && unsupervised == 0 {
            row.settle = Some(fault_ended.elapsed());
            break (applied, counted, instances);
        }
        if Instant::now() > deadline {
            break (applied, counted, instances);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    row.applied = applied;
    row.usage_exact = counted == usage_expected;
    row.lost = expected.len() - applied;
    // An instance koofill calls open (or frozen) that the product was never asked to create is
    // lost too. A released one may rightly never have been created: a release handled before its
    // create (the create waiting out a fault) leaves a tombstone, and the create is skipped.
    // Only instances already counted applied: one not in its plan's state is lost once, above.
    let created = product.created_instances();
    let never_created: Vec<&str> = expected
        .iter()
        .filter(|d| d.plan.opens_instance() && d.plan != Plan::Release && reached_plan(d, &instances, &renew_to))
        .filter(|d| !created.contains(&d.instance))
        .map(|d| d.instance.as_str())
        .collect();
    if !never_created.is_empty() {
        row.lost += never_created.len();
        row.note.push_str(&format!(
            " {} instances never created at the product (e.g. {});",
            never_created.len(),
            never_created.iter().take(3).copied().collect::<Vec<_>>().join(", ")
        ));
    }
    if counted < usage_expected {
        row.lost += 1;
        row.settle = None;
    }
    row.duplicates = product.duplicate_steps() + product.duplicate_notices() + usize::from(counted > usage_expected);
    // Notifications of instances not applied yet are not counted again.
    let applied_only: Vec<&load::Done> =
        expected.iter().copied().filter(|d| reached_plan(d, &instances, &renew_to)).collect();
    let unnotified = unnotified(&applied_only, &product);
    if unnotified > 0 {
        row.lost += unnotified;
        row.note.push_str(&format!(" {unnotified} instances never notified;"));
    }
    let unsupervised = unsupervised(&applied_only, &instances, &renew_to);
    if !unsupervised.is_empty() {
        row.lost += unsupervised.len();
        row.note.push_str(&format!(
            " {} opened orders without a supervision case (e.g. {});",
            unsupervised.len(),
            unsupervised.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    row.duplicates += instances.doubled_cases;
    row.note.push_str(&format!(" {} supervision cases;", instances.cases.len()));
    row.note.push_str(&format!(
        " usage counted {} of {} ({} events, {} sent with repeats);",
        counted.to_plain(),
        usage_expected.to_plain(),
        used.acknowledged.len(),
        used.events_sent
    ));
    row.peak_lag = lag.peak();
    drop(lag);
    let js = async_nats::jetstream::new(async_nats::connect(nats.addr().to_string()).await?);
    drop(cluster);
    row.dead_letters = stream_messages(&js, "KOOFILL_DLQ").await;
    if let Some(order) = &poison {
        let dead = row.dead_letters == 1;
        row.note.push_str(&format!(" poison {order} dead-lettered: {dead};"));
        if !dead {
            row.lost += 1;
        }
    }
    row.note.push_str(&format!(
        " fault {:.1} s; {} requests; product created {};",
        (fault_ended - fault_started).as_secs_f64(),
        sent.requests,
        product.created()
    ));

    ingress.stop().await;
    worker.stop().await;
    metering.stop().await;
    license.stop().await;
    supervision.stop().await;
    notification.stop().await;
    sim.shutdown().await;
    drop(db);
    database.drop_database().await;
    Ok(row)
}

/// Waits for `service` to answer `/readyz` on `addr`; fails at once, with its log's end, when
/// the process exits instead.
async fn wait_ready(service: &mut Service, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    // Generous: a 3-node cluster creates its R3 streams first, on a machine that may be busy.
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("http://{addr}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if let Some(why) = service.exited() {
            anyhow::bail!("{why}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("{addr} was not ready within 120 s (its log is in the work directory; keep it with --work-dir)")
}

/// Waits until the cluster has elected a JetStream meta leader (streams cannot be created
/// before).
async fn wait_for_meta_leader(url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // `$JS.API.INFO` answers with an error until a meta leader exists (read raw: the
        // client's typed account info does not parse nats-server 2.9's answer).
        let servers: Vec<async_nats::ServerAddr> = url.split(',').filter_map(|u| u.parse().ok()).collect();
        let last = match async_nats::connect(servers).await {
            Ok(client) => {
                match tokio::time::timeout(Duration::from_secs(2), client.request("$JS.API.INFO", "".into())).await {
                    Ok(Ok(reply)) => match serde_json::from_slice::<serde_json::Value>(&reply.payload) {
                        Ok(v) if v.get("error").is_none() => return Ok(()),
                        Ok(v) => v["error"].to_string(),
                        Err(e) => e.to_string(),
                    },
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "no answer".to_owned(),
                }
            }
            Err(e) => e.to_string(),
        };
        anyhow::ensure!(Instant::now() < deadline, "the NATS cluster elected no JetStream leader within 30 s ({last})");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn wait_progress(progress: &AtomicU64, target: u64) {
    while progress.load(Ordering::Relaxed) < target {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Applied orders with an open instance (all but the released and the license codes) that have
/// no supervision case.
fn unsupervised(expected: &[&load::Done], snapshot: &Snapshot, renew_to: &str) -> Vec<String> {
    expected
        .iter()
        .filter(|d| d.plan.opens_instance() && d.plan != Plan::Release && reached_plan(d, snapshot, renew_to))
        .filter(|d| !snapshot.cases.contains(&d.order))
        .map(|d| d.order.clone())
        .collect()
}

/// Acknowledged orders whose notification has not reached the product: `instance.released` for
/// the released ones, `instance.active` for the others that open an instance.
fn unnotified(expected: &[&load::Done], product: &Product) -> usize {
    let (active, released) = (product.notified("instance.active"), product.notified("instance.released"));
    expected
        .iter()
        .filter(|d| match d.plan {
            Plan::License => false,
            Plan::Release => !released.contains(&d.instance),
            _ => !active.contains(&d.instance),
        })
        .count()
}

type Expiry = Option<chrono::DateTime<chrono::Utc>>;

/// What the database holds, as far as the plans' effects go.
struct Snapshot {
    /// Every instance's state and expiry.
    instances: HashMap<String, (InstanceState, Expiry)>,
    /// Active tenants, by (instance, tenant).
    tenants: std::collections::HashSet<(String, String)>,
    /// Active, enabled users, by (tenant, app).
    users: HashMap<(String, String), usize>,
    /// Every license code's status and expiry.
    licenses: HashMap<String, (String, Expiry)>,
    /// Orders with a supervision case.
    cases: std::collections::HashSet<String>,
    /// Order lines with more than one case.
    doubled_cases: usize,
}

impl Snapshot {
    async fn read(db: &sea_orm::DatabaseConnection) -> anyhow::Result<Self> {
        use koofill_store::entities::directory_users::DirectoryState;
        let instances = instances::Entity::find().all(db).await.context("reading instances")?;
        let tenants = tenants::Entity::find().all(db).await.context("reading tenants")?;
        let users = directory_users::Entity::find().all(db).await.context("reading users")?;
        let licenses = licenses::Entity::find().all(db).await.context("reading licenses")?;
        let cases = supervision_cases::Entity::find().all(db).await.context("reading supervision cases")?;
        let mut per_line: HashMap<(String, String), usize> = HashMap::new();
        for case in &cases {
            *per_line.entry((case.order_id.clone(), case.order_line_id.clone())).or_default() += 1;
        }
        let mut per_app: HashMap<(String, String), usize> = HashMap::new();
        for u in users.into_iter().filter(|u| u.state == DirectoryState::Active && u.enabled) {
            *per_app.entry((u.tenant_id, u.app_id)).or_default() += 1;
        }
        Ok(Self {
            instances: instances.into_iter().map(|r| (r.instance_id, (r.state, r.expire_time))).collect(),
            tenants: tenants
                .into_iter()
                .filter(|t| t.state == DirectoryState::Active)
                .map(|t| (t.instance_id, t.tenant_id))
                .collect(),
            users: per_app,
            licenses: licenses.into_iter().map(|l| (l.code, (l.status, l.expire_time))).collect(),
            doubled_cases: per_line.values().filter(|n| **n > 1).count(),
            cases: cases.into_iter().map(|c| c.order_id).collect(),
        })
    }
}

/// Whether an order is where its plan leads: open, renewed to `renew_to`, frozen, unfrozen,
/// released, bound with its two users, or (a license code) renewed and frozen.
fn reached_plan(done: &load::Done, snapshot: &Snapshot, renew_to: &str) -> bool {
    let renewed = |expiry: &Expiry| expiry.is_some_and(|e| koofill_model::time::format_compact14(e) == renew_to);
    if done.plan == Plan::License {
        return snapshot
            .licenses
            .get(&done.instance)
            .is_some_and(|(status, expiry)| status == "frozen" && renewed(expiry));
    }
    let Some((state, expiry)) = snapshot.instances.get(&done.instance) else { return false };
    match done.plan {
        Plan::Open | Plan::FreezeUnfreeze => *state == InstanceState::Active,
        Plan::Renew => *state == InstanceState::Active && renewed(expiry),
        Plan::Freeze => *state == InstanceState::Frozen,
        Plan::Release => *state == InstanceState::Released,
        Plan::Kit => {
            let (tenant, app) = (load::tenant_of(&done.order), load::app_of(&done.order));
            *state == InstanceState::Active
                && snapshot.tenants.contains(&(done.instance.clone(), tenant.clone()))
                && snapshot.users.get(&(tenant, app)).copied() == Some(load::KIT_USERS.len())
        }
        Plan::License => false,
    }
}

/// The usage counted in the windows of the suite's usage instances (billable or not).
async fn usage_counted(db: &sea_orm::DatabaseConnection) -> anyhow::Result<koofill_model::usage::Quantity> {
    use koofill_store::entities::usage_windows;
    let rows = usage_windows::Entity::find()
        .filter(usage_windows::Column::InstanceId.starts_with(usage::INSTANCE_PREFIX))
        .all(db)
        .await
        .context("reading usage windows")?;
    rows.iter().try_fold(koofill_model::usage::Quantity::ZERO, |sum, w| {
        let total = koofill_model::usage::Quantity::parse(&w.total)
            .map_err(|e| anyhow::anyhow!("window {}@{}: {e}", w.instance_id, w.window_begin))?;
        sum.checked_add(total).context("the usage sum overflowed")
    })
}

async fn stream_messages(js: &async_nats::jetstream::Context, name: &str) -> u64 {
    match js.get_stream(name).await {
        Ok(mut stream) => stream.info().await.map_or(0, |i| i.state.messages),
        Err(_) => 0,
    }
}

/// Sends, for each of `orders`, a request that must be refused without a 5xx — malformed JSON,
/// an oversized body, a wrong signature, a stale timestamp, or the replay of a request already
/// sent — and returns (refused, accepted, 5xx).
async fn bad_requests(sender: CallbackSender, orders: Vec<String>) -> (usize, usize, u64) {
    use koofill_simulator::callback::{basic_query, now_ms, wire_bytes};
    let key = sender.keys().basic_key.clone();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(6)).build().unwrap_or_default();
    let url = sender.base_url().to_owned();
    let results: Vec<Option<(u16, String)>> = futures::stream::iter(orders.into_iter().enumerate())
        .map(|(i, order)| {
            let (http, url, key) = (http.clone(), url.clone(), key.clone());
            async move {
                let now = now_ms();
                let good = wire_bytes(&serde_json::json!({
                    "activity": "newInstance", "businessId": format!("biz-{order}"), "orderId": order,
                    "orderLineId": koofill_simulator::orders::line_id(&order), "testFlag": "0"}));
                let (body, query) = match i % 5 {
                    0 => (b"{not json".to_vec(), basic_query(key.as_bytes(), b"{not json", now)),
                    1 => (vec![b' '; 2 * 1024 * 1024], basic_query(key.as_bytes(), b" ", now)),
                    2 => (good.clone(), basic_query(b"wrong-key", &good, now)),
                    3 => (good.clone(), basic_query(key.as_bytes(), &good, now - 3_600_000)),
                    _ => (good.clone(), basic_query(key.as_bytes(), &good, now)),
                };
                let send = || {
                    http.post(format!("{url}?{query}"))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                };
                // A replay: the same signed request a second time (the first is a legitimate
                // newInstance of an order the load also sends, so it may well be accepted). The
                // first must have reached the ingress: a pooled connection the server closed
                // (after an oversized body) fails before sending, and is simply tried again.
                if i % 5 == 4 {
                    let mut reached = false;
                    for _ in 0..3 {
                        if send().await.is_ok() {
                            reached = true;
                            break;
                        }
                    }
                    if !reached {
                        return None;
                    }
                }
                let answer = send().await.ok()?;
                let status = answer.status().as_u16();
                let text = answer.text().await.unwrap_or_default();
                let code = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["resultCode"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                Some((status, code))
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let answered: Vec<&(u16, String)> = results.iter().flatten().collect();
    let accepted = answered.iter().filter(|(_, code)| code == "000000").count();
    let server_errors = answered.iter().filter(|(status, _)| *status >= 500).count() as u64;
    (answered.len() - accepted, accepted, server_errors)
}
