//! The HTTP routes: KooGallery callbacks (basic and Kit) and the operator endpoints.

pub mod basic;
pub mod kit;
pub mod ops;

use axum::extract::rejection::BytesRejection;
use bytes::Bytes;

use crate::error::IngressError;

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
