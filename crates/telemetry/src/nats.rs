//! W3C trace context in NATS message headers, so one order is one trace across services.
//!
//! The publisher calls [`inject`] before publishing; the consumer runner opens a
//! [`delivery_span`] for each delivery, whose parent is the publisher's span. A span that covers
//! many messages (a metering batch) should instead link to each message's [`extract`]ed context.
//!
//! Header values come from other processes, so everything here tolerates their absence or damage:
//! a missing or malformed `traceparent` yields an empty context and a new trace, never a panic.

use std::str::FromStr;

use async_nats::HeaderMap;
use async_nats::header::{HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::{Context, global};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Copies the current `tracing` span's trace context into `headers` (`traceparent`, and
/// `tracestate` when there is one), through the global propagator. Does nothing when the current
/// span has no OpenTelemetry context (no span, or telemetry not initialised).
///
/// ```no_run
/// let mut headers = async_nats::HeaderMap::new();
/// headers.insert("Nats-Msg-Id", "newInstance:order-1:line-1");
/// koofill_telemetry::nats::inject(&mut headers);
/// ```
pub fn inject(headers: &mut HeaderMap) {
    inject_context(&tracing::Span::current().context(), headers);
}

/// Copies the given context into `headers`, e.g. the context of a stored outbox row's original
/// request rather than of the current span.
pub fn inject_context(cx: &Context, headers: &mut HeaderMap) {
    global::get_text_map_propagator(|propagator| propagator.inject_context(cx, &mut NatsInjector(headers)));
}

/// Reads the trace context a publisher put in `headers`; an empty context when there is none or
/// it does not parse.
pub fn extract(headers: Option<&HeaderMap>) -> Context {
    // `extract` would start from the *current* context and so hand back the caller's own span
    // when the headers carry none; start from an empty one instead.
    global::get_text_map_propagator(|propagator| {
        propagator.extract_with_context(&Context::new(), &NatsExtractor(headers))
    })
}

/// The span of one delivery of a JetStream message, continuing the trace of whoever published it.
///
/// Records `otel.kind = "consumer"`, `messaging.system = "nats"`, the subject as
/// `messaging.destination.name`, `messaging.nats.stream_sequence` and `messaging.delivery_count`.
/// Its parent is the context extracted from `headers`; without one it starts a new trace, rather
/// than nesting under whatever span the runner happens to be in.
///
/// ```no_run
/// # fn handle(msg: &async_nats::jetstream::Message) -> Result<(), async_nats::Error> {
/// use tracing::Instrument as _;
/// let info = msg.info()?;
/// let span = koofill_telemetry::nats::delivery_span(
///     &msg.subject,
///     info.stream_sequence,
///     info.delivered,
///     msg.headers.as_ref(),
/// );
/// # let work = async {};
/// # drop(work.instrument(span));
/// # Ok(()) }
/// ```
pub fn delivery_span(subject: &str, stream_seq: u64, delivered: i64, headers: Option<&HeaderMap>) -> tracing::Span {
    let span = tracing::info_span!(
        "deliver",
        otel.kind = "consumer",
        messaging.system = "nats",
        messaging.destination.name = subject,
        messaging.nats.stream_sequence = stream_seq,
        messaging.delivery_count = delivered,
    );
    // Fails only when no OpenTelemetry layer is installed or the span is disabled; the span is
    // still useful for logs then.
    let _ = span.set_parent(extract(headers));
    span
}

/// Writes propagator fields as NATS headers, skipping any that NATS cannot carry.
struct NatsInjector<'a>(&'a mut HeaderMap);

impl Injector for NatsInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // `HeaderMap::insert` with a `&str` name panics on an invalid one; parse instead.
        if let (Ok(name), Ok(value)) = (HeaderName::from_str(key), HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}

/// Reads propagator fields from optional NATS headers.
struct NatsExtractor<'a>(Option<&'a HeaderMap>);

impl Extractor for NatsExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let name = HeaderName::from_str(key).ok()?;
        self.0?.get(name).map(HeaderValue::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.map(|headers| headers.iter().map(|(name, _)| name.as_ref()).collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{TraceContextExt as _, TraceId, TracerProvider as _};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// Runs `f` under a subscriber with an OpenTelemetry layer (no exporter) and the W3C propagator.
    fn with_tracing<T>(f: impl FnOnce() -> T) -> T {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("nats-test")));
        tracing::subscriber::with_default(subscriber, f)
    }

    fn trace_id(cx: &Context) -> TraceId {
        cx.span().span_context().trace_id()
    }

    #[test]
    fn a_span_injected_and_extracted_keeps_its_trace_id() {
        with_tracing(|| {
            let publish = tracing::info_span!("publish");
            let _entered = publish.enter();
            let mut headers = HeaderMap::new();
            inject(&mut headers);
            assert!(headers.get("traceparent").is_some(), "traceparent written");

            let published = trace_id(&publish.context());
            let remote = extract(Some(&headers));
            assert!(remote.span().span_context().is_remote());
            assert_eq!(trace_id(&remote), published);

            let delivery = delivery_span("koofill.inbound.saas.newInstance", 42, 2, Some(&headers));
            assert_eq!(trace_id(&delivery.context()), published, "delivery continues the trace");
        });
    }

    #[test]
    fn headers_without_context_give_an_empty_context() {
        with_tracing(|| {
            assert!(!extract(None).span().span_context().is_valid());
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", "newInstance:o-1:l-1");
            assert!(!extract(Some(&headers)).span().span_context().is_valid());
        });
    }

    #[test]
    fn a_malformed_traceparent_is_ignored() {
        with_tracing(|| {
            let mut headers = HeaderMap::new();
            headers.insert("traceparent", "00-not-a-trace-id-01");
            headers.insert("tracestate", "=;=,,");
            assert!(!extract(Some(&headers)).span().span_context().is_valid());

            // The delivery still gets a span, in a trace of its own.
            let delivery = delivery_span("koofill.inbound.saas.newInstance", 1, 1, Some(&headers));
            assert!(delivery.context().span().span_context().is_valid());
        });
    }

    #[test]
    fn without_a_current_span_nothing_is_injected() {
        with_tracing(|| {
            let mut headers = HeaderMap::new();
            inject(&mut headers);
            assert!(headers.is_empty());
        });
    }

    #[test]
    fn a_delivery_without_context_starts_a_new_trace_instead_of_nesting() {
        with_tracing(|| {
            let runner = tracing::info_span!("runner");
            let _entered = runner.enter();
            assert!(!extract(None).span().span_context().is_valid(), "not the runner's context");
            let delivery = delivery_span("koofill.usage.0", 3, 1, None);
            assert_ne!(trace_id(&delivery.context()), trace_id(&runner.context()));
        });
    }
}
