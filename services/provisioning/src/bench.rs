//! The end-to-end throughput benchmark of provisioning (architecture §12): new orders per second
//! from the callback the ingress publishes to the instance being active, with the worker
//! running in this process.
//!
//! It publishes exactly what the ingress publishes for a verified newInstance (the inbound
//! envelope, and the `accepted` view entry) for `n` generated orders `BENCH<run>N<i>`, and stops
//! the clock at each order's `instance.active` event. `koogallery.api_base` must answer query
//! order for those IDs (the simulator and [`crate::stand_in`] do).

use std::{
    collections::HashMap,
    fmt,
    time::{Duration, Instant},
};

use anyhow::Context;
use futures::StreamExt;
use koofill_bus::{Publisher, names};
use koofill_config::Config;
use koofill_model::{BasicRequest, DomainEvent, Envelope, InboundCallback};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::Worker;

/// Orders in flight while publishing.
const PUBLISH_CONCURRENCY: usize = 64;

/// The result of a run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Orders published.
    pub orders: usize,
    /// Orders that became active before the deadline.
    pub completed: usize,
    /// From the first publish to the last activation.
    pub elapsed: Duration,
    /// `completed / elapsed`.
    pub orders_per_sec: f64,
    /// Median time from publish to active.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "provisioning: {}/{} new orders active in {:.2} s = {:.0} orders/s on {} (publish → active: p50 {} ms, p99 {} ms, max {} ms)",
            self.completed,
            self.orders,
            self.elapsed.as_secs_f64(),
            self.orders_per_sec,
            self.database,
            self.p50.as_millis(),
            self.p99.as_millis(),
            self.max.as_millis()
        )
    }
}

/// Runs the benchmark with `n` orders.
///
/// # Errors
/// When the worker cannot start or publishing fails.
pub async fn bench_new_orders(cfg: &Config, n: usize) -> anyhow::Result<BenchReport> {
    // The benchmark's worker serves its health endpoint on a free port, beside any running one.
    let mut cfg = cfg.clone();
    cfg.worker.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let cfg = &cfg;
    let worker = Worker::build(cfg).await.context("starting the provisioning worker")?;
    let bus = worker.bus().clone();
    let prefix = cfg.nats.prefix.clone();
    let publisher = Publisher::new(bus.js.clone(), cfg.nats.request_timeout());
    let mut active = bus.client.subscribe(names::event(&prefix, "instance.active")).await?;
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let (worker, shutdown) = (worker.clone(), shutdown.clone());
        async move { worker.run(shutdown).await }
    });

    let run = chrono::Utc::now().timestamp_millis();
    let order_prefix = format!("BENCH{run}N");
    let started = Instant::now();
    let sent: Vec<(String, Instant)> = futures::stream::iter(0..n)
        .map(|i| {
            let (publisher, prefix) = (publisher.clone(), prefix.clone());
            let order_id = format!("{order_prefix}{i}");
            async move {
                let body = json!({"activity": "newInstance", "businessId": format!("b-{i}"),
                    "orderId": order_id, "orderLineId": format!("{order_id}-000001")});
                let request = BasicRequest::from_value(&body)?;
                let envelope: Envelope<InboundCallback> =
                    Envelope::inbound_basic(&request, body, chrono::Utc::now(), "bench").context("not publishable")?;
                let BasicRequest::NewInstance(r) = &request else { anyhow::bail!("not a newInstance") };
                // As the ingress publishes it: the subject names the instance.
                let subject = names::inbound_new_instance(&prefix, r.instance_id().as_str());
                let at = Instant::now();
                publisher.publish(&subject, &envelope).await?;
                anyhow::Ok((order_id, at))
            }
        })
        .buffer_unordered(PUBLISH_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let sent: HashMap<String, Instant> = sent.into_iter().collect();

    let mut latencies = hdrhistogram::Histogram::<u64>::new(3).context("histogram")?;
    let mut last = started;
    let mut completed = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60) + Duration::from_millis(20 * n as u64);
    while completed < n {
        let Ok(Some(message)) = tokio::time::timeout_at(deadline, active.next()).await else { break };
        let Ok(envelope) = serde_json::from_slice::<Envelope<DomainEvent>>(&message.payload) else { continue };
        let DomainEvent::InstanceActive { order_id, .. } = envelope.data else { continue };
        if let Some(at) = sent.get(order_id.as_str()) {
            last = Instant::now();
            completed += 1;
            let _ = latencies.record(u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX));
        }
    }
    shutdown.cancel();
    let _ = running.await;
    let elapsed = last.duration_since(started);
    let us = |q: f64| Duration::from_micros(latencies.value_at_quantile(q));
    Ok(BenchReport {
        orders: n,
        completed,
        elapsed,
        orders_per_sec: if elapsed.is_zero() { 0.0 } else { completed as f64 / elapsed.as_secs_f64() },
        p50: us(0.5),
        p99: us(0.99),
        max: Duration::from_micros(latencies.max()),
        database: if koofill_store::is_sqlite(&cfg.database.url) { "sqlite" } else { "postgres" },
    })
}
