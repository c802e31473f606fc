//! The global subscriber: log layer, OpenTelemetry layer, propagator, and the guard that flushes.

use std::sync::Once;

use koofill_config::{LogFormat, TelemetryConfig};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{KeyValue, global};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

use crate::error::TelemetryError;

/// Spans at this level and above go to OpenTelemetry whatever the log filter says, so that
/// `log_filter = "warn"` quietens logs without breaking the trace of an order.
const SPAN_LEVEL: LevelFilter = LevelFilter::INFO;

/// Path of the traces signal under an OTLP/HTTP collector's base URL.
const OTLP_TRACES_PATH: &str = "/v1/traces";

/// Installs logging and tracing for the process: call once, first thing in `main`.
///
/// - Logs go to standard output in `cfg.log_format`, filtered by `RUST_LOG` when it is set and
///   non-empty, else by `cfg.log_filter`.
/// - Spans of level INFO and above get OpenTelemetry ids, whatever the log filter, and the W3C
///   TraceContext propagator is installed globally, so trace context flows through NATS and HTTP.
/// - With `cfg.otlp_endpoint` set (the collector's base URL, e.g. `http://collector:4318`), spans
///   are batched to `{endpoint}/v1/traces` as OTLP/HTTP protobuf, with the resource attributes
///   `service.name = service` and `service.namespace = cfg.service_namespace`.
///
/// Keep the returned guard until the service has drained, then call [`TelemetryGuard::shutdown`].
///
/// # Errors
///
/// [`TelemetryError::Filter`] when the filter does not parse, [`TelemetryError::UnsupportedEndpoint`]
/// for an endpoint that is not `http://` (no TLS stack is compiled in), [`TelemetryError::Exporter`]
/// when the exporter cannot be built, [`TelemetryError::AlreadyInitialised`] when a global
/// subscriber exists.
pub fn init(cfg: &TelemetryConfig, service: &'static str) -> Result<TelemetryGuard, TelemetryError> {
    let filter = log_filter(&cfg.log_filter, std::env::var("RUST_LOG").ok())?;
    let provider = tracer_provider(cfg, service)?;
    let log_layer = match cfg.log_format {
        LogFormat::Text => fmt::layer().boxed(),
        LogFormat::Json => fmt::layer().json().flatten_event(true).boxed(),
    };
    let span_layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(service)).with_filter(SPAN_LEVEL);
    tracing_subscriber::registry()
        .with(log_layer.with_filter(filter))
        .with(span_layer)
        .try_init()
        .map_err(TelemetryError::AlreadyInitialised)?;
    global::set_text_map_propagator(TraceContextPropagator::new());
    // Also global, so libraries that use the OpenTelemetry API directly export through it.
    global::set_tracer_provider(provider.clone());
    Ok(TelemetryGuard { provider: Some(provider) })
}

/// Installs a subscriber for tests, once per test binary; later calls do nothing.
///
/// Logs go through the test writer (captured unless `--nocapture`), filtered by `RUST_LOG` or
/// `warn`. Spans get real OpenTelemetry ids and the W3C propagator is installed, so trace
/// propagation can be asserted; nothing is exported. If another global subscriber was installed
/// first, that one stays.
pub fn init_for_tests() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
        let provider = SdkTracerProvider::builder().build();
        let span_layer =
            tracing_opentelemetry::layer().with_tracer(provider.tracer("koofill-tests")).with_filter(SPAN_LEVEL);
        // Failing here means the test binary installed its own subscriber; keep it.
        let _ = tracing_subscriber::registry()
            .with(fmt::layer().with_test_writer().with_filter(filter))
            .with(span_layer)
            .try_init();
        global::set_text_map_propagator(TraceContextPropagator::new());
    });
}

/// Keeps the tracer provider alive; dropping it or calling [`TelemetryGuard::shutdown`] flushes
/// spans still queued for export and stops the exporter.
#[derive(Debug)]
#[must_use = "dropping the guard stops span export at once"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Flushes queued spans and stops exporting. Call it last, once the service's tasks have
    /// drained, so their spans are included. Failures are logged, not returned: at this point a
    /// service can only report them.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(error = &error as &dyn std::error::Error, "flushing spans failed");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The log filter: `RUST_LOG` when set and non-empty, else the configured directives.
