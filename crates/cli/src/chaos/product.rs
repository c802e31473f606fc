//! The seller's product, played by the fault suite: a Standard Webhooks endpoint that records
//! every `instance.create` it receives, so duplicates (the same instance created under two
//! idempotency keys) can be counted.

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
    /// Per instance: the distinct `webhook-id`s of its creates.
    pub creates: HashMap<String, HashSet<String>>,
    /// Every call, retries included.
    pub calls: u64,
}

/// The running product.
#[derive(Debug, Clone)]
pub struct Product {
    /// Where koofill's webhook provisioner posts.
    pub url: String,
    seen: Arc<Mutex<Seen>>,
}

async fn hook(State(seen): State<Arc<Mutex<Seen>>>, headers: HeaderMap, body: Bytes) -> String {
    let call: Value = serde_json::from_slice(&body).unwrap_or_default();
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let kind = call["type"].as_str().unwrap_or_default();
    let instance = call["data"]["instanceId"].as_str().or_else(|| call["data"]["instance_id"].as_str());
    if let Ok(mut seen) = seen.lock() {
        seen.calls += 1;
        if kind == "instance.create"
            && let Some(instance) = instance
        {
            seen.creates.entry(instance.to_owned()).or_default().insert(id);
        }
    }
    json!({"appInfo": {"frontEndUrl": "https://product.example/t", "userName": "admin", "password": "pw"}}).to_string()
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
        let app = Router::new().route("/hooks", post(hook)).with_state(Arc::clone(&seen));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { url: format!("http://{addr}/hooks"), seen })
    }

    /// Instances created under more than one idempotency key.
    pub fn duplicate_creates(&self) -> usize {
        self.seen.lock().map(|s| s.creates.values().filter(|ids| ids.len() > 1).count()).unwrap_or(0)
    }

    /// Instances created at all.
    pub fn created(&self) -> usize {
        self.seen.lock().map(|s| s.creates.len()).unwrap_or(0)
    }
}
