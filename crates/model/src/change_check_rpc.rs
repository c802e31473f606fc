//! The request-reply contract of `changeInstanceCheck` between the ingress (which asks) and
//! provisioning (which answers) on `<prefix>.rpc.provisioning.change_check`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{basic::ChangeProductInfo, ids::InstanceId};

/// What the ingress asks.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChangeCheckRequest {
    /// The instance to change.
    pub instance_id: InstanceId,
    /// The target product (`productId`, `skuCode`, `linearValue`, `productName`).
    pub product_info: ChangeProductInfo,
    /// Whether this is a debug call.
    pub test: bool,
}

/// Provisioning's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChangeCheckReply {
    /// Whether the change is possible.
    pub allowed: bool,
    /// Why not (sent as `resultMsg`), or a note.
    #[serde(default)]
    pub message: Option<String>,
}
