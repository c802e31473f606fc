//! Integration tests of koofill-testkit against real processes: nats-server, PostgreSQL (when
//! `KOOFILL_TEST_DATABASE_URL` is set) and a stub HTTP server.

mod client;
mod db;
mod nats;
