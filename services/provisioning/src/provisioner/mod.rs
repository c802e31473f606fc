//! The provisioner: how koofill reaches the ISV's own product (architecture §7).
//!
//! [`Provisioner`] is the trait; [`TemplateProvisioner`] answers from URL templates and a
//! generated password (and answers debug orders itself), [`WebhookProvisioner`] POSTs each
//! lifecycle step to the ISV signed the Standard Webhooks way. [`AnyProvisioner`] is whichever
//! the configuration chose.
//!
//! Every step carries a `call_id` that is the same on every attempt and every redelivery of the
//! message that caused it (`{event id}:{step}`), so the ISV can deduplicate: a redelivered
//! create reaches it with the id it has already seen.

mod template;
mod webhook;

use std::future::Future;

use chrono::{DateTime, Utc};
use koofill_model::{
    InstanceId, OrderId, OrderLineId,
    basic::{ChangeProductInfo, RefreshScene},
    order::{ExtendParam, ProductInfo},
};
use serde::{Deserialize, Serialize};

pub use template::{TemplateProvisioner, generate_password};
pub use webhook::{WebhookOptions, WebhookProvisioner, change_check_budget};

/// Longest `frontEndUrl` / `adminUrl` KooGallery accepts (String(512)).
pub const URL_MAX: usize = 512;
/// Longest `memo` (String(1024), in characters).
pub const MEMO_MAX: usize = 1024;
/// Longest encrypted `userName` / `password` (String(128)): about 79 bytes of plain text.
pub const SEALED_CREDENTIAL_MAX: usize = 128;

/// Errors of a provisioner call.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionerError {
    /// The ISV answered with a non-2xx status: a permanent one (a 4xx other than 408 and 429),
    /// or a temporary one on every attempt.
    #[error("ISV answered HTTP {status} to {step}")]
    Status {
        /// The step.
        step: &'static str,
        /// The last status.
        status: u16,
    },
    /// The ISV could not be reached in time on every attempt.
    #[error("ISV unreachable for {step}")]
    Unreachable {
        /// The step.
        step: &'static str,
        /// The last cause, without the URL (its query may carry a token).
        #[source]
        source: reqwest::Error,
    },
    /// The answer does not carry what the step needs (e.g. no `frontEndUrl`, a field too long).
    #[error("ISV answer to {step} is unusable: {reason}")]
    InvalidAnswer {
        /// The step.
        step: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl ProvisionerError {
    /// Whether the ISV's endpoint refused koofill itself (401 Unauthorized, 403 Forbidden): a
    /// webhook secret or URL configured differently on the two sides. An operator fixes it and
    /// the same call then succeeds, so it is retried on the long horizon rather than failing a
    /// paid order.
    pub fn is_misconfigured(&self) -> bool {
        matches!(self, Self::Status { status: 401 | 403, .. })
    }

    /// Whether a later attempt may succeed. An unusable answer is not retried automatically
    /// (it would be the same), nor is a client error (a 4xx other than 408 Request Timeout and
    /// 429 Too Many Requests: the ISV refused the request itself, e.g. a bad signature or an
    /// invalid body); the message is dead-lettered and can be redriven after a fix.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => is_temporary_status(*status) || self.is_misconfigured(),
            Self::Unreachable { .. } => true,
            Self::InvalidAnswer { .. } => false,
        }
    }
}

/// Whether an HTTP error status may go away by itself: 5xx, 408, 429 (and anything outside
/// 4xx). Other 4xx answers are the same on every attempt.
pub fn is_temporary_status(status: u16) -> bool {
    !(400..500).contains(&status) || status == 408 || status == 429
}

/// The product an instance is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRef {
    /// Product ID (changes with the period type).
    pub product_id: Option<String>,
    /// SKU (stable).
    pub sku_code: Option<String>,
    /// Linear quantity (e.g. seats), as the decimal text received.
    pub linear_value: Option<String>,
    /// Display name.
    pub product_name: Option<String>,
}

impl ProductRef {
    /// The reference for a query-order product.
    pub fn from_info(p: &ProductInfo) -> Self {
        Self {
            product_id: Some(p.product_id.to_string()),
            sku_code: Some(p.sku_code.to_string()),
            linear_value: p.linear_value.as_ref().map(ToString::to_string),
            product_name: p.product_name.clone(),
        }
    }
}