fn log_filter(configured: &str, rust_log: Option<String>) -> Result<EnvFilter, TelemetryError> {
    let (origin, directives) = match rust_log.filter(|value| !value.trim().is_empty()) {
        Some(value) => ("RUST_LOG", value),
        None => ("telemetry.log_filter", configured.to_owned()),
    };
    EnvFilter::builder().parse(&directives).map_err(|source| TelemetryError::Filter { origin, directives, source })
}

/// A provider that always assigns ids, and exports only when an endpoint is configured.
fn tracer_provider(cfg: &TelemetryConfig, service: &'static str) -> Result<SdkTracerProvider, TelemetryError> {
    let resource = Resource::builder()
        .with_service_name(service)
        .with_attribute(KeyValue::new("service.namespace", cfg.service_namespace.clone()))
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let Some(endpoint) = &cfg.otlp_endpoint else {
        return Ok(builder.build());
    };
    if !endpoint.starts_with("http://") {
        // Checked here because the export itself would fail later, span batch by span batch.
        return Err(TelemetryError::UnsupportedEndpoint {
            endpoint: endpoint.clone(),
            reason: "only plain http:// is built in; a collector beside the service \
                     (sidecar or node agent) forwards with TLS",
        });
    }
    let endpoint = traces_url(endpoint);
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint.clone())
        .build()
        .map_err(|source| TelemetryError::Exporter { endpoint, source })?;
    Ok(builder.with_batch_exporter(exporter).build())
}

/// The exporter uses a programmatic endpoint as is, so the signal path is added here.
fn traces_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with(OTLP_TRACES_PATH) { base.to_owned() } else { format!("{base}{OTLP_TRACES_PATH}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_wins_over_the_configured_filter() {
        let Err(TelemetryError::Filter { origin, .. }) = log_filter("info", Some("[".to_owned())) else {
            panic!("an invalid RUST_LOG must be reported");
        };
        assert_eq!(origin, "RUST_LOG");
        assert!(log_filter("[", Some("debug".to_owned())).is_ok(), "RUST_LOG replaces the config");
    }

    #[test]
    fn blank_rust_log_falls_back_to_the_configured_filter() {
        let Err(TelemetryError::Filter { origin, directives, .. }) = log_filter("[", Some("  ".to_owned())) else {
            panic!("the configured filter is invalid");
        };
        assert_eq!((origin, directives.as_str()), ("telemetry.log_filter", "["));
        assert!(log_filter("info,koofill_bus=debug", None).is_ok());
    }

    #[test]
    fn traces_url_appends_the_signal_path_once() {
        assert_eq!(traces_url("http://collector:4318"), "http://collector:4318/v1/traces");
        assert_eq!(traces_url("http://collector:4318/"), "http://collector:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/v1/traces"), "http://c:4318/v1/traces");
    }

    #[test]
    fn a_provider_without_endpoint_exports_nothing_and_shuts_down() {
        let cfg = TelemetryConfig::default();
        let provider = tracer_provider(&cfg, "koofill-test").expect("no exporter needed");
        TelemetryGuard { provider: Some(provider) }.shutdown();
    }

    #[test]
    fn an_https_endpoint_is_refused_up_front() {
        let cfg =
            TelemetryConfig { otlp_endpoint: Some("https://collector:4318".to_owned()), ..TelemetryConfig::default() };
        assert!(matches!(tracer_provider(&cfg, "koofill-test"), Err(TelemetryError::UnsupportedEndpoint { .. })));
    }

    #[test]
    fn a_provider_with_endpoint_builds_without_contacting_it() {
        let cfg =
            TelemetryConfig { otlp_endpoint: Some("http://127.0.0.1:9/".to_owned()), ..TelemetryConfig::default() };
        let provider = tracer_provider(&cfg, "koofill-test").expect("exporter builds lazily");
        drop(TelemetryGuard { provider: Some(provider) });
    }
}
