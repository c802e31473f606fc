//! The SSO broker over real HTTP: a real nats-server, SQLite (and PostgreSQL when
//! `KOOFILL_TEST_DATABASE_URL` is set), and the simulator as the tenants' KooGallery.
// Helpers outside `#[test]` functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod assertions;
mod flow;
mod logs;
mod refusals;
mod support;
