//! Signed webhooks to the seller's own systems, the Standard Webhooks way: `webhook-id` (the
//! delivery id, the same on every attempt), `webhook-timestamp` (seconds),
//! `webhook-signature: v1,<base64 HMAC-SHA256(secret, "{id}.{ts}.{body}")>`.

use koofill_signing::webhook::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSecret};
use reqwest::header::{HeaderMap, HeaderValue};

use super::{Message, Outcome, http::Endpoint};

/// A seller endpoint and its secret.
#[derive(Debug)]
pub struct Webhook {
    endpoint: Endpoint,
    secret: WebhookSecret,
}

impl Webhook {
    pub(crate) fn new(endpoint: Endpoint, secret: WebhookSecret) -> Self {
        Self { endpoint, secret }
    }

    pub(crate) async fn send(&self, msg: &Message) -> Outcome {
        let now = chrono::Utc::now();
        let payload = serde_json::json!({
            "type": msg.event_type,
            "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "event_id": msg.event_id,
            "test": msg.test,
            "title": msg.title,
            "text": msg.body,
            "data": msg.data,
        });
        let body = match serde_json::to_vec(&payload) {
            Ok(b) => b,
            Err(e) => return Outcome::failed(format!("payload not encodable: {e}")),
        };
        let ts = now.timestamp();
        let mut headers = HeaderMap::new();
        let signature = self.secret.sign(&msg.delivery_id, ts, &body);
        for (name, value) in
            [(ID_HEADER, msg.delivery_id.clone()), (TIMESTAMP_HEADER, ts.to_string()), (SIGNATURE_HEADER, signature)]
        {
            match HeaderValue::from_str(&value) {
                Ok(v) => {
                    headers.insert(name, v);
                }
                Err(_) => return Outcome::failed(format!("{name} is not a valid header value")),
            }
        }
        let answer = match self.endpoint.post(self.endpoint.url.clone(), headers, body).await {
            Ok(a) => a,
            Err(outcome) => return outcome,
        };
        let status = answer.status.as_u16();
        if answer.status.is_success() {
            return Outcome::Delivered { status: Some(status), answer: answer.short() };
        }
        // The seller refusing our signature is their configuration (a rotated secret): worth
        // retrying on the schedule until someone fixes it, not dropping.
        if matches!(status, 401 | 403) {
            return Outcome::Retry {
                status: Some(status),
                answer: answer.short(),
                error: format!("HTTP {status}: the endpoint refused the signature (check the secret)"),
                after: None,
                rate_limited: false,
            };
        }
        answer.status_outcome()
    }
}
