//! Time travel through every deadline kind: the reminder fires once before, the breach once at
//! the deadline, and an appeal freezes the clock until its resolution.

use chrono::{DateTime, Duration, Utc};
use koofill_model::DomainEvent;
use koofill_supervision::{DeadlineView, state::Action};

use crate::support::{HARDWARE, MANUAL, TestSup, at, t0};

/// Opens a case of `product`, takes `steps` a day apart, and returns the test and the running
/// `kind` deadline.
async fn reach(product: &str, steps: &[Action], kind: &str) -> (TestSup, i64, DeadlineView) {
    let t = TestSup::start().await;
    let id = t.open("CS-DL", product, t0()).await.case.id;
    for action in steps {
        t.clock.advance(Duration::days(1));
        t.act(id, *action, None).await;
    }
    let deadline = deadline(&t, id, kind).await;
    assert!(deadline.met_at.is_none() && deadline.breached_at.is_none(), "{deadline:?}");
    (t, id, deadline)
}

async fn deadline(t: &TestSup, id: i64, kind: &str) -> DeadlineView {
    let case = t.sup().show(&id.to_string()).await.unwrap();
    case.deadlines.into_iter().find(|d| d.kind == kind).unwrap_or_else(|| panic!("no {kind} deadline"))
}

async fn reminders(t: &TestSup, kind: &str) -> Vec<String> {
    t.events("supervision.reminder")
        .await
        .into_iter()
        .filter_map(|e| match e.data {
            DomainEvent::SupervisionReminder { deadline, before, .. } if deadline == kind => Some(before),
            _ => None,
        })
        .collect()
}

async fn breaches(t: &TestSup, kind: &str) -> usize {
    t.events("supervision.breached")
        .await
        .into_iter()
        .filter(|e| matches!(&e.data, DomainEvent::SupervisionBreached { deadline, .. } if deadline == kind))
        .count()
}

/// The clock at `when`, two ticks (the second must find nothing new).
async fn tick_at(t: &TestSup, when: DateTime<Utc>) {
    t.clock.set(when);
    t.sup().tick().await.unwrap();
    t.sup().tick().await.unwrap();
}

/// Checks the first reminder and the breach of `kind`, whose deadline ran from `started` for
/// `expected_due`; `first` is its longest reminder threshold.
async fn remind_then_breach(t: &TestSup, id: i64, kind: &str, expected_due: DateTime<Utc>, first: (&str, Duration)) {
    let d = deadline(t, id, kind).await;
    assert_eq!(d.due_at, expected_due, "{kind} falls due per the Beijing calendar");
    let (label, before) = first;
    tick_at(t, d.due_at - before - Duration::seconds(1)).await;
    assert!(reminders(t, kind).await.is_empty(), "{kind}: no reminder before its threshold");
    tick_at(t, d.due_at - before).await;
    assert_eq!(reminders(t, kind).await, [label], "{kind}: one reminder at the threshold");
    tick_at(t, d.due_at - Duration::seconds(1)).await;
    assert_eq!(breaches(t, kind).await, 0, "{kind}: not breached before it falls due");
    tick_at(t, d.due_at).await;
    tick_at(t, d.due_at + Duration::days(3)).await;
    assert_eq!(breaches(t, kind).await, 1, "{kind}: one breach");
    let first_count = reminders(t, kind).await.iter().filter(|r| r.as_str() == label).count();
    assert_eq!(first_count, 1, "{kind}: the first reminder stayed single");
    assert!(deadline(t, id, kind).await.breached_at.is_some());
}

#[tokio::test]
async fn requirement_one_month_from_payment() {
    let (t, id, _) = reach(MANUAL, &[], "requirement").await;
    remind_then_breach(&t, id, "requirement", at("2025-02-10T10:00:00+08:00"), ("7 days", Duration::days(7))).await;
}

#[tokio::test]
async fn materials_one_month_from_the_start_of_delivery() {
    let (t, id, _) = reach(MANUAL, &[Action::Confirm, Action::Deliver], "materials").await;
    remind_then_breach(&t, id, "materials", at("2025-02-12T10:00:00+08:00"), ("7 days", Duration::days(7))).await;
}

#[tokio::test]
async fn feedback_three_months_from_delivery() {
    let (t, id, _) = reach(MANUAL, &[Action::Confirm, Action::Deliver, Action::Complete], "feedback").await;
    remind_then_breach(&t, id, "feedback", at("2025-04-13T10:00:00+08:00"), ("14 days", Duration::days(14))).await;
}

