//! The changeInstanceCheck responder: the ingress asks on `<prefix>.rpc.provisioning.change_check`
//! and answers KooGallery with the verdict (spec §1.9).
//!
//! [`ChangeCheckRequest`] and [`ChangeCheckReply`] are the wire contract, defined once in
//! `koofill-model`.

use koofill_bus::views::InstanceState;
pub use koofill_model::{ChangeCheckReply, ChangeCheckRequest};

use crate::{context::Deps, provisioner::Provisioner, repo};

/// Decides one request: debug calls go to the template provisioner (which allows), unknown and
/// released instances cannot change, everything else is the provisioner's call. When the
/// provisioner cannot answer, `default_allow` (the ingress's `change_check_default`) decides.
pub async fn decide(deps: &Deps, request: ChangeCheckRequest, default_allow: bool) -> ChangeCheckReply {
    let provisioner = deps.provisioners.for_order(request.test);
    if !request.test {
        match repo::find_instance(&deps.db, &request.instance_id).await {
            Ok(Some(row)) if row.state == InstanceState::Released => {
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
