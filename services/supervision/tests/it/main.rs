//! End-to-end tests of the supervision worker: a real nats-server, SQLite (and PostgreSQL when
//! `KOOFILL_TEST_DATABASE_URL` is set), an injected clock.
// Helpers outside `#[test]` functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod admin;
mod crash;
mod deadlines;
mod flow;
mod release;
mod scope;
mod support;
