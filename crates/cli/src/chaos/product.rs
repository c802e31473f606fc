//! The seller's product, played by the fault suite: a Standard Webhooks endpoint that records
//! every create, renewal and release it receives (of instances, and renewals of license codes),
//! so duplicates (the same instance created, renewed or released, or the same code renewed, under
//! two idempotency keys) can be counted.
//!
//! Freeze and unfreeze are not counted: they are target-state operations, and koofill tells the
//! product the target state again on purpose when a later call finds it already reached in its
//! own records (see the provisioning worker's `reached`).

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use serde_json::{Value, json};

/// What the product saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Per (step, instance): the distinct `webhook-id`s of its once-only steps.
    pub steps: HashMap<(String, String), HashSet<String>>,
    /// Every call, retries included.
    pub calls: u64,
    /// Per (event type, instance): the distinct `webhook-id`s of the notifications received.
    pub notices: HashMap<(String, String), HashSet<String>>,
}

/// The steps that happen at most once per instance in the suite's load.
const ONCE_ONLY: [&str; 4] = ["instance.create", "instance.renew", "instance.release", "license.renew"];

/// The running product.
#[derive(Debug, Clone)]
pub struct Product {
    /// Where koofill's webhook provisioner posts.
    pub url: String,
    /// Where the notification worker's webhook channel posts.
    pub notify_url: String,
    seen: Arc<Mutex<Seen>>,
}

async fn hook(State(seen): State<Arc<Mutex<Seen>>>, headers: HeaderMap, body: Bytes) -> String {
    let call: Value = serde_json::from_slice(&body).unwrap_or_default();
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let kind = call["type"].as_str().unwrap_or_default();
    let instance = call["data"]["instanceId"]
        .as_str()
        .or_else(|| call["data"]["instance_id"].as_str())
        .or_else(|| call["data"]["license"].as_str());
    if let Ok(mut seen) = seen.lock() {
        seen.calls += 1;
        if ONCE_ONLY.contains(&kind)
            && let Some(instance) = instance
        {
            seen.steps.entry((kind.to_owned(), instance.to_owned())).or_default().insert(id);
        }
    }
    json!({"appInfo": {"frontEndUrl": "https://product.example/t", "userName": "admin", "password": "pw"}}).to_string()
}

/// The seller's own notification endpoint (the notification worker's `webhook` channel).
async fn notify(State(seen): State<Arc<Mutex<Seen>>>, headers: HeaderMap, body: Bytes) -> &'static str {
    let notice: Value = serde_json::from_slice(&body).unwrap_or_default();
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let kind = notice["type"].as_str().unwrap_or_default().to_owned();
    if let (Some(instance), Ok(mut seen)) = (notice["data"]["instance_id"].as_str(), seen.lock()) {
        seen.notices.entry((kind, instance.to_owned())).or_default().insert(id);
    }
    ""
}

impl Product {
    /// Serves on a free loopback port.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start() -> std::io::Result<Self> {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let app =
            Router::new().route("/hooks", post(hook)).route("/notify", post(notify)).with_state(Arc::clone(&seen));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { url: format!("http://{addr}/hooks"), notify_url: format!("http://{addr}/notify"), seen })
    }

    /// Creates, renewals and releases received under more than one idempotency key.
    pub fn duplicate_steps(&self) -> usize {
        self.seen.lock().map(|s| s.steps.values().filter(|ids| ids.len() > 1).count()).unwrap_or(0)
    }

    /// Instances notified of `event_type` (once or more).
    pub fn notified(&self, event_type: &str) -> HashSet<String> {
        self.seen
            .lock()
            .map(|s| s.notices.keys().filter(|(kind, _)| kind == event_type).map(|(_, i)| i.clone()).collect())
            .unwrap_or_default()
    }

    /// Notifications received under more than one delivery id for the same event type and
    /// instance (each event type happens at most once per instance in the suite's load).
    pub fn duplicate_notices(&self) -> usize {
        self.seen.lock().map(|s| s.notices.values().filter(|ids| ids.len() > 1).count()).unwrap_or(0)
    }

    /// Every instance the product was asked to create.
    pub fn created_instances(&self) -> std::collections::HashSet<String> {
        self.seen
            .lock()
            .map(|s| s.steps.keys().filter(|(kind, _)| kind == "instance.create").map(|(_, i)| i.clone()).collect())
            .unwrap_or_default()
    }

    /// Instances created at all.
    pub fn created(&self) -> usize {
        self.seen.lock().map(|s| s.steps.keys().filter(|(kind, _)| kind == "instance.create").count()).unwrap_or(0)
    }
}
