//! Metering end to end: a real nats-server, a fresh database (PostgreSQL when
//! `KOOFILL_TEST_DATABASE_URL` is set), the simulator's usage-push endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cycles;
mod exactly_once;
mod ingress;
mod instances;
mod ledger;
mod support;
