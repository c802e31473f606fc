//! `/healthz`, `/readyz` and `/metrics` of every worker.

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};

use crate::Host;

pub(crate) fn router(host: Host) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(host)
}

/// Liveness: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: 200 when NATS is connected, the database answers and the consumers run; 503
/// otherwise, with the parts in the body either way.
async fn readyz(State(host): State<Host>) -> impl IntoResponse {
    let readiness = host.readiness().await;
    let status = if readiness.is_ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(readiness))
}

async fn metrics(State(host): State<Host>) -> axum::response::Response {
    koofill_telemetry::metrics::response(&host.inner.registry)
}
