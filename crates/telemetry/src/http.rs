//! Request spans for axum: method and matched route, never the raw URI.
//!
//! KooGallery puts `signature`, `timestamp` and `nonce` in the query string, and some `/v1` paths
//! carry license codes, so the span records the *route template* (`MatchedPath`, e.g.
//! `/v1/licenses/{code}`) and nothing of the URI itself. Handlers fill the empty fields
//! `activity`, `order_id`, `instance_id` and `result_code` with
//! `tracing::Span::current().record(..)`. A W3C `traceparent` on the request becomes the span's
//! parent.
//!
//! Add the layer with `Router::layer`, so it runs after routing and `MatchedPath` is known;
//! wrapped around the whole router it sees no route and records the method alone.
//!
//! ```
//! use axum::{Router, routing::post};
//!
//! async fn produce() -> &'static str {
//!     tracing::Span::current().record("activity", "newInstance");
//!     "{}"
//! }
//!
//! let app: Router = Router::new()
//!     .route("/kg/produce", post(produce))
//!     .layer(koofill_telemetry::http::trace_layer());
//! ```

use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{HeaderMap, Request, Response};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, global};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnRequest, MakeSpan, OnResponse, TraceLayer};
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The layer [`trace_layer`] returns.
pub type HttpTraceLayer =
    TraceLayer<SharedClassifier<ServerErrorsAsFailures>, MakeRequestSpan, DefaultOnRequest, RecordResponse>;

/// A `TraceLayer` that opens a [`MakeRequestSpan`] span per request and records the response
/// status ([`RecordResponse`]). Server errors (5xx) are logged by `tower-http` at ERROR.
pub fn trace_layer() -> HttpTraceLayer {
    TraceLayer::new_for_http().make_span_with(MakeRequestSpan).on_response(RecordResponse)
}

/// Makes the `request` span: `otel.kind = "server"`, `otel.name` (`POST /kg/produce`),
/// `http.request.method`, `http.route` (the matched route), and the empty fields `activity`,
/// `order_id`, `instance_id`, `result_code` and `http.response.status_code`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MakeRequestSpan;

impl<B> MakeSpan<B> for MakeRequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> tracing::Span {
        let method = request.method().as_str();
        let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
        let name = match route {
            Some(route) => format!("{method} {route}"),
            None => method.to_owned(),
        };
        let span = tracing::info_span!(
            "request",
            otel.kind = "server",
            otel.name = name,
            http.request.method = method,
            http.route = route,
            activity = Empty,
            order_id = Empty,
            instance_id = Empty,
            result_code = Empty,
            http.response.status_code = Empty,
        );
        let remote = extract(request.headers());
        if remote.span().span_context().is_valid() {
            // Fails only without an OpenTelemetry layer; the span still serves logs then.
            let _ = span.set_parent(remote);
        }
        span
    }
}

/// Records `http.response.status_code` on the request span and logs the answer at DEBUG.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecordResponse;

impl<B> OnResponse<B> for RecordResponse {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &tracing::Span) {
        let status = response.status().as_u16();
        span.record("http.response.status_code", status);
        tracing::debug!(status, latency_ms = latency.as_secs_f64() * 1000.0, "answered");
    }
}

/// The W3C trace context of the current span as HTTP headers, for an outbound call (the
/// provisioner webhook, KooGallery's open APIs, notification providers), so the callee and the
/// trace backend see one trace per order.
pub fn inject_current() -> HeaderMap {
    let mut headers = HeaderMap::new();
    let cx = tracing::Span::current().context();
    global::get_text_map_propagator(|propagator| propagator.inject_context(&cx, &mut HttpInjector(&mut headers)));
    headers
}

struct HttpInjector<'a>(&'a mut HeaderMap);

impl Injector for HttpInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) =
            (axum::http::HeaderName::from_bytes(key.as_bytes()), axum::http::HeaderValue::from_str(&value))
        {
            self.0.insert(name, value);
        }
    }
}

