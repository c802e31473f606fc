//! `koofill bench metering`: usage events aggregated per second end to end (published to
//! `KOOFILL_USAGE` → committed in their windows by the metering worker), next to a bare JetStream
//! fetch + ack of the same messages in the same run, and a check that the windows add up to
//! exactly what was published.
//!
//! Events are spread over `--instances` instances and batched per partition (as `POST /v1/usage`
//! batches them: FNV-1a of the instance ID modulo `metering.partitions`), `--batch` events per
//! message. Their times lie in the last minute, so every window is still open: the worker's
//! scheduler closes nothing while the benchmark runs.

use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::jetstream::{self, consumer::pull, stream};
use futures::{StreamExt, future::join_all};
use koofill_bus::names;
use koofill_config::Config;
use koofill_ingress::usage::partition_of;
use koofill_metering::{BuildOptions, Worker};
use koofill_model::usage::{Quantity, UsageBatch, UsageEvent};
use koofill_store::entities::usage_windows;
use sea_orm::EntityTrait;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::nats_child;

/// Messages published before their acknowledgements are awaited.
const PUBLISH_WINDOW: usize = 512;
/// Messages the bare consumer fetches at once.
const BARE_FETCH: usize = 256;

/// Options of the metering benchmark.
#[derive(Debug, clap::Args)]
pub struct MeteringBench {
    /// Usage events to publish.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// Events per message (a producer's batch).
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Distinct instances the events are spread over.
    #[arg(long, default_value_t = 1000)]
    instances: usize,
    /// Handlers the worker runs at once (default: `consumer.concurrency`).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Database to use, e.g. an empty PostgreSQL database; default: a temporary SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Use this NATS instead of a child nats-server.
    #[arg(long)]
    nats_url: Option<String>,
}

/// The generated load: messages (partition, payload) and the exact sum of their events.
struct Load {
    messages: Vec<(u32, Vec<u8>)>,
    sum: Quantity,
}

/// Deterministic events (xorshift values with 8 decimals), batched per partition.
fn generate(args: &MeteringBench, partitions: u32) -> anyhow::Result<Load> {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let now = chrono::Utc::now();
    let mut open: Vec<Vec<UsageEvent>> = vec![Vec::new(); partitions as usize];
    let mut load = Load { messages: Vec::new(), sum: Quantity::ZERO };
    let instances = args.instances.max(1);
    for i in 0..args.events {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let instance_id = format!("bench-{}", i % instances);
        let partition = partition_of(&instance_id, partitions);
        let usage_value = format!("{}.{:08}", seed % 10, (seed >> 8) % 100_000_000);
        load.sum = load.sum.checked_add(Quantity::parse(&usage_value).map_err(anyhow::Error::msg)?).context("sum")?;
        let seconds = i64::try_from(seed % 60).unwrap_or(0);
        let events = &mut open[partition as usize];
        events.push(UsageEvent {
            instance_id,
            usage_value,
            event_id: format!("ev-{i}"),
            occurred_at: now - chrono::Duration::seconds(seconds),
        });
        if events.len() >= args.batch.max(1) {
            let batch = UsageBatch { events: std::mem::take(events) };
            load.messages.push((partition, serde_json::to_vec(&batch)?));
        }
    }
    for (partition, events) in open.into_iter().enumerate() {
        if !events.is_empty() {
            let partition = u32::try_from(partition).unwrap_or(0);
            load.messages.push((partition, serde_json::to_vec(&UsageBatch { events })?));
        }
    }
    Ok(load)
}

/// Publishes every message on `subject(partition)`, a window at a time, awaiting each PubAck.
async fn publish(
    js: &jetstream::Context,
    load: &Load,
    subject: impl Fn(u32) -> String,
    id_prefix: &str,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for (w, window) in load.messages.chunks(PUBLISH_WINDOW).enumerate() {
        let mut acks = Vec::with_capacity(window.len());
        for (n, (partition, payload)) in window.iter().enumerate() {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, format!("{id_prefix}-{w}-{n}").as_str());
            acks.push(js.publish_with_headers(subject(*partition), headers, payload.clone().into()).await?);
        }
        for ack in join_all(acks.into_iter().map(std::future::IntoFuture::into_future)).await {
            ack.context("JetStream did not store a benchmark message")?;
        }
    }
    Ok(started.elapsed())
}

/// The bare baseline: fetch and double-ack `count` messages of `stream`, acks of a fetch in parallel.
async fn bare_consume(js: &jetstream::Context, stream: &str, count: usize) -> anyhow::Result<Duration> {
    let consumer = js
        .get_stream(stream)
        .await?
        .create_consumer(pull::Config {
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            max_ack_pending: 10_000,
            ..Default::default()
        })
        .await?;
    let started = Instant::now();
    let mut done = 0;
    while done < count {
        let mut batch = consumer.fetch().max_messages(BARE_FETCH).expires(Duration::from_secs(1)).messages().await?;
        let mut fetched = Vec::new();
        while let Some(message) = batch.next().await {
            fetched.push(message.map_err(|e| anyhow::anyhow!(e))?);
        }
        anyhow::ensure!(!fetched.is_empty(), "the bare consumer found {done} of {count} messages");
        done += fetched.len();
        for acked in join_all(fetched.iter().map(|m| m.double_ack())).await {
            acked.map_err(|e| anyhow::anyhow!(e))?;
        }
    }
    Ok(started.elapsed())
}

