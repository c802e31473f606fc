//! The consumer of `koofill.event.>`: opens cases for supervised order lines, lets a license
//! activation pass its node, and closes the case of a released order (`release.rs`). Other
//! events are acknowledged untouched.

use chrono::{DateTime, Utc};
use koofill_bus::consumer::{Delivery, Handler};
use koofill_config::GoodsKind;
use koofill_model::Envelope;
use koofill_store::UnitOfWork;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{
    Supervision, SupervisionError,
    cases::StepInput,
    repo::{self, LineFacts},
    state::{Action, CaseState},
};

/// The durable consumer, also the inbox key of the events it handles.
pub const CONSUMER: &str = "supervision";

/// The order types that open a case. Renewals never do: a renewal of an order that completed
/// supervision skips it (spec §10.1), and its settlement follows its effective time instead.
const OPENING_ORDER_TYPES: [&str; 1] = ["NEW"];

/// Handles every domain event.
#[derive(Debug, Clone)]
pub struct EventHandler {
    /// The library it acts through.
    pub supervision: Supervision,
}

#[derive(serde::Deserialize)]
struct OrderLine {
    order_id: String,
    order_line_id: String,
}

#[derive(serde::Deserialize)]
struct InstanceRef {
    instance_id: String,
}

#[derive(serde::Deserialize)]
struct Activation {
    order_id: String,
    order_line_id: String,
    activated_at: DateTime<Utc>,
}

fn data<T: DeserializeOwned>(env: &Envelope<Value>) -> Result<T, SupervisionError> {
    serde_json::from_value(env.data.clone())
        .map_err(|e| SupervisionError::Event { event_type: env.r#type.clone(), reason: e.to_string() })
}

impl Handler for EventHandler {
    type Msg = Envelope<Value>;
    type Error = SupervisionError;

    async fn handle(&self, delivery: &Delivery<Envelope<Value>>) -> Result<(), SupervisionError> {
        let env = &delivery.msg;
        let outcome = match env.r#type.as_str() {
            "order.received" => {
                let line: OrderLine = data(env)?;
                self.order_line(env, &line.order_id, &line.order_line_id).await
            }
            "instance.active" => {
                let instance: InstanceRef = data(env)?;
                match repo::instance_line(&self.supervision.db, &instance.instance_id).await? {
                    Some((order_id, order_line_id)) => self.order_line(env, &order_id, &order_line_id).await,
                    None => {
                        tracing::debug!(instance_id = %instance.instance_id, "instance unknown; no case");
                        Ok(())
                    }
                }
            }
            "license.activated" => self.license_activated(env, data(env)?).await,
            "instance.released" => self.instance_released(env, data(env)?).await,
            "license.released" => self.license_released(env, data(env)?).await,
            _ => Ok(()),
        };
        match outcome {
            // The order should be recorded before its event; if it is still missing when the
            // retries run out, there is nothing to open a case from.
            Err(e @ SupervisionError::NotRecorded { .. }) if delivery.attempt.is_last => {
                tracing::error!(error = %e, event = %env.id, "no case opened: the order was never recorded");
                Ok(())
            }
            other => other,
        }
    }
}

impl EventHandler {
    /// The facts of a line and its goods kind; `None` when it must not get a case.
    async fn supervised(
        &self,
        order_id: &str,
        order_line_id: &str,
    ) -> Result<Option<(LineFacts, GoodsKind)>, SupervisionError> {
        // Nothing supervised (the default): no order's facts are needed, and an order that is
        // never recorded (a License order without orderNotify) must not be retried for a day.
        if !self.supervision.settings.config.supervises_anything() {
            return Ok(None);
        }
        let facts = repo::line_facts(&self.supervision.db, order_id, order_line_id).await?.ok_or_else(|| {
            SupervisionError::NotRecorded { order_id: order_id.to_owned(), order_line_id: order_line_id.to_owned() }
        })?;
        let goods = self
            .supervision
            .settings
            .config
            .goods_for(facts.products.iter().map(|(p, s)| (p.as_str(), s.as_str())), facts.charging_mode.as_deref());
        let opens = facts.order_type.as_deref().is_some_and(|t| OPENING_ORDER_TYPES.contains(&t));
        if goods == GoodsKind::None || !opens {
            tracing::debug!(order_id, order_line_id, goods = goods.as_str(), order_type = ?facts.order_type, "not supervised");
            return Ok(None);
        }
        // The release was handled first (its order notice was retried past it): a case opened now
        // would chase steps of an order that is gone, and nothing would ever close it.
        if repo::line_released(&self.supervision.db, order_id, order_line_id).await? {
            tracing::info!(order_id, order_line_id, "the line's instance is released already; no case");
            return Ok(None);
        }
        Ok(Some((facts, goods)))
    }

    async fn order_line(
        &self,
        env: &Envelope<Value>,
        order_id: &str,
        order_line_id: &str,
    ) -> Result<(), SupervisionError> {
        if repo::case_by_line(&self.supervision.db, order_id, order_line_id).await?.is_some() {
            return Ok(());
        }
        let Some((facts, goods)) = self.supervised(order_id, order_line_id).await? else {
            return Ok(());
        };
        let Some(mut uow) =
            UnitOfWork::begin(&self.supervision.db, &self.supervision.outbox, CONSUMER, &env.id).await?
        else {
            return Ok(());
        };
        self.supervision.open(&mut uow, &facts, goods, &env.id).await?;
        uow.commit().await?;
        Ok(())
    }

    async fn license_activated(&self, env: &Envelope<Value>, activation: Activation) -> Result<(), SupervisionError> {
        let (order_id, order_line_id) = (&activation.order_id, &activation.order_line_id);
        let existing = repo::case_by_line(&self.supervision.db, order_id, order_line_id).await?;
        let opening = match existing {
            Some(_) => None,
            None => match self.supervised(order_id, order_line_id).await? {
                Some(found) => Some(found),
                None => return Ok(()),
            },
        };
        let Some(mut uow) =
            UnitOfWork::begin(&self.supervision.db, &self.supervision.outbox, CONSUMER, &env.id).await?
        else {
            return Ok(());
        };
        if let Some((facts, goods)) = &opening {
            self.supervision.open(&mut uow, facts, *goods, &env.id).await?;
        }
        let Some(case) = repo::case_by_line(uow.txn(), order_id, order_line_id).await? else {
            return Ok(());
        };
        let state: CaseState = case.state.parse().map_err(SupervisionError::Corrupt)?;
        if !state.before_delivery() {
            // Already delivered (or appealed, completed): the activation changes nothing here.
            tracing::info!(case = case.id, %state, "license activated; the case is past its delivery node");
            uow.commit().await?;
            return Ok(());
        }
        let input = StepInput {
            actor: "system:license".into(),
            note: Some("License 2.0 code activated through the open API: the node passes by itself".into()),
            evidence: Some(format!("event {}", env.id)),
            actual_start: Some(activation.activated_at),
        };
        self.supervision.step(&mut uow, case, Action::LicenseActivated, &input, &env.id).await?;
        uow.commit().await?;
        Ok(())
    }
}
