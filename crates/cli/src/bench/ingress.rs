//! `koofill bench ingress`: the real ingress against the bare probe, side by side on one NATS.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use koofill_config::Config;
use koofill_signing::basic;
use rand::Rng;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use super::{
    cpu::{self, Threads},
    load::{self, Summary, Target},
    probe,
};
use crate::nats_child::{self, NatsChild};

/// Options of the ingress benchmark.
#[derive(Debug, clap::Args)]
pub struct IngressBench {
    /// Paced rate of the latency phase, callbacks per second.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Length of each phase, seconds.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent connections of the throughput phase.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Use this NATS instead of a child nats-server.
    #[arg(long)]
    nats_url: Option<String>,
    /// Run the load generator in a child process (`koofill bench generate`), so that it does not
    /// share a process, or a runtime, with the servers it measures.
    #[arg(long)]
    external: bool,
}

/// The load generator as a process of its own (hidden: `koofill bench ingress --external` runs
/// it). Prints one JSON [`Summary`].
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The production address (the ingress's, or the probe's).
    #[arg(long)]
    url: String,
    /// Distinguishes this run's order IDs from other runs'.
    #[arg(long)]
    run: String,
    /// Concurrent connections, back to back (closed loop); without it, `--rate` (open loop).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Callbacks per second of the open loop.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Seconds.
    #[arg(long)]
    duration: u64,
    /// The first callback's number.
    #[arg(long, default_value_t = 0)]
    offset: u64,
}

/// `koofill bench generate`: one phase of load, its summary printed as JSON.
///
/// # Errors
/// When the HTTP client cannot be built or the summary written.
pub async fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency.unwrap_or(64).max(64)).build()?;
    let target = Arc::new(Signed { client, url: args.url, run: args.run });
    let duration = Duration::from_secs(args.duration);
    let report = match args.concurrency {
        Some(c) => load::closed_loop(target, c, duration, args.offset).await,
        None => load::open_loop(target, args.rate, duration, args.offset).await,
    };
    println!("{}", serde_json::to_string(&Summary::of(&report))?);
    Ok(())
}

/// Where the load comes from: this process, or a child process per phase.
enum Generator {
    InProcess(Arc<Signed>),
    External { url: String, run: String },
}

impl Generator {
    async fn closed(&self, concurrency: usize, duration: Duration, offset: u64) -> anyhow::Result<Summary> {
        match self {
            Self::InProcess(t) => Ok(Summary::of(&load::closed_loop(t.clone(), concurrency, duration, offset).await)),
            Self::External { url, run } => {
                child(url, run, &["--concurrency", &concurrency.to_string()], duration, offset).await
            }
        }
    }

    async fn open(&self, rate: u64, duration: Duration, offset: u64) -> anyhow::Result<Summary> {
        match self {
            Self::InProcess(t) => Ok(Summary::of(&load::open_loop(t.clone(), rate, duration, offset).await)),
            Self::External { url, run } => child(url, run, &["--rate", &rate.to_string()], duration, offset).await,
        }
    }
}

/// Runs one phase in a child `koofill bench generate` and reads its summary.
async fn child(url: &str, run: &str, mode: &[&str], duration: Duration, offset: u64) -> anyhow::Result<Summary> {
    let exe = std::env::current_exe().context("finding this program to run the generator")?;
    let output = tokio::process::Command::new(exe)
        .args(["bench", "generate", "--url", url, "--run", run])
        .args(mode)
        .args(["--duration", &duration.as_secs().to_string(), "--offset", &offset.to_string()])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .context("running the load generator")?;
    anyhow::ensure!(
        output.status.success(),
        "the load generator failed: {}",
        String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or_default()
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("reading the load generator's summary {last:?}"))
}

const KEY: &str = "bench-basic-key";
/// The names of the ingress's and the probe's runtime threads (at most 15 bytes: Linux's limit).
const INGRESS_THREADS: &str = "kf-ingress";
const PROBE_THREADS: &str = "kf-probe";

/// CPU time used so far by each server's threads and by the child nats-server.
#[derive(Debug, Clone, Copy)]
struct Cpu {
    ingress: Duration,
    probe: Duration,
    nats: Duration,
}

