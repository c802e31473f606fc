//! Released orders close their case: when provisioning releases an instance (`instance.released`)
//! or the license worker a license code (`license.released`), the buyer unsubscribed (退订) or the
//! order expired, so supervision will never complete and the order will never settle. A case not
//! over moves to `closed`, its deadlines end, and it leaves the settlement view.

use koofill_model::Envelope;
use koofill_store::UnitOfWork;
use serde_json::Value;

use crate::{
    SupervisionError,
    cases::StepInput,
    handler::{CONSUMER, EventHandler},
    repo,
    state::{Action, CaseState},
};

/// `instance.released`, as far as supervision reads it.
#[derive(serde::Deserialize)]
pub(crate) struct InstanceReleased {
    pub(crate) instance_id: String,
    /// The unsubscribe order, when there was one.
    #[serde(default)]
    pub(crate) order_id: Option<String>,
}

/// `license.released`, as far as supervision reads it.
#[derive(serde::Deserialize)]
pub(crate) struct LicenseReleased {
    pub(crate) license: String,
    /// The unsubscribe order, when there was one.
    #[serde(default)]
    pub(crate) order_id: Option<String>,
}

/// What was released, for the step's record.
struct Released<'a> {
    /// `instance i-1`, `license code PL…`.
    what: String,
    /// The worker that reported it: `system:provisioning`, `system:license`.
    actor: &'static str,
    /// The unsubscribe order, when there was one.
    unsubscribe: Option<&'a str>,
}

impl EventHandler {
    /// Closes the case of the released instance's order line.
    pub(crate) async fn instance_released(
        &self,
        env: &Envelope<Value>,
        released: InstanceReleased,
    ) -> Result<(), SupervisionError> {
        let Some((order_id, order_line_id)) = repo::instance_line(&self.supervision.db, &released.instance_id).await?
        else {
            tracing::debug!(instance_id = %released.instance_id, "released instance unknown; no case");
            return Ok(());
        };
        let what = Released {
            what: format!("instance {}", released.instance_id),
            actor: "system:provisioning",
            unsubscribe: released.order_id.as_deref(),
        };
        self.close(env, &order_id, &order_line_id, what).await
    }

    /// Closes the case of the released license code's order line.
    pub(crate) async fn license_released(
        &self,
        env: &Envelope<Value>,
        released: LicenseReleased,
    ) -> Result<(), SupervisionError> {
        let Some((order_id, order_line_id)) = repo::license_line(&self.supervision.db, &released.license).await? else {
            tracing::debug!(license = %released.license, "released license code without an order line; no case");
            return Ok(());
        };
        let what = Released {
            what: format!("license code {}", released.license),
            actor: "system:license",
            unsubscribe: released.order_id.as_deref(),
        };
        self.close(env, &order_id, &order_line_id, what).await
    }

    async fn close(
        &self,
        env: &Envelope<Value>,
        order_id: &str,
        order_line_id: &str,
        released: Released<'_>,
    ) -> Result<(), SupervisionError> {
        let over = |case: &koofill_store::entities::supervision_cases::Model| {
            case.state.parse::<CaseState>().map(CaseState::is_over).map_err(SupervisionError::Corrupt)
        };
        // An unsupervised line has no case and a completed (or closed) one stays as it is: neither
        // needs an inbox row. Checked again below, inside the transaction that decides.
        match repo::case_by_line(&self.supervision.db, order_id, order_line_id).await? {
            Some(case) if !over(&case)? => {}
            _ => return Ok(()),
        }
        let Some(mut uow) =
            UnitOfWork::begin(&self.supervision.db, &self.supervision.outbox, CONSUMER, &env.id).await?
        else {
            return Ok(());
        };
        let Some(case) = repo::case_by_line(uow.txn(), order_id, order_line_id).await? else {
            return Ok(());
        };
        if over(&case)? {
            tracing::info!(case = case.id, state = %case.state, "order released after supervision was over; unchanged");
            uow.commit().await?;
            return Ok(());
        }
        let cause = match released.unsubscribe {
            Some(order) => format!("{} released (unsubscribe order {order})", released.what),
            None => format!("{} released", released.what),
        };
        let input = StepInput {
            actor: released.actor.to_owned(),
            note: Some(format!("{cause}: supervision closed, the order will not settle")),
            evidence: Some(format!("event {}", env.id)),
            actual_start: None,
        };
        self.supervision.step(&mut uow, case, Action::Release, &input, &env.id).await?;
        uow.commit().await?;
        Ok(())
    }
}
