//! The three consumers' handlers (architecture §4): `provisioning-saas` (instance lifecycle),
//! `provisioning-order` (orderNotify) and `provisioning-kit` (the enterprise directory).
//!
//! The runner decodes the envelope; every handler then follows the same recipe (house style
//! §6.3): re-validate; skip what the inbox says was processed (SaaS messages still rewrite the
//! instance view from the database); make outside calls (query order, the provisioner) with
//! stable ids; then one [`UnitOfWork`](koofill_store::UnitOfWork) with the inbox row, the
//! domain rows and the events; after the commit, the instance view.

mod create;
mod kit;
mod lifecycle;
mod order_notify;

use std::sync::Arc;

use koofill_bus::consumer::{Attempt, Delivery, Handler};
use koofill_model::{BasicRequest, Envelope, InboundCallback, InstanceId};
use koofill_store::inbox;
use tracing::Instrument;

use crate::{ProvisioningError, context::Deps};

/// Durable name (and inbox consumer) of the SaaS lifecycle consumer.
pub const SAAS: &str = "provisioning-saas";
/// Durable name of the orderNotify consumer.
pub const ORDER: &str = "provisioning-order";
/// Durable name of the Kit directory consumer.
pub const KIT: &str = "provisioning-kit";

/// The message type of every provisioning consumer: the envelope the ingress published.
pub type Inbound = Envelope<InboundCallback>;

/// One inbound message being handled.
#[derive(Debug)]
pub(crate) struct Msg<'a> {
    /// The envelope the ingress published.
    pub env: &'a Inbound,
    /// Which attempt this is (delivery count, last attempt, deadline).
    pub attempt: Attempt,
    /// Its sequence in the inbound stream.
    pub stream_sequence: u64,
    /// The consumer handling it (the inbox key's first half).
    pub consumer: &'static str,
}

impl<'a> Msg<'a> {
    fn new(delivery: &'a Delivery<Inbound>, consumer: &'static str) -> Self {
        Self { env: &delivery.msg, attempt: delivery.attempt, stream_sequence: delivery.stream_sequence, consumer }
    }

    /// Records the message as handled with no effect.
    pub async fn no_effect(&self, deps: &Deps) -> Result<(), ProvisioningError> {
        deps.no_effect(self.consumer, &self.env.id).await
    }

    /// The id of a follow-up (event or provisioner call): `{source id}:{step}`.
    pub fn follow_up(&self, step: &str) -> String {
        format!("{}:{step}", self.env.id)
    }
}

async fn is_processed(
    deps: &Deps,
    consumer: &'static str,
    env: &Envelope<InboundCallback>,
) -> Result<bool, ProvisioningError> {
    let processed = inbox::is_processed(&deps.db, consumer, &env.id).await?;
    if processed {
        tracing::debug!(event_id = %env.id, "already processed");
    }
    Ok(processed)
}

/// The instance a SaaS lifecycle request is about.
fn saas_instance(env: &Envelope<InboundCallback>, request: &BasicRequest) -> Result<InstanceId, ProvisioningError> {
    Ok(match request {
        BasicRequest::NewInstance(r) => env.data.instance_id.clone().unwrap_or_else(|| r.instance_id()),
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
    })
}

/// `provisioning-saas`: newInstance, refreshInstance, updateInstanceStatus, releaseInstance,
/// upgradeInstance.
///
/// A message the inbox already knows still rewrites the instance view from the database: the
/// view is written after the commit, so a crash or a KV failure in between would otherwise leave
/// it behind for good (queryInstance answering `000004` for an active instance), since every
/// redelivery and every resend of that message is skipped by the inbox.
#[derive(Debug, Clone)]
pub struct SaasHandler {
    pub(crate) deps: Arc<Deps>,
}

impl Handler for SaasHandler {
    type Msg = Inbound;
    type Error = ProvisioningError;

    async fn handle(&self, delivery: &Delivery<Inbound>) -> Result<(), ProvisioningError> {
        let deps = &*self.deps;
        let env = &delivery.msg;
        let request = match env.data.basic_request() {
            Ok(request) => request,
            // Processed when it was still valid (a replay after a model change): nothing to do.
            Err(_) if is_processed(deps, SAAS, env).await? => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let instance_id = saas_instance(env, &request)?;
        // The lock comes first, so the repair below cannot overwrite a view written by a newer
        // change of the same instance in this process.
        let _turn = deps.locks.lock(instance_id.as_str()).await;
        let span = tracing::info_span!("saas", activity = %request.activity(), instance_id = %instance_id);
        let work = async {
            if is_processed(deps, SAAS, env).await? {
                return create::publish_view(deps, &instance_id).await;
            }
            let msg = Msg::new(delivery, SAAS);
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
    type Msg = Inbound;
    type Error = ProvisioningError;

    async fn handle(&self, delivery: &Delivery<Inbound>) -> Result<(), ProvisioningError> {
        let deps = &*self.deps;
        if is_processed(deps, ORDER, &delivery.msg).await? {
            return Ok(());
        }
        let msg = Msg::new(delivery, ORDER);
        match msg.env.data.basic_request()? {
            BasicRequest::OrderNotify(r) => order_notify::handle(deps, &msg, &r).await,
            other => {
                Err(ProvisioningError::Invalid(format!("{} does not belong on the order subject", other.activity())))
            }
        }
    }
}

/// `provisioning-kit`: tenantSync, applicationSync, authSync, singleOrgSync, allOrgSync, one
/// tenant's messages at a time.
#[derive(Debug, Clone)]
pub struct KitHandler {
    pub(crate) deps: Arc<Deps>,
}

impl Handler for KitHandler {
    type Msg = Inbound;
    type Error = ProvisioningError;

    async fn handle(&self, delivery: &Delivery<Inbound>) -> Result<(), ProvisioningError> {
        let deps = &*self.deps;
        let env = &delivery.msg;
        let request = match env.data.kit_request() {
            Some(Ok(request)) => request,
            // Processed when it was still valid (a replay after a model change): nothing to do.
            _ if is_processed(deps, KIT, env).await? => return Ok(()),
            Some(Err(e)) => return Err(e.into()),
            None => return Err(ProvisioningError::Invalid("not a Kit callback".into())),
        };
        // One message per tenant at a time: two adds of the same natural key must not both find
        // no row and both insert (across replicas, the conflict is retried instead).
        let _turn = deps.locks.lock(&kit::lock_key(&request)).await;
        if is_processed(deps, KIT, env).await? {
            return Ok(());
        }
        let msg = Msg::new(delivery, KIT);
        kit::handle(deps, &msg, &request).await
    }
}
