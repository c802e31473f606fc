//! The debug cases and how each one is checked.

use chrono::Utc;
use koofill_model::time::format_compact17;
use koofill_signing::client_secret::{self, OaepVariant};
use serde_json::{Value, json};

use super::{Checked, ConformanceOptions};
use crate::bodies::{self, Tenant};
use crate::callback::{CallbackSender, Exchange, basic_query, kit_headers, now_ms, wire_bytes};
use crate::report::Outcome;
use crate::scenario::runner::verdict;
use crate::v1;

/// How stale the stale-timestamp case's timestamp is: well past the 60 s window (spec §2.1).
const STALE_BY_MS: i64 = 10 * 60 * 1000;

/// One debug case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Case {
    /// newInstance for the debug order: `000000` or `000004`, with an instanceId.
    NewInstance,
    /// The same order again with a fresh businessId: the same instanceId as ever.
    NewInstanceRepeat,
    /// queryInstance for the debug instance: `000000` with its info, or `000004`.
    QueryInstance,
    /// queryInstance for an ID never issued: `000003`.
    QueryInstanceUnknown,
    /// refreshInstance RENEWAL: `000000`.
    RefreshInstance,
    /// refreshInstance for an ID never issued: `000003`.
    RefreshInstanceUnknown,
    /// updateInstanceStatus FREEZE: `000000`.
    Freeze,
    /// updateInstanceStatus UNFREEZE: `000000`.
    Unfreeze,
    /// upgradeInstance: `000000`.
    Upgrade,
    /// releaseInstance: `000000`.
    Release,
    /// releaseInstance again: still `000000`.
    ReleaseAgain,
    /// orderNotify: `000000`.
    OrderNotify,
    /// A signature that does not match: `000001`.
    BadSignature,
    /// A timestamp ten minutes old: `000001`.
    StaleTimestamp,
    /// newInstance without `orderLineId`: `000002`.
    MissingField,
    /// An `activity` no interface has: `000002`.
    UnknownActivity,
    /// tenantSync add: `000000` signed with the Kit key.
    TenantSync,
    /// applicationSync add with an RSA-encrypted clientSecret: `000000`.
    ApplicationSync,
    /// authSync add: `000000`.
    AuthSync,
    /// singleOrgSync add: `000000`.
    SingleOrgSync,
    /// allOrgSync: `000000`.
    AllOrgSync,
    /// tenantSync signed with the basic key instead of the Kit key: `000001`.
    KitBadSignature,
}

impl Case {
    /// The basic cases, then (with a Kit key) the Kit ones.
    pub fn all(with_kit: bool) -> Vec<Case> {
        use Case::*;
        let mut cases = vec![
            NewInstance,
            NewInstanceRepeat,
            QueryInstance,
            QueryInstanceUnknown,
            RefreshInstance,
            RefreshInstanceUnknown,
            Freeze,
            Unfreeze,
            Upgrade,
            Release,
            ReleaseAgain,
            OrderNotify,
            BadSignature,
            StaleTimestamp,
            MissingField,
            UnknownActivity,
        ];
        if with_kit {
            cases.extend([TenantSync, ApplicationSync, AuthSync, SingleOrgSync, AllOrgSync, KitBadSignature]);
        }
        cases
    }

