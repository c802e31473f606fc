//! Peak consumer lag: how far the workers fell behind while the fault lasted and after. Sampled
//! twice a second from the JetStream API, straight from the server (not through the proxy the
//! fault cuts): messages not yet delivered plus delivered and not yet acknowledged, summed over
//! every durable consumer of the inbound and usage streams.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;

/// The streams whose consumers are watched.
const STREAMS: [&str; 2] = ["KOOFILL_INBOUND", "KOOFILL_USAGE"];

/// A running sampler; the peak so far in [`LagSampler::peak`].
#[derive(Debug)]
pub struct LagSampler {
    peak: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl LagSampler {
    /// Starts sampling the server at `addr`.
    pub fn start(addr: std::net::SocketAddr) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&peak);
        let task = tokio::spawn(async move {
            let options = async_nats::ConnectOptions::new().retry_on_initial_connect();
            let Ok(client) = options.connect(addr.to_string()).await else { return };
            let js = async_nats::jetstream::new(client);
            loop {
                // A server restarting or a stream not yet created: no sample this time.
                if let Ok(Ok(lag)) = tokio::time::timeout(Duration::from_secs(2), total(&js)).await {
                    seen.fetch_max(lag, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        Self { peak, task }
    }

    /// The highest lag sampled.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for LagSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn total(js: &async_nats::jetstream::Context) -> anyhow::Result<u64> {
    let mut lag = 0;
    for name in STREAMS {
        let stream = js.get_stream(name).await?;
        let mut consumers = stream.consumers();
        while let Some(info) = consumers.next().await {
            let info = info?;
            lag += info.num_pending + info.num_ack_pending as u64;
        }
    }
    Ok(lag)
}
