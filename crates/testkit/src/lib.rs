//! Test support for koofill: the real pieces a test needs, private to that test.
//!
//! - [`TestNats`] runs the `nats-server` found on `PATH` (Debian's package, the 2.9 floor) with
//!   JetStream, on a free loopback port, with its store in a temporary directory. It can be
//!   stopped and restarted on the same port with the same store, for outage tests. The machine's
//!   own NATS is never used.
//! - [`TestDb`] gives each test a fresh database: `test_<uuid>` created on the PostgreSQL server
//!   named by `KOOFILL_TEST_DATABASE_URL`, or a temporary SQLite file when that is unset.
//! - [`sign_basic`], [`sign_kit`], [`sign_v1`] and [`sign_kit_v1`] sign requests the way KooGallery does
//!   (spec §2.1–§2.3), with a fresh nonce per call; [`CallbackClient`] sends them to an ingress
//!   and returns the reply with its `Body-Sign` header.
//! - [`spec_example`] returns the request bodies of the spec's examples.
//! - [`inbound`] builds the envelopes the ingress publishes, through the same `koofill-model`
//!   functions, for tests that publish callbacks to the bus themselves.
//!
//! Used by tests only; nothing here is meant for production code.
//!
//! ```no_run
//! # async fn demo() {
//! use koofill_testkit::{CallbackClient, TestDb, TestNats, spec_example};
//!
//! let nats = TestNats::start();
//! let db = TestDb::fresh().await;
//! // ... start the ingress with `nats.url()` and `db.url()`, listening on some port ...
//! let client = CallbackClient::new("http://127.0.0.1:8080/kg/produce", "basic-key", "kit-key");
//! let reply = client.send_basic(&spec_example("newInstance")).await;
//! assert_eq!(reply.result_code(), "000000");
//! assert!(reply.verify_body_sign(b"basic-key"));
//! # }
//! ```
#![warn(missing_docs)]

mod client;
mod db;
pub mod fixtures;
pub mod inbound;
mod nats;
mod sign;

pub use client::{CallbackClient, CallbackReply};
pub use db::{DATABASE_URL_ENV, TestDb};
pub use fixtures::{spec_example, spec_example_text};
pub use nats::TestNats;
pub use sign::{
    BasicSignature, KitHeaders, SignedBasic, WireBody, now_ms, random_nonce, sign_basic, sign_kit, sign_kit_v1,
    sign_v1, v1_time_stamp, wire_json,
};