    /// The case's name in reports, e.g. `newInstance.repeat`.
    pub fn name(self) -> &'static str {
        match self {
            Self::NewInstance => "newInstance",
            Self::NewInstanceRepeat => "newInstance.repeat",
            Self::QueryInstance => "queryInstance",
            Self::QueryInstanceUnknown => "queryInstance.unknown",
            Self::RefreshInstance => "refreshInstance",
            Self::RefreshInstanceUnknown => "refreshInstance.unknown",
            Self::Freeze => "updateInstanceStatus.freeze",
            Self::Unfreeze => "updateInstanceStatus.unfreeze",
            Self::Upgrade => "upgradeInstance",
            Self::Release => "releaseInstance",
            Self::ReleaseAgain => "releaseInstance.again",
            Self::OrderNotify => "orderNotify",
            Self::BadSignature => "auth.badSignature",
            Self::StaleTimestamp => "auth.staleTimestamp",
            Self::MissingField => "params.missingField",
            Self::UnknownActivity => "params.unknownActivity",
            Self::TenantSync => "kit.tenantSync",
            Self::ApplicationSync => "kit.applicationSync",
            Self::AuthSync => "kit.authSync",
            Self::SingleOrgSync => "kit.singleOrgSync",
            Self::AllOrgSync => "kit.allOrgSync",
            Self::KitBadSignature => "kit.badSignature",
        }
    }

    /// The result codes that pass.
    fn expected(self) -> &'static [&'static str] {
        match self {
            Self::NewInstance | Self::NewInstanceRepeat | Self::QueryInstance => &["000000", "000004"],
            Self::QueryInstanceUnknown | Self::RefreshInstanceUnknown => &["000003"],
            Self::BadSignature | Self::StaleTimestamp | Self::KitBadSignature => &["000001"],
            Self::MissingField | Self::UnknownActivity => &["000002"],
            _ => &["000000"],
        }
    }

    /// Whether the case acts on the debug instance.
    fn needs_instance(self) -> bool {
        matches!(
            self,
            Self::NewInstanceRepeat
                | Self::QueryInstance
                | Self::RefreshInstance
                | Self::Freeze
                | Self::Unfreeze
                | Self::Upgrade
                | Self::Release
                | Self::ReleaseAgain
        )
    }
}

/// What the cases share within a run.
pub(super) struct Context<'a> {
    sender: &'a CallbackSender,
    options: &'a ConformanceOptions,
    line_id: String,
    /// The instance of this round's newInstance.
    pub instance_id: Option<String>,
    /// The instance of the first newInstance of the run: every later one must match it.
    first_instance_id: Option<String>,
    tenant: Tenant,
}

impl<'a> Context<'a> {
    pub fn new(sender: &'a CallbackSender, options: &'a ConformanceOptions) -> Self {
        Self {
            sender,
            options,
            line_id: crate::orders::line_id(&options.order_id),
            instance_id: None,
            first_instance_id: None,
            tenant: Tenant {
                tenant_id: "68cbc86abc2018ab880d92f36422fa0e".to_owned(),
                tenant_code: "huawei".to_owned(),
                name: "huaweitest".to_owned(),
                domain_name: "https://example.tenantaccount.com".to_owned(),
            },
        }
    }

    pub async fn run(&mut self, case: Case) -> Checked {
        let expected = case.expected().join(" or ");
        let instance = match (case.needs_instance(), self.instance_id.clone()) {
            (true, None) => {
                return Checked {
                    outcome: Outcome::Skipped,
                    expected,
                    got: String::new(),
                    detail: "no instance: newInstance failed".to_owned(),
                };
            }
            (_, id) => id.unwrap_or_default(),
        };
        let Some(exchange) = self.send(case, &instance).await else {
            return Checked {
                outcome: Outcome::Skipped,
                expected,
                got: String::new(),
                detail: "no seller public key for clientSecret".to_owned(),
            };
        };
        let got = exchange.summary();
        let detail = match verdict(&exchange, case.expected()) {
            Err(why) => Some(why),
            Ok(()) => self.extra_check(case, &exchange, &instance),
        };
        let outcome = if detail.is_some() { Outcome::Failed } else { Outcome::Passed };
        Checked { outcome, expected, got, detail: detail.unwrap_or_default() }
    }

