//! What operators read: case lists, one case with its history, and the settlement view.

use chrono::{DateTime, Utc};
use koofill_config::CalendarSpan;
use koofill_store::entities::{
    supervision_cases as cases, supervision_deadlines as deadlines, supervision_reminders as reminders,
    supervision_steps as steps,
};
use serde::Serialize;

use crate::{Supervision, SupervisionError, calendar, repo, state::CaseState};

/// A case as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseSummary {
    /// The case number.
    pub id: i64,
    /// The order.
    pub order_id: String,
    /// The order line.
    pub order_line_id: String,
    /// The kind of goods.
    pub goods: String,
    /// Where it stands.
    pub state: String,
    /// While appealed, where it returns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_before_appeal: Option<String>,
    /// Debug order.
    pub test: bool,
    /// The line's price after discounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// When the buyer paid.
    pub paid_at: DateTime<Utc>,
    /// The service start, once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_start: Option<DateTime<Utc>>,
    /// Buyer rejections of the delivery.
    pub rejections: i64,
    /// When supervision completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// The running deadline that falls due first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_deadline: Option<DeadlineView>,
}

/// A deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadlineView {
    /// Its kind.
    pub kind: String,
    /// How often it was started.
    pub cycle: i64,
    /// When its clock started.
    pub started_at: DateTime<Utc>,
    /// When it falls due.
    pub due_at: DateTime<Utc>,
    /// When it was met.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met_at: Option<DateTime<Utc>>,
    /// When it was breached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breached_at: Option<DateTime<Utc>>,
    /// Since when it is frozen by an appeal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<DateTime<Utc>>,
}

/// A recorded step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepView {
    /// The case version after it.
    pub seq: i64,
    /// What was done.
    pub action: String,
    /// The state before.
    pub from: String,
    /// The state after.
    pub to: String,
    /// Who.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The operator's note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The evidence reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// The service start recorded with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_start: Option<DateTime<Utc>>,
}

/// A reminder sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReminderView {
    /// The deadline kind.
    pub kind: String,
    /// The deadline's cycle.
    pub cycle: i64,
    /// How long before the deadline.
    pub before: String,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
}

/// One case with its whole history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseDetail {
    /// The case.
    #[serde(flatten)]
    pub case: CaseSummary,
    /// Every step, oldest first.
    pub steps: Vec<StepView>,
    /// Every deadline.
    pub deadlines: Vec<DeadlineView>,
    /// Every reminder sent.
    pub reminders: Vec<ReminderView>,
}

/// An order line kept from settlement by supervision (spec §10.2: only "不涉及" or "已完成" settle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettlementRow {
    /// The case number.
    pub case_id: i64,
    /// The order.
    pub order_id: String,
    /// The order line.
    pub order_line_id: String,
    /// Where the case stands.
    pub state: String,
    /// Blocked since: the payment.
    pub blocked_since: DateTime<Utc>,
    /// Whole days waited so far.
    pub days_waiting: i64,
    /// The money waiting: the line's price after discounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// Debug order.
    pub test: bool,
}

impl From<&deadlines::Model> for DeadlineView {
    fn from(d: &deadlines::Model) -> Self {
        Self {
            kind: d.kind.clone(),
            cycle: d.cycle,
            started_at: d.started_at,
            due_at: d.due_at,
            met_at: d.met_at,
            breached_at: d.breached_at,
            paused_at: d.paused_at,
        }
    }
}

fn summary(case: &cases::Model, next: Option<&deadlines::Model>) -> CaseSummary {
    CaseSummary {
        id: case.id,
        order_id: case.order_id.clone(),
        order_line_id: case.order_line_id.clone(),
        goods: case.goods.clone(),
        state: case.state.clone(),
        state_before_appeal: case.state_before_appeal.clone(),
        test: case.test,
        amount: case.amount.clone(),
        paid_at: case.paid_at,
        actual_start: case.actual_start,
        rejections: case.rejections,
        completed_at: case.completed_at,
        next_deadline: next.map(DeadlineView::from),
    }
}

fn step_view(s: &steps::Model) -> StepView {
    StepView {
        seq: s.seq,
        action: s.action.clone(),
        from: s.from_state.clone(),
        to: s.to_state.clone(),
        actor: s.actor.clone(),
        at: s.at,
        note: s.note.clone(),
        evidence: s.evidence.clone(),
        actual_start: s.actual_start,
    }
}

fn reminder_view(r: &reminders::Model) -> ReminderView {
    ReminderView { kind: r.kind.clone(), cycle: r.cycle, before: r.threshold.clone(), sent_at: r.sent_at }
}

impl Supervision {
    /// Cases, optionally only those in `state` and those with a running deadline due within
    /// `due_within` from now (frozen deadlines count as running).
    ///
    /// # Errors
    /// Database errors.
    pub async fn list(
        &self,
        state: Option<CaseState>,
        due_within: Option<CalendarSpan>,
    ) -> Result<Vec<CaseSummary>, SupervisionError> {
        let all = repo::list_cases(&self.db, state.map(CaseState::as_str)).await?;
        let running = repo::running_of(&self.db, all.iter().map(|c| c.id).collect()).await?;
        let horizon = due_within.map(|span| calendar::add(self.clock.now(), span));
        Ok(all
            .iter()
            .filter_map(|case| {
                let next = running.iter().find(|d| d.case_id == case.id);
                match (horizon, next) {
                    (Some(h), Some(d)) if d.due_at <= h => Some(summary(case, next)),
                    (Some(_), _) => None,
                    (None, _) => Some(summary(case, next)),
                }
            })
            .collect())
    }

    /// One case (by number or order line ID) with its steps, deadlines and reminders.
    ///
    /// # Errors
    /// [`SupervisionError::NotFound`], database errors.
    pub async fn show(&self, reference: &str) -> Result<CaseDetail, SupervisionError> {
        let case = repo::case_by_ref(&self.db, reference).await?;
        let deadlines = repo::deadlines_of(&self.db, case.id).await?;
        let next = deadlines.iter().find(|d| d.met_at.is_none() && d.breached_at.is_none());
        Ok(CaseDetail {
            case: summary(&case, next),
            steps: repo::steps_of(&self.db, case.id).await?.iter().map(step_view).collect(),
            deadlines: deadlines.iter().map(DeadlineView::from).collect(),
            reminders: repo::reminders_of(&self.db, case.id).await?.iter().map(reminder_view).collect(),
        })
    }

    /// The order lines supervision keeps from settlement, and since when.
    ///
    /// # Errors
    /// Database errors.
    pub async fn settlement(&self) -> Result<Vec<SettlementRow>, SupervisionError> {
        let now = self.clock.now();
        Ok(repo::unsettled(&self.db)
            .await?
            .into_iter()
            .map(|c| SettlementRow {
                case_id: c.id,
                days_waiting: (now - c.paid_at).num_days().max(0),
                order_id: c.order_id,
                order_line_id: c.order_line_id,
                state: c.state,
                blocked_since: c.paid_at,
                amount: c.amount,
                test: c.test,
            })
            .collect())
    }
}
