//! Ports for the processes the suite starts and restarts.
//!
//! A port found by binding `127.0.0.1:0` and letting go comes from the kernel's ephemeral range,
//! the same range every outgoing connection (the proxies', the load's) draws its local port
//! from; between letting go and the service binding it — or while a `nats-server` is down for a
//! restart on the same port — an outgoing connection can take it, and the service never comes
//! up. Ports below the ephemeral range are never handed to outgoing connections, and none is
//! handed out twice in one run.

use std::{
    collections::HashSet,
    net::TcpListener,
    sync::{Mutex, PoisonError},
};

use anyhow::Context;
use rand::Rng;

/// Where the search starts: clear of the well-known and registered services most machines run.
const LOWEST: u16 = 20_000;

/// Ports handed out in this run.
static TAKEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// The first port of the kernel's ephemeral range (Linux; 32768 elsewhere, the common default).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
        .unwrap_or(32_768)
}

/// A loopback port below the ephemeral range that is free now and not handed out before.
///
/// # Errors
/// When no port in the range can be bound.
pub fn free_port() -> anyhow::Result<u16> {
    let highest = ephemeral_start().max(LOWEST + 1_000);
    let mut taken = TAKEN.lock().unwrap_or_else(PoisonError::into_inner);
    let taken = taken.get_or_insert_with(HashSet::new);
    for _ in 0..1_000 {
        let port = rand::thread_rng().gen_range(LOWEST..highest);
        if taken.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            taken.insert(port);
            return Ok(port);
        }
    }
    None.with_context(|| format!("no free loopback port between {LOWEST} and {highest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_outside_the_ephemeral_range_and_never_repeat() {
        let ports: Vec<u16> = (0..200).map(|_| free_port().expect("a port")).collect();
        let unique: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(unique.len(), ports.len());
        assert!(ports.iter().all(|p| (LOWEST..ephemeral_start().max(LOWEST + 1_000)).contains(p)));
    }
}
