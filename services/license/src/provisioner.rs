//! How the seller's product hears of license changes: `license.renew`, `license.freeze`,
//! `license.unfreeze`, `license.release`.
//!
//! - `provisioner.kind = "webhook"`: a POST per change, signed the Standard Webhooks way with
//!   `provisioner.webhook_secret` (`webhook-id` = the call id, the same on every attempt and every
//!   redelivery, so the product deduplicates), retried within a delivery on timeouts, 5xx, 408 and
//!   429; any other 4xx is permanent (401/403: misconfigured, retried on the horizon); a release
//!   answered 404 or 410 is done. Body: `{"id", "type", "test", "data": {...}}`.
//! - `provisioner.kind = "template"`: nothing outside koofill is touched; the call is recorded.
//!
//! Every attempt is a row in `provisioner_calls` (no instance; the call id names the code).
//! Debug codes (`testFlag`) are only recorded unless `provisioner.provision_debug_orders` is set.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use koofill_model::{OrderId, basic::LicenseScene};
use koofill_signing::webhook::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSecret};
use koofill_store::entities::provisioner_calls;
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};
use serde::Serialize;
use serde_json::{Value, json};

/// A change the seller's product applies.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", content = "data")]
pub enum LicenseChange {
    /// The validity was set (renewal, or a renewal period unsubscribed).
    #[serde(rename = "license.renew")]
    Renew {
        /// The license code.
        license: String,
        /// The renewal (or unsubscribed) order.
        order_id: OrderId,
        /// Why.
        scene: LicenseScene,
        /// The new expiry.
        expire_time: DateTime<Utc>,
    },
    /// Stop honouring the code; keep the data through the freeze period.
    #[serde(rename = "license.freeze")]
    Freeze {
        /// The license code.
        license: String,
    },
    /// Honour the code again.
    #[serde(rename = "license.unfreeze")]
    Unfreeze {
        /// The license code.
        license: String,
    },
    /// The code is gone for good.
    #[serde(rename = "license.release")]
    Release {
        /// The license code.
        license: String,
        /// The unsubscribe order, if any.
        order_id: Option<OrderId>,
    },
}

impl LicenseChange {
    /// The step name, e.g. `license.freeze`.
    pub fn step(&self) -> &'static str {
        match self {
            Self::Renew { .. } => "license.renew",
            Self::Freeze { .. } => "license.freeze",
            Self::Unfreeze { .. } => "license.unfreeze",
            Self::Release { .. } => "license.release",
        }
    }
}

/// Why the product could not be told.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionerError {
    /// The product answered a non-2xx status (a permanent one, or a temporary one every time).
    #[error("the product answered HTTP {status} to {step}")]
    Status {
        /// The step.
        step: &'static str,
        /// The last status.
        status: u16,
    },
    /// No answer in time on every attempt (the URL is left out: its query may carry a token).
    #[error("the product was unreachable for {step}")]
    Unreachable {
        /// The step.
        step: &'static str,
        /// The last cause.
        #[source]
        source: reqwest::Error,
    },
}

impl ProvisionerError {
    /// 401/403: the webhook secret or URL differs between the two sides.
    pub fn is_misconfigured(&self) -> bool {
        matches!(self, Self::Status { status: 401 | 403, .. })
    }

    /// Whether a later attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => is_temporary(*status) || self.is_misconfigured(),
            Self::Unreachable { .. } => true,
        }
    }
}

fn is_temporary(status: u16) -> bool {
    !(400..500).contains(&status) || status == 408 || status == 429
}

/// Retry settings of the webhook within one delivery.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// Timeout of one attempt (`provisioner.timeout_ms`).
    pub timeout: Duration,
    /// Attempts per delivery.
    pub attempts: u32,
    /// First pause between attempts, doubled after each.
    pub backoff: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(3), attempts: 4, backoff: Duration::from_millis(200) }
    }
}

/// The configured provisioner, plus the rule for debug codes.
#[derive(Debug, Clone)]
pub struct LicenseProvisioner {
    webhook: Option<Webhook>,
    provision_debug: bool,
    db: DatabaseConnection,
}

#[derive(Debug, Clone)]
struct Webhook {
    http: reqwest::Client,
    url: String,
    secret: WebhookSecret,
    options: WebhookOptions,
}

