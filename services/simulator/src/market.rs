//! The marketplace's memory: orders, instances, license codes, usage records and every request
//! received. One [`Marketplace`] is shared by the open-API handlers, the scenario runner and the
//! tests that inspect what happened.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use koofill_model::order::{ChargingMode, OrderInfo};
use serde::{Deserialize, Serialize};

use crate::license::SimLicense;
use crate::oauth::{OAuthBook, SimOAuthClient, SimOAuthUser};
use crate::usage_rules::{UsageRecordResult, UsageRecordView};

/// What the marketplace knows about an instance, for the usage-push rules (spec §8.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimInstance {
    /// The ID the seller answered newInstance with.
    pub instance_id: String,
    /// The order that created it, when known.
    pub order_id: Option<String>,
    /// How its order line is charged; only on-demand instances take usage (`012` otherwise).
    pub charging_mode: ChargingMode,
    /// Normal, frozen or released (`013` unless normal).
    pub status: InstanceStatus,
    /// When the resource was opened: usage may not begin earlier (`011`).
    pub opened_at: DateTime<Utc>,
    /// When the resource was closed: usage may not end later (`011`).
    pub closed_at: Option<DateTime<Utc>>,
    /// The product was delisted (`006`).
    pub delisted: bool,
    /// The instance belongs to another seller than the one pushing (`009`).
    pub other_seller: bool,
}

impl SimInstance {
    /// A normal instance of the given charging mode, opened a day ago.
    pub fn new(instance_id: impl Into<String>, charging_mode: ChargingMode) -> Self {
        Self {
            instance_id: instance_id.into(),
            order_id: None,
            charging_mode,
            status: InstanceStatus::Normal,
            opened_at: Utc::now() - chrono::Duration::days(1),
            closed_at: None,
            delisted: false,
            other_seller: false,
        }
    }

    /// A normal on-demand instance, opened a day ago: one that accepts usage.
    pub fn on_demand(instance_id: impl Into<String>) -> Self {
        Self::new(instance_id, ChargingMode::OnDemand)
    }
}

/// The state of an instance as the marketplace sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstanceStatus {
    /// In use.
    Normal,
    /// Frozen (expired, arrears, violation).
    Frozen,
    /// Released.
    Released,
}

/// One request the simulator received, for tests to inspect.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// When it arrived.
    pub at: DateTime<Utc>,
    /// `GET`, `POST`, …
    pub method: String,
    /// The URL path.
    pub path: String,
    /// The raw query string, `""` when there is none.
    pub query: String,
    /// Every header as received, except that the `Authorization` value is replaced by
    /// `<redacted>` (its signature is a credential-derived value).
    pub headers: Vec<(String, String)>,
    /// The exact body bytes.
    pub body: Vec<u8>,
    /// What the simulator answered.
    pub verdict: Verdict,
}

/// The answer to a recorded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// HTTP status.
    pub status: u16,
    /// `error_code` / `resultCode` of the answer (`MKT.0000`, `MKT.0154`, `92020000`, …), `""`
    /// when the answer had none.
    pub code: String,
}

impl Verdict {
    /// Whether the request was accepted (HTTP 2xx).
    pub fn is_accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub orders: BTreeMap<String, OrderInfo>,
    pub instances: BTreeMap<String, SimInstance>,
    pub licenses: BTreeMap<String, SimLicense>,
    pub usage: Vec<UsageRecordResult>,
    pub usage_pushes: u64,
    pub requests: Vec<RecordedRequest>,
    /// The auth centre of the 联营 login (spec §6).
    pub oauth: OAuthBook,
}

/// The shared state of one simulated marketplace. Cheap to clone; clones share the state.
#[derive(Debug, Clone, Default)]
pub struct Marketplace {
    state: Arc<Mutex<State>>,
}

impl Marketplace {
    /// An empty marketplace (no mock orders).
    pub fn new() -> Self {
        Self::default()
    }

    /// Locks the state. Critical sections never await and never panic while holding the lock, so
    /// a poisoned lock still holds consistent data and is used as is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes an order known to query order (replacing one with the same ID).
    pub fn register_order(&self, order: OrderInfo) {
        self.lock().orders.insert(order.order_id.as_str().to_owned(), order);
    }

    /// The order with this ID.
    pub fn order(&self, order_id: &str) -> Option<OrderInfo> {
        self.lock().orders.get(order_id).cloned()
    }

    /// Makes an instance known to the usage push (replacing one with the same ID).
    pub fn register_instance(&self, instance: SimInstance) {
        self.lock().instances.insert(instance.instance_id.clone(), instance);
    }

    /// Changes the status of a known instance; `false` when it is unknown.
    pub fn set_instance_status(&self, instance_id: &str, status: InstanceStatus) -> bool {
        let mut state = self.lock();
        let Some(instance) = state.instances.get_mut(instance_id) else { return false };
        instance.status = status;
        if status == InstanceStatus::Released {
            instance.closed_at.get_or_insert_with(Utc::now);
        }
        true
    }

    /// The instance with this ID.
    pub fn instance(&self, instance_id: &str) -> Option<SimInstance> {
        self.lock().instances.get(instance_id).cloned()
    }

    /// Issues a license code (replacing one with the same code).
    pub fn register_license(&self, license: SimLicense) {
        self.lock().licenses.insert(license.code.clone(), license);
    }

    /// The license code's current record.
    pub fn license(&self, code: &str) -> Option<SimLicense> {
        self.lock().licenses.get(code).cloned()
    }

    /// Applies `change` to a license code; `false` when it is unknown.
    pub fn update_license(&self, code: &str, change: impl FnOnce(&mut SimLicense)) -> bool {
        match self.lock().licenses.get_mut(code) {
            Some(license) => {
                change(license);
                true
            }
            None => false,
        }
    }

    /// Registers a tenant's OAuth client of an app, with the app credential's redirect URL
    /// (replacing one with the same `client_id`).
    pub fn register_oauth_client(&self, client: SimOAuthClient) {
        self.lock().oauth.register_client(client);
    }

    /// Lets a user sign in to an app of a tenant (replacing the same tenant, app and userName).
    pub fn register_oauth_user(&self, user: SimOAuthUser) {
        self.lock().oauth.register_user(user);
    }

    /// Every usage record received so far, with its validation result, in arrival order.
    pub fn usage_records(&self) -> Vec<UsageRecordResult> {
        self.lock().usage.clone()
    }

    /// The usage records received for `instance_id` (every one when `None`), in arrival order, as
    /// the registration API lists them.
    pub fn usage_views(&self, instance_id: Option<&str>) -> Vec<UsageRecordView> {
        self.lock()
            .usage
            .iter()
            .filter(|r| instance_id.is_none_or(|wanted| r.instance_id.as_deref() == Some(wanted)))
            .map(UsageRecordView::from)
            .collect()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    pub(crate) fn record_request(&self, request: RecordedRequest) {
        self.lock().requests.push(request);
    }
}
