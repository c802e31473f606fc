//! KooGallery's side of the production interfaces: callbacks signed as the marketplace signs them
//! (basic URL signature, spec §2.1; Kit header signature, §2.2), sent to a production address, and
//! every answer captured with its `Body-Sign` checked against the right key (§2.4).

use std::time::{Duration, Instant};

use koofill_model::CallbackResponse;
use koofill_signing::{basic, body_sign, canonical, kit};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::Value;

use crate::{SimError, SimKeys};

/// KooGallery gives up on an answer after 5 s (spec §1.1).
pub const KOOGALLERY_TIMEOUT: Duration = Duration::from_secs(5);
/// The content type of the basic examples (spec §1.1).
const BASIC_CONTENT_TYPE: &str = "application/json;charset=utf8";
/// The sub-path KooGallery appends to the production address for the V2 Kit interfaces (§5.1).
pub const KIT_V2_PATH: &str = "produceAPI/v2";

/// One request and what came back.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The basic `activity` or the Kit interface name.
    pub activity: String,
    /// The exact body sent.
    pub request_body: Vec<u8>,
    /// HTTP status; `None` when no answer arrived.
    pub status: Option<u16>,
    /// The exact answer bytes.
    pub body: Vec<u8>,
    /// The `Body-Sign` header, when present.
    pub body_sign: Option<String>,
    /// Whether `Body-Sign` verifies over the exact answer bytes with the channel's key.
    pub body_sign_ok: bool,
    /// The answer parsed as JSON (`Null` when it is not JSON).
    pub json: Value,
    /// Why no answer arrived (connection refused, timeout…).
    pub transport_error: Option<String>,
    /// From sending to the last byte of the answer.
    pub latency: Duration,
}

impl Exchange {
    /// An exchange for `activity` before anything was sent or received.
    pub fn unsent(activity: String) -> Self {
        Self {
            activity,
            request_body: Vec::new(),
            status: None,
            body: Vec::new(),
            body_sign: None,
            body_sign_ok: false,
            json: Value::Null,
            transport_error: None,
            latency: Duration::ZERO,
        }
    }

    /// `resultCode` as received, or `""`.
    pub fn result_code(&self) -> &str {
        self.json.get("resultCode").and_then(Value::as_str).unwrap_or_default()
    }

    /// `resultMsg` as received, or `""`.
    pub fn result_msg(&self) -> &str {
        self.json.get("resultMsg").and_then(Value::as_str).unwrap_or_default()
    }

    /// `instanceId` of a newInstance answer.
    pub fn instance_id(&self) -> Option<&str> {
        self.json.get("instanceId").and_then(Value::as_str).filter(|id| !id.is_empty())
    }

    /// The answer as koofill's model reads it, when it is one.
    pub fn response(&self) -> Option<CallbackResponse> {
        CallbackResponse::from_slice(&self.body).ok()
    }

    /// What is wrong with the answer apart from its result code: no answer, a status other than
    /// 200, a body that is not JSON, or a `Body-Sign` that is missing or does not verify.
    pub fn transport_problem(&self) -> Option<String> {
        if let Some(e) = &self.transport_error {
            return Some(format!("no answer: {e}"));
        }
        match self.status {
            Some(200) => {}
            Some(status) => return Some(format!("HTTP {status} (KooGallery expects 200)")),
            None => return Some("no answer".to_owned()),
        }
        if !self.json.is_object() {
            return Some("the answer is not a JSON object".to_owned());
        }
        match (&self.body_sign, self.body_sign_ok) {
            (None, _) => Some("Body-Sign header is missing".to_owned()),
            (Some(_), false) => Some("Body-Sign does not verify over the answer bytes".to_owned()),
            (Some(_), true) => None,
        }
    }

    /// A short description of the answer for reports: `000000 success`, `HTTP 500`, …
    pub fn summary(&self) -> String {
        match (&self.transport_error, self.status) {
            (Some(e), _) => format!("no answer ({e})"),
            (None, Some(200)) if self.json.is_object() => {
                format!("{} {}", self.result_code(), self.result_msg()).trim().to_owned()
            }
            (None, Some(status)) => format!("HTTP {status}"),
            (None, None) => "no answer".to_owned(),
        }
    }
}

/// Sends signed callbacks to one production address.
#[derive(Debug, Clone)]
pub struct CallbackSender {
    http: reqwest::Client,
    base_url: String,
    keys: SimKeys,
    v1: bool,
}

impl CallbackSender {
    /// A sender for the production address `base_url` (e.g. `http://127.0.0.1:8080/kg/produce`),
    /// with KooGallery's 5 s timeout.
    ///
    /// # Errors
    /// [`SimError::BadUrl`] for a URL that is not http(s), [`SimError::Client`] when the HTTP client
    /// cannot be built.
    pub fn new(base_url: &str, keys: SimKeys) -> Result<Self, SimError> {
        Self::with_timeout(base_url, keys, KOOGALLERY_TIMEOUT)
    }

