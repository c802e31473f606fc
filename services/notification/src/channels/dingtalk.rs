//! DingTalk (钉钉) custom robot with a signing secret:
//! `POST …/robot/send?access_token=T&timestamp=TS&sign=S` where `TS` is epoch **milliseconds** and
//! `S = urlencode(base64(HMAC-SHA256(key = secret, msg = TS + "\n" + secret)))`. Success is
//! `errcode` 0 in HTTP 200; `130101` ("send too fast") throttles the robot for 10 minutes.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;

use super::{Message, Outcome, http::Endpoint};
use crate::templates::truncate_bytes;

/// Markdown text limit (bytes); DingTalk refuses messages over 20,000 bytes.
const TEXT_LIMIT: usize = 18_000;
/// `errcode` 130101: sending too fast.
const TOO_FAST: i64 = 130_101;
/// DingTalk's throttle after 130101.
const PENALTY: Duration = Duration::from_secs(600);

/// The `sign` of a DingTalk request before URL encoding:
/// `base64(HMAC-SHA256(key = secret, msg = "{timestamp_ms}\n{secret}"))`.
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// A robot and its `SEC…` secret. `Debug` shows neither.
pub struct Dingtalk {
    endpoint: Endpoint,
    secret: String,
}

impl std::fmt::Debug for Dingtalk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dingtalk").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

impl Dingtalk {
    pub(crate) fn new(endpoint: Endpoint, secret: String) -> Self {
        Self { endpoint, secret }
    }

    pub(crate) async fn send(&self, msg: &Message) -> Outcome {
        let ts = chrono::Utc::now().timestamp_millis();
        let mut url = self.endpoint.url.clone();
        // `append_pair` form-encodes: `+`, `/` and `=` of the Base64 become %2B, %2F, %3D.
        url.query_pairs_mut()
            .append_pair("timestamp", &ts.to_string())
            .append_pair("sign", &dingtalk_sign(&self.secret, ts));
        let text = truncate_bytes(&format!("### {}\n\n{}", msg.title, msg.body.replace('\n', "\n\n")), TEXT_LIMIT);
        let body = serde_json::json!({"msgtype": "markdown", "markdown": {"title": msg.title, "text": text}});
        let answer =
            match self.endpoint.post(url, HeaderMap::new(), serde_json::to_vec(&body).unwrap_or_default()).await {
                Ok(a) => a,
                Err(o) => return o,
            };
        // 310000 (sign, keyword or IP check failed), 300001 (token unknown), 400102 (robot stopped), …: permanent.
        answer.errcode_outcome(TOO_FAST, "errcode 130101: sending too fast", PENALTY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_is_keyed_by_the_secret_over_timestamp_and_secret() {
        // Computed independently: printf "1700000000000\nSECabc" | openssl dgst -sha256 -hmac SECabc -binary | base64
        assert_eq!(dingtalk_sign("SECabc", 1_700_000_000_000), "jcUpW0QmtKduN03n4JqQ0PBosVjqnM8gU7fIIvsDmCM=");
    }
}
