//! The library every entry point goes through: the event handler, the admin API, the `koofill
//! supervision` command and the deadline tick all open cases and take steps here, each in one
//! [`UnitOfWork`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use koofill_config::GoodsKind;
use koofill_model::{DomainEvent, OrderId, OrderLineId};
use koofill_store::{OutboxSignal, UnitOfWork, entities::supervision_cases as cases};
use koofill_worker::EventFactory;
use sea_orm::{ActiveValue::Set, DatabaseConnection};

use crate::{
    Clock, SupervisionError, calendar,
    deadline::{self, Effect, Settings},
    repo::{self, LineFacts},
    state::{self, Action, CaseState},
};

/// The inbox consumer of operator requests: a request ID is handled once.
pub const OPS_CONSUMER: &str = "supervision-ops";

/// Who and why, for a step an operator (or koofill) records.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct StepInput {
    /// Who: `cli:alice`, `admin:ops-portal`, `system:license`.
    #[serde(default)]
    pub actor: String,
    /// Free text.
    #[serde(default)]
    pub note: Option<String>,
    /// Reference to the evidence (the delivery proof's file name or URL).
    #[serde(default)]
    pub evidence: Option<String>,
    /// 服务实际开通时间, with `deliver` or `complete`.
    #[serde(default)]
    pub actual_start: Option<DateTime<Utc>>,
}

