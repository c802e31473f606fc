//! The load: signed callbacks sent the way KooGallery sends them — an answer other than
//! `000000`, or none within 5 seconds, is retried later with a fresh nonce and timestamp. Each
//! order follows a [`Plan`]: opened, then renewed, frozen, frozen and unfrozen, released, or
//! bound to an enterprise (Kit); or, for a License 2.0 order, its code renewed and frozen.

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
    /// Opened, then bound to an enterprise through the Kit syncs (tenantSync, then authSync with
    /// two users): active, the tenant and both users in the directory.
    Kit,
    /// A License 2.0 code (no instance): renewed (`refreshLicenseCode`), then frozen
    /// (`updateLicenseCodeStatus`): frozen with the new expiry.
    License,
}

impl Plan {
    /// How many plans there are: the mix repeats every this many orders.
    pub const COUNT: usize = 7;

    /// The plan of the `index`th order: an even mix of the seven.
    pub fn of(index: usize) -> Self {
        match index % Self::COUNT {
            0 => Self::Open,
            1 => Self::Renew,
            2 => Self::Freeze,
            3 => Self::FreezeUnfreeze,
            4 => Self::Release,
            5 => Self::Kit,
            _ => Self::License,
        }
    }

    /// The callbacks this plan sends after the newInstance (or, for a license, instead of it).
    fn steps(self) -> &'static [Step] {
        match self {
            Self::Open => &[],
            Self::Renew => &[Step::Renew],
            Self::Freeze => &[Step::Freeze],
            Self::FreezeUnfreeze => &[Step::Freeze, Step::Unfreeze],
            Self::Release => &[Step::Release],
            Self::Kit => &[Step::TenantSync, Step::AuthSync],
            Self::License => &[Step::RenewLicense, Step::FreezeLicense],
        }
    }

    /// Whether the plan opens an instance (every one but the license code's).
    pub fn opens_instance(self) -> bool {
        self != Self::License
    }
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Renew,
    Freeze,
    Unfreeze,
    Release,
    TenantSync,
    AuthSync,
    RenewLicense,
    FreezeLicense,
}

/// The license code of a License plan's order.
pub fn license_code(order: &str) -> String {
    format!("L{order}")
}

/// The enterprise a Kit plan's order is bound to.
pub fn tenant_of(order: &str) -> String {
    format!("T{order}")
}

/// The application a Kit plan's users are authorised for.
pub fn app_of(order: &str) -> String {
    format!("A{order}")
}

/// The users a Kit plan authorises.
pub const KIT_USERS: [&str; 2] = ["zhangsan01", "lisi02"];

/// One request, as KooGallery would send it.
enum Call {
    Basic(Value),
    Kit(&'static str, Value),
}

/// One order acknowledged through its whole plan.
#[derive(Debug, Clone)]
pub struct Done {
    /// The order.
    pub order: String,
    /// The instance ID koofill answered (for a License plan, the license code).
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
    call: impl Fn() -> Call,
) -> Option<koofill_simulator::callback::Exchange> {
    let mut backoff = Duration::from_millis(200);
    loop {
        counters.requests.fetch_add(1, Ordering::Relaxed);
        let exchange = match call() {
            Call::Basic(body) => sender.send_basic(&body).await,
            Call::Kit(interface, body) => sender.send_kit(interface, &body).await,
        };
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
    let instance = if plan.opens_instance() {
        let opened = until_acknowledged(sender, counters, deadline, || {
            Call::Basic(json!({"activity": "newInstance", "businessId": format!("biz-{order}"), "orderId": order,
                "orderLineId": line, "testFlag": "0"}))
        })
        .await?;
        opened.instance_id()?.to_owned()
    } else {
        license_code(order)
    };
    let tenant = bodies::Tenant {
        tenant_id: tenant_of(order),
        tenant_code: format!("c{order}"),
        name: "故障演练企业".to_owned(),
        domain_name: "https://tenant.chaos.example".to_owned(),
    };
    let users: Vec<Value> = KIT_USERS.iter().map(|u| bodies::user(u, u, "10000", "user")).collect();
    for step in plan.steps() {
        let call = || match step {
            Step::Renew => Call::Basic(bodies::refresh_instance(
                &instance,
                &format!("{order}R"),
                &format!("{line}R"),
                "RENEWAL",
                None,
                renew_to,
                false,
            )),
            Step::Freeze => Call::Basic(bodies::update_instance_status(&instance, "FREEZE", false)),
            Step::Unfreeze => Call::Basic(bodies::update_instance_status(&instance, "UNFREEZE", false)),
            Step::Release => Call::Basic(bodies::release_instance(&instance, None, false)),
            Step::TenantSync => Call::Kit("tenantSync", bodies::tenant_sync(&instance, order, &tenant, 1, false)),
            Step::AuthSync => {
                Call::Kit("authSync", bodies::auth_sync(&instance, &tenant.tenant_id, &app_of(order), &users, 1, false))
            }
            Step::RenewLicense => {
                Call::Basic(bodies::refresh_license_code(&instance, order, &line, "RENEWAL", renew_to, false))
            }
            Step::FreezeLicense => Call::Basic(bodies::update_license_code_status(&instance, "FREEZE", false)),
        };
        until_acknowledged(sender, counters, deadline, call).await?;
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
