//! The admin HTTP API, served on the supervision worker's HTTP port under `/admin/supervision`.
//! Every route needs `Authorization: Bearer <supervision.admin_token>` (compared in constant
//! time); without a configured token every call answers 401. Documented in
//! `proto/admin/supervision.md`.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use koofill_config::{CalendarSpan, ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::{
    Supervision, SupervisionError,
    cases::StepInput,
    state::{Action, CaseState},
};

/// The path every admin route starts with.
pub const BASE: &str = "/admin/supervision";

#[derive(Clone)]
struct AdminState {
    supervision: Supervision,
    token: Option<Arc<SecretString>>,
}

/// The admin routes, ready to merge into the worker host's HTTP server.
pub fn router(supervision: Supervision, token: Option<SecretString>) -> Router {
    let state = AdminState { supervision, token: token.map(Arc::new) };
    Router::new()
        .route(&format!("{BASE}/cases"), get(list))
        .route(&format!("{BASE}/cases/{{case}}"), get(show))
        .route(&format!("{BASE}/cases/{{case}}/{{action}}"), post(act))
        .route(&format!("{BASE}/settlement"), get(settlement))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state)
}

async fn authenticate(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::as_bytes);
    let accepted = match (&state.token, presented) {
        (Some(token), Some(presented)) => bool::from(token.expose_secret().as_bytes().ct_eq(presented)),
        _ => false,
    };
    if !accepted {
        let mut response =
            (StatusCode::UNAUTHORIZED, Json(json!({"error": "a valid bearer token is required"}))).into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(request).await
}

impl IntoResponse for SupervisionError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Invalid(_) | Self::Concurrent(_) => StatusCode::CONFLICT,
            Self::Input { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = &self as &dyn std::error::Error, "admin request failed");
        }
        (status, Json(json!({"error": self.to_string()}))).into_response()
    }
}

fn bad(field: &'static str, reason: String) -> SupervisionError {
    SupervisionError::Input { field, reason }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<String>,
    due_within: Option<String>,
}

async fn list(State(s): State<AdminState>, Query(q): Query<ListQuery>) -> Result<Response, SupervisionError> {
    let state = q.state.as_deref().map(str::parse::<CaseState>).transpose().map_err(|e| bad("state", e))?;
    let due = q.due_within.as_deref().map(str::parse::<CalendarSpan>).transpose().map_err(|e| bad("due_within", e))?;
    Ok(Json(s.supervision.list(state, due).await?).into_response())
}

async fn show(State(s): State<AdminState>, Path(case): Path<String>) -> Result<Response, SupervisionError> {
    Ok(Json(s.supervision.show(&case).await?).into_response())
}

async fn act(
    State(s): State<AdminState>,
    Path((case, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Option<Json<StepInput>>,
) -> Result<Response, SupervisionError> {
    let action: Action = action.parse().map_err(|e| bad("action", e))?;
    let mut input = body.map(|Json(b)| b).unwrap_or_default();
    if input.actor.trim().is_empty() {
        input.actor = "admin".into();
    } else if !input.actor.starts_with("admin:") {
        input.actor = format!("admin:{}", input.actor);
    }
    // A client that retries with the same key takes one step; without one, each call is new.
    let request_id = match headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        Some(key) if !key.trim().is_empty() => format!("admin:{key}"),
        _ => format!("admin:{}", uuid::Uuid::new_v4()),
    };
    s.supervision.act(&case, action, input, &request_id).await?;
    Ok(Json(s.supervision.show(&case).await?).into_response())
}

async fn settlement(State(s): State<AdminState>) -> Result<Response, SupervisionError> {
    Ok(Json(s.supervision.settlement().await?).into_response())
}
