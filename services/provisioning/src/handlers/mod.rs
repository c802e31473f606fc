//! The three consumers' handlers (architecture §4): `provisioning-saas` (instance lifecycle),
//! `provisioning-order` (orderNotify) and `provisioning-kit` (the enterprise directory).
//!
//! Every handler follows the same recipe (house style §6.3): decode and re-validate; skip what
//! the inbox says was processed; make outside calls (query order, the provisioner) with stable
//! ids; then one transaction with the inbox row, the domain rows and the outbox events; after
//! the commit, the instance view and a nudge to the relay.

mod create;
mod kit;
mod lifecycle;
mod order_notify;

use std::sync::Arc;

use koofill_bus::consumer::{Delivery, Handler};
use koofill_model::{BasicRequest, Envelope, InboundCallback};
use koofill_store::inbox;
use tracing::Instrument;

use crate::{ProvisioningError, context::Deps};

/// Durable name (and inbox consumer) of the SaaS lifecycle consumer.
pub const SAAS: &str = "provisioning-saas";
/// Durable name of the orderNotify consumer.
pub const ORDER: &str = "provisioning-order";
/// Durable name of the Kit directory consumer.
pub const KIT: &str = "provisioning-kit";

/// One inbound message being handled.
#[derive(Debug)]
pub(crate) struct Msg<'a> {
    /// The envelope the ingress published.
    pub env: Envelope<InboundCallback>,
    /// The delivery (subject, sequence, delivery count).
    pub delivery: &'a Delivery,
    /// The consumer handling it (the inbox key's first half).
    pub consumer: &'static str,
}

impl Msg<'_> {
    /// Whether this is the last delivery the consumer will make (the retry budget is spent).
    pub fn is_last_attempt(&self, deps: &Deps) -> bool {
        self.delivery.delivered >= deps.max_deliver
    }

    /// The id of a follow-up (event or provisioner call): `{source id}:{step}`.
    pub fn follow_up(&self, step: &str) -> String {
        format!("{}:{step}", self.env.id)
    }
}

/// Decodes the envelope; `None` when the inbox says it was processed already.
async fn accept<'a>(
    deps: &Deps,
    delivery: &'a Delivery,
    consumer: &'static str,
) -> Result<Option<Msg<'a>>, ProvisioningError> {
    let env: Envelope<InboundCallback> = delivery.decode()?;
    if inbox::is_processed(&deps.db, consumer, &env.id).await? {
        tracing::debug!(event_id = %env.id, "already processed");
        return Ok(None);
    }
    Ok(Some(Msg { env, delivery, consumer }))
}

/// `provisioning-saas`: newInstance, refreshInstance, updateInstanceStatus, releaseInstance,
/// upgradeInstance.
#[derive(Debug, Clone)]
pub struct SaasHandler {
    pub(crate) deps: Arc<Deps>,
}

impl Handler for SaasHandler {
    type Error = ProvisioningError;

    async fn handle(&self, delivery: &Delivery) -> Result<(), ProvisioningError> {
        let deps = &*self.deps;
        let Some(msg) = accept(deps, delivery, SAAS).await? else { return Ok(()) };
        let request = msg.env.data.basic_request()?;
        let instance_id = match &request {
            BasicRequest::NewInstance(r) => msg.env.data.instance_id.clone().unwrap_or_else(|| r.instance_id()),
            BasicRequest::RefreshInstance(r) => r.instance_id.clone(),
            BasicRequest::UpdateInstanceStatus(r) => r.instance_id.clone(),
            BasicRequest::ReleaseInstance(r) => r.instance_id.clone(),
            BasicRequest::UpgradeInstance(r) => r.instance_id.clone(),
            other => {
                return Err(ProvisioningError::Invalid(format!(
                    "{} does not belong on the SaaS lifecycle subject",
                    other.activity()
                )));
            }
        };
        let _turn = deps.locks.lock(instance_id.as_str()).await;
        let span = tracing::info_span!("saas", activity = %request.activity(), instance_id = %instance_id);
        let work = async {
            match request {
                BasicRequest::NewInstance(r) => create::handle(deps, &msg, &instance_id, &r).await,
                BasicRequest::RefreshInstance(r) => lifecycle::refresh(deps, &msg, &r).await,
                BasicRequest::UpdateInstanceStatus(r) => lifecycle::status(deps, &msg, &r).await,
                BasicRequest::ReleaseInstance(r) => lifecycle::release(deps, &msg, &r).await,
                BasicRequest::UpgradeInstance(r) => lifecycle::upgrade(deps, &msg, &r).await,
                _ => Ok(()),
            }
        };
        work.instrument(span).await
    }
}

/// `provisioning-order`: orderNotify.
#[derive(Debug, Clone)]
pub struct OrderHandler {
    pub(crate) deps: Arc<Deps>,
}

impl Handler for OrderHandler {
    type Error = ProvisioningError;

    async fn handle(&self, delivery: &Delivery) -> Result<(), ProvisioningError> {
        let deps = &*self.deps;
        let Some(msg) = accept(deps, delivery, ORDER).await? else { return Ok(()) };
        match msg.env.data.basic_request()? {
            BasicRequest::OrderNotify(r) => order_notify::handle(deps, &msg, &r).await,
            other => {
                Err(ProvisioningError::Invalid(format!("{} does not belong on the order subject", other.activity())))
            }
        }
    }
}

/// `provisioning-kit`: tenantSync, applicationSync, authSync, singleOrgSync, allOrgSync.
#[derive(Debug, Clone)]
pub struct KitHandler {
    pub(crate) deps: Arc<Deps>,
}

impl Handler for KitHandler {
    type Error = ProvisioningError;

    async fn handle(&self, delivery: &Delivery) -> Result<(), ProvisioningError> {
        let deps = &*self.deps;
        let Some(msg) = accept(deps, delivery, KIT).await? else { return Ok(()) };
        let request =
            msg.env.data.kit_request().ok_or_else(|| ProvisioningError::Invalid("not a Kit callback".into()))??;
        kit::handle(deps, &msg, &request).await
    }
}
