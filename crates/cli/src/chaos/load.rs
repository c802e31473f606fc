//! The load: signed newInstance callbacks sent the way KooGallery sends them — an answer other
//! than `000000`, or none within 5 seconds, is retried later with a fresh nonce and timestamp.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use koofill_simulator::callback::CallbackSender;
use serde_json::json;

/// How the sender fared.
#[derive(Debug, Default)]
pub struct Sent {
    /// Orders whose newInstance was acknowledged (`000000`), with the instance ID answered.
    pub acknowledged: Vec<(String, String)>,
    /// Orders never acknowledged within the sender's patience.
    pub unacknowledged: Vec<String>,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Answers that took longer than KooGallery's 5 s.
    pub over_5s: u64,
    /// HTTP answers other than 200 (a 5xx would be a bug).
    pub non_200: u64,
}

/// Sends a newInstance for every order, `concurrency` at a time, each retried until
/// acknowledged or `patience` has passed; `progress` counts orders done.
pub async fn send_orders(
    sender: &CallbackSender,
    orders: &[String],
    concurrency: usize,
    patience: Duration,
    progress: Arc<AtomicU64>,
) -> Sent {
    let requests = Arc::new(AtomicU64::new(0));
    let over_5s = Arc::new(AtomicU64::new(0));
    let non_200 = Arc::new(AtomicU64::new(0));
    let results: Vec<(String, Option<String>)> = futures::stream::iter(orders.iter().cloned())
        .map(|order| {
            let (requests, over_5s, non_200, progress) =
                (Arc::clone(&requests), Arc::clone(&over_5s), Arc::clone(&non_200), Arc::clone(&progress));
            async move {
                let body = json!({
                    "activity": "newInstance",
                    "businessId": format!("biz-{order}"),
                    "orderId": order,
                    "orderLineId": koofill_simulator::orders::line_id(&order),
                    "testFlag": "0",
                });
                let deadline = tokio::time::Instant::now() + patience;
                let mut backoff = Duration::from_millis(200);
                let answer = loop {
                    requests.fetch_add(1, Ordering::Relaxed);
                    let exchange = sender.send_basic(&body).await;
                    match exchange.status {
                        _ if exchange.latency > Duration::from_secs(5) => {
                            over_5s.fetch_add(1, Ordering::Relaxed);
                        }
                        // No answer at all: the ingress was down (killed, restarting). KooGallery
                        // retries; it only counts against us when an answer was late or wrong.
                        None => {}
                        Some(200) => {}
                        Some(_) => {
                            non_200.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if exchange.result_code() == "000000"
                        && let Some(instance) = exchange.instance_id()
                    {
                        break Some(instance.to_owned());
                    }
                    if tokio::time::Instant::now() + backoff > deadline {
                        break None;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                };
                progress.fetch_add(1, Ordering::Relaxed);
                (order, answer)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut sent = Sent {
        requests: requests.load(Ordering::Relaxed),
        over_5s: over_5s.load(Ordering::Relaxed),
        non_200: non_200.load(Ordering::Relaxed),
        ..Sent::default()
    };
    for (order, answer) in results {
        match answer {
            Some(instance) => sent.acknowledged.push((order, instance)),
            None => sent.unacknowledged.push(order),
        }
    }
    sent
}
