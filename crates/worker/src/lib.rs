//! The worker host: one runtime for every koofill worker.
//!
//! A worker is a folder of handlers plus one registration. The host owns everything else:
//!
//! - connecting to NATS (waiting for it with `--wait-for`) and ensuring the topology, also after
//!   every reconnect;
//! - connecting to the database and applying migrations;
//! - the typed consumers, run by the [`koofill_bus::consumer`] runner with the retry policy of
//!   `[consumer]` (transient failures retried for `retry_horizon_secs`, permanent ones
//!   dead-lettered at once, a deadline per handler invocation);
//! - request-reply responders;
//! - the outbox [`Relay`] that publishes what the [`UnitOfWork`](koofill_store::UnitOfWork)s
//!   committed;
//! - `/healthz`, `/readyz` (NATS connected, database reachable, consumers bound) and `/metrics`
//!   on `worker.listen`;
//! - graceful shutdown: stop fetching, let in-flight handlers finish within
//!   `shutdown.grace_secs`, then publish what is left in the outbox.
//!
//! Adding a worker:
//!
//! ```no_run
//! # use koofill_bus::consumer::{Delivery, Handler};
//! # #[derive(Debug)] struct Greeter;
//! # impl Handler for Greeter {
//! #     type Msg = serde_json::Value;
//! #     type Error = koofill_bus::BusError;
//! #     async fn handle(&self, _d: &Delivery<serde_json::Value>) -> Result<(), koofill_bus::BusError> { Ok(()) }
//! # }
//! # async fn demo(cfg: koofill_config::Config, shutdown: tokio_util::sync::CancellationToken) -> Result<(), koofill_worker::HostError> {
//! use koofill_worker::{HostBuilder, HostOptions, Source};
//! let mut host = HostBuilder::connect(&cfg, "koofill-greeter", HostOptions::default()).await?;
//! host.consumer("greeter", Source::Events("greeting.>".into()), Greeter).await?;
//! host.build()?.run(shutdown).await
//! # }
//! ```
#![warn(missing_docs)]

mod error;
mod events;
mod host;
mod http;
mod locks;
mod relay;

pub use error::HostError;
pub use events::EventFactory;
pub use host::{Host, HostBuilder, HostOptions, Readiness, Source};
pub use locks::{KeyGuard, KeyedLocks};
pub use relay::RelayMetrics;
pub use relay::{Relay, RelayError};
