//! SaaS V2 instance lifecycle requests (spec §1.3–§1.8).

use schemars::JsonSchema;
use serde::{Serialize, Serializer};

use super::{ID_MAX, MAX_QUERY_INSTANCE_IDS, TestFlag, dedup_id, is_debug, test_flag};
use crate::fields::Fields;
use crate::ids::{BusinessId, InstanceId, OrderId, OrderLineId, ProductId};
use crate::time::CompactTime;
use crate::validation::{Problem, ValidationError};
use crate::wire::wire_enum;

wire_enum!(
    /// Why refreshInstance was called.
    RefreshScene("scene") {
        /// 试用转正: a trial became a paid order.
        TrialToFormal = "TRIAL_TO_FORMAL",
        /// 续费: renewal.
        Renewal = "RENEWAL",
        /// 退续费: a renewal period was unsubscribed.
        UnsubscribeRenewalPeriod = "UNSUBSCRIBE_RENEWAL_PERIOD",
        /// 续费变更: renewal with a change of spec.
        RenewalChange = "RENEWAL_CHANGE",
    }
);

wire_enum!(
    /// The target state of updateInstanceStatus and updateLicenseCodeStatus.
    InstanceStatus("status") {
        /// 冻结: expired, arrears or violation; keep the data through the freeze period.
        Freeze = "FREEZE",
        /// 解冻: renewed, or the violation was lifted.
        Unfreeze = "UNFREEZE",
    }
);

/// `newInstance` (创建实例, spec §1.3). V2 carries no customer or product data: query the order for it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewInstance {
    /// The paid order.
    #[schemars(length(max = 64))]
    pub order_id: OrderId,
    /// The order line the instance is for.
    #[schemars(length(max = 64))]
    pub order_line_id: OrderLineId,
    /// Differs on every request, retries included: never a deduplication key.
    #[schemars(length(max = 64))]
    pub business_id: BusinessId,
    /// Debug marker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

impl NewInstance {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        Ok(Self {
            order_id: f.str("orderId", ID_MAX)?.into(),
            order_line_id: f.str("orderLineId", ID_MAX)?.into(),
            business_id: f.str("businessId", ID_MAX)?.into(),
            test_flag: test_flag(f)?,
        })
    }

    /// Whether this is a debug call.
    pub fn is_test(&self) -> bool {
        is_debug(self.test_flag)
    }

    /// `newInstance:{orderId}:{orderLineId}`.
    pub fn dedup_id(&self) -> String {
        dedup_id(self.is_test(), &["newInstance", self.order_id.as_str(), self.order_line_id.as_str()])
    }

    /// The instance ID answered for this order line (see [`InstanceId::for_order_line`]).
    pub fn instance_id(&self) -> InstanceId {
        InstanceId::for_order_line(&self.order_id, &self.order_line_id)
    }
}

/// `queryInstance` (查询实例信息, spec §1.4): one instance ID or up to 100, comma-separated.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueryInstance {
    /// The IDs asked about, trimmed, in the order sent; written back comma-separated.
    #[serde(rename = "instanceId", serialize_with = "comma_separated")]
    #[schemars(with = "String", description = "one instance ID, or up to 100 separated by commas")]
    pub instance_ids: Vec<InstanceId>,
    /// Debug marker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

fn comma_separated<S: Serializer>(ids: &[InstanceId], serializer: S) -> Result<S::Ok, S::Error> {
    let joined: Vec<&str> = ids.iter().map(InstanceId::as_str).collect();
    serializer.serialize_str(&joined.join(","))
}

impl QueryInstance {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        // String(100) in the table cannot hold 100 ids; each id is limited instead, and their number.
        let raw = f.str_unbounded("instanceId")?;
        let parts: Vec<&str> = raw.split(',').map(str::trim).collect();
        if parts.len() > MAX_QUERY_INSTANCE_IDS {
            return Err(ValidationError::new("instanceId", Problem::TooMany { max: MAX_QUERY_INSTANCE_IDS }));
        }
        let mut instance_ids = Vec::with_capacity(parts.len());
        for (i, part) in parts.into_iter().enumerate() {
            let problem = if part.is_empty() {
                Some(Problem::Empty)
            } else if part.chars().count() > ID_MAX {
                Some(Problem::TooLong { max: ID_MAX })
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(ValidationError::new(format!("instanceId[{i}]"), problem));
            }
            instance_ids.push(InstanceId::from(part));
        }
        Ok(Self { instance_ids, test_flag: test_flag(f)? })
    }

    /// Whether this is a debug call.
    pub fn is_test(&self) -> bool {
        is_debug(self.test_flag)
    }
}

