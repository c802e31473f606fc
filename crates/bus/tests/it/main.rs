//! koofill-bus against a real nats-server (one per test, on a free port, with a temp store).
// Test helpers outside #[test] functions may unwrap too: a failure is a failed test.
#![allow(clippy::unwrap_used)]

mod consumer;
mod dlq;
mod replay;
mod rpc;
mod stall;
mod topology;
mod views;

use std::time::Duration;

use koofill_bus::{Bus, topology::TopologyOptions};
use koofill_testkit::TestNats;

pub const PREFIX: &str = "koofill";

/// A server with koofill's topology in place.
pub async fn bus() -> (TestNats, Bus) {
    let nats = TestNats::start();
    let bus = koofill_bus::connect(&nats.url(), PREFIX, "test", Duration::from_secs(2), Duration::from_secs(2), true)
        .await
        .expect("connects");
    koofill_bus::topology::ensure(&bus.js, &options()).await.expect("topology");
    (nats, bus)
}

pub fn options() -> TopologyOptions {
    TopologyOptions { prefix: PREFIX.into(), replicas: 1, clock_skew: Duration::from_secs(60) }
}
