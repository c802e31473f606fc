//! WeCom (企业微信) group robot: `POST …/cgi-bin/webhook/send?key=KEY`, the key in the URL is the
//! only secret. Errors come back in HTTP 200 as `{"errcode":N,"errmsg":"…"}`; success is
//! `errcode` 0. 20 messages a minute per robot.

use std::time::Duration;

use reqwest::header::HeaderMap;

use super::{Message, Outcome, http::Endpoint};
use crate::templates::truncate_bytes;

/// Markdown content limit (bytes).
const MARKDOWN_LIMIT: usize = 4096;
/// `errcode` 45009: API frequency out of limit.
const TOO_FAST: i64 = 45009;
/// Throttle after 45009: the robot's window is one minute.
const PENALTY: Duration = Duration::from_secs(60);

/// A robot.
#[derive(Debug)]
pub struct Wecom {
    endpoint: Endpoint,
}

impl Wecom {
    pub(crate) fn new(endpoint: Endpoint) -> Self {
        Self { endpoint }
    }

    pub(crate) async fn send(&self, msg: &Message) -> Outcome {
        let content = truncate_bytes(&format!("**{}**\n{}", msg.title, msg.body), MARKDOWN_LIMIT);
        let body = serde_json::json!({"msgtype": "markdown", "markdown": {"content": content}});
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let answer = match self.endpoint.post(self.endpoint.url.clone(), HeaderMap::new(), body).await {
            Ok(a) => a,
            Err(o) => return o,
        };
        // 93000 invalid webhook URL (bad key), 40008/40058 invalid message, …: permanent.
        answer.errcode_outcome(TOO_FAST, "errcode 45009: too many messages", PENALTY)
    }
}
