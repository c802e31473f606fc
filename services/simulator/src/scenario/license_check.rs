//! The License 2.0 scenario's effect checks: after each callback, koofill's activation proxy
//! (`GET /v1/licenses/{code}`, `POST …/activate`) is asked until it reports what the callback
//! should have done (status and expiry), as the seller's software would see it.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::runner::Run;
use crate::report::Outcome;

/// Where koofill's license activation proxy answers, and the bearer token it takes. `Debug`
/// leaves the token out.
#[derive(Clone)]
pub struct LicenseProxy {
    /// Base URL of the proxy, e.g. `http://127.0.0.1:8080` (the routes are `/v1/licenses/…`).
    pub base_url: String,
    /// `license.api_token`.
    pub api_token: String,
}

impl std::fmt::Debug for LicenseProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicenseProxy").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// The scheme, host and port of a URL such as `http://127.0.0.1:8080/kg/produce`: where koofill's
/// own APIs (`/v1/licenses`, `/v1/usage`) answer beside the production address.
pub(super) fn origin(target: &str) -> String {
    let rest = target.split_once("://").map_or(target, |(_, rest)| rest);
    let origin_len = target.len() - rest.len() + rest.find('/').unwrap_or(rest.len());
    target[..origin_len].to_owned()
}

/// One answer of the proxy: the HTTP status and its JSON body (`Null` when it had none).
type Answer = Result<(u16, Value), String>;

impl LicenseProxy {
    /// The proxy in front of `target` (a production address such as
    /// `http://127.0.0.1:8080/kg/produce`): same scheme, host and port.
    pub fn for_target(target: &str, api_token: impl Into<String>) -> Self {
        Self { base_url: origin(target), api_token: api_token.into() }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request
            .bearer_auth(&self.api_token)
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    async fn status(&self, code: &str) -> Answer {
        self.send(reqwest::Client::new().get(format!("{}/v1/licenses/{code}", self.base_url))).await
    }

    async fn activate(&self, code: &str) -> Answer {
        let url = format!("{}/v1/licenses/{code}/activate", self.base_url);
        self.send(reqwest::Client::new().post(url).body(r#"{"fingerprint":"koofill-sim"}"#)).await
    }
}

/// What an answer says, in a line.
fn describe(answer: &Answer) -> String {
    match answer {
        Ok((200, body)) => format!(
            "{} until {}",
            body["status"].as_str().unwrap_or("?"),
            body["expire_time"].as_str().unwrap_or("(no expiry)")
        ),
        Ok((status, body)) => format!("HTTP {status} {}", body["error"]["code"].as_str().unwrap_or("")),
        Err(e) => e.clone(),
    }
}

/// Whether a 200 answer reports `status` and (when given) `expire`, to the second.
fn reports(answer: &Answer, status: &str, expire: Option<DateTime<Utc>>) -> bool {
    let Ok((200, body)) = answer else { return false };
    let expiry = body["expire_time"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    body["status"] == status && expire.is_none_or(|e| expiry.is_some_and(|x| x.timestamp() == e.timestamp()))
}

/// Asks the proxy until it reports `status` (and `expire`) or the readiness deadline passes, and
/// records the step. A wrong answer is a failure; no answer at all (no license worker, a
/// refused token) is a warning unless readiness is required. Nothing is checked, and nothing
/// recorded, without a proxy or without a marketplace registry (mock codes are unknown to it).
pub(super) async fn expect(run: &mut Run<'_>, code: &str, status: &str, expire: Option<DateTime<Utc>>) {
    let Some(proxy) = run.options.license_proxy.clone() else { return };
    if run.registry.is_off() {
        return;
    }
    let started = Instant::now();
    let mut attempts = 0;
    let answer = loop {
        attempts += 1;
        let answer = proxy.status(code).await;
        if reports(&answer, status, expire) || started.elapsed() >= run.options.ready_deadline {
            break answer;
        }
        tokio::time::sleep(run.options.poll_interval).await;
    };
    let outcome = match &answer {
        _ if reports(&answer, status, expire) => Outcome::Passed,
        Ok((200, _)) => Outcome::Failed,
        _ => run.unanswered(),
    };
    let name = format!("GET /v1/licenses: {status}");
    run.step(name, outcome, describe(&answer), attempts, started.elapsed());
}

/// Activates the code through the proxy as the seller's software would; returns whether koofill
/// reported it active. Skipped, like [`expect`], without a proxy or a registry.
pub(super) async fn activate(run: &mut Run<'_>, code: &str) -> bool {
    let Some(proxy) = run.options.license_proxy.clone() else { return false };
    if run.registry.is_off() {
        return false;
    }
    let started = Instant::now();
    let answer = proxy.activate(code).await;
    let active = reports(&answer, "active", None);
    let outcome = match &answer {
        _ if active => Outcome::Passed,
        Ok((200, _)) => Outcome::Failed,
        _ => run.unanswered(),
    };
    run.step("POST /v1/licenses/…/activate", outcome, describe(&answer), 1, started.elapsed());
    active
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_is_found_at_the_targets_origin_and_answers_are_read_to_the_second() {
        let proxy = LicenseProxy::for_target("http://127.0.0.1:8080/kg/produce", "t");
        assert_eq!(proxy.base_url, "http://127.0.0.1:8080");
        assert_eq!(LicenseProxy::for_target("https://isv.example", "t").base_url, "https://isv.example");
        assert!(!format!("{proxy:?}").contains("api_token"));

        let expire = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let body = serde_json::json!({"status": "frozen", "expire_time": "2030-01-01T00:00:00.000Z"});
        let answer: Answer = Ok((200, body));
        assert!(reports(&answer, "frozen", Some(expire)));
        assert!(reports(&answer, "frozen", None));
        assert!(!reports(&answer, "active", None));
        assert!(!reports(&answer, "frozen", Some(expire + chrono::Duration::seconds(1))));
        assert!(!reports(&Ok((503, Value::Null)), "frozen", None));
        assert_eq!(describe(&answer), "frozen until 2030-01-01T00:00:00.000Z");
    }
}
