//! The metering worker: pay-per-use usage counted exactly once in billing windows and pushed to
//! KooGallery's usage push (spec §8.3) before each collection (architecture §6).
//!
//! Consumes (durable pull consumers):
//! - `metering` on `<prefix>.usage.>` (`KOOFILL_USAGE`, a work queue): usage batches
//!   ([`koofill_model::usage::UsageBatch`], schema `proto/bus/usage-batch.schema.json`) from
//!   `POST /v1/usage` or published directly by the seller's producers ([`ingest`]);
//! - `metering-instances` on `<prefix>.event.instance.>`: which instances exist, are frozen or
//!   released ([`instances`]).
//!
//! Runs the push scheduler ([`ledger`]) every `metering.tick_secs`. Emits `usage.window_pushed`.
//!
//! Tables owned (crate `koofill-store`): `usage_events` (the event inbox,
//! `UNIQUE(instance_id, event_id)`), `usage_windows` (totals and the ledger), `usage_pushes`,
//! `metering_instances`; shared: `inbox`, `outbox`.
//!
//! Arithmetic is exact ([`koofill_model::usage::Quantity`]: 8 decimals in an integer); a window's
//! total is rounded once, to 4 decimals half away from zero, when its record is built.
#![warn(missing_docs)]

pub mod clock;
mod error;
pub mod ingest;
pub mod instances;
pub mod ledger;
pub mod metrics;
pub mod push;
pub mod window;
mod worker;

pub use error::{MeteringError, StartError};
pub use worker::{BuildOptions, SERVICE, SOURCE, Worker, push_client, run};