#[tokio::test]
async fn completion_three_hours_after_acceptance() {
    let steps = [Action::Confirm, Action::Deliver, Action::Complete, Action::Accept];
    let (t, id, _) = reach(MANUAL, &steps, "completion").await;
    remind_then_breach(&t, id, "completion", at("2025-01-14T13:00:00+08:00"), ("1 hour", Duration::hours(1))).await;
}

#[tokio::test]
async fn hardware_acceptance_ten_days_after_sign_off() {
    let steps = [Action::Confirm, Action::Deliver, Action::Complete];
    let (t, id, _) = reach(HARDWARE, &steps, "hardware_acceptance").await;
    let due = at("2025-01-23T10:00:00+08:00");
    remind_then_breach(&t, id, "hardware_acceptance", due, ("2 days", Duration::days(2))).await;
}

#[tokio::test]
async fn seller_action_five_days_at_the_seller() {
    let (t, id, _) = reach(HARDWARE, &[], "seller_action").await;
    remind_then_breach(&t, id, "seller_action", at("2025-01-15T10:00:00+08:00"), ("1 day", Duration::days(1))).await;
}

#[tokio::test]
async fn unaccepted_after_180_days() {
    let (t, id, _) = reach(MANUAL, &[Action::Confirm], "unaccepted").await;
    remind_then_breach(&t, id, "unaccepted", at("2025-07-09T10:00:00+08:00"), ("30 days", Duration::days(30))).await;
}

#[tokio::test]
async fn a_met_deadline_neither_reminds_nor_breaches() {
    let (t, id, d) = reach(MANUAL, &[], "requirement").await;
    t.clock.set(d.due_at - Duration::days(10));
    t.act(id, Action::Confirm, None).await;
    tick_at(&t, d.due_at + Duration::days(1)).await;
    assert!(reminders(&t, "requirement").await.is_empty());
    assert_eq!(breaches(&t, "requirement").await, 0);
}

#[tokio::test]
async fn an_appeal_freezes_the_clock_and_the_resolution_resumes_with_the_time_left() {
    let (t, id, d) = reach(MANUAL, &[], "requirement").await;
    // Appealed 10 days before the deadline, resolved 20 days later.
    t.clock.set(d.due_at - Duration::days(10));
    assert_eq!(t.act(id, Action::Appeal, None).await.case.state, "appealed");
    tick_at(&t, d.due_at + Duration::days(5)).await;
    assert!(reminders(&t, "requirement").await.is_empty(), "frozen: no reminder");
    assert_eq!(breaches(&t, "requirement").await, 0, "frozen: no breach");
    assert!(deadline(&t, id, "requirement").await.paused_at.is_some());

    t.clock.set(d.due_at + Duration::days(10));
    let resolved = t.act(id, Action::Resolve, None).await;
    assert_eq!(resolved.case.state, "awaiting_requirement", "back where the appeal started");
    let moved = deadline(&t, id, "requirement").await;
    assert_eq!(moved.due_at, d.due_at + Duration::days(20), "10 days were left, and still are");
    assert!(moved.paused_at.is_none());

    tick_at(&t, moved.due_at - Duration::days(7)).await;
    assert_eq!(reminders(&t, "requirement").await, ["7 days"]);
    tick_at(&t, moved.due_at).await;
    assert_eq!(breaches(&t, "requirement").await, 1);
}

#[tokio::test]
async fn buyer_rejections_beyond_the_limit_are_reported_once() {
    let (t, id, _) = reach(MANUAL, &[Action::Confirm, Action::Deliver, Action::Complete], "feedback").await;
    for _ in 0..5 {
        t.act(id, Action::Reject, None).await;
        t.act(id, Action::Complete, None).await;
    }
    let case = t.sup().show(&id.to_string()).await.unwrap();
    assert_eq!(case.case.rejections, 5);
    let exceeded = t.events("supervision.rejections_exceeded").await;
    assert_eq!(exceeded.len(), 1);
    assert!(matches!(exceeded[0].data, DomainEvent::SupervisionRejectionsExceeded { rejections: 4, .. }));
    // Each rejection restarted the delivery clock: the feedback deadline is in its sixth cycle.
    assert_eq!(deadline(&t, id, "feedback").await.cycle, 6);
}
