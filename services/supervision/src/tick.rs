//! The deadline tick: reminders before each running deadline and the breach at it, each exactly
//! once (an inbox claim per reminder and per breach, in the same transaction as its event).

use std::collections::HashMap;

use koofill_model::{DomainEvent, OrderId, OrderLineId};
use koofill_store::{UnitOfWork, entities::supervision_cases as cases, entities::supervision_deadlines as deadlines};
use sea_orm::EntityTrait;

use crate::{
    Supervision, SupervisionError, calendar,
    deadline::{DeadlineKind, KINDS},
};

/// The inbox consumer of deadline events: each reminder and breach is claimed once.
pub const DEADLINES_CONSUMER: &str = "supervision-deadlines";

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Reminders emitted.
    pub reminders: usize,
    /// Breaches emitted.
    pub breaches: usize,
}

impl Supervision {
    /// Evaluates every running deadline at the clock's time: emits the reminders whose threshold
    /// has passed and the breaches of deadlines that fell due. Safe to run concurrently on
    /// several replicas.
    ///
    /// # Errors
    /// Database errors (what was committed before stays committed).
    pub async fn tick(&self) -> Result<TickReport, SupervisionError> {
        let now = self.clock.now();
        // Only deadlines close enough for their longest reminder need reading.
        let horizon = KINDS
            .into_iter()
            .flat_map(|k| self.settings.deadline(k).1)
            .map(|t| calendar::add(now, t))
            .max()
            .unwrap_or(now)
            .max(now);
        let rows = crate::repo::running_due_before(&self.db, horizon).await?;
        let mut cases: HashMap<i64, cases::Model> = HashMap::new();
        let mut report = TickReport::default();
        for row in rows {
            let Ok(kind) = row.kind.parse::<DeadlineKind>() else {
                tracing::warn!(deadline = row.id, kind = %row.kind, "unknown deadline kind; skipped");
                continue;
            };
            let case = match cases.entry(row.case_id) {
                std::collections::hash_map::Entry::Occupied(found) => found.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    let Some(case) = cases::Entity::find_by_id(row.case_id)
                        .one(&self.db)
                        .await
                        .map_err(|e| SupervisionError::Store(e.into()))?
                    else {
                        continue;
                    };
                    slot.insert(case)
                }
            };
            let case = &*case;
            if now >= row.due_at {
                report.breaches += usize::from(self.breach(case, &row, kind).await?);
                continue;
            }
            for threshold in self.settings.deadline(kind).1 {
                let remind_at = calendar::sub(row.due_at, threshold);
                // A threshold longer than the deadline itself would fire the moment it starts.
                if remind_at <= row.started_at || now < remind_at {
                    continue;
                }
                report.reminders += usize::from(self.remind(case, &row, kind, &threshold.to_string()).await?);
            }
        }
        Ok(report)
    }

    async fn remind(
        &self,
        case: &cases::Model,
        row: &deadlines::Model,
        kind: DeadlineKind,
        threshold: &str,
    ) -> Result<bool, SupervisionError> {
        let key = format!("reminder:{}:{kind}:{}:{threshold}", case.id, row.cycle);
        let Some(mut uow) = UnitOfWork::begin(&self.db, &self.outbox, DEADLINES_CONSUMER, &key).await? else {
            return Ok(false);
        };
        // The deadline was read before this transaction: a step may have met it since (a release
        // closing the case, say), and a reminder for what is no longer awaited must not go out.
        if !crate::repo::still_running(uow.txn(), row).await?
            || !crate::repo::insert_reminder(uow.txn(), row, threshold, self.clock.now()).await?
        {
            uow.rollback().await?;
            return Ok(false);
        }
        let event = DomainEvent::SupervisionReminder {
            case_id: case.id,
            order_id: OrderId::from(case.order_id.as_str()),
            order_line_id: OrderLineId::from(case.order_line_id.as_str()),
            deadline: kind.as_str().to_owned(),
            due_at: row.due_at,
            before: threshold.to_owned(),
        };
        uow.emit(self.events.event(format!("supervision:{key}"), case.test, event)?);
        uow.commit().await?;
        tracing::info!(case = case.id, deadline = %kind, before = threshold, due_at = %row.due_at, "supervision reminder");
        Ok(true)
    }

    async fn breach(
        &self,
        case: &cases::Model,
        row: &deadlines::Model,
        kind: DeadlineKind,
    ) -> Result<bool, SupervisionError> {
        let key = format!("breach:{}:{kind}:{}", case.id, row.cycle);
        let Some(mut uow) = UnitOfWork::begin(&self.db, &self.outbox, DEADLINES_CONSUMER, &key).await? else {
            return Ok(false);
        };
        if !crate::repo::mark_breached(uow.txn(), row, self.clock.now()).await? {
            // Met, frozen or restarted since it was read: nothing to report.
            uow.rollback().await?;
            return Ok(false);
        }
        let event = DomainEvent::SupervisionBreached {
            case_id: case.id,
            order_id: OrderId::from(case.order_id.as_str()),
            order_line_id: OrderLineId::from(case.order_line_id.as_str()),
            deadline: kind.as_str().to_owned(),
            due_at: row.due_at,
        };
        uow.emit(self.events.event(format!("supervision:{key}"), case.test, event)?);
        uow.commit().await?;
        tracing::warn!(case = case.id, deadline = %kind, due_at = %row.due_at, "supervision deadline breached");
        Ok(true)
    }
}
