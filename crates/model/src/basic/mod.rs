//! The basic interfaces: every `activity` KooGallery POSTs to the production address (spec §1, §7.2, §9).
//!
//! [`BasicRequest::parse`] turns a body into one typed request, or a [`ValidationError`] naming the field
//! at fault, which the ingress answers with `000002`. Unknown extra fields are ignored (KooGallery may add
//! fields); every basic field is a JSON string.

mod change_check;
mod license;
mod order_notify;
pub mod response;
mod saas;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub use self::change_check::{ChangeInstanceCheck, ChangeProductInfo};
pub use self::license::{LicenseScene, RefreshLicenseCode, ReleaseLicenseCode, UpdateLicenseCodeStatus};
pub use self::order_notify::OrderNotify;
pub use self::saas::{
    InstanceStatus, NewInstance, QueryInstance, RefreshInstance, RefreshScene, ReleaseInstance, UpdateInstanceStatus,
    UpgradeInstance,
};
use crate::family::Family;
use crate::fields::{Fields, parse_body};
use crate::identity::RequestIdentity;
use crate::validation::{Problem, ValidationError};
use crate::wire::wire_enum;

/// Maximum length of order, order line, instance, business, product and license IDs (String(64)).
pub(crate) const ID_MAX: usize = 64;

/// Maximum length of `testFlag` (String(2)).
const TEST_FLAG_MAX: usize = 2;

/// At most this many IDs in one queryInstance (spec §1.4; the demo answers more with `000002`).
pub const MAX_QUERY_INSTANCE_IDS: usize = 100;

wire_enum!(
    /// The `activity` of a basic request.
    Activity("activity") {
        /// 创建实例: a paid order needs an instance.
        NewInstance = "newInstance",
        /// 查询实例信息: KooGallery asks for access info (and polls after create).
        QueryInstance = "queryInstance",
        /// 更新实例: trial to formal, renewal, unsubscribed renewal, renewal with change.
        RefreshInstance = "refreshInstance",
        /// 更新实例状态: freeze or unfreeze.
        UpdateInstanceStatus = "updateInstanceStatus",
        /// 释放实例: delete the instance.
        ReleaseInstance = "releaseInstance",
        /// 实例升级: upgrade or scale out.
        UpgradeInstance = "upgradeInstance",
        /// 续费变更校验: may the instance change to the target spec on renewal?
        ChangeInstanceCheck = "changeInstanceCheck",
        /// 订单通知: an order of general goods was paid.
        OrderNotify = "orderNotify",
        /// 更新授权码有效期: a License 2.0 code's validity changed.
        RefreshLicenseCode = "refreshLicenseCode",
        /// 变更授权码状态: freeze or unfreeze a license code.
        UpdateLicenseCodeStatus = "updateLicenseCodeStatus",
        /// 释放授权码: delete a license code.
        ReleaseLicenseCode = "releaseLicenseCode",
    }
);

impl Activity {
    /// The family, and so the inbound subject and worker, of this activity.
    pub fn family(self) -> Family {
        match self {
            Activity::NewInstance
            | Activity::QueryInstance
            | Activity::RefreshInstance
            | Activity::UpdateInstanceStatus
            | Activity::ReleaseInstance
            | Activity::UpgradeInstance
            | Activity::ChangeInstanceCheck => Family::Saas,
            Activity::OrderNotify => Family::Order,
            Activity::RefreshLicenseCode | Activity::UpdateLicenseCodeStatus | Activity::ReleaseLicenseCode => {
                Family::License
            }
        }
    }

    /// Whether requests of this activity are published to the bus; queryInstance and changeInstanceCheck are
    /// answered synchronously and leave no trace (architecture §5).
    pub fn is_published(self) -> bool {
        !matches!(self, Activity::QueryInstance | Activity::ChangeInstanceCheck)
    }

    /// Whether every accepted request of this activity is a message of its own. A target-state
    /// call may legitimately come again with the same fields (freeze, unfreeze, freeze), and the
    /// second FREEZE must not be taken for a repeat of the first; the other activities are keyed
    /// by what they create or change, so a request sent again is the same message.
    pub fn is_per_request(self) -> bool {
        matches!(self, Activity::UpdateInstanceStatus | Activity::UpdateLicenseCodeStatus)
    }
}

