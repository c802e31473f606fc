//! Worker-host tests against a real nats-server and database.
//!
//! [`greeter`] is a minimal worker registration: one typed handler that writes through a
//! `UnitOfWork`. The tests drive it through the host as a deployed worker runs: messages on the
//! bus, effects in the database, events published by the relay, `/healthz`, `/readyz` and
//! `/metrics` over HTTP, dead letters on the DLQ stream, and a graceful stop.
#![allow(clippy::unwrap_used)]

mod effects;
mod greeter;
mod relay;
mod serving;
mod support;
