//! `changeInstanceCheck` (续费变更校验, spec §1.9): may the instance change to another spec on renewal?

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::{ID_MAX, TestFlag, is_debug, test_flag};
use crate::fields::Fields;
use crate::ids::{InstanceId, ProductId, SkuCode};
use crate::validation::{Problem, ValidationError};
use crate::wire::{Embedded, WireNumber};

/// The target product of a change. The page does not show its structure; it follows the query-order
/// `productInfo` (spec §1.9, §8.2). Only `productId` is required, and unknown fields are kept.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeProductInfo {
    /// The target product.
    #[schemars(length(max = 64))]
    pub product_id: ProductId,
    /// The target SKU.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub sku_code: Option<SkuCode>,
    /// The target linear quantity (e.g. number of accounts); a number or a numeric string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linear_value: Option<WireNumber>,
    /// The product's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// Fields this version does not know, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Deserialises through the same validation as the callback (used by the request-reply between the
/// ingress and provisioning).
impl<'de> Deserialize<'de> for ChangeProductInfo {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(&value).map_err(serde::de::Error::custom)
    }
}

const KNOWN: [&str; 4] = ["productId", "skuCode", "linearValue", "productName"];

impl ChangeProductInfo {
    fn from_value(value: &Value) -> Result<Self, ValidationError> {
        let f = Fields::of(value, "productInfo")?;
        let linear_value = match f.get("linearValue") {
            None => None,
            Some(v) => Some(WireNumber::from_value(v).ok_or_else(|| {
                ValidationError::new(
                    f.path("linearValue"),
                    Problem::BadFormat { what: "number", expected: "a number or a numeric string" },
                )
            })?),
        };
        Ok(Self {
            product_id: f.str("productId", ID_MAX)?.into(),
            sku_code: f.optional_str("skuCode", ID_MAX)?.map(SkuCode::from),
            linear_value,
            product_name: f.optional_str("productName", 1024)?.map(str::to_owned),
            extra: f.rest(&KNOWN),
        })
    }
}

/// `changeInstanceCheck`: answered synchronously by the provisioning worker; not published.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeInstanceCheck {
    /// The instance to change.
    #[schemars(length(max = 64))]
    pub instance_id: InstanceId,
    /// The target product, sent as an object or as a string holding one.
    pub product_info: Embedded<ChangeProductInfo>,
    /// Debug marker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

impl ChangeInstanceCheck {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        let instance_id = f.str("instanceId", ID_MAX)?.into();
        let product_info = f.embedded("productInfo")?.try_map(|v| ChangeProductInfo::from_value(&v))?;
        Ok(Self { instance_id, product_info, test_flag: test_flag(f)? })
    }

    /// Whether this is a debug call.
    pub fn is_test(&self) -> bool {
        is_debug(self.test_flag)
    }
}