wire_enum!(
    /// The basic `testFlag`: `"1"` marks a debug call from the seller console's debugger or the dial test.
    /// Real calls send `"0"` or omit the field.
    TestFlag("testFlag") {
        /// `"0"`: a real call.
        Real = "0",
        /// `"1"`: a debug call; answer realistically, touch no real resources.
        Debug = "1",
    }
);

/// Reads the optional `testFlag`.
pub(crate) fn test_flag(f: &Fields<'_>) -> Result<Option<TestFlag>, ValidationError> {
    f.optional_str("testFlag", TEST_FLAG_MAX)?;
    f.optional_choice("testFlag")
}

/// Whether a parsed `testFlag` marks a debug call.
pub(crate) fn is_debug(flag: Option<TestFlag>) -> bool {
    flag == Some(TestFlag::Debug)
}

/// Builds a deduplication id from its parts, prefixed with `test:` for debug calls so that the debugger's
/// replays never collide with a real order's callbacks.
pub(crate) fn dedup_id(test: bool, parts: &[&str]) -> String {
    let joined = parts.join(":");
    if test { format!("test:{joined}") } else { joined }
}

/// A validated basic request, one variant per `activity`.
///
/// Serialises to the wire body (camelCase, `activity` as the tag) and deserialises through
/// [`BasicRequest::from_value`], so a deserialised request is always a validated one.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "activity", rename_all = "camelCase")]
pub enum BasicRequest {
    /// `newInstance`.
    NewInstance(NewInstance),
    /// `queryInstance`.
    QueryInstance(QueryInstance),
    /// `refreshInstance`.
    RefreshInstance(RefreshInstance),
    /// `updateInstanceStatus`.
    UpdateInstanceStatus(UpdateInstanceStatus),
    /// `releaseInstance`.
    ReleaseInstance(ReleaseInstance),
    /// `upgradeInstance`.
    UpgradeInstance(UpgradeInstance),
    /// `changeInstanceCheck`.
    ChangeInstanceCheck(ChangeInstanceCheck),
    /// `orderNotify`.
    OrderNotify(OrderNotify),
    /// `refreshLicenseCode`.
    RefreshLicenseCode(RefreshLicenseCode),
    /// `updateLicenseCodeStatus`.
    UpdateLicenseCodeStatus(UpdateLicenseCodeStatus),
    /// `releaseLicenseCode`.
    ReleaseLicenseCode(ReleaseLicenseCode),
}

/// Applies `$body` to the request inside whichever variant `$req` is.
macro_rules! each_variant {
    ($req:expr, $inner:ident => $body:expr) => {
        match $req {
            BasicRequest::NewInstance($inner) => $body,
            BasicRequest::QueryInstance($inner) => $body,
            BasicRequest::RefreshInstance($inner) => $body,
            BasicRequest::UpdateInstanceStatus($inner) => $body,
            BasicRequest::ReleaseInstance($inner) => $body,
            BasicRequest::UpgradeInstance($inner) => $body,
            BasicRequest::ChangeInstanceCheck($inner) => $body,
            BasicRequest::OrderNotify($inner) => $body,
            BasicRequest::RefreshLicenseCode($inner) => $body,
            BasicRequest::UpdateLicenseCodeStatus($inner) => $body,
            BasicRequest::ReleaseLicenseCode($inner) => $body,
        }
    };
}

impl BasicRequest {
    /// Parses and validates a basic request body.
    ///
    /// # Errors
    /// A [`ValidationError`] naming the field at fault: malformed JSON (`BadJson`), a body that is not an
    /// object, a missing or unknown `activity`, then the activity's own fields (missing, empty, too long,
    /// not one of an enumeration, not a valid time, more than 100 queryInstance ids).
    pub fn parse(body: &[u8]) -> Result<BasicRequest, ValidationError> {
        Self::from_value(&parse_body(body)?)
    }