/// The supervision worker's logic over its database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Supervision {
    pub(crate) db: DatabaseConnection,
    pub(crate) outbox: OutboxSignal,
    pub(crate) events: EventFactory,
    pub(crate) settings: Arc<Settings>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Supervision {
    /// Supervision over `db`, emitting through the outbox woken by `outbox`, timed by `clock`.
    pub fn new(
        db: DatabaseConnection,
        outbox: OutboxSignal,
        events: EventFactory,
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { db, outbox, events, settings: Arc::new(settings), clock }
    }

    /// Supervision for operator tools (`koofill supervision`): the same steps over `db`, with the
    /// system clock; the events they emit wait in the outbox until a running supervision worker's
    /// relay publishes them (within a second).
    ///
    /// # Errors
    /// [`koofill_config::ConfigError`] for unusable `[supervision]` deadlines.
    pub fn for_operators(
        db: DatabaseConnection,
        cfg: &koofill_config::Config,
    ) -> Result<Self, koofill_config::ConfigError> {
        let settings = Settings::new(&cfg.supervision)?;
        let events = EventFactory::new(&cfg.nats.prefix, crate::SOURCE);
        Ok(Self::new(db, OutboxSignal::new(), events, settings, Arc::new(crate::SystemClock)))
    }

    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The parsed configuration.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Records an operator's `action` on the case `reference` (its number or order line ID).
    /// `request_id` makes it idempotent: a request repeated with the same ID takes no second step
    /// and answers the case as it is.
    ///
    /// # Errors
    /// [`SupervisionError::NotFound`], [`SupervisionError::Invalid`] naming the state,
    /// [`SupervisionError::Input`] naming the field, or a database error.
    pub async fn act(
        &self,
        reference: &str,
        action: Action,
        input: StepInput,
        request_id: &str,
    ) -> Result<cases::Model, SupervisionError> {
        let reserved = match action {
            Action::LicenseActivated => Some("license activations come from the license worker"),
            Action::Release => Some("releases come from the provisioning and license workers"),
            _ => None,
        };
        if let Some(reason) = reserved {
            return Err(SupervisionError::Input { field: "action", reason: reason.into() });
        }
        if input.actor.trim().is_empty() {
            return Err(SupervisionError::Input { field: "actor", reason: "must name who acts".into() });
        }
        if let Some(start) = input.actual_start {
            if !matches!(action, Action::Deliver | Action::Complete) {
                return Err(SupervisionError::Input {
                    field: "actual_start",
                    reason: format!("is recorded with deliver or complete, not {action}"),
                });
            }
            if start > self.clock.now() {
                return Err(SupervisionError::Input {
                    field: "actual_start",
                    reason: format!("{start} is in the future"),
                });
            }
        }
        let Some(mut uow) = UnitOfWork::begin(&self.db, &self.outbox, OPS_CONSUMER, request_id).await? else {
            return repo::case_by_ref(&self.db, reference).await;
        };
        let case = repo::case_by_ref(uow.txn(), reference).await?;
        let case = self.step(&mut uow, case, action, &input, request_id).await?;
        uow.commit().await?;
        Ok(case)
    }

    /// Opens the case of a supervised line unless it has one; the new case, or `None`.
    pub(crate) async fn open(
        &self,
        uow: &mut UnitOfWork,
        facts: &LineFacts,
        goods: GoodsKind,
        source_id: &str,
    ) -> Result<Option<cases::Model>, SupervisionError> {
        let now = self.clock.now();
        let paid_at = facts.paid_at.unwrap_or(now);
        let (product_id, sku_code) = facts.products.first().cloned().unzip();
        let row = cases::ActiveModel {
            order_id: Set(facts.order_id.clone()),
            order_line_id: Set(facts.order_line_id.clone()),
            goods: Set(goods.as_str().to_owned()),
            state: Set(CaseState::AwaitingRequirement.as_str().to_owned()),
            state_before_appeal: Set(None),
            product_id: Set(product_id),
            sku_code: Set(sku_code),
            charging_mode: Set(facts.charging_mode.clone()),
            test: Set(facts.test),
            amount: Set(facts.amount.clone()),
            paid_at: Set(paid_at),
            opened_at: Set(now),
            actual_start: Set(None),
            rejections: Set(0),
            completed_at: Set(None),
            version: Set(1),
            updated_at: Set(now),
            ..Default::default()
        };
        let Some(case) = repo::insert_case(uow.txn(), row, &facts.order_id, &facts.order_line_id).await? else {
            return Ok(None);
        };
        repo::insert_step(
            uow.txn(),
            koofill_store::entities::supervision_steps::ActiveModel {
                case_id: Set(case.id),
                seq: Set(1),
                action: Set("open".into()),
                from_state: Set("none".into()),
                to_state: Set(case.state.clone()),
                actor: Set("system:supervision".into()),
                note: Set(None),
                evidence: Set(None),
                actual_start: Set(None),
                source_id: Set(source_id.to_owned()),
                at: Set(now),
                ..Default::default()
            },
        )
        .await?;
        self.apply(uow, &case, &deadline::on_open(goods), paid_at).await?;
        let event = DomainEvent::SupervisionOpened {
            case_id: case.id,
            order_id: OrderId::from(case.order_id.as_str()),
            order_line_id: OrderLineId::from(case.order_line_id.as_str()),
            goods: goods.as_str().to_owned(),
        };
        uow.emit(self.events.event(format!("{source_id}:supervision.opened"), case.test, event)?);
        tracing::info!(case = case.id, order_id = %case.order_id, goods = goods.as_str(), "supervision case opened");
        Ok(Some(case))
    }

    /// Takes one step on `case` inside `uow`: refuses what its state does not allow, records the
    /// step, moves the deadlines and emits `supervision.transitioned`.
    pub(crate) async fn step(
        &self,
        uow: &mut UnitOfWork,
        case: cases::Model,
        action: Action,
        input: &StepInput,
        source_id: &str,
    ) -> Result<cases::Model, SupervisionError> {
        let from: CaseState = case.state.parse().map_err(SupervisionError::Corrupt)?;
        let before_appeal = case
            .state_before_appeal
            .as_deref()
            .map(str::parse::<CaseState>)
            .transpose()
            .map_err(SupervisionError::Corrupt)?;
        let to = state::next(from, action, before_appeal)?;
        let goods = GoodsKind::from_text(&case.goods)
            .ok_or_else(|| SupervisionError::Corrupt(format!("goods kind {:?}", case.goods)))?;
        let now = self.clock.now();
        let buyer_rejection = action == Action::Reject && from == CaseState::Delivered;
        let rejections = case.rejections + i64::from(buyer_rejection);
        let version = case.version + 1;

        let mut row = cases::ActiveModel {
            state: Set(to.as_str().to_owned()),
            rejections: Set(rejections),
            version: Set(version),
            updated_at: Set(now),
            ..Default::default()
        };
        match action {
            Action::Appeal => row.state_before_appeal = Set(Some(from.as_str().to_owned())),
            // A release of an appealed case ends it there: it never returns to that step.
            Action::Resolve | Action::Release => row.state_before_appeal = Set(None),
            _ => {}
        }
        if let Some(start) = input.actual_start {
            row.actual_start = Set(Some(start));
        }
        if to == CaseState::Completed {
            row.completed_at = Set(Some(now));
        }
        repo::update_case(uow.txn(), case.id, case.version, row).await?;
        repo::insert_step(
            uow.txn(),
            koofill_store::entities::supervision_steps::ActiveModel {
                case_id: Set(case.id),
                seq: Set(version),
                action: Set(action.as_str().to_owned()),
                from_state: Set(from.as_str().to_owned()),
                to_state: Set(to.as_str().to_owned()),
                actor: Set(input.actor.clone()),
                note: Set(input.note.clone()),
                evidence: Set(input.evidence.clone()),
                actual_start: Set(input.actual_start),
                source_id: Set(source_id.to_owned()),
                at: Set(now),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| match e {
            SupervisionError::Concurrent(_) => SupervisionError::Concurrent(case.id),
            e => e,
        })?;
        self.apply(uow, &case, &deadline::on_step(goods, action, from, to), now).await?;

        let (order_id, order_line_id) =
            (OrderId::from(case.order_id.as_str()), OrderLineId::from(case.order_line_id.as_str()));
        let event = DomainEvent::SupervisionTransitioned {
            case_id: case.id,
            order_id: order_id.clone(),
            order_line_id: order_line_id.clone(),
            action: action.as_str().to_owned(),
            from: from.as_str().to_owned(),
            to: to.as_str().to_owned(),
            actor: input.actor.clone(),
            at: now,
        };
        uow.emit(self.events.event(format!("{source_id}:supervision.{action}:{}", case.id), case.test, event)?);
        if buyer_rejection && rejections == self.settings.max_rejections() + 1 {
            let event =
                DomainEvent::SupervisionRejectionsExceeded { case_id: case.id, order_id, order_line_id, rejections };
            uow.emit(self.events.event(
                format!("{source_id}:supervision.rejections_exceeded:{}", case.id),
                case.test,
                event,
            )?);
        }
        tracing::info!(case = case.id, %from, %to, %action, actor = %input.actor, "supervision step");
        repo::case_by_ref(uow.txn(), &case.id.to_string()).await
    }

    /// Applies deadline effects of a step taken at `at`.
    async fn apply(
        &self,
        uow: &mut UnitOfWork,
        case: &cases::Model,
        effects: &[Effect],
        at: DateTime<Utc>,
    ) -> Result<(), SupervisionError> {
        for effect in effects {
            match *effect {
                Effect::Start(kind) => {
                    let (after, _) = self.settings.deadline(kind);
                    repo::start_deadline(uow.txn(), case.id, kind, at, calendar::add(at, after)).await?;
                }
                Effect::Meet(kind) => repo::meet_deadlines(uow.txn(), case.id, Some(kind), at).await?,
                Effect::MeetAll => repo::meet_deadlines(uow.txn(), case.id, None, at).await?,
                Effect::PauseAll => repo::pause_deadlines(uow.txn(), case.id, at).await?,
                Effect::ResumeAll => repo::resume_deadlines(uow.txn(), case.id, at).await?,
            }
        }
        Ok(())
    }
}
