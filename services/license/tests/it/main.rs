//! The license worker end to end: a real nats-server, SQLite (and PostgreSQL when
//! `KOOFILL_TEST_DATABASE_URL` is set), the simulator playing KooGallery's license APIs.
// Test helpers outside #[test] functions may unwrap too: a failure is a failed test.
#![allow(clippy::unwrap_used)]

mod crash;
mod lifecycle;
mod proxy;
mod python;
mod support;