    /// The checks beyond the result code; `Some(reason)` on failure.
    fn extra_check(&mut self, case: Case, exchange: &Exchange, instance: &str) -> Option<String> {
        match case {
            Case::NewInstance => {
                let Some(id) = exchange.instance_id() else {
                    return Some("the answer carries no instanceId".to_owned());
                };
                self.instance_id = Some(id.to_owned());
                self.first_instance_id.get_or_insert_with(|| id.to_owned());
                None
            }
            Case::NewInstanceRepeat => {
                let first = self.first_instance_id.as_deref().unwrap_or(instance);
                match exchange.instance_id() {
                    Some(id) if id == first => None,
                    other => Some(format!("instanceId changed: first {first}, then {}", other.unwrap_or("none"))),
                }
            }
            Case::QueryInstance if exchange.result_code() == "000000" => {
                let info = exchange.json.get("info").and_then(Value::as_array);
                let listed = info
                    .is_some_and(|i| i.iter().any(|e| e.get("instanceId").and_then(Value::as_str) == Some(instance)));
                (!listed).then(|| format!("000000 without an info entry for {instance}"))
            }
            _ => None,
        }
    }

    /// Sends the case's request; `None` when it cannot be built (applicationSync without a key).
    async fn send(&self, case: Case, instance: &str) -> Option<Exchange> {
        let sender = self.sender;
        let (order, line) = (self.options.order_id.as_str(), self.line_id.as_str());
        let unknown = uuid::Uuid::new_v4().to_string();
        let expire = format_compact17(Utc::now() + chrono::Duration::days(365));
        let tenant = &self.tenant;
        let org = ("10000".to_owned(), "开发部".to_owned(), String::new());
        Some(match case {
            Case::NewInstance | Case::NewInstanceRepeat => {
                sender.send_basic(&bodies::new_instance(order, line, true)).await
            }
            Case::QueryInstance => sender.send_basic(&bodies::query_instance(instance, true)).await,
            Case::QueryInstanceUnknown => sender.send_basic(&bodies::query_instance(&unknown, true)).await,
            Case::RefreshInstance => {
                let body = bodies::refresh_instance(
                    instance,
                    order,
                    line,
                    "RENEWAL",
                    Some(crate::orders::PRODUCT_YEARLY),
                    &expire,
                    true,
                );
                sender.send_basic(&body).await
            }
            Case::RefreshInstanceUnknown => {
                sender
                    .send_basic(&bodies::refresh_instance(&unknown, order, line, "RENEWAL", None, &expire, true))
                    .await
            }
            Case::Freeze => sender.send_basic(&bodies::update_instance_status(instance, "FREEZE", true)).await,
            Case::Unfreeze => sender.send_basic(&bodies::update_instance_status(instance, "UNFREEZE", true)).await,
            Case::Upgrade => sender.send_basic(&bodies::upgrade_instance(instance, order, line, true)).await,
            Case::Release | Case::ReleaseAgain => {
                sender.send_basic(&bodies::release_instance(instance, Some((order, line)), true)).await
            }
            Case::OrderNotify => sender.send_basic(&bodies::order_notify(order, line, true)).await,
            Case::BadSignature if sender.is_v1() => {
                let params = v1_params(&bodies::new_instance(order, line, true));
                let query = v1::signed_query(sender.keys().basic_key.as_bytes(), &params, now_ms());
                sender.send_v1_raw(&tamper_v1_token(&query)).await
            }
            Case::StaleTimestamp if sender.is_v1() => {
                let params = v1_params(&bodies::query_instance(self.instance_id.as_deref().unwrap_or(&unknown), true));
                let query = v1::signed_query(sender.keys().basic_key.as_bytes(), &params, now_ms() - STALE_BY_MS);
                sender.send_v1_raw(&query).await
            }
            Case::MissingField if sender.is_v1() => {
                // V1 names the order in `orderId` alone (its `productId` may stand in for the line).
                let mut params = v1_params(&bodies::new_instance(order, line, true));
                params.retain(|(k, _)| k != "orderId" && k != "productId");
                sender.send_v1_raw(&v1::signed_query(sender.keys().basic_key.as_bytes(), &params, now_ms())).await
            }
            Case::KitBadSignature if sender.is_v1() => {
                let body = wire_bytes(&v1::kit_body(&bodies::tenant_sync(instance, order, tenant, 1, true)));
                let token = v1::kit_token(sender.keys().basic_key.as_bytes(), &body);
                sender.send_kit_v1_raw("tenantSync", &body, &token).await
            }
            Case::BadSignature => {
                let body = wire_bytes(&bodies::new_instance(order, line, true));
                let query = basic_query(sender.keys().basic_key.as_bytes(), &body, now_ms());
                sender.send_basic_raw(&body, &tamper_signature(&query)).await
            }
            Case::StaleTimestamp => {
                let body = wire_bytes(&bodies::query_instance(self.instance_id.as_deref().unwrap_or(&unknown), true));
                let query = basic_query(sender.keys().basic_key.as_bytes(), &body, now_ms() - STALE_BY_MS);
                sender.send_basic_raw(&body, &query).await
            }
            Case::MissingField => {
                let mut body = bodies::new_instance(order, line, true);
                if let Some(fields) = body.as_object_mut() {
                    fields.remove("orderLineId");
                }
                sender.send_basic(&body).await
            }
            Case::UnknownActivity => {
                sender.send_basic(&json!({"activity": "fooInstance", "instanceId": unknown, "testFlag": "1"})).await
            }
            Case::TenantSync => {
                sender.send_kit("tenantSync", &bodies::tenant_sync(instance, order, tenant, 1, true)).await
            }
            Case::ApplicationSync => {
                let pem = self.options.client_secret_public_key_pem.as_deref()?;
                let secret =
                    client_secret::encrypt(pem, crate::scenario::CLIENT_SECRET, OaepVariant::Sha256Mgf1Sha1).ok()?;
                let body = bodies::application_sync(
                    instance,
                    &tenant.tenant_id,
                    "app-debug",
                    "client-debug",
                    &secret,
                    1,
                    true,
                );
                sender.send_kit("applicationSync", &body).await
            }
            Case::AuthSync => {
                let users = [bodies::user("zhangsan01", "张三", &org.0, "admin")];
                sender
                    .send_kit("authSync", &bodies::auth_sync(instance, &tenant.tenant_id, "app-debug", &users, 1, true))
                    .await
            }
            Case::SingleOrgSync => {
                sender
                    .send_kit("singleOrgSync", &bodies::single_org_sync(instance, &tenant.tenant_id, &org, 1, true))
                    .await
            }
            Case::AllOrgSync => {
                sender
                    .send_kit(
                        "allOrgSync",
                        &bodies::all_org_sync(instance, &tenant.tenant_id, std::slice::from_ref(&org), true),
                    )
                    .await
            }
            Case::KitBadSignature => {
                let body = wire_bytes(&bodies::tenant_sync(instance, order, tenant, 1, true));
                let headers = kit_headers(sender.keys().basic_key.as_bytes(), &body, now_ms());
                sender.send_kit_raw("tenantSync", &body, &headers).await
            }
        })
    }
}

fn v1_params(body: &Value) -> Vec<(String, String)> {
    v1::basic_params(body).unwrap_or_default()
}

/// A V1 query with the first character of its `authToken` changed.
fn tamper_v1_token(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.strip_prefix("authToken=") {
            Some(token) => {
                let flipped = if token.starts_with('A') { 'B' } else { 'A' };
                format!("authToken={flipped}{}", token.get(1..).unwrap_or_default())
            }
            None => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The query with the signature's first hex digit changed.
fn tamper_signature(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.strip_prefix("signature=") {
            Some(sig) => {
                let flipped = if sig.starts_with('0') { '1' } else { '0' };
                format!("signature={flipped}{}", sig.get(1..).unwrap_or_default())
            }
            None => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}
