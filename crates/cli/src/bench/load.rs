//! The load generator: closed-loop (as fast as C workers can go) and open-loop (paced at a rate,
//! latency measured from each request's scheduled time, so a stalled server cannot hide its queue).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures::future::join_all;
use hdrhistogram::Histogram;
use tokio::sync::Mutex;

/// Builds and sends request number `i`; returns whether the answer was a success.
pub trait Target: Send + Sync + 'static {
    /// Sends one request.
    fn send(&self, i: u64) -> impl std::future::Future<Output = bool> + Send;
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Requests answered with success.
    pub ok: u64,
    /// Requests that failed or were answered with an error.
    pub failed: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latency histogram in microseconds.
    pub latency_us: Histogram<u64>,
}

impl Report {
    /// A latency quantile in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }
}

/// What a run measured, without the histogram: what the ingress benchmark prints, and what
/// `koofill bench generate` (the generator in a process of its own) hands back as JSON.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Requests answered with success.
    pub ok: u64,
    /// Requests that failed or were answered with an error.
    pub failed: u64,
    /// Wall time of the run, seconds.
    pub elapsed_secs: f64,
    /// Latency quantiles, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
}

impl Summary {
    /// The summary of a run.
    pub fn of(report: &Report) -> Self {
        Self {
            ok: report.ok,
            failed: report.failed,
            elapsed_secs: report.elapsed.as_secs_f64(),
            p50_ms: report.quantile_ms(0.5),
            p99_ms: report.quantile_ms(0.99),
            p999_ms: report.quantile_ms(0.999),
        }
    }

    /// Successful requests per second.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed_secs.max(1e-9)
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 60 s at 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

/// `workers` loops sending back to back for `duration`.
pub async fn closed_loop<T: Target>(target: Arc<T>, workers: usize, duration: Duration, offset: u64) -> Report {
    let next = Arc::new(AtomicU64::new(offset));
    let hist = Arc::new(Mutex::new(histogram()));
    let failed = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let tasks = (0..workers.max(1)).map(|_| {
        let (target, next, hist, failed, ok) = (target.clone(), next.clone(), hist.clone(), failed.clone(), ok.clone());
        tokio::spawn(async move {
            let mut local = histogram();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                if target.send(i).await {
                    ok.fetch_add(1, Ordering::Relaxed);
                    let _ = local.record(t.elapsed().as_micros() as u64);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            let _ = hist.lock().await.add(&local);
        })
    });
    join_all(tasks).await;
    let elapsed = started.elapsed();
    let latency_us = hist.lock().await.clone();
    Report { ok: ok.load(Ordering::Relaxed), failed: failed.load(Ordering::Relaxed), elapsed, latency_us }
}

/// Sends `rate` requests per second for `duration`, each at its scheduled time, whatever the
/// answers take (open loop).
pub async fn open_loop<T: Target>(target: Arc<T>, rate: u64, duration: Duration, offset: u64) -> Report {
    let total = (rate as f64 * duration.as_secs_f64()).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let hist = Arc::new(Mutex::new(histogram()));
    let failed = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(total as usize);
    for n in 0..total {
        let scheduled = started + interval.mul_f64(n as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let (target, hist, failed, ok) = (target.clone(), hist.clone(), failed.clone(), ok.clone());
        handles.push(tokio::spawn(async move {
            if target.send(offset + n).await {
                ok.fetch_add(1, Ordering::Relaxed);
                let _ = hist.lock().await.record(scheduled.elapsed().as_micros() as u64);
            } else {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    join_all(handles).await;
    let elapsed = started.elapsed();
    let latency_us = hist.lock().await.clone();
    Report { ok: ok.load(Ordering::Relaxed), failed: failed.load(Ordering::Relaxed), elapsed, latency_us }
}
