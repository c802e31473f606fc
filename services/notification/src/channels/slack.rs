//! Slack incoming webhook: `POST https://hooks.slack.com/services/T/B/X` with `{"text": …}`;
//! success is HTTP 200 with the body `ok`. About one message a second; 429 carries
//! `Retry-After`. Errors are plain-text codes (`invalid_payload`, `no_service`, …).

use reqwest::header::HeaderMap;

use super::{Message, Outcome, http::Endpoint};
use crate::templates::truncate_bytes;

/// Slack truncates `text` beyond 40,000 characters; stay well below.
const TEXT_LIMIT: usize = 30_000;

/// An incoming webhook.
#[derive(Debug)]
pub struct Slack {
    endpoint: Endpoint,
}

impl Slack {
    pub(crate) fn new(endpoint: Endpoint) -> Self {
        Self { endpoint }
    }

    pub(crate) async fn send(&self, msg: &Message) -> Outcome {
        // Slack's mrkdwn marks bold with single asterisks.
        let text = truncate_bytes(&format!("*{}*\n{}", msg.title, msg.body.replace("**", "*")), TEXT_LIMIT);
        let body = serde_json::json!({"text": text});
        let answer = match self
            .endpoint
            .post(self.endpoint.url.clone(), HeaderMap::new(), serde_json::to_vec(&body).unwrap_or_default())
            .await
        {
            Ok(a) => a,
            Err(o) => return o,
        };
        let status = Some(answer.status.as_u16());
        if answer.status.is_success() && answer.body.trim() == "ok" {
            return Outcome::Delivered { status, answer: answer.short() };
        }
        if answer.status.is_success() {
            return Outcome::Failed { status, answer: answer.short(), error: "the answer is not `ok`".into() };
        }
        answer.status_outcome()
    }
}
