//! The worker against a real nats-server (one per test), a real database (SQLite, or PostgreSQL
//! when `KOOFILL_TEST_DATABASE_URL` is set) and a query-order stand-in that checks APIG
//! signatures. Messages are published exactly as the ingress publishes them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bench;
mod directory;
mod failures;
mod lifecycle;
mod support;
