//! The push ledger against the simulator: identical re-pushes after a crash, late usage, and
//! record-level rejections.

use std::sync::Arc;

use chrono::Duration;
use koofill_metering::{Worker, ledger::State, push_client};
use koofill_model::{
    DomainEvent, InstanceId,
    order::ChargingMode,
    usage::{UsageBatch, UsageEvent},
};
use koofill_simulator::{InstanceStatus, SimInstance, usage_rules::UsageStatus};
use koofill_store::{entities::usage_events, sea_orm::EntityTrait};

use crate::support::{CrashAfterSend, Harness, hour_start, windows};

fn event(instance: &str, id: &str, value: &str, at: chrono::DateTime<chrono::Utc>) -> UsageEvent {
    UsageEvent { instance_id: instance.into(), usage_value: value.into(), event_id: id.into(), occurred_at: at }
}

async fn send(h: &Harness, worker: &Worker, id: &str, events: Vec<UsageEvent>) {
    h.publish(id, &UsageBatch { events }).await;
    worker.drain().await.unwrap();
}

#[tokio::test]
async fn a_crash_after_koogallery_accepted_re_sends_the_identical_record() {
    let mut h = Harness::start().await;
    h.sim.register_instance(SimInstance::on_demand("i-crash"));
    let worker = h.worker().await;
    h.activate("i-crash", hour_start(20)).await;
    let w = hour_start(3);
    send(
        &h,
        &worker,
        "b1",
        vec![event("i-crash", "e1", "1.00004", w), event("i-crash", "e2", "2.5", w + Duration::minutes(30))],
    )
    .await;

    let crashing = worker.ledger().with_pusher(Arc::new(CrashAfterSend(Arc::new(push_client(&h.cfg).unwrap()))));
    let report = crashing.flush().await.unwrap();
    assert_eq!((report.closed, report.failed), (1, 1));
    assert_eq!(windows(&worker).await[0].state, State::Closed.as_str(), "the ledger never learned of the push");

    let report = worker.ledger().flush().await.unwrap();
    assert_eq!(report.pushed, 1);
    let received = h.sim.usage_records();
    assert_eq!(received.len(), 2, "the record was sent again");
    assert_eq!(received[0].record, received[1].record, "byte for byte the same record");
    assert_eq!(received[0].record["usage_value"], "3.5", "3.50004 rounded to 4 decimals");
    assert_eq!(received[0].status, UsageStatus::Accepted);

    h.feed_verdicts(&worker).await;
    let window = &windows(&worker).await[0];
    assert_eq!(window.state, State::Accepted.as_str(), "005 on the re-push means the first one counted");
    assert_eq!(window.metering_sn.as_deref(), received[0].metering_sn.as_deref());
    assert_eq!(window.usage_value.as_deref(), Some("3.5"));
}

#[tokio::test]
async fn late_usage_goes_to_the_next_window_and_after_release_is_unbilled() {
    let mut h = Harness::start().await;
    h.sim.register_instance(SimInstance::on_demand("i-late"));
    let worker = h.worker().await;
    h.activate("i-late", hour_start(20)).await;
    let (w1, w2, w3) = (hour_start(4), hour_start(3), hour_start(2));
    send(&h, &worker, "b1", vec![event("i-late", "e1", "4", w1 + Duration::minutes(5))]).await;
    assert_eq!(worker.ledger().flush().await.unwrap().pushed, 1);

    send(&h, &worker, "b2", vec![event("i-late", "e2", "1.5", w1 + Duration::minutes(10))]).await;
    let late = usage_events::Entity::find_by_id(("i-late".to_owned(), "e2".to_owned()))
        .one(worker.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((late.disposition.as_str(), late.window_begin), ("late", Some(w2)));
    let ws = windows(&worker).await;
    assert_eq!(
        (ws[0].total.as_str(), ws[0].state.as_str()),
        ("4.00000000", "pushed"),
        "a pushed window is never amended"
    );
    assert_eq!((ws[1].window_begin, ws[1].total.as_str()), (w2, "1.50000000"));

    // Released at the start of w3: w2 is pushed, and usage for w1 arriving now has no window left.
    let released = DomainEvent::InstanceReleased { instance_id: InstanceId::from("i-late"), order_id: None };
    h.instance_event("i-late:released", w3, released).await;
    worker.drain().await.unwrap();
    assert_eq!(worker.ledger().flush().await.unwrap().pushed, 1);
    send(&h, &worker, "b3", vec![event("i-late", "e3", "7", w1 + Duration::minutes(20))]).await;
    let unbilled = usage_events::Entity::find_by_id(("i-late".to_owned(), "e3".to_owned()))
        .one(worker.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((unbilled.disposition.as_str(), unbilled.window_begin), ("late_unbilled", None));

    let pushed: Vec<_> =
        h.sim.usage_records().into_iter().map(|r| (r.record["usage_value"].clone(), r.status)).collect();
    assert_eq!(
        pushed,
        [(serde_json::json!("4"), UsageStatus::Accepted), (serde_json::json!("1.5"), UsageStatus::Accepted)]
    );
}

#[tokio::test]
async fn record_level_rejections_are_recorded_and_only_what_can_succeed_is_re_pushed() {
    let mut h = Harness::start().await;
    let mut frozen = SimInstance::on_demand("i-frozen");
    frozen.status = InstanceStatus::Frozen;
    h.sim.register_instance(frozen);
    h.sim.register_instance(SimInstance::new("i-period", ChargingMode::Period));
    let old = SimInstance { opened_at: chrono::Utc::now() - Duration::hours(1), ..SimInstance::on_demand("i-young") };
    h.sim.register_instance(old);
    let worker = h.worker().await;
    let w = hour_start(3);
    for id in ["i-unknown", "i-frozen", "i-period", "i-young"] {
        h.activate(id, hour_start(20)).await;
    }
    let events = ["i-unknown", "i-frozen", "i-period", "i-young"]
        .iter()
        .map(|id| event(id, "e1", "2", w + Duration::minutes(1)))
        .collect();
    send(&h, &worker, "b1", events).await;
    assert_eq!(worker.ledger().flush().await.unwrap().pushed, 4);
    h.feed_verdicts(&worker).await;
    let reasons: Vec<_> =
        windows(&worker).await.into_iter().map(|w| (w.instance_id, w.state, w.reason.unwrap_or_default())).collect();
    assert_eq!(
        reasons,
        [
            ("i-frozen".into(), "rejected".into(), "013".into()),
            ("i-period".into(), "rejected".into(), "012".into()),
            ("i-unknown".into(), "rejected".into(), "001".into()),
            ("i-young".into(), "rejected".into(), "011".into()),
        ]
    );

    // Unfrozen at KooGallery: only the 013 record can succeed now, and only it is sent again.
    h.sim.marketplace().set_instance_status("i-frozen", InstanceStatus::Normal);
    assert_eq!(worker.ledger().flush().await.unwrap().pushed, 1);
    h.feed_verdicts(&worker).await;
    let records = h.sim.usage_records();
    assert_eq!(records.len(), 5);
    assert_eq!(records[4].instance_id.as_deref(), Some("i-frozen"));
    assert_eq!(records[4].status, UsageStatus::Accepted);
    let states: Vec<_> = windows(&worker).await.into_iter().map(|w| w.state).collect();
    assert_eq!(states, ["accepted", "rejected", "rejected", "rejected"]);
}
