//! The open-loop load generator: signed callbacks sent at a fixed rate whatever the answers take,
//! at most `concurrency` in flight, latency measured from each request's scheduled time (so a
//! stalled server cannot hide its queue), into an HDR histogram.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::Semaphore;

use crate::callback::CallbackSender;
use crate::{SimError, SimKeys, bodies, table};

/// Histogram bounds: 1 µs to 60 s at 3 significant digits.
const HISTOGRAM_MAX_US: u64 = 60_000_000;

/// Which callbacks to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LoadActivity {
    /// newInstance for a fresh order each time (every request creates an instance).
    #[default]
    NewInstance,
    /// queryInstance for one instance created before the run.
    QueryInstance,
    /// orderNotify for a fresh order each time.
    OrderNotify,
    /// The three in turn.
    Mixed,
}

/// How hard and how long.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Requests per second.
    pub rate: u64,
    /// How long to send.
    pub duration: Duration,
    /// Most requests in flight; a request due while all slots are busy waits, and the wait counts
    /// in its latency.
    pub concurrency: usize,
    /// Which callbacks.
    pub activity: LoadActivity,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { rate: 100, duration: Duration::from_secs(10), concurrency: 64, activity: LoadActivity::default() }
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// The production address.
    pub target: String,
    /// The options of the run.
    pub options: LoadOptions,
    /// Requests sent.
    pub sent: u64,
    /// Requests that got an HTTP answer.
    pub answered: u64,
    /// Answers with the activity's success code (`000000`, or `000004` for create and query).
    pub ok: u64,
    /// Answers by `resultCode` (`HTTP <status>` for non-200 answers).
    pub by_code: BTreeMap<String, u64>,
    /// Requests that got no answer (refused, timed out).
    pub transport_errors: u64,
    /// Answers whose `Body-Sign` did not verify.
    pub bad_body_sign: u64,
    /// From the first scheduled send to the last answer.
    pub elapsed: Duration,
    /// Latency of answered requests, in microseconds, from their scheduled time.
    pub latency_us: Histogram<u64>,
}

impl LoadReport {
    /// Answers per second over the run.
    pub fn throughput(&self) -> f64 {
        self.answered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A latency quantile (0.5, 0.99, …) in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    /// Requests that were not a success, for any reason.
    pub fn errors(&self) -> u64 {
        self.sent - self.ok
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        writeln!(
            f,
            "load against {}: {}/s for {:.1} s, at most {} in flight, {:?}",
            self.target,
            o.rate,
            o.duration.as_secs_f64(),
            o.concurrency,
            o.activity
        )?;
        writeln!(
            f,
            "sent {}, answered {}, ok {}, no answer {}, bad Body-Sign {}",
            self.sent, self.answered, self.ok, self.transport_errors, self.bad_body_sign
        )?;
        writeln!(f, "throughput {:.1} answers/s over {}", self.throughput(), table::millis(self.elapsed))?;
        writeln!(
            f,
            "latency ms  p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            self.quantile_ms(0.5),
            self.quantile_ms(0.9),
            self.quantile_ms(0.99),
            self.quantile_ms(0.999),
            self.latency_us.max() as f64 / 1000.0
        )?;
        let rows: Vec<Vec<String>> = self.by_code.iter().map(|(code, n)| vec![code.clone(), n.to_string()]).collect();
        f.write_str(&table::render(&["answer", "count"], &rows))
    }
}

#[derive(Debug)]
struct Tally {
    answered: u64,
    ok: u64,
    transport_errors: u64,
    bad_body_sign: u64,
    by_code: BTreeMap<String, u64>,
    latency_us: Histogram<u64>,
}

/// Sends `options.rate` callbacks per second to `target` for `options.duration`.
///
/// # Errors
/// [`SimError`] only when the run cannot start (bad URL, HTTP client).
pub async fn load(target: &str, keys: &SimKeys, options: &LoadOptions) -> Result<LoadReport, SimError> {
    let sender = Arc::new(CallbackSender::new(target, keys.clone())?);
    let histogram = Histogram::new_with_bounds(1, HISTOGRAM_MAX_US, 3)
        .or_else(|_| Histogram::new(3))
        .unwrap_or_else(|_| unreachable!("3 significant digits is a valid precision"));
    let tally = Arc::new(Mutex::new(Tally {
        answered: 0,
        ok: 0,
        transport_errors: 0,
        bad_body_sign: 0,
        by_code: BTreeMap::new(),
        latency_us: histogram,
    }));
    let query_target = match options.activity {
        LoadActivity::QueryInstance | LoadActivity::Mixed => {
            let order = format!("CSLOAD{}", uuid::Uuid::new_v4().simple());
            let answer = sender.send_basic(&bodies::new_instance(&order, &crate::orders::line_id(&order), true)).await;
            answer.instance_id().map(str::to_owned).unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
        }
        _ => String::new(),
    };
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let total = (options.rate as f64 * options.duration.as_secs_f64()).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / options.rate.max(1) as f64);
    let slots = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for n in 0..total {
        let scheduled = started + interval.mul_f64(n as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let (sender, tally, slots) = (sender.clone(), tally.clone(), slots.clone());
        let activity = match options.activity {
            LoadActivity::Mixed => {
                [LoadActivity::NewInstance, LoadActivity::QueryInstance, LoadActivity::OrderNotify][(n % 3) as usize]
            }
            other => other,
        };
        let order = format!("CSL{}{n:08}", &run_id[..12]);
        let query_target = query_target.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(_slot) = slots.acquire_owned().await else { return };
            let line = crate::orders::line_id(&order);
            let (body, success): (_, &[&str]) = match activity {
                LoadActivity::QueryInstance => (bodies::query_instance(&query_target, true), &["000000", "000004"]),
                LoadActivity::OrderNotify => (bodies::order_notify(&order, &line, true), &["000000"]),
                _ => (bodies::new_instance(&order, &line, true), &["000000", "000004"]),
            };
            let exchange = sender.send_basic(&body).await;
            let latency = u64::try_from(scheduled.elapsed().as_micros()).unwrap_or(u64::MAX);
            let mut t = tally.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(status) = exchange.status.filter(|_| exchange.transport_error.is_none()) else {
                t.transport_errors += 1;
                return;
            };
            t.answered += 1;
            let _ = t.latency_us.record(latency.clamp(1, HISTOGRAM_MAX_US));
            let code = if status == 200 { exchange.result_code().to_owned() } else { format!("HTTP {status}") };
            if !exchange.body_sign_ok {
                t.bad_body_sign += 1;
            } else if success.contains(&code.as_str()) {
                t.ok += 1;
            }
            *t.by_code.entry(code).or_default() += 1;
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed();
    let t = tally.lock().unwrap_or_else(PoisonError::into_inner);
    Ok(LoadReport {
        target: sender.base_url().to_owned(),
        options: options.clone(),
        sent: total,
        answered: t.answered,
        ok: t.ok,
        by_code: t.by_code.clone(),
        transport_errors: t.transport_errors,
        bad_body_sign: t.bad_body_sign,
        elapsed,
        latency_us: t.latency_us.clone(),
    })
}
