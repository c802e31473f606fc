//! `orderNotify` (订单通知, spec §9): an order of general goods was paid; query the order for details.

use schemars::JsonSchema;
use serde::Serialize;

use super::{ID_MAX, TestFlag, dedup_id, is_debug, test_flag};
use crate::fields::Fields;
use crate::ids::{OrderId, OrderLineId};
use crate::validation::ValidationError;

/// `orderNotify`. The spec lists `testFlag` as mandatory here; like every basic interface it is read as
/// optional, absent meaning a real call, so that a real notification is never refused over it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderNotify {
    /// The paid order (new purchase, renewal, change or unsubscribe).
    #[schemars(length(max = 64))]
    pub order_id: OrderId,
    /// Its order line.
    #[schemars(length(max = 64))]
    pub order_line_id: OrderLineId,
    /// Debug marker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

impl OrderNotify {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        Ok(Self {
            order_id: f.str("orderId", ID_MAX)?.into(),
            order_line_id: f.str("orderLineId", ID_MAX)?.into(),
            test_flag: test_flag(f)?,
        })
    }

    /// Whether this is a debug call.
    pub fn is_test(&self) -> bool {
        is_debug(self.test_flag)
    }

    /// `orderNotify:{orderId}:{orderLineId}`.
    pub fn dedup_id(&self) -> String {
        dedup_id(self.is_test(), &["orderNotify", self.order_id.as_str(), self.order_line_id.as_str()])
    }
}
