//! Operator endpoints: liveness, readiness, metrics.

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};

use crate::state::AppState;

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: NATS is connected, so callbacks can be acknowledged.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.bus.is_connected() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "NATS is not connected")
    }
}

/// `GET /metrics`: Prometheus (OpenMetrics text).
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, koofill_telemetry::metrics::CONTENT_TYPE)],
        koofill_telemetry::metrics::render(&state.metrics.registry),
    )
}
