//! Released (unsubscribed) orders close their case: no step, reminder or breach afterwards, and
//! the order leaves the settlement view.

use chrono::Duration;
use koofill_model::DomainEvent;
use koofill_store::entities::instances::InstanceState;
use koofill_supervision::{
    StepInput,
    state::{Action, CaseState, OPERATOR_ACTIONS},
};

use crate::support::{LICENSE, MANUAL, SAAS, TestSup, t0};

fn instance_released(instance_id: &str, unsubscribe: Option<&str>) -> DomainEvent {
    DomainEvent::InstanceReleased { instance_id: instance_id.into(), order_id: unsubscribe.map(Into::into) }
}

/// The `supervision.transitioned` events that closed a case.
async fn closures(t: &TestSup) -> Vec<DomainEvent> {
    t.events("supervision.transitioned")
        .await
        .into_iter()
        .map(|e| e.data)
        .filter(|e| matches!(e, DomainEvent::SupervisionTransitioned { to, .. } if to == "closed"))
        .collect()
}

#[tokio::test]
async fn a_released_order_closes_its_case_stops_its_deadlines_and_leaves_the_settlement_view() {
    let t = TestSup::start().await;
    let id = t.open("CS-GONE", MANUAL, t0()).await.case.id;
    t.act(id, Action::Confirm, None).await;
    t.act(id, Action::Deliver, None).await;
    t.record_instance("i-gone", "CS-GONE", InstanceState::Released).await;
    assert_eq!(t.sup().settlement().await.unwrap().len(), 1);

    let released_at = t0() + Duration::days(3);
    t.clock.set(released_at);
    t.publish("releaseInstance:i-gone:instance.released", "r1", instance_released("i-gone", Some("CS-UNSUB"))).await;
    t.settle().await;

    let case = t.sup().show(&id.to_string()).await.unwrap();
    assert_eq!(case.case.state, "closed");
    assert_eq!(case.case.completed_at, None, "closed is not completed");
    let last = case.steps.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.from.as_str(), last.to.as_str(), last.actor.as_str(), last.at),
        ("release", "delivering", "closed", "system:provisioning", released_at)
    );
    assert_eq!(
        last.note.as_deref(),
        Some("instance i-gone released (unsubscribe order CS-UNSUB): supervision closed, the order will not settle")
    );
    let stopped: Vec<_> =
        case.deadlines.iter().filter(|d| d.met_at == Some(released_at)).map(|d| d.kind.as_str()).collect();
    assert_eq!(stopped, ["materials", "unaccepted"], "the deadlines still running end with the release");
    assert!(case.deadlines.iter().all(|d| d.met_at.is_some()), "{:?}", case.deadlines);

    assert!(t.sup().settlement().await.unwrap().is_empty(), "nothing will settle: no money is waiting");
    let closed = t.sup().list(Some(CaseState::Closed), None).await.unwrap();
    assert_eq!(closed.iter().map(|c| c.id).collect::<Vec<_>>(), [id]);
    assert!(t.sup().list(None, Some("12 months".parse().unwrap())).await.unwrap().is_empty());
    let events = closures(&t).await;
    assert_eq!(events.len(), 1);
    assert!(
        matches!(&events[0], DomainEvent::SupervisionTransitioned { action, from, actor, .. }
            if action == "release" && from == "delivering" && actor == "system:provisioning"),
        "{events:?}"
    );

    // Long past every deadline the case had: nothing reminds, nothing breaches.
    for days in [20, 40, 200, 400] {
        t.clock.set(t0() + Duration::days(days));
        assert_eq!(t.sup().tick().await.unwrap(), Default::default(), "day {days}");
    }
    assert!(t.events("supervision.reminder").await.is_empty());
    assert!(t.events("supervision.breached").await.is_empty());

    for (n, action) in OPERATOR_ACTIONS.into_iter().enumerate() {
        let input = StepInput { actor: "cli:tester".into(), ..StepInput::default() };
        let err = t.sup().act(&id.to_string(), action, input, &format!("late-{n}")).await.unwrap_err();
        assert_eq!(err.to_string(), format!("cannot {action} a case in state closed (supervision is over)"));
    }

    // The same release again (a republish past the duplicate window): still one transition.
    t.publish("releaseInstance:i-gone:instance.released", "r2", instance_released("i-gone", Some("CS-UNSUB"))).await;
    t.settle().await;
    let again = t.sup().show(&id.to_string()).await.unwrap();
    assert_eq!(again.steps.len(), case.steps.len());
    assert_eq!(closures(&t).await.len(), 1);
}