/// Runs the benchmark and prints the report; fails when the windows do not add up.
///
/// # Errors
/// When a part cannot start, or the aggregated sum differs from the published one.
pub async fn run(args: MeteringBench, mut cfg: Config) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("koofill-bench-metering-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let child = nats_child::given_or_child(args.nats_url.as_deref(), &dir, &mut cfg).await?;
    // Never the configured database or prefix: a benchmark must not join a live deployment.
    let sqlite = args.database_url.is_none();
    cfg.database.url = match &args.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
    };
    cfg.nats.prefix = format!("benchmet{:06x}", rand::random::<u32>() & 0xFF_FFFF);
    cfg.worker.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    cfg.metering.tick_secs = 86_400; // one round at start, none while measuring
    cfg.koogallery.basic_key = Some(SecretString::from("bench-basic-key".to_owned()));
    cfg.koogallery.api_base = "http://127.0.0.1:9".into(); // never called: nothing closes
    if let Some(c) = args.concurrency {
        cfg.consumer.concurrency = c.max(1);
    }
    let result = measure(&args, &cfg, sqlite).await;
    if let Some(c) = child {
        c.stop().await;
    }
    let _ = std::fs::remove_dir_all(dir);
    result
}

async fn measure(args: &MeteringBench, cfg: &Config, sqlite: bool) -> anyhow::Result<()> {
    let prefix = cfg.nats.prefix.clone();
    let load = generate(args, cfg.metering.partitions)?;
    let messages = load.messages.len();
    let worker = Worker::build(cfg, BuildOptions::default()).await.context("metering worker")?;
    let js = worker.host().bus().js.clone();
    let bare_stream = format!("{prefix}_BENCH_BARE");
    js.create_stream(stream::Config {
        name: bare_stream.clone(),
        subjects: vec![format!("{prefix}bare.>")],
        ..Default::default()
    })
    .await
    .context("creating the bare stream")?;
    eprintln!(
        "{} events in {messages} messages ({} per message, {} instances, {} partitions), {}",
        args.events,
        args.batch,
        args.instances,
        cfg.metering.partitions,
        if sqlite { "SQLite".to_owned() } else { koofill_config::redact_url(&cfg.database.url) }
    );
    let published = publish(&js, &load, |p| names::usage(&prefix, &p.to_string()), "use").await?;
    publish(&js, &load, |p| format!("{prefix}bare.{p}"), "bare").await?;
    let bare = bare_consume(&js, &bare_stream, messages).await?;

    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let running = tokio::spawn({
        let (worker, shutdown) = (worker.clone(), shutdown.clone());
        async move { worker.run(shutdown).await }
    });
    let usage_stream = names::stream(&prefix, names::USAGE);
    loop {
        let mut stream = js.get_stream(&usage_stream).await?;
        if stream.info().await?.state.messages == 0 {
            break;
        }
        anyhow::ensure!(!running.is_finished(), "the metering worker stopped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let aggregated = started.elapsed();
    shutdown.cancel();
    running.await.context("metering worker task")?.context("metering worker")?;

    let windows = usage_windows::Entity::find().all(worker.db()).await.context("reading windows")?;
    let mut sum = Quantity::ZERO;
    let mut counted: i64 = 0;
    for w in &windows {
        sum = sum.checked_add(Quantity::parse(&w.total).map_err(anyhow::Error::msg)?).context("sum")?;
        counted += w.events;
    }
    let _ = js.delete_stream(&bare_stream).await;
    let rate = |d: Duration| f64::from(u32::try_from(args.events).unwrap_or(u32::MAX)) / d.as_secs_f64().max(1e-9);
    println!("publish (both streams' PubAcks awaited): {:>12.0} events/s", rate(published));
    println!(
        "bare JetStream fetch+ack:               {:>12.0} events/s  ({messages} messages in {:.2} s)",
        rate(bare),
        bare.as_secs_f64()
    );
    println!(
        "metering worker, stream → committed:    {:>12.0} events/s  ({messages} messages in {:.2} s)",
        rate(aggregated),
        aggregated.as_secs_f64()
    );
    println!("worker / bare:                          {:>12.3}", bare.as_secs_f64() / aggregated.as_secs_f64());
    let exact = sum == load.sum && usize::try_from(counted).ok() == Some(args.events);
    println!(
        "check: {counted} events in {} windows, sum {} {} published {}",
        windows.len(),
        sum.to_plain(),
        if exact { "=" } else { "≠" },
        load.sum.to_plain()
    );
    anyhow::ensure!(exact, "the windows do not add up to what was published");
    Ok(())
}
