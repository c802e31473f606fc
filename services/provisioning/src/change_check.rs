//! The changeInstanceCheck responder: the ingress asks on `<prefix>.rpc.provisioning.change_check`
//! and answers KooGallery with the verdict (spec §1.9).
//!
//! [`ChangeCheckRequest`] and [`ChangeCheckReply`] are the wire contract; they serialise exactly
//! like the ingress's types of the same names (`instance_id`, `product_info`, `test`;
//! `allowed`, `message`), since services do not depend on each other.

use koofill_bus::views::InstanceState;
use koofill_model::{InstanceId, basic::ChangeProductInfo};
use serde::{Deserialize, Serialize};

use crate::{context::Deps, provisioner::Provisioner, repo};

/// What the ingress asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeCheckRequest {
    /// The instance to change.
    pub instance_id: InstanceId,
    /// The target product (`productId`, `skuCode`, `linearValue`, `productName`).
    pub product_info: ChangeProductInfo,
    /// Whether this is a debug call.
    pub test: bool,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCheckReply {
    /// Whether the change is possible.
    pub allowed: bool,
    /// Why not (sent as `resultMsg`), or a note.
    #[serde(default)]
    pub message: Option<String>,
}

/// Decides one request: debug calls go to the template provisioner (which allows), unknown and
/// released instances cannot change, everything else is the provisioner's call. When the
/// provisioner cannot answer, `default_allow` (the ingress's `change_check_default`) decides.
pub async fn decide(deps: &Deps, request: ChangeCheckRequest, default_allow: bool) -> ChangeCheckReply {
    let provisioner = deps.provisioners.for_order(request.test);
    if !request.test {
        match repo::find_instance(&deps.db, &request.instance_id).await {
            Ok(Some(row)) if repo::parse_state(&row.state) == InstanceState::Released => {
                return ChangeCheckReply { allowed: false, message: Some("the instance has been released".into()) };
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                return ChangeCheckReply { allowed: false, message: Some("the instance is not known".into()) };
            }
            Err(e) => {
                tracing::warn!(error = &e as &dyn std::error::Error, "change check without the instance");
            }
        }
    }
    match provisioner.change_check(&request.instance_id, &request.product_info, request.test).await {
        Ok(v) => ChangeCheckReply { allowed: v.allowed, message: v.message },
        Err(e) => {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "provisioner gave no change verdict; using the default"
            );
            ChangeCheckReply {
                allowed: default_allow,
                message: (!default_allow).then(|| "the change cannot be verified now".to_owned()),
            }
        }
    }
}