/// Everything known about a new instance when it is created.
#[derive(Debug, Clone, Serialize)]
pub struct CreateRequest {
    /// The instance ID answered to KooGallery.
    pub instance_id: InstanceId,
    /// The order.
    pub order_id: OrderId,
    /// The order line.
    pub order_line_id: OrderLineId,
    /// A debug order: create nothing real.
    pub test: bool,
    /// `NEW`, `TRIAL`... (none when the order could not be queried).
    pub order_type: Option<String>,
    /// The buyer's account ID.
    pub customer_id: Option<String>,
    /// The buyer's account name.
    pub customer_name: Option<String>,
    /// `PERIOD`, `ONE_TIME`, `ON_DEMAND`, `ON_DEMAND_PKG`.
    pub charging_mode: Option<String>,
    /// The main (first) product of the line.
    pub product: Option<ProductRef>,
    /// Every product of the line (on-demand lines may list several).
    pub products: Vec<ProductInfo>,
    /// Period unit.
    pub period_type: Option<String>,
    /// Number of periods.
    pub period_number: Option<i64>,
    /// Expiry from the order.
    pub expire_time: Option<DateTime<Utc>>,
    /// The line's name/value parameters (e.g. `emailDomainName`).
    pub extend_params: Vec<ExtendParam>,
}

/// A lifecycle step after the create.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", content = "data")]
pub enum Change {
    /// The expiry was set (renewal, trial conversion, unsubscribed renewal, renewal with change).
    #[serde(rename = "instance.renew")]
    Renew {
        /// The instance.
        instance_id: InstanceId,
        /// The order.
        order_id: OrderId,
        /// Why.
        scene: RefreshScene,
        /// The new expiry.
        expire_time: DateTime<Utc>,
        /// The product after the change, when it changed.
        product: Option<ProductRef>,
    },
    /// Suspend access; keep the data through the freeze period.
    #[serde(rename = "instance.freeze")]
    Freeze {
        /// The instance.
        instance_id: InstanceId,
    },
    /// Restore access.
    #[serde(rename = "instance.unfreeze")]
    Unfreeze {
        /// The instance.
        instance_id: InstanceId,
    },
    /// Delete the tenant.
    #[serde(rename = "instance.release")]
    Release {
        /// The instance.
        instance_id: InstanceId,
        /// The unsubscribe order, if any.
        order_id: Option<OrderId>,
    },
    /// Change to another SKU or quantity.
    #[serde(rename = "instance.upgrade")]
    Upgrade {
        /// The instance.
        instance_id: InstanceId,
        /// The upgrade order.
        order_id: OrderId,
        /// The target product.
        product: Option<ProductRef>,
    },
    /// A Kit directory change (`tenant.sync`, `application.sync`, `users.sync`,
    /// `department.sync`, `departments.replace`); `data` is the callback body without secrets.
    #[serde(rename = "directory.sync")]
    Directory {
        /// Which change.
        kind: &'static str,
        /// The callback, minus the client secret.
        body: serde_json::Value,
    },
}

impl Change {
    /// The step name, e.g. `instance.freeze` (for directory changes, the kind).
    pub fn step(&self) -> &'static str {
        match self {
            Self::Renew { .. } => "instance.renew",
            Self::Freeze { .. } => "instance.freeze",
            Self::Unfreeze { .. } => "instance.unfreeze",
            Self::Release { .. } => "instance.release",
            Self::Upgrade { .. } => "instance.upgrade",
            Self::Directory { kind, .. } => kind,
        }
    }

    /// The instance concerned, if any.
    pub fn instance_id(&self) -> Option<&InstanceId> {
        match self {
            Self::Renew { instance_id, .. }
            | Self::Freeze { instance_id }
            | Self::Unfreeze { instance_id }
            | Self::Release { instance_id, .. }
            | Self::Upgrade { instance_id, .. } => Some(instance_id),
            Self::Directory { .. } => None,
        }
    }
}

/// Access information as the ISV's product produced it, credentials in clear. It is encrypted
/// (KooGallery's format, basic key) before it is stored or put in the view.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlainAppInfo {
    /// Where the customer uses the product (required).
    pub front_end_url: String,
    /// The admin console.
    #[serde(default)]
    pub admin_url: Option<String>,
    /// The admin account.
    #[serde(default)]
    pub user_name: Option<String>,
    /// The admin password.
    #[serde(default)]
    pub password: Option<String>,
    /// Usage notes.
    #[serde(default)]
    pub memo: Option<String>,
}

