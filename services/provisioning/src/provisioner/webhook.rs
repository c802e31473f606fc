//! The webhook provisioner: each lifecycle step is POSTed to the ISV as JSON, signed the
//! Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`), retried with
//! backoff, and every attempt is recorded in `provisioner_calls`.
//!
//! Retried within one delivery: timeouts, connection failures, 5xx, 408 and 429. A 4xx other
//! than those (400, 401, 403, 404, 422…) is the ISV refusing the request itself: it is not
//! repeated, and the error is permanent (the message is dead-lettered at once, redrivable after
//! a fix). `instance.release` takes 404 and 410 as success.
//!
//! The change check is a question the ingress is waiting on (`ingress.change_check_timeout_ms`),
//! so it gets a single attempt bounded by [`WebhookOptions::change_check_timeout`]; when that
//! passes, the configured default answers.
//!
//! Errors are recorded and reported without the endpoint's URL (its query may carry a token).
//!
//! Body: `{"id": <call id>, "type": "instance.create", "test": false, "data": {...}}`. The body
//! and `webhook-id` are the same on every attempt, so the ISV can deduplicate; only the
//! timestamp header and signature change.

use std::time::{Duration, Instant};

use chrono::Utc;
use koofill_model::{InstanceId, basic::ChangeProductInfo};
use koofill_signing::webhook::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSecret};
use koofill_store::entities::provisioner_calls;
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};
use serde::Serialize;
use serde_json::{Value, json};

use super::{Change, ChangeVerdict, CreateRequest, PlainAppInfo, Provisioner, ProvisionerError};

/// Retry settings of the webhook provisioner.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// Timeout of one attempt (`provisioner.timeout_ms`).
    pub timeout: Duration,
    /// Attempts per step within one delivery; after that the message is retried by the consumer
    /// (NAK with delay), which calls again with the same id.
    pub attempts: u32,
    /// Pause before the second attempt; doubled after each, capped at `max_backoff`.
    pub backoff: Duration,
    /// Longest pause between attempts.
    pub max_backoff: Duration,
    /// Timeout of the change check's single attempt; below the ingress's wait for the verdict
    /// (the worker derives it from `ingress.change_check_timeout_ms`, see
    /// [`change_check_budget`]).
    pub change_check_timeout: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            attempts: 4,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            change_check_timeout: change_check_budget(Duration::from_millis(1500)),
        }
    }
}

/// What the ingress's wait leaves for asking the ISV: `ingress_wait` minus a margin for the
/// instance look-up and the two NATS hops (300 ms, at most half the wait).
pub fn change_check_budget(ingress_wait: Duration) -> Duration {
    const MARGIN: Duration = Duration::from_millis(300);
    ingress_wait.saturating_sub(MARGIN).max(ingress_wait / 2)
}

/// How many times, and with what timeout, one step is tried within a delivery.
#[derive(Debug, Clone, Copy)]
struct Attempts {
    count: u32,
    /// Overrides the client's timeout.
    timeout: Option<Duration>,
}

/// POSTs lifecycle steps to the ISV's endpoint.
#[derive(Debug, Clone)]
pub struct WebhookProvisioner {
    http: reqwest::Client,
    url: String,
    secret: WebhookSecret,
    options: WebhookOptions,
    db: Option<DatabaseConnection>,
}

impl WebhookProvisioner {
    /// A provisioner for `url` signing with `secret`; attempts are recorded in `db` when given.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (the TLS back-end failed to initialise).
    pub fn new(
        url: impl Into<String>,
        secret: WebhookSecret,
        options: WebhookOptions,
        db: Option<DatabaseConnection>,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(options.timeout).build()?;
        Ok(Self { http, url: url.into(), secret, options, db })
    }

    /// Lifecycle and directory steps: several attempts, the client's timeout.
    fn step_attempts(&self) -> Attempts {
        Attempts { count: self.options.attempts, timeout: None }
    }

