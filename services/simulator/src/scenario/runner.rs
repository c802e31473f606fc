//! The machinery every scenario shares: send a callback the way KooGallery does (retrying a failed
//! one with a fresh nonce, timestamp and `businessId`), check the answer, and write the step down.

use std::time::{Duration, Instant};

use koofill_model::order::{ChargingMode, OrderInfo};
use koofill_signing::field_crypto::{EncryptType, FieldCipher};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::Value;

use super::ScenarioOptions;
use crate::bodies;
use crate::callback::{CallbackSender, Exchange};
use crate::market::{InstanceStatus, SimInstance};
use crate::orders::OrderSpec;
use crate::registry::Registry;
use crate::report::{Outcome, ScenarioReport, Step};

/// `000000`.
pub(super) const OK: &[&str] = &["000000"];
/// newInstance and queryInstance may also answer `000004` (opening asynchronously).
pub(super) const OK_OR_PROCESSING: &[&str] = &["000000", "000004"];

/// Where a call goes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Via {
    /// The production address, basic signature.
    Basic,
    /// A Kit interface, Kit signature.
    Kit(&'static str),
}

/// One scenario in progress.
pub(super) struct Run<'a> {
    pub sender: &'a CallbackSender,
    pub registry: &'a Registry,
    pub options: &'a ScenarioOptions,
    pub rng: StdRng,
    pub report: ScenarioReport,
    started: Instant,
}

impl<'a> Run<'a> {
    pub fn new(name: &str, sender: &'a CallbackSender, registry: &'a Registry, options: &'a ScenarioOptions) -> Self {
        // Each scenario draws from its own stream, so adding a scenario does not change the others.
        let salt = name.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        Self {
            sender,
            registry,
            options,
            rng: StdRng::seed_from_u64(options.seed ^ salt),
            report: ScenarioReport {
                scenario: name.to_owned(),
                order_ids: Vec::new(),
                instance_ids: Vec::new(),
                state: "not opened".to_owned(),
                steps: Vec::new(),
                elapsed: Duration::ZERO,
            },
            started: Instant::now(),
        }
    }

    pub fn finish(mut self) -> ScenarioReport {
        self.report.elapsed = self.started.elapsed();
        self.report
    }

    pub fn test(&self) -> bool {
        self.options.test_flag
    }

    pub fn step(
        &mut self,
        name: impl Into<String>,
        outcome: Outcome,
        detail: impl Into<String>,
        attempts: u32,
        elapsed: Duration,
    ) {
        self.report.steps.push(Step { name: name.into(), outcome, detail: detail.into(), attempts, elapsed });
    }