impl std::fmt::Debug for PlainAppInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainAppInfo")
            .field("front_end_url", &self.front_end_url)
            .field("admin_url", &self.admin_url)
            .field("user_name", &self.user_name)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("memo", &self.memo)
            .finish()
    }
}

impl PlainAppInfo {
    /// Checks the lengths KooGallery accepts (spec §1.4), before encryption.
    ///
    /// # Errors
    /// [`ProvisionerError::InvalidAnswer`] naming the field.
    pub fn validate(&self, step: &'static str) -> Result<(), ProvisionerError> {
        let bad = |reason: String| Err(ProvisionerError::InvalidAnswer { step, reason });
        let url = self.front_end_url.trim();
        if url.is_empty() {
            return bad("frontEndUrl is required".into());
        }
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return bad("frontEndUrl must be an http(s) URL".into());
        }
        if url.chars().count() > URL_MAX {
            return bad(format!("frontEndUrl is longer than {URL_MAX} characters"));
        }
        if self.admin_url.as_ref().is_some_and(|u| u.chars().count() > URL_MAX) {
            return bad(format!("adminUrl is longer than {URL_MAX} characters"));
        }
        if self.memo.as_ref().is_some_and(|m| m.chars().count() > MEMO_MAX) {
            return bad(format!("memo is longer than {MEMO_MAX} characters"));
        }
        Ok(())
    }
}

/// The ISV's side of the lifecycle.
pub trait Provisioner: Send + Sync {
    /// Creates the tenant for a new instance and returns how the customer reaches it.
    /// `call_id` is stable across retries and redeliveries of the same create.
    fn create(
        &self,
        call_id: &str,
        request: &CreateRequest,
    ) -> impl Future<Output = Result<PlainAppInfo, ProvisionerError>> + Send;

    /// Applies a lifecycle or directory change. Must be idempotent for the same `call_id`.
    fn apply(
        &self,
        call_id: &str,
        test: bool,
        change: &Change,
    ) -> impl Future<Output = Result<(), ProvisionerError>> + Send;

    /// Whether `instance_id` may change to `product` on renewal (changeInstanceCheck).
    fn change_check(
        &self,
        instance_id: &InstanceId,
        product: &ChangeProductInfo,
        test: bool,
    ) -> impl Future<Output = Result<ChangeVerdict, ProvisionerError>> + Send;
}

/// The answer to a change check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeVerdict {
    /// Whether the change is possible.
    pub allowed: bool,
    /// Why not, or a note.
    #[serde(default)]
    pub message: Option<String>,
}

/// The provisioner the configuration chose.
#[derive(Debug, Clone)]
pub enum AnyProvisioner {
    /// `provisioner.kind = "template"`.
    Template(TemplateProvisioner),
    /// `provisioner.kind = "webhook"`.
    Webhook(WebhookProvisioner),
}

impl Provisioner for AnyProvisioner {
    async fn create(&self, call_id: &str, request: &CreateRequest) -> Result<PlainAppInfo, ProvisionerError> {
        match self {
            Self::Template(p) => p.create(call_id, request).await,
            Self::Webhook(p) => p.create(call_id, request).await,
        }
    }

    async fn apply(&self, call_id: &str, test: bool, change: &Change) -> Result<(), ProvisionerError> {
        match self {
            Self::Template(p) => p.apply(call_id, test, change).await,
            Self::Webhook(p) => p.apply(call_id, test, change).await,
        }
    }

    async fn change_check(
        &self,
        instance_id: &InstanceId,
        product: &ChangeProductInfo,
        test: bool,
    ) -> Result<ChangeVerdict, ProvisionerError> {
        match self {
            Self::Template(p) => p.change_check(instance_id, product, test).await,
            Self::Webhook(p) => p.change_check(instance_id, product, test).await,
        }
    }
}

/// Chooses who handles a step: debug orders go to the template provisioner (which touches
/// nothing real) unless `provision_debug_orders` sends them to the real one too.
#[derive(Debug, Clone)]
pub struct Provisioners {
    /// The configured provisioner.
    pub configured: AnyProvisioner,
    /// Answers debug orders.
    pub debug: TemplateProvisioner,
    /// `provisioner.provision_debug_orders`.
    pub provision_debug_orders: bool,
}

impl Provisioners {
    /// The provisioner for an order with this debug flag.
    pub fn for_order(&self, test: bool) -> AnyProvisioner {
        if test && !self.provision_debug_orders {
            AnyProvisioner::Template(self.debug.clone())
        } else {
            self.configured.clone()
        }
    }
}
