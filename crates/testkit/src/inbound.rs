//! The messages the ingress publishes, for harnesses that stand in for it (a worker's tests
//! publish callbacks straight to the bus).
//!
//! These call the functions the ingress calls ([`Envelope::basic_callback`],
//! [`Envelope::kit_callback`]), so a harness publishes exactly what production publishes: the same
//! id (qualified with the request's timestamp and nonce where production qualifies it), the same
//! `requested_at`, the same `source`. Publish `env` on `{prefix}.inbound.{env.data.subject_suffix()}`
//! (a `newInstance` on `koofill_bus::names::inbound_new_instance`, which names the instance); the
//! ingress's `Nats-Msg-Id` is the request's replay key (`koofill_bus::replay_key`), and the envelope
//! `id` is what the workers' inbox deduplicates on.

use chrono::Utc;
use koofill_model::{BasicRequest, Envelope, InboundCallback, KitRequest, RequestIdentity};
use serde_json::Value;

use crate::sign::{now_ms, random_nonce};

/// The envelope the ingress publishes for a basic callback signed with `timestamp` (Unix
/// milliseconds, or seconds up to 10 digits) and `nonce`, received now; `None` for the activities
/// answered without publishing (queryInstance, changeInstanceCheck).
///
/// The same `timestamp` and `nonce` give the same id, as a publish retry does; a new request
/// from KooGallery, retries included, has a fresh pair ([`fresh_identity`]).
pub fn basic_envelope(
    request: &BasicRequest,
    body: Value,
    timestamp: &str,
    nonce: &str,
) -> Option<Envelope<InboundCallback>> {
    Envelope::basic_callback(request, body, &RequestIdentity::new(timestamp, nonce), Utc::now())
}

/// The envelope the ingress publishes for a Kit callback signed with `x-timestamp` `timestamp`
/// and `x-nonce` `nonce`, received now.
pub fn kit_envelope(request: &KitRequest, body: Value, timestamp: &str, nonce: &str) -> Envelope<InboundCallback> {
    Envelope::kit_callback(request, body, &RequestIdentity::new(timestamp, nonce), Utc::now())
}

/// The `(timestamp, nonce)` of a request KooGallery signs now: the current Unix milliseconds and
/// a fresh nonce, as [`crate::sign_basic`] and [`crate::sign_kit`] use.
pub fn fresh_identity() -> (String, String) {
    (now_ms().to_string(), random_nonce())
}