    /// A fresh order ID in KooGallery's shape: `CS` + `yyMMddHHmm` + five characters.
    pub fn fresh_order_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
        let suffix: String = (0..5).map(|_| char::from(ALPHABET[self.rng.gen_range(0..ALPHABET.len())])).collect();
        format!("CS{}{suffix}", chrono::Utc::now().format("%y%m%d%H%M"))
    }

    /// Whether to repeat a call as the debugger does (about half of the time, seeded).
    pub fn coin(&mut self) -> bool {
        self.options.repeats && self.rng.gen_bool(0.5)
    }

    /// Makes the order known to the marketplace (unless it is a mock order and there is no
    /// registry) and notes its ID.
    pub async fn register_order(&mut self, spec: &OrderSpec) -> OrderInfo {
        let order = spec.build();
        self.report.order_ids.push(spec.order_id.clone());
        let started = Instant::now();
        if let Err(e) = self.registry.order(&order).await {
            self.step(
                format!("register order {}", spec.order_id),
                Outcome::Failed,
                e.to_string(),
                1,
                started.elapsed(),
            );
        }
        order
    }

    /// Sends the body `make` builds (afresh for every attempt, so a retry gets a new
    /// `businessId` where the body has one, and always a new nonce and timestamp) until the
    /// answer is 200, signed and one of `expected`, or the retries run out. Records one step.
    pub async fn call(
        &mut self,
        name: &str,
        via: Via,
        expected: &[&str],
        mut make: impl FnMut() -> Value,
    ) -> Option<Exchange> {
        let started = Instant::now();
        let mut attempts = 0;
        let mut last = String::new();
        for attempt in 0..=self.options.retries {
            if attempt > 0 {
                tokio::time::sleep(self.options.retry_backoff).await;
            }
            attempts += 1;
            let body = make();
            let exchange = match via {
                Via::Basic => self.sender.send_basic(&body).await,
                Via::Kit(interface) => self.sender.send_kit(interface, &body).await,
            };
            match verdict(&exchange, expected) {
                Ok(()) => {
                    let detail = exchange.summary();
                    self.step(name, Outcome::Passed, detail, attempts, started.elapsed());
                    return Some(exchange);
                }
                Err(why) => last = why,
            }
        }
        self.step(name, Outcome::Failed, last, attempts, started.elapsed());
        None
    }

    /// newInstance for the order's line, then the same order again with a fresh `businessId`
    /// (KooGallery resends creates): both must answer the same instance ID. Registers the
    /// instance with the marketplace. Returns the ID.
    pub async fn open(&mut self, spec: &OrderSpec, mode: ChargingMode) -> Option<String> {
        let (order_id, line) = (spec.order_id.clone(), spec.line_id());
        let test = self.test();
        let first = self
            .call("newInstance", Via::Basic, OK_OR_PROCESSING, || bodies::new_instance(&order_id, &line, test))
            .await?;
        let Some(id) = first.instance_id().map(str::to_owned) else {
            self.fail_last("the answer carries no instanceId");
            return None;
        };
        self.report.instance_ids.push(id.clone());
        self.report.state = "opened".to_owned();
        let started = Instant::now();
        let repeat = self.sender.send_basic(&bodies::new_instance(&order_id, &line, test)).await;
        let (outcome, detail) = match (verdict(&repeat, OK_OR_PROCESSING), repeat.instance_id()) {
            (Err(why), _) => (Outcome::Failed, why),
            (Ok(()), Some(again)) if again == id => (Outcome::Passed, format!("same instanceId {id}")),
            (Ok(()), again) => {
                (Outcome::Failed, format!("instanceId changed: first {id}, then {}", again.unwrap_or("none")))
            }
        };
        self.step("newInstance (repeat, fresh businessId)", outcome, detail, 1, started.elapsed());
        let mut instance = SimInstance::new(id.clone(), mode);
        instance.order_id = Some(order_id);
        // Usage may not begin before the resource opened (spec §8.3 rule 3).
        instance.opened_at = spec.create_time;
        if let Err(e) = self.registry.instance(&instance).await {
            self.step("register instance", Outcome::Failed, e.to_string(), 1, Duration::ZERO);
        }
        Some(id)
    }

    /// Polls queryInstance until the instance is ready (`000000`) or the deadline passes, then
    /// checks the instance's appInfo: its entry is present, and `userName`/`password` decrypt with
    /// the basic key and the answered `encryptType`.
    pub async fn poll_ready(&mut self, id: &str) {
        let started = Instant::now();
        let deadline = started + self.options.ready_deadline;
        let mut polls = 0;
        loop {
            polls += 1;
            let exchange = self.sender.send_basic(&bodies::query_instance(id, self.test())).await;
            if let Err(why) = verdict(&exchange, OK_OR_PROCESSING) {
                self.step("queryInstance until ready", Outcome::Failed, why, polls, started.elapsed());
                return;
            }
            if exchange.result_code() == "000000" {
                let (outcome, detail) = match check_app_info(&exchange, id, self.sender.keys().basic_key.as_bytes()) {
                    Ok(detail) => (Outcome::Passed, format!("ready after {polls} polls; {detail}")),
                    Err(why) => (Outcome::Failed, why),
                };
                self.report.state = "ready".to_owned();
                self.step("queryInstance until ready", outcome, detail, polls, started.elapsed());
                return;
            }
            if Instant::now() + self.options.poll_interval > deadline {
                break;
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
        self.report.state = "processing".to_owned();
        let detail = format!(
            "still 000004 after {polls} polls in {:.1} s (is a provisioning worker running?)",
            self.options.ready_deadline.as_secs_f64()
        );
        let outcome = self.unanswered();
        self.step("queryInstance until ready", outcome, detail, polls, started.elapsed());
    }

    /// The outcome of an effect check that got no answer in time (no worker running, a refused
    /// token): a warning, or a failure when readiness is required.
    pub fn unanswered(&self) -> Outcome {
        if self.options.require_ready { Outcome::Failed } else { Outcome::Warned }
    }

    /// Sends a call and, as the debugger does at random, the same call again (fresh nonce and
    /// timestamp); both must succeed. Returns whether the first did.
    pub async fn call_maybe_twice(&mut self, name: &str, via: Via, mut make: impl FnMut() -> Value) -> bool {
        let ok = self.call(name, via, OK, &mut make).await.is_some();
        if ok && self.coin() {
            self.call(&format!("{name} (repeat)"), via, OK, &mut make).await;
        }
        ok
    }

    /// Tells the marketplace the instance's new status, so the usage rules follow it.
    pub async fn mark(&mut self, id: &str, status: InstanceStatus, state: &str) {
        self.report.state = state.to_owned();
        if let Err(e) = self.registry.instance_status(id, status).await {
            self.step("update instance in the marketplace", Outcome::Failed, e.to_string(), 1, Duration::ZERO);
        }
    }

    fn fail_last(&mut self, why: &str) {
        if let Some(step) = self.report.steps.last_mut() {
            step.outcome = Outcome::Failed;
            step.detail = why.to_owned();
        }
    }
}

/// Whether an answer is what KooGallery expects: HTTP 200, JSON, a verifying `Body-Sign`, and
/// one of the `expected` result codes.
pub(crate) fn verdict(exchange: &Exchange, expected: &[&str]) -> Result<(), String> {
    if let Some(problem) = exchange.transport_problem() {
        return Err(problem);
    }
    let code = exchange.result_code();
    if expected.contains(&code) {
        Ok(())
    } else {
        Err(format!("expected {}, got {}", expected.join(" or "), exchange.summary()))
    }
}

/// Checks the info of a `000000` queryInstance answer for `id`; returns a short description.
fn check_app_info(exchange: &Exchange, id: &str, basic_key: &[u8]) -> Result<String, String> {
    let info = exchange.json.get("info").and_then(Value::as_array).ok_or("000000 without info")?;
    let entry = info
        .iter()
        .find(|i| i.get("instanceId").and_then(Value::as_str) == Some(id))
        .ok_or_else(|| format!("info has no entry for {id}"))?;
    let Some(app) = entry.get("appInfo") else {
        return Ok("no appInfo (delivered another way?)".to_owned());
    };
    let url = app
        .get("frontEndUrl")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .ok_or("appInfo.frontEndUrl is empty")?;
    let encrypt_type = match exchange.json.get("encryptType").and_then(Value::as_str) {
        None => EncryptType::Aes256,
        Some(wire) => EncryptType::from_wire(wire).ok_or_else(|| format!("encryptType {wire:?} is not 1 or 2"))?,
    };
    let cipher = FieldCipher::new(basic_key, encrypt_type);
    let mut decrypted = Vec::new();
    for field in ["userName", "password"] {
        if let Some(sealed) = app.get(field).and_then(Value::as_str) {
            cipher.decrypt(sealed).map_err(|_| {
                format!("appInfo.{field} does not decrypt with the basic key (encryptType {})", encrypt_type.as_str())
            })?;
            decrypted.push(field);
        }
    }
    Ok(if decrypted.is_empty() {
        format!("frontEndUrl {url}")
    } else {
        format!("frontEndUrl {url}; {} decrypted", decrypted.join(" and "))
    })
}