    /// Sends one step with retries; returns the status and body of the first 2xx answer (or of
    /// an answer `accept` takes as success). One client span per step, its trace context sent
    /// along (`traceparent`), so the seller's product joins the order's trace.
    #[tracing::instrument(name = "provisioner.call", skip_all, fields(otel.kind = "client", step, call_id = %call_id))]
    async fn send(
        &self,
        step: &'static str,
        call_id: &str,
        instance_id: Option<&InstanceId>,
        body: &Value,
        accept: impl Fn(u16) -> bool,
        attempts: Attempts,
    ) -> Result<(u16, bytes::Bytes), ProvisionerError> {
        let payload = serde_json::to_vec(body)
            .map_err(|e| ProvisionerError::InvalidAnswer { step, reason: format!("request not encodable: {e}") })?;
        let mut delay = self.options.backoff;
        let mut last: Option<ProvisionerError> = None;
        for attempt in 1..=attempts.count.max(1) {
            if attempt > 1 {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(self.options.max_backoff);
            }
            let started = Instant::now();
            let at = Utc::now();
            let ts = at.timestamp();
            let mut request = self
                .http
                .post(&self.url)
                .header("content-type", "application/json")
                .header(ID_HEADER, call_id)
                .header(TIMESTAMP_HEADER, ts.to_string())
                .header(SIGNATURE_HEADER, self.secret.sign(call_id, ts, &payload))
                .headers(koofill_telemetry::http::inject_current())
                .body(payload.clone());
            if let Some(timeout) = attempts.timeout {
                request = request.timeout(timeout);
            }
            let result = request.send().await;
            let answer = match result {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.bytes().await {
                        Ok(body) => Ok((status, body)),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            // The URL may carry a token in its query: keep it out of records, logs and errors.
            let answer = answer.map_err(reqwest::Error::without_url);
            let elapsed = started.elapsed();
            match answer {
                Ok((status, body)) if (200..300).contains(&status) || accept(status) => {
                    self.record(instance_id, step, call_id, attempt, "ok", Some(status), elapsed, None, at).await;
                    return Ok((status, body));
                }
                Ok((status, _)) => {
                    self.record(instance_id, step, call_id, attempt, "http_error", Some(status), elapsed, None, at)
                        .await;
                    tracing::warn!(step, attempt, status, "provisioner webhook answered an error");
                    let error = ProvisionerError::Status { step, status };
                    if !error.is_retryable() || error.is_misconfigured() {
                        return Err(error); // the same request would be refused again
                    }
                    last = Some(error);
                }
                Err(e) => {
                    let outcome = if e.is_timeout() { "timeout" } else { "unreachable" };
                    let error = crate::error::chain(&e);
                    self.record(instance_id, step, call_id, attempt, outcome, None, elapsed, Some(error), at).await;
                    tracing::warn!(step, attempt, error = &e as &dyn std::error::Error, "provisioner webhook failed");
                    last = Some(ProvisionerError::Unreachable { step, source: e });
                }
            }
        }
        Err(last.unwrap_or(ProvisionerError::Status { step, status: 0 }))
    }

    /// Writes one attempt to `provisioner_calls`. Best effort: the audit row must not turn a
    /// successful call into a failed message.
    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        instance_id: Option<&InstanceId>,
        step: &str,
        call_id: &str,
        attempt: u32,
        outcome: &str,
        status: Option<u16>,
        elapsed: Duration,
        error: Option<String>,
        at: chrono::DateTime<Utc>,
    ) {
        let Some(db) = &self.db else { return };
        let row = provisioner_calls::ActiveModel {
            instance_id: Set(instance_id.map(ToString::to_string)),
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
        if let Err(e) = row.insert(db).await {
            tracing::warn!(error = &e as &dyn std::error::Error, step, "provisioner attempt not recorded");
        }
    }
}

fn envelope(call_id: &str, step: &str, test: bool, data: &impl Serialize) -> Value {
    json!({ "id": call_id, "type": step, "test": test, "data": data })
}

impl Provisioner for WebhookProvisioner {
    async fn create(&self, call_id: &str, request: &CreateRequest) -> Result<PlainAppInfo, ProvisionerError> {
        const STEP: &str = "instance.create";
        let body = envelope(call_id, STEP, request.test, request);
        let (_, answer) =
            self.send(STEP, call_id, Some(&request.instance_id), &body, |_| false, self.step_attempts()).await?;
        let value: Value = serde_json::from_slice(&answer)
            .map_err(|e| ProvisionerError::InvalidAnswer { step: STEP, reason: format!("not JSON: {e}") })?;
        // `{"appInfo": {...}}` as documented; a bare appInfo object is accepted too.
        let app = value.get("appInfo").cloned().unwrap_or(value);
        let info: PlainAppInfo = serde_json::from_value(app)
            .map_err(|e| ProvisionerError::InvalidAnswer { step: STEP, reason: format!("appInfo: {e}") })?;
        info.validate(STEP)?;
        Ok(info)
    }

    async fn apply(&self, call_id: &str, test: bool, change: &Change) -> Result<(), ProvisionerError> {
        let step = change.step();
        let mut body = serde_json::to_value(change)
            .map_err(|e| ProvisionerError::InvalidAnswer { step, reason: format!("request not encodable: {e}") })?;
        if let Some(obj) = body.as_object_mut() {
            obj.insert("id".into(), Value::from(call_id));
            obj.insert("test".into(), Value::from(test));
            obj.insert("type".into(), Value::from(step));
        }
        // Releasing something the ISV no longer has is success.
        let gone_is_fine = matches!(change, Change::Release { .. });
        let gone = |s| gone_is_fine && (s == 404 || s == 410);
        self.send(step, call_id, change.instance_id(), &body, gone, self.step_attempts()).await?;
        Ok(())
    }

    async fn change_check(
        &self,
        instance_id: &InstanceId,
        product: &ChangeProductInfo,
        test: bool,
    ) -> Result<ChangeVerdict, ProvisionerError> {
        const STEP: &str = "instance.change_check";
        // A question, not a change: a fresh id each time.
        let call_id = format!("changeInstanceCheck:{instance_id}:{}", Utc::now().timestamp_millis());
        let body = envelope(&call_id, STEP, test, &json!({ "instance_id": instance_id, "product_info": product }));
        // The ingress answers KooGallery with the default when our verdict is late: one attempt,
        // bounded so that the verdict (or the failure) arrives while it still waits.
        let once = Attempts { count: 1, timeout: Some(self.options.change_check_timeout) };
        let (_, answer) = self.send(STEP, &call_id, Some(instance_id), &body, |_| false, once).await?;
        serde_json::from_slice(&answer)
            .map_err(|e| ProvisionerError::InvalidAnswer { step: STEP, reason: format!("verdict: {e}") })
    }
}
