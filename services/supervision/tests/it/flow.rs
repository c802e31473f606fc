//! Cases driven through their steps: by operators, and by a license activation.

use chrono::Duration;
use koofill_model::DomainEvent;
use koofill_supervision::{StepInput, SupervisionError, state::Action};

use crate::support::{LICENSE, MANUAL, TestSup, at, t0};

#[tokio::test]
async fn a_manual_service_order_goes_through_every_step_and_leaves_the_settlement_view() {
    let t = TestSup::start().await;
    let case = t.open("CS-MANUAL", MANUAL, t0()).await;
    assert_eq!((case.case.state.as_str(), case.case.goods.as_str()), ("awaiting_requirement", "manual_service"));
    assert_eq!(case.case.amount.as_deref(), Some("1200.00"));
    let id = case.case.id;

    let blocked = t.sup().settlement().await.unwrap();
    assert_eq!(blocked.len(), 1);
    assert_eq!((blocked[0].order_id.as_str(), blocked[0].blocked_since), ("CS-MANUAL", t0()));

    let started = at("2025-01-12T09:00:00+08:00");
    let mut states = Vec::new();
    for (action, start) in [
        (Action::Confirm, None),
        (Action::Deliver, None),
        (Action::Complete, Some(started)),
        (Action::Accept, None),
        (Action::Complete, None),
    ] {
        t.clock.advance(Duration::days(1));
        states.push(t.act(id, action, start).await.case.state);
    }
    assert_eq!(states, ["requirement_confirmed", "delivering", "delivered", "accepted", "completed"]);

    let done = t.sup().show(&id.to_string()).await.unwrap();
    assert_eq!(done.case.actual_start, Some(started));
    assert_eq!(done.case.completed_at, Some(t0() + Duration::days(5)));
    let actions: Vec<_> = done.steps.iter().map(|s| (s.action.as_str(), s.actor.as_str())).collect();
    assert_eq!(actions[0], ("open", "system:supervision"));
    assert_eq!(
        actions[1..],
        [
            ("confirm", "cli:tester"),
            ("deliver", "cli:tester"),
            ("complete", "cli:tester"),
            ("accept", "cli:tester"),
            ("complete", "cli:tester")
        ]
    );
    assert_eq!(done.steps[3].evidence.as_deref(), Some("acceptance-report.pdf"));
    assert_eq!(done.steps[1].note.as_deref(), Some("confirm in test"));
    assert!(done.deadlines.iter().all(|d| d.met_at.is_some()), "{:?}", done.deadlines);
    assert!(t.sup().settlement().await.unwrap().is_empty(), "a completed order is no longer blocked");

    let transitions = t.events("supervision.transitioned").await;
    assert_eq!(transitions.len(), 5);
    assert!(matches!(&transitions[4].data, DomainEvent::SupervisionTransitioned { to, .. } if to == "completed"));
    assert_eq!(t.events("supervision.opened").await.len(), 1);
}

#[tokio::test]
async fn invalid_transitions_are_refused_naming_the_state() {
    let t = TestSup::start().await;
    let id = t.open("CS-INVALID", MANUAL, t0()).await.case.id;
    let input = || StepInput { actor: "cli:tester".into(), ..StepInput::default() };

    let err = t.sup().act(&id.to_string(), Action::Accept, input(), "r1").await.unwrap_err();
    assert!(matches!(err, SupervisionError::Invalid(_)));
    assert_eq!(
        err.to_string(),
        "cannot accept a case in state awaiting_requirement (allowed: confirm, reject, appeal)"
    );

    for action in [Action::Confirm, Action::Deliver, Action::Complete, Action::Accept, Action::Complete] {
        t.act(id, action, None).await;
    }
    for (n, action) in [
        Action::Confirm,
        Action::Reject,
        Action::Deliver,
        Action::Complete,
        Action::Accept,
        Action::Appeal,
        Action::Resolve,
    ]
    .into_iter()
    .enumerate()
    {
        let err = t.sup().act(&id.to_string(), action, input(), &format!("late-{n}")).await.unwrap_err();
        assert!(err.to_string().contains("in state completed"), "{action}: {err}");
    }
    // Nothing was recorded by the refusals.
    assert_eq!(t.sup().show(&id.to_string()).await.unwrap().steps.len(), 6);

    let err = t.sup().act("CS-NOPE-1", Action::Confirm, input(), "r2").await.unwrap_err();
    assert_eq!(err.to_string(), "no supervision case CS-NOPE-1");
    let future = Some(t0() + Duration::days(30));
    let err = t
        .sup()
        .act(&id.to_string(), Action::Confirm, StepInput { actual_start: future, ..input() }, "r3")
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("invalid `actual_start`"), "{err}");
}

