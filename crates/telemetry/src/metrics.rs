//! Helpers over `prometheus-client` for each service's `/metrics`.
//!
//! Services own their metric structs and a [`Registry`] each; nothing here is global, so tests
//! build their own registries and never see each other's counts.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus_client::registry::Registry;

/// Content type of [`render`]'s output, for the `/metrics` response.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds, in seconds, of the callback-answer latency histogram: 0.5 ms to 5 s.
///
/// The ingress aims for a p99 under 10 ms, so the low end is fine-grained; the top bucket is
/// KooGallery's 5 s deadline, past which an answer no longer counts.
const LATENCY_BUCKETS_SECS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// Histogram buckets for answer latency in seconds, from 0.5 ms to KooGallery's 5 s deadline.
///
/// ```
/// use prometheus_client::metrics::histogram::Histogram;
/// let latency = Histogram::new(koofill_telemetry::metrics::latency_buckets());
/// latency.observe(0.004);
/// ```
pub fn latency_buckets() -> impl Iterator<Item = f64> {
    LATENCY_BUCKETS_SECS.into_iter()
}

/// Renders `registry` in the OpenMetrics text format, ending with `# EOF`.
///
/// Writing to a `String` fails only if a custom collector reports an error; then the error is
/// logged and an empty exposition is returned, because a truncated one would be misread.
pub fn render(registry: &Registry) -> String {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, registry) {
        Ok(()) => text,
        Err(error) => {
            tracing::error!(error = &error as &dyn std::error::Error, "encoding metrics failed");
            "# EOF\n".to_owned()
        }
    }
}

/// The `/metrics` response for `registry`: [`render`]'s text with [`CONTENT_TYPE`].
pub fn response(registry: &Registry) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], render(registry)).into_response()
}

#[cfg(test)]
mod tests {
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::histogram::Histogram;

    use super::*;

    #[test]
    fn renders_open_metrics_text() {
        let mut registry = Registry::default();
        let callbacks: Counter = Counter::default();
        let latency = Histogram::new(latency_buckets());
        registry.register("callbacks", "Callbacks answered", callbacks.clone());
        registry.register("answer_latency_seconds", "Time to answer", latency.clone());
        callbacks.inc();
        latency.observe(0.003);

        let text = render(&registry);
        assert!(text.contains("callbacks_total 1"), "{text}");
        assert!(text.contains("answer_latency_seconds_bucket{le=\"0.005\"} 1"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn buckets_rise_from_half_a_millisecond_to_five_seconds() {
        let buckets: Vec<f64> = latency_buckets().collect();
        assert_eq!(buckets.first(), Some(&0.0005));
        assert_eq!(buckets.last(), Some(&5.0));
        assert!(buckets.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn the_response_carries_the_open_metrics_content_type() {
        let response = response(&Registry::default());
        assert_eq!(response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), Some(CONTENT_TYPE));
    }
}