/// Reads a W3C trace context from HTTP headers; an empty context when there is none or it does
/// not parse.
pub fn extract(headers: &HeaderMap) -> Context {
    // Start from an empty context, not the current one, so "no header" really means "no parent".
    global::get_text_map_propagator(|propagator| {
        propagator.extract_with_context(&Context::new(), &HttpExtractor(headers))
    })
}

struct HttpExtractor<'a>(&'a HeaderMap);

impl Extractor for HttpExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.to_str().ok()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Body;
    use axum::routing::{get, post};
    use opentelemetry::trace::{TraceId, TracerProvider as _};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tower::ServiceExt as _;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt as _};

    use super::*;

    /// Every `field=value` any span recorded, at creation or later.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<String>>>);

    impl Captured {
        fn all(&self) -> Vec<String> {
            self.0.lock().expect("not poisoned").clone()
        }
    }

    impl Visit for Captured {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            self.0.lock().expect("not poisoned").push(format!("{}={value:?}", field.name()));
        }
    }

    impl<S: tracing::Subscriber> Layer<S> for Captured {
        fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: LayerContext<'_, S>) {
            attrs.record(&mut self.clone());
        }

        fn on_record(&self, _: &Id, values: &Record<'_>, _: LayerContext<'_, S>) {
            values.record(&mut self.clone());
        }
    }

    async fn produce() -> &'static str {
        let span = tracing::Span::current();
        span.record("activity", "newInstance");
        span.record("result_code", "000000");
        "{}"
    }

    async fn license(traces: axum::extract::State<Arc<Mutex<Vec<TraceId>>>>) -> &'static str {
        let cx = tracing::Span::current().context();
        traces.lock().expect("not poisoned").push(cx.span().span_context().trace_id());
        "{}"
    }

    fn app(traces: Arc<Mutex<Vec<TraceId>>>) -> Router {
        Router::new()
            .route("/kg/produce", post(produce))
            .route("/v1/licenses/{code}", get(license))
            .layer(trace_layer())
            .with_state(traces)
    }

    #[tokio::test]
    async fn the_span_records_the_route_never_the_query_or_path() {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let captured = Captured::default();
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(captured.clone())
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("http-test")));
        let _default = tracing::subscriber::set_default(subscriber);
        let traces = Arc::new(Mutex::new(Vec::new()));

        let request = Request::post("/kg/produce?signature=SIGNATURE-HEX&timestamp=1700000000000&nonce=NONCE")
            .body(Body::from("{}"))
            .expect("valid request");
        let response = app(traces.clone()).oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), 200);
        let request = Request::get("/v1/licenses/LICENSE-CODE")
            .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            .body(Body::empty())
            .expect("valid request");
        app(traces.clone()).oneshot(request).await.expect("infallible");

        let fields = captured.all();
        for secret in ["SIGNATURE-HEX", "NONCE", "signature", "?", "LICENSE-CODE"] {
            assert!(!fields.iter().any(|field| field.contains(secret)), "{secret:?} leaked into {fields:?}");
        }
        for expected in [
            "http.route=\"/kg/produce\"",
            "otel.name=\"POST /kg/produce\"",
            "http.request.method=\"POST\"",
            "activity=\"newInstance\"",
            "result_code=\"000000\"",
            "http.response.status_code=200",
            "http.route=\"/v1/licenses/{code}\"",
        ] {
            assert!(fields.iter().any(|f| f == expected), "{expected} missing from {fields:?}");
        }
        let traces = traces.lock().expect("not poisoned").clone();
        assert_eq!(
            traces,
            [TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").expect("valid hex")],
            "the request continues the caller's trace"
        );
    }

    #[test]
    fn a_missing_or_broken_traceparent_gives_an_empty_context() {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let mut headers = HeaderMap::new();
        assert!(!extract(&headers).span().span_context().is_valid());
        headers.insert("traceparent", "garbage".parse().expect("valid header value"));
        assert!(!extract(&headers).span().span_context().is_valid());
    }
}
