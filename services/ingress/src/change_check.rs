//! The request-reply contract of `changeInstanceCheck` between the ingress and provisioning.

use koofill_model::{InstanceId, basic::ChangeProductInfo};
use serde::{Deserialize, Serialize};

/// What the ingress asks provisioning.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeCheckRequest {
    /// The instance to change.
    pub instance_id: InstanceId,
    /// The target product.
    pub product_info: ChangeProductInfo,
    /// Whether this is a debug call.
    pub test: bool,
}

/// Provisioning's verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeCheckReply {
    /// Whether the change is possible.
    pub allowed: bool,
    /// Why not (sent as `resultMsg`), or a note.
    #[serde(default)]
    pub message: Option<String>,
}
