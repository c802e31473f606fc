//! What every handler shares.

use std::{sync::Arc, time::Duration};

use koofill_bus::{
    Bus, Publisher,
    views::{InstanceViews, NonceCache},
};

use crate::metrics::Metrics;

/// The keys of one interface type, current first, then previous ones (rotation). `Debug` redacts.
#[derive(Clone, Default)]
pub struct KeyRing(Arc<Vec<Vec<u8>>>);

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyRing({} keys, <redacted>)", self.0.len())
    }
}

impl KeyRing {
    /// A ring from keys in order of preference (empty strings are skipped).
    pub fn new<I, K>(keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        Self(Arc::new(keys.into_iter().map(|k| k.as_ref().to_vec()).filter(|k| !k.is_empty()).collect()))
    }

    /// The keys, as slices.
    pub fn as_slices(&self) -> Vec<&[u8]> {
        self.0.iter().map(Vec::as_slice).collect()
    }

    /// The key at `index` (the one that verified a request), or the current one.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.0.get(index).or_else(|| self.0.first()).map(Vec::as_slice)
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What `changeInstanceCheck` answers when provisioning does not reply in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeCheckDefault {
    /// Allow the change (`000000`).
    Allow,
    /// Refuse the change (`000002`).
    Reject,
}

/// Settings the handlers need, taken from the configuration once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The name prefix on the bus.
    pub prefix: String,
    /// Timestamp window, two-sided, in milliseconds.
    pub window_ms: i64,
    /// Largest accepted body.
    pub body_limit: usize,
    /// Answer deadline.
    pub request_timeout: Duration,
    /// Deadline of the `changeInstanceCheck` request-reply.
    pub change_check_timeout: Duration,
    /// Answer when provisioning does not reply.
    pub change_check_default: ChangeCheckDefault,
}

/// The state behind every route: one reference count per request.
///
/// axum clones the state into every request; the NATS handles, KV stores and stream
/// configuration inside would each allocate on a clone, so they sit behind one `Arc`.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Wraps what the routes share.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What every route shares, built once at start.
#[derive(Debug)]
pub struct Shared {
    /// Keys of the basic interfaces.
    pub basic_keys: KeyRing,
    /// Keys of the Kit sync interfaces.
    pub kit_keys: KeyRing,
    /// Handler settings.
    pub settings: Arc<Settings>,
    /// The NATS connection.
    pub bus: Bus,
    /// Publishes inbound callbacks.
    pub publisher: Publisher,
    /// Replay cache.
    pub nonces: NonceCache,
    /// Instance view.
    pub views: InstanceViews,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The license activation proxy (`/v1/licenses`).
    pub license: crate::license_proxy::SharedLicenseApi,
    /// The tokens of `POST /v1/usage` (`metering.api_token`).
    pub usage_tokens: crate::license_proxy::SharedLicenseApi,
}