#[tokio::test]
async fn a_release_after_completion_or_without_a_case_changes_nothing() {
    let t = TestSup::start().await;
    let id = t.open("CS-DONE", MANUAL, t0()).await.case.id;
    for action in [Action::Confirm, Action::Deliver, Action::Complete, Action::Accept, Action::Complete] {
        t.act(id, action, None).await;
    }
    t.record_instance("i-done", "CS-DONE", InstanceState::Released).await;
    t.record_order("CS-SAAS", SAAS, "NEW", t0()).await;
    t.order_received("CS-SAAS").await;
    t.record_instance("i-saas", "CS-SAAS", InstanceState::Released).await;

    t.publish("release:i-done", "d1", instance_released("i-done", Some("CS-UNSUB-1"))).await;
    t.publish("release:i-saas", "s1", instance_released("i-saas", None)).await;
    t.publish("release:i-unknown", "u1", instance_released("i-unknown", None)).await;
    t.settle().await;

    let done = t.sup().show(&id.to_string()).await.unwrap();
    assert_eq!(done.case.state, "completed");
    assert_eq!(done.steps.len(), 6, "no step recorded: {:?}", done.steps);
    let cases = t.sup().list(None, None).await.unwrap();
    assert_eq!(
        cases.iter().map(|c| c.order_id.as_str()).collect::<Vec<_>>(),
        ["CS-DONE"],
        "no case for the SaaS order"
    );
    assert!(closures(&t).await.is_empty());
    assert_eq!(t.events("supervision.transitioned").await.len(), 5);
}

#[tokio::test]
async fn a_released_license_code_closes_its_case_even_while_appealed() {
    let t = TestSup::start().await;
    let id = t.open("CS-LICGONE", LICENSE, t0()).await.case.id;
    assert_eq!(t.act(id, Action::Appeal, None).await.case.state, "appealed");
    t.record_license("PL-GONE", "CS-LICGONE").await;

    t.clock.advance(Duration::days(2));
    let release = DomainEvent::LicenseReleased { license: "PL-GONE".into(), order_id: None };
    t.publish("releaseLicenseCode:PL-GONE:license.released", "l1", release).await;
    t.settle().await;

    let case = t.sup().show(&id.to_string()).await.unwrap();
    assert_eq!((case.case.state.as_str(), case.case.state_before_appeal.as_deref()), ("closed", None));
    let last = case.steps.last().unwrap();
    assert_eq!((last.from.as_str(), last.actor.as_str()), ("appealed", "system:license"));
    assert_eq!(
        last.note.as_deref(),
        Some("license code PL-GONE released: supervision closed, the order will not settle")
    );
    assert!(case.deadlines.iter().all(|d| d.met_at.is_some() && d.paused_at.is_none()), "{:?}", case.deadlines);
    let input = StepInput { actor: "cli:tester".into(), ..StepInput::default() };
    let err = t.sup().act(&id.to_string(), Action::Resolve, input, "resolve").await.unwrap_err();
    assert_eq!(err.to_string(), "cannot resolve a case in state closed (supervision is over)");
    assert_eq!(closures(&t).await.len(), 1);
}

#[tokio::test]
async fn an_order_notice_handled_after_its_release_opens_no_case() {
    let t = TestSup::start().await;
    t.record_order("CS-LATE", MANUAL, "NEW", t0()).await;
    t.record_instance("i-late", "CS-LATE", InstanceState::Released).await;
    t.order_received("CS-LATE").await;
    assert!(t.sup().list(None, None).await.unwrap().is_empty());
    assert!(t.events("supervision.>").await.is_empty());
}
