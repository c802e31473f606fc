//! The HTTP routes: KooGallery callbacks (basic and Kit) and the operator endpoints.

pub mod basic;
pub mod kit;
pub mod ops;
pub mod v1;

use std::time::Instant;

use axum::extract::rejection::BytesRejection;
use bytes::Bytes;
use koofill_model::CallbackResponse;

use crate::{answer::Answer, error::IngressError, state::AppState};

/// Turns a handler's outcome into the answer, recording the rejection reason, the result code on
/// the span and the answer metrics. An unknown instance is a normal answer (`000003`), not a
/// rejected request.
pub(crate) fn conclude(
    state: &AppState,
    result: Result<CallbackResponse, IngressError>,
    kit: bool,
    key_index: usize,
    activity: &str,
    started: Instant,
) -> Answer {
    let answer = match result {
        Ok(response) => Answer::new(response, kit, key_index),
        Err(e) => {
            if !matches!(e, IngressError::UnknownInstance(_)) {
                state.metrics.reject(e.reason());
            }
            Answer::from_error(&e, kit, key_index)
        }
    };
    let code = answer.response.result_code.as_str();
    tracing::Span::current().record("result_code", code);
    state.metrics.answered(activity, code, started.elapsed().as_secs_f64());
    answer
}

/// The body, or why it could not be read (over the limit, or broken).
pub(crate) fn body_or_error(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, IngressError> {
    body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            IngressError::BodyTooLarge(limit)
        } else {
            IngressError::BodyUnreadable
        }
    })
}

/// Parses the body as JSON for the envelope; validation has already accepted it.
pub(crate) fn body_value(body: &[u8]) -> Result<serde_json::Value, IngressError> {
    serde_json::from_slice(body).map_err(|e| {
        IngressError::Invalid(koofill_model::ValidationError::body(koofill_model::Problem::BadJson(e.to_string())))
    })
}