/// `refreshInstance` (更新实例, spec §1.5): the expiry is set to `expireTime`, not extended.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshInstance {
    /// Why the instance is refreshed.
    pub scene: RefreshScene,
    /// The conversion, renewal or unsubscribed renewal order.
    #[schemars(length(max = 64))]
    pub order_id: OrderId,
    /// Its order line.
    #[schemars(length(max = 64))]
    pub order_line_id: OrderLineId,
    /// The instance.
    #[schemars(length(max = 64))]
    pub instance_id: InstanceId,
    /// Sent when the period type changes (the productId changes, the skuCode does not).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub product_id: Option<ProductId>,
    /// The new expiry, UTC (14 or 17 digits).
    pub expire_time: CompactTime,
    /// Debug marker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

impl RefreshInstance {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        Ok(Self {
            scene: f.choice("scene")?,
            order_id: f.str("orderId", ID_MAX)?.into(),
            order_line_id: f.str("orderLineId", ID_MAX)?.into(),
            instance_id: f.str("instanceId", ID_MAX)?.into(),
            product_id: f.optional_str("productId", ID_MAX)?.map(ProductId::from),
            expire_time: f.compact_time("expireTime")?,
            test_flag: test_flag(f)?,
        })
    }

    /// Whether this is a debug call.
    pub fn is_test(&self) -> bool {
        is_debug(self.test_flag)
    }

    /// `refreshInstance:{instanceId}:{orderId}:{scene}`.
    pub fn dedup_id(&self) -> String {
        dedup_id(
            self.is_test(),
            &["refreshInstance", self.instance_id.as_str(), self.order_id.as_str(), self.scene.as_str()],
        )
    }
}

/// `updateInstanceStatus` (更新实例状态, spec §1.6): freeze or unfreeze.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInstanceStatus {
    /// The instance.
    #[schemars(length(max = 64))]
    pub instance_id: InstanceId,
    /// The target state.
    pub status: InstanceStatus,
    /// Debug marker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

impl UpdateInstanceStatus {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        Ok(Self {
            instance_id: f.str("instanceId", ID_MAX)?.into(),
            status: f.choice("status")?,
            test_flag: test_flag(f)?,
        })
    }

    /// Whether this is a debug call.
    pub fn is_test(&self) -> bool {
        is_debug(self.test_flag)
    }

    /// `updateInstanceStatus:{instanceId}:{status}`, the business key. The same status may
    /// legitimately be set again later (freeze, unfreeze, freeze), so the id published is
    /// [`BasicRequest::message_id`](super::BasicRequest::message_id), which adds the request's
    /// timestamp and nonce.
    pub fn dedup_id(&self) -> String {
        dedup_id(self.is_test(), &["updateInstanceStatus", self.instance_id.as_str(), self.status.as_str()])
    }
}

/// `releaseInstance` (释放实例, spec §1.7): expired past the freeze period, or unsubscribed.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseInstance {
    /// The instance.
    #[schemars(length(max = 64))]
    pub instance_id: InstanceId,
    /// The unsubscribe order, when the release was caused by 退订.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub order_id: Option<OrderId>,
    /// Its order line.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub order_line_id: Option<OrderLineId>,
    /// Debug marker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

impl ReleaseInstance {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        Ok(Self {
            instance_id: f.str("instanceId", ID_MAX)?.into(),
            order_id: f.optional_str("orderId", ID_MAX)?.map(OrderId::from),
            order_line_id: f.optional_str("orderLineId", ID_MAX)?.map(OrderLineId::from),
            test_flag: test_flag(f)?,
        })
    }

    /// Whether this is a debug call.
    pub fn is_test(&self) -> bool {
        is_debug(self.test_flag)
    }

    /// `releaseInstance:{instanceId}`: releasing is idempotent by target state.
    pub fn dedup_id(&self) -> String {
        dedup_id(self.is_test(), &["releaseInstance", self.instance_id.as_str()])
    }
}

/// `upgradeInstance` (实例升级, spec §1.8): the new order's SKU comes from query order.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeInstance {
    /// The instance, unchanged by the upgrade.
    #[schemars(length(max = 64))]
    pub instance_id: InstanceId,
    /// The new upgrade order.
    #[schemars(length(max = 64))]
    pub order_id: OrderId,
    /// Its order line.
    #[schemars(length(max = 64))]
    pub order_line_id: OrderLineId,
    /// Debug marker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

impl UpgradeInstance {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        Ok(Self {
            instance_id: f.str("instanceId", ID_MAX)?.into(),
            order_id: f.str("orderId", ID_MAX)?.into(),
            order_line_id: f.str("orderLineId", ID_MAX)?.into(),
            test_flag: test_flag(f)?,
        })
    }

    /// Whether this is a debug call.
    pub fn is_test(&self) -> bool {
        is_debug(self.test_flag)
    }

    /// `upgradeInstance:{instanceId}:{orderId}`.
    pub fn dedup_id(&self) -> String {
        dedup_id(self.is_test(), &["upgradeInstance", self.instance_id.as_str(), self.order_id.as_str()])
    }
}
