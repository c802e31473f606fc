//! A local HTTP stand-in for a provider: records every request, checks it with the provider's
//! rule, and answers from a script (then a default answer).

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The provider's check: `Ok` when the request is what the provider documents.
    pub verdict: Result<(), String>,
}

impl Seen {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub enum Reply {
    Answer(u16, &'static str),
    /// Never answers (a provider stuck mid-request).
    Hang,
}

type Check = Arc<dyn Fn(&Seen) -> Result<(), String> + Send + Sync>;

#[derive(Clone)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    default: Reply,
    rejected: Reply,
    check: Check,
}

#[allow(missing_debug_implementations)]
pub struct StandIn {
    pub addr: SocketAddr,
    shared: Shared,
}

impl StandIn {
    /// Serves on a loopback port: requests failing `check` get `rejected`, the others the next
    /// scripted reply, then `default`.
    pub async fn start(
        default: Reply,
        rejected: Reply,
        script: Vec<Reply>,
        check: impl Fn(&Seen) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        let shared = Shared {
            seen: Arc::default(),
            script: Arc::new(Mutex::new(script.into())),
            default,
            rejected,
            check: Arc::new(check),
        };
        let app = Router::new().route("/{*path}", post(handle)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, shared }
    }

    /// A Slack incoming webhook that takes every message (`ok`).
    pub async fn slack() -> Self {
        Self::start(Reply::Answer(200, "ok"), Reply::Answer(400, "invalid_payload"), vec![], |_| Ok(())).await
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("lock").clone()
    }

    /// Asserts that every request passed the provider's check.
    pub fn assert_all_verified(&self) {
        for (i, s) in self.seen().iter().enumerate() {
            assert!(s.verdict.is_ok(), "request {i} failed the provider's check: {:?}", s.verdict);
        }
    }
}

async fn handle(State(s): State<Shared>, RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let mut seen = Seen { query: query.unwrap_or_default(), headers, body, verdict: Ok(()) };
    seen.verdict = (s.check)(&seen);
    let reply = if seen.verdict.is_ok() {
        s.script.lock().expect("lock").pop_front().unwrap_or_else(|| s.default.clone())
    } else {
        s.rejected.clone()
    };
    s.seen.lock().expect("lock").push(seen);
    match reply {
        Reply::Answer(status, body) => {
            (StatusCode::from_u16(status).expect("status"), [("content-type", "application/json")], body)
                .into_response()
        }
        Reply::Hang => std::future::pending().await,
    }
}

/// The value of `name` in a raw query string, still percent-encoded.
pub fn raw_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// Percent-decodes a query value (`+` is a space in form encoding).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("utf-8");
                out.push(u8::from_str_radix(hex, 16).expect("hex"));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("utf-8")
}

/// Seconds since the epoch now.
pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}
