//! `--wait-for SECS`: wait until dependencies accept TCP connections, for orchestrators that start
//! everything at once.

use std::time::{Duration, Instant};

use anyhow::Context;

/// The `host:port` of a `nats://` (or `tls://`) URL; the first when several are listed.
pub fn host_port(url: &str) -> Option<String> {
    let first = url.split(',').next()?.trim();
    let rest = first.split_once("://").map_or(first, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host_port = rest.split('/').next()?;
    Some(if host_port.contains(':') { host_port.to_owned() } else { format!("{host_port}:4222") })
}

/// Whether something accepts TCP connections at `addr` within `timeout`.
pub async fn reachable(addr: &str, timeout: Duration) -> bool {
    matches!(tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await, Ok(Ok(_)))
}

/// Waits until NATS at `url` accepts connections, for at most `limit`.
///
/// # Errors
/// When it does not within `limit`.
pub async fn nats(url: &str, limit: Duration) -> anyhow::Result<()> {
    let addr = host_port(url).with_context(|| format!("nats.url {:?} has no host", koofill_config::redact_url(url)))?;
    let started = Instant::now();
    while started.elapsed() < limit {
        if reachable(&addr, Duration::from_millis(500)).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    anyhow::bail!("NATS at {addr} did not accept connections within {} s", limit.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_host_and_port_from_urls() {
        assert_eq!(host_port("nats://127.0.0.1:4222").as_deref(), Some("127.0.0.1:4222"));
        assert_eq!(host_port("nats://user:pw@nats:4223,nats://b:1").as_deref(), Some("nats:4223"));
        assert_eq!(host_port("nats").as_deref(), Some("nats:4222"));
    }
}
