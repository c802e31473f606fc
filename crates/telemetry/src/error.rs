//! Why telemetry could not be set up.

/// Errors of [`crate::init`]. A service treats each as fatal at startup.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// Another global `tracing` subscriber was installed first (`init` runs once per process).
    #[error("a global tracing subscriber is already installed")]
    AlreadyInitialised(#[source] tracing_subscriber::util::TryInitError),
    /// The OTLP span exporter could not be built for the configured endpoint.
    #[error("cannot build the OTLP/HTTP span exporter for `telemetry.otlp_endpoint` {endpoint}")]
    Exporter {
        /// The traces URL derived from `telemetry.otlp_endpoint`.
        endpoint: String,
        /// What the exporter builder reported.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// The log filter does not parse.
    #[error("invalid log filter {directives:?} in {origin}")]
    Filter {
        /// Where the filter came from: `RUST_LOG` or `telemetry.log_filter`.
        origin: &'static str,
        /// The directives as given.
        directives: String,
        /// The parser's complaint.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// The OTLP endpoint uses a scheme the exporter was not built for.
    #[error("`telemetry.otlp_endpoint` {endpoint} is not supported: {reason}")]
    UnsupportedEndpoint {
        /// The configured endpoint.
        endpoint: String,
        /// Why, and what to use instead.
        reason: &'static str,
    },
}
