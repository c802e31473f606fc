//! License 2.0 license-code requests (联营License 2.0, spec §7.2). KooGallery generates the codes; these
//! calls keep the ISV's copy in step with the order.

use schemars::JsonSchema;
use serde::Serialize;

use super::{ID_MAX, InstanceStatus, TestFlag, dedup_id, is_debug, test_flag};
use crate::fields::Fields;
use crate::ids::{LicenseCode, OrderId, OrderLineId, ProductId};
use crate::time::CompactTime;
use crate::validation::ValidationError;
use crate::wire::wire_enum;

wire_enum!(
    /// Why refreshLicenseCode was called.
    LicenseScene("scene") {
        /// 续费: renewal.
        Renewal = "RENEWAL",
        /// 退续费: a renewal period was unsubscribed.
        UnsubscribeRenewalPeriod = "UNSUBSCRIBE_RENEWAL_PERIOD",
    }
);

/// `refreshLicenseCode` (更新授权码有效期): the code's validity is set to `expireTime`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshLicenseCode {
    /// Why the validity changed.
    pub scene: LicenseScene,
    /// The renewal order, or the unsubscribed renewal order.
    #[schemars(length(max = 64))]
    pub order_id: OrderId,
    /// Its order line.
    #[schemars(length(max = 64))]
    pub order_line_id: OrderLineId,
    /// The license code.
    #[schemars(length(max = 64))]
    pub license: LicenseCode,
    /// The product.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub product_id: Option<ProductId>,
    /// The new expiry, UTC (14 or 17 digits).
    pub expire_time: CompactTime,
    /// Debug marker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

impl RefreshLicenseCode {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        Ok(Self {
            scene: f.choice("scene")?,
            order_id: f.str("orderId", ID_MAX)?.into(),
            order_line_id: f.str("orderLineId", ID_MAX)?.into(),
            license: f.str("license", ID_MAX)?.into(),
            product_id: f.optional_str("productId", ID_MAX)?.map(ProductId::from),
            expire_time: f.compact_time("expireTime")?,
            test_flag: test_flag(f)?,
        })
    }

    /// Whether this is a debug call.
    pub fn is_test(&self) -> bool {
        is_debug(self.test_flag)
    }

    /// `refreshLicenseCode:{license}:{orderId}:{scene}`.
    pub fn dedup_id(&self) -> String {
        dedup_id(
            self.is_test(),
            &["refreshLicenseCode", self.license.as_str(), self.order_id.as_str(), self.scene.as_str()],
        )
    }
}

/// `updateLicenseCodeStatus` (变更授权码状态): freeze after expiry and the grace period, unfreeze on renewal.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateLicenseCodeStatus {
    /// The license code.
    #[schemars(length(max = 64))]
    pub license: LicenseCode,
    /// The target state.
    pub status: InstanceStatus,
    /// Debug marker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

impl UpdateLicenseCodeStatus {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        Ok(Self { license: f.str("license", ID_MAX)?.into(), status: f.choice("status")?, test_flag: test_flag(f)? })
    }

    /// Whether this is a debug call.
    pub fn is_test(&self) -> bool {
        is_debug(self.test_flag)
    }

    /// `updateLicenseCodeStatus:{license}:{status}`, the business key; published under
    /// [`BasicRequest::message_id`](super::BasicRequest::message_id), which adds the request's
    /// timestamp and nonce, as for updateInstanceStatus.
    pub fn dedup_id(&self) -> String {
        dedup_id(self.is_test(), &["updateLicenseCodeStatus", self.license.as_str(), self.status.as_str()])
    }
}

/// `releaseLicenseCode` (释放授权码): after the freeze period, or on unsubscribe.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseLicenseCode {
    /// The license code.
    #[schemars(length(max = 64))]
    pub license: LicenseCode,
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

impl ReleaseLicenseCode {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        Ok(Self {
            license: f.str("license", ID_MAX)?.into(),
            order_id: f.optional_str("orderId", ID_MAX)?.map(OrderId::from),
            order_line_id: f.optional_str("orderLineId", ID_MAX)?.map(OrderLineId::from),
            test_flag: test_flag(f)?,
        })
    }

    /// Whether this is a debug call.
    pub fn is_test(&self) -> bool {
        is_debug(self.test_flag)
    }

    /// `releaseLicenseCode:{license}`.
    pub fn dedup_id(&self) -> String {
        dedup_id(self.is_test(), &["releaseLicenseCode", self.license.as_str()])
    }
}
