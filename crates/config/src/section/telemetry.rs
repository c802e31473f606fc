//! `[telemetry]`: logs and traces (metrics need no settings: every service serves `/metrics`).

use serde::Deserialize;

use super::checks;
use crate::error::ConfigError;

/// How log lines are written to standard output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logging and tracing.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct TelemetryConfig {
    /// `tracing` filter directives, e.g. `info,koofill_bus=debug`; `RUST_LOG` wins when set.
    /// Default: `info`.
    pub log_filter: String,
    /// Format of log lines. Default: `text`.
    pub log_format: LogFormat,
    /// Base URL of an OTLP/HTTP collector, e.g. `http://collector:4318`; traces are exported only
    /// when set. Default: unset.
    pub otlp_endpoint: Option<String>,
    /// OpenTelemetry `service.namespace` of every koofill service. Default: `koofill`.
    pub service_namespace: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_filter: "info".to_owned(),
            log_format: LogFormat::Text,
            otlp_endpoint: None,
            service_namespace: "koofill".to_owned(),
        }
    }
}

impl TelemetryConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        // The filter's syntax is checked by the telemetry crate, which owns the parser.
        match &self.otlp_endpoint {
            Some(endpoint) => checks::http_url("telemetry.otlp_endpoint", endpoint),
            None => Ok(()),
        }
    }
}
