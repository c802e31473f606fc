//! koofill's observability: logs, traces and metrics, set up the same way in every service.
//!
//! - [`init`] installs the global `tracing` subscriber once per process: an `EnvFilter`d log layer
//!   (text or JSON; `RUST_LOG` wins over `telemetry.log_filter`) and an OpenTelemetry layer. The
//!   W3C TraceContext propagator is always installed and spans always get OpenTelemetry ids, so
//!   trace context passes through NATS and HTTP even when nothing is exported; with
//!   `telemetry.otlp_endpoint` set, spans are also batched to that collector over OTLP/HTTP. The
//!   returned [`TelemetryGuard`] flushes them on [`TelemetryGuard::shutdown`] (or drop), which a
//!   service calls last, after its own tasks have drained.
//! - [`init_for_tests`] does the same once per test binary, with the test writer and no exporter.
//! - [`nats`] carries the trace context in NATS headers: the publisher calls [`nats::inject`], the
//!   consumer runner opens [`nats::delivery_span`] per delivery, so one order is one trace.
//! - [`http`] makes the ingress's request spans: method and matched route, never the raw URI
//!   (KooGallery puts the signature in the query string), with fields handlers fill in.
//! - [`metrics`] renders a service's own `prometheus-client` registry for `/metrics`; there are no
//!   global metrics, so tests stay independent.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = koofill_config::load(None)?;
//! let telemetry = koofill_telemetry::init(&cfg.telemetry, "koofill-ingress")?;
//! // ... run the service until it has drained ...
//! telemetry.shutdown(); // flush spans last
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod error;
pub mod http;
mod init;
pub mod metrics;
pub mod nats;

pub use crate::error::TelemetryError;
pub use crate::init::{TelemetryGuard, init, init_for_tests};
