//! An HTTP client that plays KooGallery against an ingress.

use std::time::Duration;

use koofill_signing::body_sign;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::Value;

use crate::sign::{KitHeaders, now_ms, sign_basic, sign_kit, sign_kit_v1, sign_v1, wire_json};

/// Per-request timeout. KooGallery gives up after 5 s; tests allow more, so a slow CI machine
/// shows up as a wrong answer rather than a transport error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The content type of the basic interfaces' examples (spec §1.1).
const BASIC_CONTENT_TYPE: &str = "application/json;charset=utf8";
/// The content type of the Kit interfaces (spec §5.1).
const KIT_CONTENT_TYPE: &str = "application/json";
/// The sub-path KooGallery appends to the production address for the V2 Kit interfaces.
const KIT_V2_PATH: &str = "produceAPI/v2";

/// Sends callbacks signed as KooGallery signs them.
///
/// Transport failures panic with the URL in the message: in a test they are the failure.
#[derive(Debug, Clone)]
pub struct CallbackClient {
    http: reqwest::Client,
    base_url: String,
    basic_key: Vec<u8>,
    kit_key: Vec<u8>,
}

/// What the ingress answered.
#[derive(Debug, Clone)]
pub struct CallbackReply {
    /// The HTTP status; KooGallery expects 200 for every answer.
    pub status: u16,
    /// The exact body bytes.
    pub body: Vec<u8>,
    /// The body parsed as JSON, or `Value::Null` when it is not JSON.
    pub json: Value,
    /// The `Body-Sign` header, when present.
    pub body_sign: Option<String>,
}

impl CallbackReply {
    /// `resultCode`, or `""` when the body has none.
    pub fn result_code(&self) -> &str {
        self.json.get("resultCode").and_then(Value::as_str).unwrap_or_default()
    }

    /// `resultMsg`, or `""` when the body has none.
    pub fn result_msg(&self) -> &str {
        self.json.get("resultMsg").and_then(Value::as_str).unwrap_or_default()
    }

    /// The body as text, for assertion messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether `Body-Sign` is present and matches the exact body bytes under `key`.
    pub fn verify_body_sign(&self, key: &[u8]) -> bool {
        self.body_sign.as_deref().is_some_and(|header| body_sign::verify(key, header, &self.body).is_ok())
    }
}

impl CallbackClient {
    /// A client for the production address `base_url` (e.g. `http://127.0.0.1:PORT/kg/produce`,
    /// without a trailing slash), signing basic calls with `basic_key` and Kit calls with
    /// `kit_key`.
    ///
    /// # Panics
    /// When the HTTP client cannot be built (no usable TLS backend).
    pub fn new(base_url: impl Into<String>, basic_key: impl AsRef<[u8]>, kit_key: impl AsRef<[u8]>) -> Self {
        let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().expect("build the HTTP client");
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        CallbackClient { http, base_url, basic_key: basic_key.as_ref().to_vec(), kit_key: kit_key.as_ref().to_vec() }
    }

    /// The production address.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The URL of a V2 Kit interface, e.g. `…/kg/produce/produceAPI/v2/tenantSync`.
    pub fn kit_url(&self, interface: &str) -> String {
        format!("{}/{KIT_V2_PATH}/{interface}", self.base_url)
    }

    /// POSTs a basic-interface body ([`wire_json`]), signed now with the basic key.
    pub async fn send_basic(&self, body: &Value) -> CallbackReply {
        let bytes = wire_json(body);
        let query = sign_basic(&self.basic_key, &bytes, now_ms()).query_string;
        self.send_basic_raw(&bytes, &query).await
    }

    /// POSTs exact body bytes with an exact query (no leading `?`), for replayed, stale or
    /// tampered requests.
    pub async fn send_basic_raw(&self, body: &[u8], query: &str) -> CallbackReply {
        let url = if query.is_empty() { self.base_url.clone() } else { format!("{}?{query}", self.base_url) };
        let request = self
            .http
            .post(&url)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, BASIC_CONTENT_TYPE)
            .body(body.to_vec());
        send(request, &url).await
    }

    /// POSTs a body to the V2 Kit interface `interface` (`"tenantSync"`, `"authSync"`, ...),
    /// signed now with the Kit key.
    pub async fn send_kit(&self, interface: &str, body: &Value) -> CallbackReply {
        let bytes = wire_json(body);
        let headers = sign_kit(&self.kit_key, &bytes, now_ms());
        self.send_kit_raw(interface, &bytes, &headers).await
    }

    /// POSTs exact body bytes to a V2 Kit interface with the given signature headers.
    pub async fn send_kit_raw(&self, interface: &str, body: &[u8], headers: &KitHeaders) -> CallbackReply {
        let url = self.kit_url(interface);
        let mut request = self.http.post(&url).header(CONTENT_TYPE, KIT_CONTENT_TYPE).body(body.to_vec());
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        send(request, &url).await
    }

    /// POSTs a body to the V1 Kit interface `interface` (`{base}/produceAPI/{interface}`) with an
    /// `authToken` header computed with the Kit key over its top-level fields ([`sign_kit_v1`]);
    /// a body without `timeStamp` gets the current UTC+8 time.
    pub async fn send_kit_v1(&self, interface: &str, body: &Value) -> CallbackReply {
        let (bytes, token) = sign_kit_v1(&self.kit_key, body);
        let url = format!("{}/produceAPI/{interface}", self.base_url);
        let request =
            self.http.post(&url).header(CONTENT_TYPE, KIT_CONTENT_TYPE).header("authToken", token).body(bytes);
        send(request, &url).await
    }

    /// GETs the production address with a V1 query signed with the basic key ([`sign_v1`]).
    pub async fn send_v1(&self, params: &[(&str, &str)]) -> CallbackReply {
        let url = format!("{}?{}", self.base_url, sign_v1(&self.basic_key, params));
        send(self.http.get(&url), &url).await
    }
}

async fn send(request: reqwest::RequestBuilder, url: &str) -> CallbackReply {
    let response = request.send().await.unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
    let status = response.status().as_u16();
    let body_sign = response.headers().get(body_sign::HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.bytes().await.unwrap_or_else(|e| panic!("reading the answer of {url} failed: {e}")).to_vec();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    CallbackReply { status, body, json, body_sign }
}
