//! The answer of the open API 查询订单 (query order, spec §8.2), which tells the ISV the buyer, product, SKU,
//! period, expiry, charging mode and extend params of an order.
//!
//! Parsing is tolerant: only the fields the spec marks mandatory are required, enumerations keep values this
//! version does not know, and `null` is accepted wherever the mock response shows it.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{OrderId, OrderLineId, ProductId, SkuCode};
use crate::time::CompactTime;
use crate::wire::WireNumber;

/// The open-API success code.
pub const MKT_SUCCESS: &str = "MKT.0000";

/// Declares an enumeration of wire strings with an `Other` fallback, so a new value does not break parsing.
macro_rules! open_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value this version does not know, as received.
            Other(String),
        }

        impl $name {
            /// The wire text.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(s) => s,
                }
            }

            /// The value for a wire text; unknown texts become `Other`.
            pub fn from_wire(s: &str) -> Self {
                match s {
                    $($wire => $name::$variant,)+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Ok(Self::from_wire(&Cow::<str>::deserialize(deserializer)?))
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "description": concat!("known values: ", $($wire, " "),+, "(others are accepted)"),
                })
            }
        }
    };
}

open_enum!(
    /// What kind of order it is.
    OrderType {
        /// 新购: new purchase.
        New = "NEW",
        /// 试用: trial.
        Trial = "TRIAL",
        /// 试用转正: trial converted to a paid order.
        TrialToFormal = "TRIAL_TO_FORMAL",
        /// 退订: unsubscribe.
        Unsubscribe = "UNSUBSCRIBE",
        /// 续费: renewal.
        Renew = "RENEW",
        /// 变更/升级: change or upgrade.
        Change = "CHANGE",
    }
);

open_enum!(
    /// How an order line is charged.
    ChargingMode {
        /// 按需: pay per use.
        OnDemand = "ON_DEMAND",
        /// 按次: one-time.
        OneTime = "ONE_TIME",
        /// 包周期: period (monthly, yearly...).
        Period = "PERIOD",
        /// 按需套餐包: on-demand package.
        OnDemandPkg = "ON_DEMAND_PKG",
    }
);

/// The query-order answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueryOrderResponse {
    /// `MKT.0000` on success (spec §3.2).
    pub result_code: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_msg: Option<String>,
    /// The order, on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_info: Option<OrderInfo>,
}

impl QueryOrderResponse {
    /// Whether KooGallery answered `MKT.0000`.
    pub fn is_success(&self) -> bool {
        self.result_code == MKT_SUCCESS
    }
}

/// One order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderInfo {
    /// The order.
    pub order_id: OrderId,
    /// New, trial, renewal...
    pub order_type: OrderType,
    /// When the order was placed (not when it takes effect), UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<CompactTime>,
    /// The order lines.
    #[serde(default)]
    pub order_line: Vec<OrderLine>,
    /// The buyer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_info: Option<BuyerInfo>,
    /// Name/value parameters of the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_params: Option<Vec<ExtendParam>>,
}

impl OrderInfo {
    /// The order line with this ID.
    pub fn line(&self, order_line_id: &OrderLineId) -> Option<&OrderLine> {
        self.order_line.iter().find(|l| &l.order_line_id == order_line_id)
    }
}

/// One order line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    /// The order line.
    pub order_line_id: OrderLineId,
    /// How it is charged.
    pub charging_mode: ChargingMode,
    /// Period unit, e.g. `year`, `month`, `day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_type: Option<String>,
    /// Number of periods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_number: Option<i64>,
    /// Expiry, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<CompactTime>,
    /// The products; on-demand lines may hold several (one instance per product).
    #[serde(default)]
    pub product_info: Vec<ProductInfo>,
    /// Name/value parameters of the line, e.g. `emailDomainName`, `ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_params: Option<Vec<ExtendParam>>,
    /// Order amount (empty for reverse orders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Deal amount (negative for reverse orders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency_after_discount: Option<String>,
}

impl OrderLine {
    /// The value of the line's extend param `name`.
    pub fn extend_param(&self, name: &str) -> Option<&str> {
        self.extend_params.iter().flatten().find(|p| p.name == name).and_then(|p| p.value.as_deref())
    }
}

/// A product of an order line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductInfo {
    /// The product (differs per period type under one SKU).
    pub product_id: ProductId,
    /// The SKU (stable across period-type changes).
    pub sku_code: SkuCode,
    /// Linear quantity, e.g. number of accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_value: Option<WireNumber>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
}

/// The buyer. Every field may be `null`, and `null` is written back as `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuyerInfo {
    /// Mobile number (plain text in the mock).
    #[serde(default)]
    pub mobile_phone: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// The buyer's Huawei Cloud account ID.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// The account name.
    #[serde(default)]
    pub customer_name: Option<String>,
    /// The verified real name.
    #[serde(default)]
    pub customer_real_name: Option<String>,
    /// Account type (meaning undocumented).
    #[serde(default)]
    pub customer_type: Option<i64>,
    /// IAM user ID.
    #[serde(default)]
    pub user_id: Option<String>,
    /// IAM user name.
    #[serde(default)]
    pub user_name: Option<String>,
}

/// A name/value parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtendParam {
    /// The name.
    pub name: String,
    /// The value.
    #[serde(default)]
    pub value: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_enumeration_values_are_kept() {
        let t: OrderType = serde_json::from_str("\"RENEW\"").unwrap();
        assert_eq!(t, OrderType::Renew);
        let t: OrderType = serde_json::from_str("\"SWAP\"").unwrap();
        assert_eq!(t, OrderType::Other("SWAP".into()));
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"SWAP\"");
        let m: ChargingMode = serde_json::from_str("\"ON_DEMAND_PKG\"").unwrap();
        assert_eq!(m, ChargingMode::OnDemandPkg);
    }
}
