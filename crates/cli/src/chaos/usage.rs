//! Usage events, posted to `POST /v1/usage` the way a seller's product posts them: batches of
//! 20, paced by the orders' progress so they flow through the fault, a tenth of every batch repeated from the one before (a producer re-sending after a lost
//! answer), and a batch not answered `202` sent again, identical, until it is.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use koofill_model::usage::Quantity;
use serde_json::{Value, json};

/// Events per request.
const BATCH: usize = 20;
/// Instances the events are spread over.
const INSTANCES: usize = 40;

/// How the producer fared.
#[derive(Debug, Default)]
pub struct UsageSent {
    /// Distinct events whose batch was answered `202`, by ID, with their value.
    pub acknowledged: BTreeMap<String, Quantity>,
    /// Events sent, repeats included.
    pub events_sent: u64,
    /// Batches never answered `202` within the producer's patience.
    pub unacknowledged_batches: usize,
    /// Answers with a 5xx status other than 503 (503 is the documented "repeat it" answer).
    pub server_errors: u64,
    /// Answers `422`: valid events refused.
    pub refused: u64,
}

/// The instance every usage instance ID starts with; the check sums the windows of these.
pub const INSTANCE_PREFIX: &str = "chaos-usage-";

fn event(seed: u64, k: usize, at: &str) -> (String, Value, Quantity) {
    let id = format!("ev-{seed}-{k:07}");
    // Three decimals, never zero: exact arithmetic is what is checked.
    let value = format!("{}.{:03}", k % 7, 1 + k % 997);
    let quantity = Quantity::parse(&value).unwrap_or_else(|_| unreachable!("a plain decimal"));
    let body = json!({"instance_id": format!("{INSTANCE_PREFIX}{:02}", k % INSTANCES), "usage_value": value,
        "event_id": id, "occurred_at": at});
    (id, body, quantity)
}

/// Posts `count` distinct events to `url` (`…/v1/usage`) with `token`, event `k` once
/// `orders_done` has reached `k`.
pub async fn send_usage(
    url: String,
    token: &str,
    count: usize,
    seed: u64,
    patience: Duration,
    orders_done: Arc<AtomicU64>,
) -> UsageSent {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(6)).build().unwrap_or_default();
    let deadline = tokio::time::Instant::now() + patience;
    let at = chrono::Utc::now().to_rfc3339();
    let mut sent = UsageSent::default();
    let mut previous: Vec<(String, Value, Quantity)> = Vec::new();
    for start in (0..count).step_by(BATCH) {
        // Event k goes out once k orders are done: usage keeps flowing while the fault lasts.
        while orders_done.load(Ordering::Relaxed) < start as u64 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let fresh: Vec<_> = (start..(start + BATCH).min(count)).map(|k| event(seed, k, &at)).collect();
        let repeats = previous.iter().step_by(10).cloned();
        let batch: Vec<_> = fresh.iter().cloned().chain(repeats).collect();
        let body = json!({"events": batch.iter().map(|(_, v, _)| v.clone()).collect::<Vec<_>>()});
        let mut backoff = Duration::from_millis(200);
        let acknowledged = loop {
            sent.events_sent += batch.len() as u64;
            match http.post(&url).bearer_auth(token).json(&body).send().await {
                Ok(answer) if answer.status().as_u16() == 202 => break true,
                Ok(answer) if answer.status().as_u16() == 422 => sent.refused += 1,
                Ok(answer) if answer.status().is_server_error() && answer.status().as_u16() != 503 => {
                    sent.server_errors += 1;
                }
                // 503 (not stored), 401/404 from a restarting process, or no answer: again.
                Ok(_) | Err(_) => {}
            }
            if tokio::time::Instant::now() + backoff > deadline {
                break false;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        };
        if acknowledged {
            for (id, _, quantity) in &batch {
                sent.acknowledged.insert(id.clone(), *quantity);
            }
        } else {
            sent.unacknowledged_batches += 1;
        }
        previous = fresh;
    }
    sent
}

/// The sum of `values`.
pub fn total<'a>(values: impl IntoIterator<Item = &'a Quantity>) -> Option<Quantity> {
    values.into_iter().try_fold(Quantity::ZERO, |sum, q| sum.checked_add(*q))
}
