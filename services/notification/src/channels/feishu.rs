//! Feishu / Lark custom bot with a signing secret: `POST …/open-apis/bot/v2/hook/{token}` with
//! `timestamp` (epoch **seconds**) and `sign` in the body, where
//! `sign = base64(HMAC-SHA256(key = TS + "\n" + secret, msg = ""))` — the key is the
//! concatenation and the message is empty (not the DingTalk scheme). Success is `code` 0;
//! `19021` (bad sign or stale timestamp) is permanent, `11232` is the rate limit.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;

use super::{Message, Outcome, http::Endpoint};
use crate::templates::{plain, truncate_bytes};

/// Feishu refuses bodies over 20 KB; the text leaves room for the envelope.
const TEXT_LIMIT: usize = 18_000;
/// `code` 11232: rate limited.
const TOO_FAST: i64 = 11_232;
/// Wait after 11232: the bot's window is one minute.
const PENALTY: Duration = Duration::from_secs(60);

/// The `sign` of a Feishu request: `base64(HMAC-SHA256(key = "{timestamp_secs}\n{secret}", msg = ""))`.
pub fn feishu_sign(secret: &str, timestamp_secs: i64) -> String {
    let key = format!("{timestamp_secs}\n{secret}");
    let mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).unwrap_or_else(|_| unreachable!());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// A bot and its secret. `Debug` shows neither.
pub struct Feishu {
    endpoint: Endpoint,
    secret: String,
}

impl std::fmt::Debug for Feishu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feishu").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

impl Feishu {
    pub(crate) fn new(endpoint: Endpoint, secret: String) -> Self {
        Self { endpoint, secret }
    }

    pub(crate) async fn send(&self, msg: &Message) -> Outcome {
        let ts = chrono::Utc::now().timestamp();
        let text = truncate_bytes(&format!("{}\n{}", msg.title, plain(&msg.body)), TEXT_LIMIT);
        let body = serde_json::json!({
            "timestamp": ts.to_string(),
            "sign": feishu_sign(&self.secret, ts),
            "msg_type": "text",
            "content": {"text": text},
        });
        let answer = match self
            .endpoint
            .post(self.endpoint.url.clone(), HeaderMap::new(), serde_json::to_vec(&body).unwrap_or_default())
            .await
        {
            Ok(a) => a,
            Err(o) => return o,
        };
        // Feishu answers some errors with HTTP 400 and a JSON code: read the code when there is one.
        let json = serde_json::from_str::<serde_json::Value>(&answer.body).ok();
        let code = json
            .as_ref()
            .and_then(|j| j.get("code").or_else(|| j.get("StatusCode")))
            .and_then(serde_json::Value::as_i64);
        let status = Some(answer.status.as_u16());
        match code {
            Some(0) if answer.status.is_success() => Outcome::Delivered { status, answer: answer.short() },
            Some(TOO_FAST) => Outcome::Retry {
                status,
                answer: answer.short(),
                error: "code 11232: rate limited".into(),
                after: Some(PENALTY),
                rate_limited: true,
            },
            _ if !answer.status.is_success() && (answer.status.is_server_error() || answer.status.as_u16() == 429) => {
                answer.status_outcome()
            }
            // 19021 (sign mismatch or stale timestamp), 19001/19002 (invalid), 9499 (bad request), …
            Some(code) => Outcome::Failed { status, answer: answer.short(), error: format!("code {code}") },
            None if !answer.status.is_success() => answer.status_outcome(),
            None => Outcome::Failed { status, answer: answer.short(), error: "no code in the answer".into() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_is_keyed_by_timestamp_and_secret_over_an_empty_message() {
        // Computed independently: printf '' | openssl dgst -sha256 -hmac "$(printf '1700000000\nfeishu-secret')" -binary | base64
        assert_eq!(feishu_sign("feishu-secret", 1_700_000_000), "OrBzY1Y01Gq+HgJsl+7OfWcMVwc7YocohQm5iiZwjhU=");
        assert_ne!(
            feishu_sign("feishu-secret", 1_700_000_000),
            crate::channels::dingtalk_sign("feishu-secret", 1_700_000_000)
        );
    }
}