    /// As [`CallbackSender::new`] with another per-request timeout.
    ///
    /// # Errors
    /// As [`CallbackSender::new`].
    pub fn with_timeout(base_url: &str, keys: SimKeys, timeout: Duration) -> Result<Self, SimError> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        check_url(&base_url)?;
        let http = reqwest::Client::builder().timeout(timeout).build().map_err(SimError::Client)?;
        Ok(Self { http, base_url, keys, v1: false })
    }

    /// This sender speaking the retired V1 dialect ([`crate::v1`]): basic calls as a `GET` with an
    /// `authToken`, Kit calls to `/produceAPI/{name}` with an `authToken` header.
    #[must_use]
    pub fn v1(mut self) -> Self {
        self.v1 = true;
        self
    }

    /// Whether it speaks V1.
    pub fn is_v1(&self) -> bool {
        self.v1
    }

    /// The production address.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The keys it signs with.
    pub fn keys(&self) -> &SimKeys {
        &self.keys
    }

    /// POSTs a basic-interface body, serialised as KooGallery sends it and signed now; in V1, GETs
    /// its V1 twin instead (an activity V1 lacks is not sent, and reported as a transport problem).
    pub async fn send_basic(&self, body: &Value) -> Exchange {
        if self.v1 {
            return match crate::v1::basic_params(body) {
                Some(params) => {
                    self.send_v1_raw(&crate::v1::signed_query(self.keys.basic_key.as_bytes(), &params, now_ms())).await
                }
                None => {
                    let activity = body.get("activity").and_then(Value::as_str).unwrap_or("unknown");
                    let mut exchange = Exchange::unsent(activity.to_owned());
                    exchange.transport_error = Some(format!("{activity} has no V1 twin"));
                    exchange
                }
            };
        }
        let bytes = wire_bytes(body);
        let query = basic_query(self.keys.basic_key.as_bytes(), &bytes, now_ms());
        self.send_basic_raw(&bytes, &query).await
    }

    /// POSTs exact bytes with an exact query string (no leading `?`): for stale, tampered or
    /// malformed requests.
    pub async fn send_basic_raw(&self, body: &[u8], query: &str) -> Exchange {
        let url = if query.is_empty() { self.base_url.clone() } else { format!("{}?{query}", self.base_url) };
        let request = self
            .http
            .post(&url)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, BASIC_CONTENT_TYPE)
            .body(body.to_vec());
        let activity = activity_of(body);
        self.exchange(request, activity, body, self.keys.basic_key.as_bytes()).await
    }

    /// GETs the production address with an exact V1 query (no leading `?`): for stale or
    /// tampered V1 calls.
    pub async fn send_v1_raw(&self, query: &str) -> Exchange {
        let url = format!("{}?{query}", self.base_url);
        let activity = koofill_signing::percent::parse_query(query)
            .into_iter()
            .find(|(k, _)| k == "activity")
            .map_or_else(|| "unknown".to_owned(), |(_, v)| v);
        let request = self.http.get(&url).header(ACCEPT, "application/json");
        self.exchange(request, activity, query.as_bytes(), self.keys.basic_key.as_bytes()).await
    }

    /// POSTs a body to the V2 Kit interface `interface`, signed now with the Kit key (the basic key
    /// stands in when no Kit key is set, and the ISV then answers `000001`); in V1, to
    /// `/produceAPI/{interface}` in V1's shapes with an `authToken` header.
    pub async fn send_kit(&self, interface: &str, body: &Value) -> Exchange {
        if self.v1 {
            let bytes = wire_bytes(&crate::v1::kit_body(body));
            let token = crate::v1::kit_token(self.kit_key(), &bytes);
            return self.send_kit_v1_raw(interface, &bytes, &token).await;
        }
        let bytes = wire_bytes(body);
        let headers = kit_headers(self.kit_key(), &bytes, now_ms());
        self.send_kit_raw(interface, &bytes, &headers).await
    }

    /// POSTs exact bytes to a Kit interface with the given `(name, value)` signature headers.
    pub async fn send_kit_raw(&self, interface: &str, body: &[u8], headers: &[(String, String)]) -> Exchange {
        let url = format!("{}/{KIT_V2_PATH}/{interface}", self.base_url);
        let mut request = self.http.post(&url).header(CONTENT_TYPE, "application/json").body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        self.exchange(request, interface.to_owned(), body, self.kit_key()).await
    }

    /// POSTs exact bytes to a V1 Kit interface with the given `authToken` header.
    pub async fn send_kit_v1_raw(&self, interface: &str, body: &[u8], token: &str) -> Exchange {
        let url = format!("{}/produceAPI/{interface}", self.base_url);
        let request = self
            .http
            .post(&url)
            .header(CONTENT_TYPE, "application/json")
            .header(koofill_signing::v1::AUTH_TOKEN, token)
            .body(body.to_vec());
        self.exchange(request, interface.to_owned(), body, self.kit_key()).await
    }

    /// The key Kit calls are signed with.
    pub fn kit_key(&self) -> &[u8] {
        self.keys.kit_key.as_deref().unwrap_or(&self.keys.basic_key).as_bytes()
    }

    async fn exchange(&self, request: reqwest::RequestBuilder, activity: String, body: &[u8], key: &[u8]) -> Exchange {
        let started = Instant::now();
        let mut exchange = Exchange::unsent(activity);
        exchange.request_body = body.to_vec();
        match request.send().await {
            Ok(response) => {
                exchange.status = Some(response.status().as_u16());
                exchange.body_sign =
                    response.headers().get(body_sign::HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
                match response.bytes().await {
                    Ok(bytes) => exchange.body = bytes.to_vec(),
                    Err(e) => exchange.transport_error = Some(e.to_string()),
                }
            }
            Err(e) => exchange.transport_error = Some(without_url(&e)),
        }
        exchange.latency = started.elapsed();
        exchange.json = serde_json::from_slice(&exchange.body).unwrap_or(Value::Null);
        exchange.body_sign_ok =
            exchange.body_sign.as_deref().is_some_and(|h| body_sign::verify(key, h, &exchange.body).is_ok());
        exchange
    }
}

