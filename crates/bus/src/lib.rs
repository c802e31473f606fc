//! koofill's use of NATS JetStream, in one place.
//!
//! - [`names`]: every subject, stream, consumer and bucket name, derived from the configured prefix
//!   (`nats.prefix`, `koofill` by default) so that tests and tenants of a shared server stay apart.
//! - [`topology`]: the streams and KV buckets of architecture §4, created idempotently at start-up;
//!   differences from the expected configuration are reported, never "fixed" by deleting anything.
//! - [`Publisher`]: publishes an [`Envelope`](koofill_model::Envelope) with `Nats-Msg-Id` set to
//!   its deterministic id and the trace context in headers, and returns only once JetStream has
//!   stored it (a `duplicate` PubAck counts as stored).
//! - [`views`]: the KV views shared by replicas: the nonce replay cache and the instance view the
//!   ingress answers `queryInstance` from.
//! - [`consumer`]: the one generic pull-consumer runner: ack after the handler succeeds, NAK with a
//!   growing delay on retryable failures, progress while a handler runs long, and dead-letter then
//!   TERM when a message is poison or out of attempts.
//! - [`dlq`]: reading the dead letters back and redriving them (`koofill dlq`).
//! - [`rpc`]: JSON request-reply with trace propagation (used for `changeInstanceCheck`).
//!
//! The floor is nats-server 2.9: nothing here uses a 2.10+ feature, and `async-nats` is built
//! without the features that would let such APIs compile.
#![warn(missing_docs)]

mod connect;
pub mod consumer;
pub mod dlq;
mod error;
pub mod names;
mod publisher;
pub mod rpc;
pub mod topology;
pub mod views;

pub use connect::{Bus, connect};
pub use error::BusError;
pub use publisher::{CLAIM_HEADER, Once, Publisher, replay_key};
