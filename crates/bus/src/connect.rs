//! Connecting to NATS.

use std::{sync::Arc, time::Duration};

use async_nats::{Client, ConnectOptions, Event, jetstream};
use tokio::sync::Notify;

use crate::BusError;

/// A connected client with its JetStream context and the name prefix.
#[derive(Debug, Clone)]
pub struct Bus {
    /// The core client (request-reply, connection state).
    pub client: Client,
    /// The JetStream context.
    pub js: jetstream::Context,
    /// The configured prefix of every name.
    pub prefix: String,
    /// Notified each time the client (re)connects; a restarted server may have lost memory-backed
    /// streams, which [`crate::topology::keep_ensured`] recreates.
    pub connected: Arc<Notify>,
}

impl Bus {
    /// Whether the client is connected right now.
    pub fn is_connected(&self) -> bool {
        matches!(self.client.connection_state(), async_nats::connection::State::Connected)
    }
}

/// Connects to `url` (one server, or a comma-separated list of a cluster's servers) as `name`.
///
/// The client reconnects forever in the background, so a NATS outage after start-up makes calls
/// fail (and callbacks answer `000005`) until the server is back, without a restart. With
/// `wait_for_initial` false the first connection is also made in the background, so a service can
/// start (and report not-ready) before NATS is up.
///
/// # Errors
/// [`BusError::Connect`] when `wait_for_initial` is set and the server does not answer within
/// `connect_timeout`.
pub async fn connect(
    url: &str,
    prefix: &str,
    name: &str,
    connect_timeout: Duration,
    request_timeout: Duration,
    wait_for_initial: bool,
) -> Result<Bus, BusError> {
    let connected = Arc::new(Notify::new());
    let notify = Arc::clone(&connected);
    let mut options = ConnectOptions::new()
        .event_callback(move |event| {
            let notify = Arc::clone(&notify);
            async move {
                if matches!(event, Event::Connected) {
                    notify.notify_one();
                }
            }
        })
        .name(name)
        .connection_timeout(connect_timeout)
        .request_timeout(Some(request_timeout))
        // Keep retrying; the default of 60 retries would leave a long outage unrecoverable.
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| Duration::from_millis((100 * attempts as u64).min(2_000)));
    if !wait_for_initial {
        options = options.retry_on_initial_connect();
    }
    // A comma-separated list names several servers of a cluster; the client picks among them
    // (shuffled) and fails over, and also learns the rest of the cluster from the server.
    let servers = url
        .split(',')
        .map(|one| one.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BusError::Connect { url: koofill_config::redact_url(url), source: Box::new(e) })?;
    let client = options
        .connect(servers)
        .await
        .map_err(|e| BusError::Connect { url: koofill_config::redact_url(url), source: Box::new(e) })?;
    let mut js = jetstream::new(client.clone());
    js.set_timeout(request_timeout);
    Ok(Bus { client, js, prefix: prefix.to_owned(), connected })
}
