//! Answers: every KooGallery answer is HTTP 200 with a JSON body and a `Body-Sign` header computed
//! over the exact bytes sent, with the key of the interface type (and of the key that verified the
//! request, during a rotation).

use std::time::Instant;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use koofill_model::{CallbackResponse, ResultCode};
use koofill_signing::body_sign;

use crate::{error::IngressError, state::AppState};

/// The largest answer body we produce (queryInstance with 100 instances stays far below it).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Which key ring signs an answer; inserted by handlers as a response extension.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignWith {
    /// The ring: Kit answers use the Kit key.
    pub kit: bool,
    /// The index of the key that verified the request.
    pub key_index: usize,
}

/// A KooGallery answer, before signing.
#[derive(Debug)]
pub struct Answer {
    /// The body.
    pub response: CallbackResponse,
    pub(crate) sign: SignWith,
}

impl Answer {
    /// An answer signed with the current key of the ring.
    pub fn new(response: CallbackResponse, kit: bool, key_index: usize) -> Self {
        Self { response, sign: SignWith { kit, key_index } }
    }

    /// The answer for an error, logged at the right level.
    pub fn from_error(error: &IngressError, kit: bool, key_index: usize) -> Self {
        if error.is_internal() {
            tracing::error!(error = error as &dyn std::error::Error, "callback failed");
        } else {
            tracing::debug!(error = error as &dyn std::error::Error, "callback rejected");
        }
        Self::new(CallbackResponse::failure(error.result_code(), error.result_msg()), kit, key_index)
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=UTF-8"))],
            self.response.to_bytes(),
        )
            .into_response();
        response.extensions_mut().insert(self.sign);
        response
    }
}

/// Middleware that adds `Body-Sign` to every answer of the KooGallery routes.
///
/// It sits outside the panic catcher, so even the `000005` produced for a panic is signed.
pub(crate) async fn sign_answers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let kit_path = request.uri().path().contains("/produceAPI/");
    let response = next.run(request).await;
    let sign = response.extensions().get::<SignWith>().copied().unwrap_or(SignWith { kit: kit_path, key_index: 0 });
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ANSWER_BYTES).await {
        Ok(b) => b,
        Err(_) => bytes::Bytes::from(CallbackResponse::with_code(ResultCode::InternalError).to_bytes()),
    };
    let ring = if sign.kit { &state.kit_keys } else { &state.basic_keys };
    if let Some(key) = ring.get(sign.key_index)
        && let Ok(value) = HeaderValue::from_str(&body_sign::header_value(key, &bytes))
    {
        parts.headers.insert(body_sign::HEADER, value);
    }
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Response::from_parts(parts, Body::from(bytes))
}

/// The answer to a panic inside a handler: `000005`, signed by [`sign_answers`].
pub(crate) fn panic_answer(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked; answered 000005");
    // No `SignWith`: the signer picks the basic or Kit key from the request path.
    let mut response = Answer::new(CallbackResponse::with_code(ResultCode::InternalError), false, 0).into_response();
    response.extensions_mut().remove::<SignWith>();
    response
}

/// Middleware that bounds the time to answer well under KooGallery's 5 s: past the deadline the
/// caller gets `000005` and retries.
pub(crate) async fn deadline(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let kit = request.uri().path().contains("/produceAPI/");
    match tokio::time::timeout(state.settings.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            state.metrics.reject(IngressError::Timeout.reason());
            state.metrics.answered("unknown", ResultCode::InternalError.as_str(), started.elapsed().as_secs_f64());
            Answer::from_error(&IngressError::Timeout, kit, 0).into_response()
        }
    }
}