    /// Validates an already-parsed body, as [`BasicRequest::parse`].
    ///
    /// # Errors
    /// As [`BasicRequest::parse`], except `BadJson`.
    pub fn from_value(body: &Value) -> Result<BasicRequest, ValidationError> {
        let f = Fields::of(body, "")?;
        let activity = f.str_unbounded("activity")?;
        let activity: Activity = activity
            .parse()
            .map_err(|_| ValidationError::new("activity", Problem::UnknownActivity(activity.to_owned())))?;
        Ok(match activity {
            Activity::NewInstance => Self::NewInstance(NewInstance::from_fields(&f)?),
            Activity::QueryInstance => Self::QueryInstance(QueryInstance::from_fields(&f)?),
            Activity::RefreshInstance => Self::RefreshInstance(RefreshInstance::from_fields(&f)?),
            Activity::UpdateInstanceStatus => Self::UpdateInstanceStatus(UpdateInstanceStatus::from_fields(&f)?),
            Activity::ReleaseInstance => Self::ReleaseInstance(ReleaseInstance::from_fields(&f)?),
            Activity::UpgradeInstance => Self::UpgradeInstance(UpgradeInstance::from_fields(&f)?),
            Activity::ChangeInstanceCheck => Self::ChangeInstanceCheck(ChangeInstanceCheck::from_fields(&f)?),
            Activity::OrderNotify => Self::OrderNotify(OrderNotify::from_fields(&f)?),
            Activity::RefreshLicenseCode => Self::RefreshLicenseCode(RefreshLicenseCode::from_fields(&f)?),
            Activity::UpdateLicenseCodeStatus => {
                Self::UpdateLicenseCodeStatus(UpdateLicenseCodeStatus::from_fields(&f)?)
            }
            Activity::ReleaseLicenseCode => Self::ReleaseLicenseCode(ReleaseLicenseCode::from_fields(&f)?),
        })
    }

    /// The `activity` of this request.
    pub fn activity(&self) -> Activity {
        match self {
            Self::NewInstance(_) => Activity::NewInstance,
            Self::QueryInstance(_) => Activity::QueryInstance,
            Self::RefreshInstance(_) => Activity::RefreshInstance,
            Self::UpdateInstanceStatus(_) => Activity::UpdateInstanceStatus,
            Self::ReleaseInstance(_) => Activity::ReleaseInstance,
            Self::UpgradeInstance(_) => Activity::UpgradeInstance,
            Self::ChangeInstanceCheck(_) => Activity::ChangeInstanceCheck,
            Self::OrderNotify(_) => Activity::OrderNotify,
            Self::RefreshLicenseCode(_) => Activity::RefreshLicenseCode,
            Self::UpdateLicenseCodeStatus(_) => Activity::UpdateLicenseCodeStatus,
            Self::ReleaseLicenseCode(_) => Activity::ReleaseLicenseCode,
        }
    }

    /// The subject family (saas, order or license).
    pub fn family(&self) -> Family {
        self.activity().family()
    }

    /// Whether this is a debug call (`testFlag` `"1"`).
    pub fn is_test(&self) -> bool {
        each_variant!(self, r => r.is_test())
    }

    /// The deduplication id (also the `Nats-Msg-Id`) of architecture §5, built from the request's stable
    /// business fields and prefixed with `test:` for debug calls; `None` for the activities that are not
    /// published (queryInstance, changeInstanceCheck).
    pub fn dedup_id(&self) -> Option<String> {
        match self {
            Self::NewInstance(r) => Some(r.dedup_id()),
            Self::QueryInstance(_) | Self::ChangeInstanceCheck(_) => None,
            Self::RefreshInstance(r) => Some(r.dedup_id()),
            Self::UpdateInstanceStatus(r) => Some(r.dedup_id()),
            Self::ReleaseInstance(r) => Some(r.dedup_id()),
            Self::UpgradeInstance(r) => Some(r.dedup_id()),
            Self::OrderNotify(r) => Some(r.dedup_id()),
            Self::RefreshLicenseCode(r) => Some(r.dedup_id()),
            Self::UpdateLicenseCodeStatus(r) => Some(r.dedup_id()),
            Self::ReleaseLicenseCode(r) => Some(r.dedup_id()),
        }
    }

    /// The id the ingress publishes this request under: [`BasicRequest::dedup_id`], qualified with
    /// the request's timestamp and nonce (`{dedup_id}:{timestamp}:{nonce}`) for the activities
    /// that are [per request](Activity::is_per_request). KooGallery signs each retry anew
    /// ([`crate::identity`]), so a retried FREEZE is a message of its own too; that is harmless,
    /// as status calls converge to the latest requested state. `None` as `dedup_id`.
    pub fn message_id(&self, identity: &RequestIdentity) -> Option<String> {
        let key = self.dedup_id()?;
        Some(if self.activity().is_per_request() { identity.qualify(key) } else { key })
    }
}

impl<'de> Deserialize<'de> for BasicRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(&value).map_err(serde::de::Error::custom)
    }
}
