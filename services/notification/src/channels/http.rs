//! The HTTP side every HTTP channel shares: one client per channel with no redirects and a
//! deadline, the https-only rule, and errors that never carry the URL.

use std::time::Duration;

use reqwest::{Client, StatusCode, Url, header::HeaderMap, redirect::Policy};

use super::Outcome;

/// Longest provider answer kept in the attempts table.
const ANSWER_LIMIT: usize = 512;

/// Where a channel posts. `Debug` shows the host only: robot URLs carry their key.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) url: Url,
    pub(crate) client: Client,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("host", &self.url.host_str().unwrap_or_default()).finish_non_exhaustive()
    }
}

/// An answer that came back.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: String,
    pub(crate) retry_after: Option<Duration>,
}

impl Answer {
    /// The body cut for the attempts table.
    pub(crate) fn short(&self) -> String {
        crate::templates::truncate_bytes(&self.body, ANSWER_LIMIT)
    }

    /// The outcome of an HTTP status that is not a success: 408, 425, 429 and 5xx are worth
    /// another attempt (after `Retry-After`), any other status is permanent.
    pub(crate) fn status_outcome(&self) -> Outcome {
        let s = self.status;
        let status = Some(s.as_u16());
        let error = format!("HTTP {}", s.as_u16());
        let retryable = s.is_server_error() || matches!(s.as_u16(), 408 | 425 | 429);
        if retryable {
            let rate_limited = s == StatusCode::TOO_MANY_REQUESTS;
            Outcome::Retry { status, answer: self.short(), error, after: self.retry_after, rate_limited }
        } else {
            Outcome::Failed { status, answer: self.short(), error }
        }
    }

    /// The outcome of a group robot's answer that reports success inside the body as `errcode`
    /// (WeCom, DingTalk): 0 delivered; `too_fast` (the provider's rate limit, `too_fast_error`
    /// describing it) retried after `penalty`; -1 (busy) retried on the schedule; any other code
    /// permanent — bad keys and invalid messages do not change until someone fixes them.
    pub(crate) fn errcode_outcome(&self, too_fast: i64, too_fast_error: &str, penalty: Duration) -> Outcome {
        /// The system-busy code both robots document.
        const BUSY: i64 = -1;
        if !self.status.is_success() {
            return self.status_outcome();
        }
        let json = match self.json("errcode") {
            Ok(j) => j,
            Err(o) => return o,
        };
        let status = Some(self.status.as_u16());
        match json.get("errcode").and_then(serde_json::Value::as_i64) {
            Some(0) => Outcome::Delivered { status, answer: self.short() },
            Some(code) if code == too_fast => Outcome::Retry {
                status,
                answer: self.short(),
                error: too_fast_error.to_owned(),
                after: Some(penalty),
                rate_limited: true,
            },
            Some(BUSY) => Outcome::Retry {
                status,
                answer: self.short(),
                error: "errcode -1: busy".into(),
                after: None,
                rate_limited: false,
            },
            Some(code) => Outcome::Failed { status, answer: self.short(), error: format!("errcode {code}") },
            None => Outcome::Failed { status, answer: self.short(), error: "no errcode in the answer".into() },
        }
    }

    /// The body as JSON, or a permanent failure naming what was expected.
    pub(crate) fn json(&self, expected: &str) -> Result<serde_json::Value, Outcome> {
        serde_json::from_str(&self.body).map_err(|_| Outcome::Failed {
            status: Some(self.status.as_u16()),
            answer: self.short(),
            error: format!("the answer is not the provider's JSON ({expected})"),
        })
    }
}

impl Endpoint {
    /// Checks `url` against the outbound rules and builds the client.
    pub(crate) fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        koofill_config::outbound_url_allowed(url).map_err(str::to_owned)?;
        let url = Url::parse(url).map_err(|_| "is not a valid URL".to_owned())?;
        let client = Client::builder()
            .redirect(Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| format!("HTTP client: {}", e.without_url()))?;
        Ok(Self { url, client })
    }

    /// POSTs `body` as JSON to `url` (the endpoint's, or one derived from it) with `headers`.
    /// A request that gets no answer (timeout, refused, reset) is an [`Outcome::Retry`].
    pub(crate) async fn post(&self, url: Url, headers: HeaderMap, body: Vec<u8>) -> Result<Answer, Outcome> {
        let sent = self
            .client
            .post(url)
            .headers(headers)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => return Err(Outcome::retry(describe(e))),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match response.text().await {
            Ok(b) => b,
            Err(e) => return Err(Outcome::retry(describe(e))),
        };
        Ok(Answer { status, body, retry_after })
    }
}

/// What went wrong, without the URL (it may carry the robot's key).
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer could not be read"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut detail = String::new();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() { kind.to_owned() } else { format!("{kind}: {detail}") }
}
