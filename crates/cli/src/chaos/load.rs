//! The load: signed callbacks sent the way KooGallery sends them — an answer other than
//! `000000`, or none within 5 seconds, is retried later with a fresh nonce and timestamp. Each
//! order follows a [`Plan`]: opened, then renewed, frozen, frozen and unfrozen, or released.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use koofill_simulator::{bodies, callback::CallbackSender};
use serde_json::{Value, json};

/// What an order goes through after its newInstance, chosen by its position so a seed repeats
/// the same mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Opened only.
    Open,
    /// Opened, then renewed (`refreshInstance`, `RENEWAL`): active with the new expiry.
    Renew,
    /// Opened, then frozen: frozen.
    Freeze,
    /// Opened, frozen, unfrozen: active.
    FreezeUnfreeze,
    /// Opened, then released: released.
    Release,
}

impl Plan {
    /// The plan of the `index`th order: an even mix of the five.
    pub fn of(index: usize) -> Self {
        match index % 5 {
            0 => Self::Open,
            1 => Self::Renew,
            2 => Self::Freeze,
            3 => Self::FreezeUnfreeze,
            _ => Self::Release,
        }
    }

    /// The callbacks this plan sends after the newInstance.
    fn steps(self) -> &'static [Step] {
        match self {
            Self::Open => &[],
            Self::Renew => &[Step::Renew],
            Self::Freeze => &[Step::Freeze],
            Self::FreezeUnfreeze => &[Step::Freeze, Step::Unfreeze],
            Self::Release => &[Step::Release],
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Renew,
    Freeze,
    Unfreeze,
    Release,
}

/// One order acknowledged through its whole plan.
#[derive(Debug, Clone)]
pub struct Done {
    /// The order.
    pub order: String,
    /// The instance ID koofill answered.
    pub instance: String,
    /// What was sent after the newInstance.
    pub plan: Plan,
}

/// How the sender fared.
#[derive(Debug, Default)]
pub struct Sent {
    /// Orders whose every callback was acknowledged (`000000`).
    pub acknowledged: Vec<Done>,
    /// Orders with a callback never acknowledged within the sender's patience.
    pub unacknowledged: Vec<String>,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Answers that took longer than KooGallery's 5 s.
    pub over_5s: u64,
    /// HTTP answers other than 200 (a 5xx would be a bug).
    pub non_200: u64,
}

/// The expiry every renewal sets: the same for all, so the check needs no per-order record.
pub fn renewed_expiry(start: DateTime<Utc>) -> String {
    let at = start.checked_add_months(chrono::Months::new(13)).unwrap_or(start);
    koofill_model::time::format_compact14(at)
}

/// Counters shared by every order's task.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    over_5s: AtomicU64,
    non_200: AtomicU64,
}

/// Sends one callback until it is acknowledged or the deadline passes; the body is rebuilt for
/// every attempt, as KooGallery signs every retry afresh.
async fn until_acknowledged(
    sender: &CallbackSender,
    counters: &Counters,
    deadline: tokio::time::Instant,
    body: impl Fn() -> Value,
) -> Option<koofill_simulator::callback::Exchange> {
    let mut backoff = Duration::from_millis(200);
    loop {
        counters.requests.fetch_add(1, Ordering::Relaxed);
        let exchange = sender.send_basic(&body()).await;
        match exchange.status {
            _ if exchange.latency > Duration::from_secs(5) => {
                counters.over_5s.fetch_add(1, Ordering::Relaxed);
            }
            // No answer at all: the ingress was down (killed, restarting). KooGallery retries;
            // it only counts against us when an answer was late or wrong.
            None | Some(200) => {}
            Some(_) => {
                counters.non_200.fetch_add(1, Ordering::Relaxed);
            }
        }
        if exchange.result_code() == "000000" {
            return Some(exchange);
        }
        if tokio::time::Instant::now() + backoff > deadline {
            return None;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Runs one order's plan; the instance ID when every callback was acknowledged.
async fn run_plan(
    sender: &CallbackSender,
    counters: &Counters,
    order: &str,
    plan: Plan,
    renew_to: &str,
    patience: Duration,
) -> Option<String> {
    let deadline = tokio::time::Instant::now() + patience;
    let line = koofill_simulator::orders::line_id(order);
    let opened = until_acknowledged(sender, counters, deadline, || {
        json!({"activity": "newInstance", "businessId": format!("biz-{order}"), "orderId": order,
            "orderLineId": line, "testFlag": "0"})
    })
    .await?;
    let instance = opened.instance_id()?.to_owned();
    for step in plan.steps() {
        let body = || match step {
            Step::Renew => bodies::refresh_instance(
                &instance,
                &format!("{order}R"),
                &format!("{line}R"),
                "RENEWAL",
                None,
                renew_to,
                false,
            ),
            Step::Freeze => bodies::update_instance_status(&instance, "FREEZE", false),
            Step::Unfreeze => bodies::update_instance_status(&instance, "UNFREEZE", false),
            Step::Release => bodies::release_instance(&instance, None, false),
        };
        until_acknowledged(sender, counters, deadline, body).await?;
    }
    Some(instance)
}

/// Sends every order's plan, `concurrency` orders at a time, each callback retried until
/// acknowledged or `patience` has passed; `progress` counts orders done.
pub async fn send_orders(
    sender: &CallbackSender,
    orders: &[String],
    concurrency: usize,
    patience: Duration,
    renew_to: &str,
    progress: Arc<AtomicU64>,
) -> Sent {
    let counters = Arc::new(Counters::default());
    let results: Vec<(String, Plan, Option<String>)> = futures::stream::iter(orders.iter().cloned().enumerate())
        .map(|(index, order)| {
            let (sender, counters, progress) = (sender.clone(), Arc::clone(&counters), Arc::clone(&progress));
            let renew_to = renew_to.to_owned();
            async move {
                let plan = Plan::of(index);
                let instance = run_plan(&sender, &counters, &order, plan, &renew_to, patience).await;
                progress.fetch_add(1, Ordering::Relaxed);
                (order, plan, instance)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut sent = Sent {
        requests: counters.requests.load(Ordering::Relaxed),
        over_5s: counters.over_5s.load(Ordering::Relaxed),
        non_200: counters.non_200.load(Ordering::Relaxed),
        ..Sent::default()
    };
    for (order, plan, instance) in results {
        match instance {
            Some(instance) => sent.acknowledged.push(Done { order, instance, plan }),
            None => sent.unacknowledged.push(order),
        }
    }
    sent
}