/// A runtime of two worker threads named `name`: what one ingress replica gets on this machine.
fn runtime(name: &str) -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .with_context(|| format!("starting the {name} runtime"))
}

struct Signed {
    client: reqwest::Client,
    url: String,
    run: String,
}

impl Target for Signed {
    async fn send(&self, i: u64) -> bool {
        let order = format!("BENCH{}{i:08}", self.run);
        let body = format!(
            r#"{{"activity":"newInstance","businessId":"b-{i}","orderId":"{order}","orderLineId":"{order}-000001","testFlag":"1"}}"#
        );
        let ts = chrono::Utc::now().timestamp_millis().to_string();
        let nonce: String = format!("{:032X}", rand::thread_rng().r#gen::<u128>());
        let Ok(sig) = basic::sign_body(KEY.as_bytes(), &nonce, &ts, body.as_bytes()) else { return false };
        let url = format!("{}?signature={sig}&timestamp={ts}&nonce={nonce}", self.url);
        match self.client.post(url).header("content-type", "application/json;charset=utf8").body(body).send().await {
            Ok(r) => r
                .bytes()
                .await
                .map(|b| b.windows(17).any(|w| w == b"\"resultCode\":\"000") && b.windows(6).any(|w| w == b"000000"))
                .unwrap_or(false),
            Err(_) => false,
        }
    }
}

fn line(name: &str, r: &Summary) -> String {
    format!("{name:<8} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>8}", r.throughput(), r.p50_ms, r.p99_ms, r.p999_ms, r.failed)
}

/// Runs the benchmark and prints the comparison.
///
/// # Errors
/// When NATS, the ingress or the probe cannot start.
pub async fn run(args: IngressBench, mut cfg: Config) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("koofill-bench-{}", std::process::id()));
    let child = nats_child::given_or_child(args.nats_url.as_deref(), &dir, &mut cfg).await?;
    let run_id: String = format!("{:06X}", rand::thread_rng().r#gen::<u32>() & 0xFF_FFFF);
    cfg.nats.prefix = format!("bench{}", run_id.to_lowercase());
    cfg.koogallery.basic_key = Some(SecretString::from(KEY.to_owned()));
    cfg.ingress.listen = "127.0.0.1:0".parse()?;
    let shutdown = CancellationToken::new();
    // Each server on a runtime of its own (its NATS client too), so that its CPU time is its own.
    let ingress_rt = runtime(INGRESS_THREADS)?;
    let addr = ingress_rt
        .spawn({
            let (cfg, shutdown) = (cfg.clone(), shutdown.clone());
            async move {
                let ingress = koofill_ingress::Application::build(&cfg).await.context("starting the ingress")?;
                let addr = ingress.local_addr().context("ingress address")?;
                tokio::spawn(ingress.run_until_stopped(shutdown));
                anyhow::Ok(addr)
            }
        })
        .await??;
    let probe_rt = runtime(PROBE_THREADS)?;
    let probe_url = probe_rt
        .spawn({
            let (url, shutdown) = (cfg.nats.url.clone(), shutdown.clone());
            async move {
                let js = async_nats::jetstream::new(async_nats::connect(&url).await?);
                probe::start(js, KEY.as_bytes().to_vec(), shutdown).await
            }
        })
        .await??;
    let nats_pid = child.as_ref().and_then(NatsChild::pid);
    let snapshot = || Cpu {
        ingress: cpu::used(Threads::Named(INGRESS_THREADS)),
        probe: cpu::used(Threads::Named(PROBE_THREADS)),
        nats: nats_pid.map_or(Duration::ZERO, |pid| cpu::used(Threads::Process(pid))),
    };

    let (real_url, bare_url) = (format!("http://{addr}{}", cfg.ingress.base_path), probe_url);
    let (real, bare) = if args.external {
        (
            Generator::External { url: real_url, run: format!("R{run_id}") },
            Generator::External { url: bare_url, run: format!("P{run_id}") },
        )
    } else {
        let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency.max(64)).build()?;
        (
            Generator::InProcess(Arc::new(Signed { client: client.clone(), url: real_url, run: format!("R{run_id}") })),
            Generator::InProcess(Arc::new(Signed { client, url: bare_url, run: format!("P{run_id}") })),
        )
    };
    let duration = Duration::from_secs(args.duration);

    eprintln!("warming up…");
    real.closed(8, Duration::from_secs(1), 9_000_000).await?;
    bare.closed(8, Duration::from_secs(1), 9_000_000).await?;

    eprintln!("throughput phase: {} connections, {} s each", args.concurrency, args.duration);
    let c0 = snapshot();
    let real_max = real.closed(args.concurrency, duration, 0).await?;
    let c1 = snapshot();
    let bare_max = bare.closed(args.concurrency, duration, 0).await?;
    let c2 = snapshot();
    eprintln!("paced phase: {} callbacks/s, {} s each", args.rate, args.duration);
    let real_paced = real.open(args.rate, duration, 1_000_000).await?;
    let c3 = snapshot();
    let bare_paced = bare.open(args.rate, duration, 1_000_000).await?;
    let c4 = snapshot();

    let generator = if args.external { "a child process" } else { "this process" };
    println!(
        "\nkoofill bench ingress — signed newInstance callbacks, one nats-server, same machine, load from {generator}"
    );
    println!("\nthroughput, {} connections, {} s", args.concurrency, args.duration);
    println!("{:<8} {:>10} {:>9} {:>9} {:>9} {:>8}", "target", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "failed");
    println!("{}", line("ingress", &real_max));
    println!("{}", line("probe", &bare_max));
    println!("ratio ingress/probe throughput: {:.2}", real_max.throughput() / bare_max.throughput().max(1e-9));
    println!("\npaced at {} callbacks/s, {} s (latency from scheduled send)", args.rate, args.duration);
    println!("{:<8} {:>10} {:>9} {:>9} {:>9} {:>8}", "target", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "failed");
    println!("{}", line("ingress", &real_paced));
    println!("{}", line("probe", &bare_paced));
    println!(
        "ratio ingress/probe p50: {:.2}, p99: {:.2}",
        real_paced.p50_ms / bare_paced.p50_ms.max(1e-9),
        real_paced.p99_ms / bare_paced.p99_ms.max(1e-9)
    );
    if nats_pid.is_some() || c4.ingress > Duration::ZERO {
        println!("\nCPU per 1,000 callbacks, ms: the server's own threads, and nats-server during the same phase");
        println!(
            "{:<11} {:>9} {:>9} {:>7} {:>14} {:>12}",
            "phase", "ingress", "probe", "ratio", "nats (ingress)", "nats (probe)"
        );
        for (phase, (a, b, c), (real, bare)) in
            [("throughput", (c0, c1, c2), (&real_max, &bare_max)), ("paced", (c2, c3, c4), (&real_paced, &bare_paced))]
        {
            let ingress = cpu::per_thousand(b.ingress.saturating_sub(a.ingress), real.ok);
            let probe = cpu::per_thousand(c.probe.saturating_sub(b.probe), bare.ok);
            let nats_ingress = cpu::per_thousand(b.nats.saturating_sub(a.nats), real.ok);
            let nats_probe = cpu::per_thousand(c.nats.saturating_sub(b.nats), bare.ok);
            println!(
                "{phase:<11} {ingress:>9.1} {probe:>9.1} {:>7.2} {nats_ingress:>14.1} {nats_probe:>12.1}",
                ingress / probe.max(1e-9)
            );
        }
    }
    shutdown.cancel();
    if child.is_none() {
        // A shared server: remove what the run created.
        let js = async_nats::jetstream::new(async_nats::connect(&cfg.nats.url).await?);
        let kinds = [
            koofill_bus::names::INBOUND,
            koofill_bus::names::EVENTS,
            koofill_bus::names::USAGE,
            koofill_bus::names::DLQ,
        ];
        let mut streams: Vec<String> = kinds.iter().map(|k| koofill_bus::names::stream(&cfg.nats.prefix, k)).collect();
        streams.push(format!("KV_{}", koofill_bus::names::instances_bucket(&cfg.nats.prefix)));
        streams.push(format!("KV_{}", koofill_bus::names::nonces_bucket(&cfg.nats.prefix)));
        streams.push(probe::STREAM.to_owned());
        for stream in streams {
            let _ = js.delete_stream(&stream).await;
        }
    }
    if let Some(c) = child {
        c.stop().await;
    }
    ingress_rt.shutdown_background();
    probe_rt.shutdown_background();
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