/// A reqwest error without the URL (which carries the signature query).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_owned()
}

fn activity_of(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("activity").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

pub(crate) fn check_url(url: &str) -> Result<(), SimError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| SimError::BadUrl { url: url.to_owned(), why: e.to_string() })?;
    match parsed.scheme() {
        "http" | "https" if parsed.host_str().is_some() => Ok(()),
        _ => Err(SimError::BadUrl { url: url.to_owned(), why: "expected http(s)://host[:port]/path".to_owned() }),
    }
}

/// The current Unix time in milliseconds, the unit of `timestamp` and `x-timestamp`.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A fresh nonce: 64 upper-case hex characters, like the spec's examples.
pub fn random_nonce() -> String {
    rand::random::<[u8; 32]>().iter().map(|b| format!("{b:02X}")).collect()
}

/// A body as KooGallery sends it: compact JSON, top-level keys sorted, nulls dropped (spec §1.1:
/// every example is key-sorted). Non-objects are sent as serialised.
pub fn wire_bytes(body: &Value) -> Vec<u8> {
    let compact = serde_json::to_vec(body).unwrap_or_default();
    canonical::canonical_payload(&compact).map(String::into_bytes).unwrap_or(compact)
}

/// The signature query of a basic call at `now_ms`, with a fresh nonce:
/// `signature=…&timestamp=…&nonce=…`.
pub fn basic_query(key: &[u8], body: &[u8], now_ms: i64) -> String {
    let nonce = random_nonce();
    let timestamp = now_ms.to_string();
    let signature = basic::sign_body(key, &nonce, &timestamp, body)
        .unwrap_or_else(|_| basic::sign_payload(key, &nonce, &timestamp, body));
    format!("signature={signature}&timestamp={timestamp}&nonce={nonce}")
}

/// The `x-sign`, `x-timestamp`, `x-nonce` headers of a Kit call at `now_ms`, with a fresh nonce.
pub fn kit_headers(key: &[u8], body: &[u8], now_ms: i64) -> Vec<(String, String)> {
    let nonce = random_nonce();
    let timestamp = now_ms.to_string();
    let sign = kit::sign_body(key, &nonce, &timestamp, body)
        .unwrap_or_else(|_| kit::sign_payload(key, &nonce, &timestamp, body));
    vec![("x-sign".to_owned(), sign), ("x-timestamp".to_owned(), timestamp), ("x-nonce".to_owned(), nonce)]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn wire_bytes_are_sorted_and_compact() {
        let body = json!({"testFlag": "1", "activity": "newInstance", "orderId": "X", "gone": null});
        assert_eq!(wire_bytes(&body), br#"{"activity":"newInstance","orderId":"X","testFlag":"1"}"#.to_vec());
    }

    #[test]
    fn signatures_verify() {
        let body = wire_bytes(&json!({"activity": "queryInstance", "instanceId": "i"}));
        let query = basic_query(b"k", &body, 1_700_000_000_000);
        let pairs = koofill_signing::percent::parse_query(&query);
        let get = |n: &str| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).unwrap();
        assert!(basic::verify(b"k", &get("nonce"), &get("timestamp"), &body, &get("signature")).is_ok());
        let headers = kit_headers(b"kit", &body, 1);
        assert!(kit::verify(b"kit", &headers[2].1, &headers[1].1, &body, &headers[0].1).is_ok());
        assert_eq!(random_nonce().len(), 64);
    }
}