#[tokio::test]
async fn a_repeated_operator_request_takes_one_step() {
    let t = TestSup::start().await;
    let id = t.open("CS-REPEAT", MANUAL, t0()).await.case.id;
    let input = StepInput { actor: "admin:portal".into(), ..StepInput::default() };
    for _ in 0..2 {
        let case = t.sup().act(&id.to_string(), Action::Confirm, input.clone(), "same-request").await.unwrap();
        assert_eq!(case.state, "requirement_confirmed");
    }
    assert_eq!(t.sup().show(&id.to_string()).await.unwrap().steps.len(), 2);
}

#[tokio::test]
async fn a_license_activation_passes_its_node_once_even_when_redelivered() {
    let t = TestSup::start().await;
    let id = t.open("CS-LIC", LICENSE, t0()).await.case.id;
    let activated_at = at("2025-01-11T15:30:00+08:00");
    t.clock.set(activated_at + Duration::minutes(1));
    let activation = DomainEvent::LicenseActivated {
        license_code: "LIC-CODE-1".into(),
        order_id: "CS-LIC".into(),
        order_line_id: "CS-LIC-1".into(),
        activated_at,
    };
    // The same envelope stored twice (a republish after JetStream's duplicate window).
    t.publish("license:activated:CS-LIC", "m1", activation.clone()).await;
    t.publish("license:activated:CS-LIC", "m2", activation).await;
    t.worker.drain().await.unwrap();

    let case = t.sup().show(&id.to_string()).await.unwrap();
    assert_eq!(case.case.state, "delivered");
    assert_eq!(case.case.actual_start, Some(activated_at));
    let passes: Vec<_> = case.steps.iter().filter(|s| s.action == "license_activated").collect();
    assert_eq!(passes.len(), 1, "{:?}", case.steps);
    assert_eq!((passes[0].actor.as_str(), passes[0].from.as_str()), ("system:license", "awaiting_requirement"));
    let requirement = case.deadlines.iter().find(|d| d.kind == "requirement").unwrap();
    assert!(requirement.met_at.is_some());
    assert!(case.deadlines.iter().any(|d| d.kind == "feedback" && d.met_at.is_none()));
    assert_eq!(t.events("supervision.transitioned").await.len(), 1);

    // The buyer then accepts and the order completes as usual.
    t.act(id, Action::Accept, None).await;
    assert_eq!(t.act(id, Action::Complete, None).await.case.state, "completed");
}

#[tokio::test]
async fn a_license_activated_before_its_order_notice_opens_and_passes_the_case() {
    let t = TestSup::start().await;
    t.record_order("CS-LIC2", LICENSE, "NEW", t0()).await;
    let activated_at = t0() + Duration::hours(2);
    let activation = DomainEvent::LicenseActivated {
        license_code: "LIC-CODE-2".into(),
        order_id: "CS-LIC2".into(),
        order_line_id: "CS-LIC2-1".into(),
        activated_at,
    };
    t.publish("license:activated:CS-LIC2", "a1", activation).await;
    t.worker.drain().await.unwrap();
    t.order_received("CS-LIC2").await;
    let case = t.sup().show("CS-LIC2-1").await.unwrap();
    assert_eq!(case.case.state, "delivered");
    assert_eq!(case.steps.len(), 2, "opened once, passed once: {:?}", case.steps);
}