impl LicenseProvisioner {
    /// The template provisioner (records only).
    pub fn template(db: DatabaseConnection) -> Self {
        Self { webhook: None, provision_debug: false, db }
    }

    /// The webhook provisioner; debug codes reach it only when `provision_debug` is set.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn webhook(
        db: DatabaseConnection,
        url: String,
        secret: WebhookSecret,
        options: WebhookOptions,
        provision_debug: bool,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(options.timeout).build()?;
        Ok(Self { webhook: Some(Webhook { http, url, secret, options }), provision_debug, db })
    }

    /// Tells the product of `change`; `call_id` is the same on every attempt and redelivery.
    ///
    /// # Errors
    /// [`ProvisionerError`] when the webhook failed.
    pub async fn apply(&self, call_id: &str, test: bool, change: &LicenseChange) -> Result<(), ProvisionerError> {
        let step = change.step();
        let webhook = match &self.webhook {
            Some(w) if !test || self.provision_debug => w,
            _ => {
                tracing::info!(step, call_id, test, "license change recorded (template provisioner)");
                self.record(step, call_id, 1, "recorded", None, Duration::ZERO, None, Utc::now()).await;
                return Ok(());
            }
        };
        let mut body = serde_json::to_value(change).unwrap_or(Value::Null);
        if let Some(obj) = body.as_object_mut() {
            obj.insert("id".into(), json!(call_id));
            obj.insert("test".into(), json!(test));
        }
        let payload = serde_json::to_vec(&body).unwrap_or_default();
        let mut delay = webhook.options.backoff;
        let mut last = None;
        for attempt in 1..=webhook.options.attempts.max(1) {
            if attempt > 1 {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            let (started, at) = (Instant::now(), Utc::now());
            let ts = at.timestamp();
            let sent = webhook
                .http
                .post(&webhook.url)
                .header("content-type", "application/json")
                .header(ID_HEADER, call_id)
                .header(TIMESTAMP_HEADER, ts.to_string())
                .header(SIGNATURE_HEADER, webhook.secret.sign(call_id, ts, &payload))
                .body(payload.clone())
                .send()
                .await
                .map_err(reqwest::Error::without_url);
            let elapsed = started.elapsed();
            match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let gone = matches!(change, LicenseChange::Release { .. }) && matches!(status, 404 | 410);
                    if (200..300).contains(&status) || gone {
                        self.record(step, call_id, attempt, "ok", Some(status), elapsed, None, at).await;
                        return Ok(());
                    }
                    self.record(step, call_id, attempt, "http_error", Some(status), elapsed, None, at).await;
                    tracing::warn!(step, attempt, status, "license webhook answered an error");
                    let error = ProvisionerError::Status { step, status };
                    if !is_temporary(status) {
                        return Err(error);
                    }
                    last = Some(error);
                }
                Err(e) => {
                    let outcome = if e.is_timeout() { "timeout" } else { "unreachable" };
                    self.record(step, call_id, attempt, outcome, None, elapsed, Some(e.to_string()), at).await;
                    tracing::warn!(step, attempt, error = &e as &dyn std::error::Error, "license webhook failed");
                    last = Some(ProvisionerError::Unreachable { step, source: e });
                }
            }
        }
        Err(last.unwrap_or(ProvisionerError::Status { step, status: 0 }))
    }

    /// Writes one attempt; best effort (the audit row must not fail the change).
    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        step: &str,
        call_id: &str,
        attempt: u32,
        outcome: &str,
        status: Option<u16>,
        elapsed: Duration,
        error: Option<String>,
        at: DateTime<Utc>,
    ) {
        let row = provisioner_calls::ActiveModel {
            instance_id: Set(None),
            step: Set(step.to_owned()),
            call_id: Set(call_id.to_owned()),
            attempt: Set(i32::try_from(attempt).unwrap_or(i32::MAX)),
            outcome: Set(outcome.to_owned()),
            status_code: Set(status.map(i32::from)),
            duration_ms: Set(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)),
            error: Set(error),
            at: Set(at),
            ..Default::default()
        };
        if let Err(e) = row.insert(&self.db).await {
            tracing::warn!(error = &e as &dyn std::error::Error, step, "provisioner call not recorded");
        }
    }
}
