//! Billing cycles per product: an instance of a daily-billed SKU gets day-long windows and one
//! record per day; others stay hourly; an instance whose usage arrived before KooGallery's
//! `instance.active` keeps the cycle of the windows it already has.

use chrono::{DateTime, Duration, DurationRound, Utc};
use koofill_metering::Worker;
use koofill_model::{
    DomainEvent, InstanceId,
    usage::{UsageBatch, UsageEvent},
};
use koofill_simulator::SimInstance;

use crate::support::{Harness, windows};

const DAILY_SKU: &str = "sku-daily-0001";

fn event(instance: &str, id: &str, value: &str, at: DateTime<Utc>) -> UsageEvent {
    UsageEvent { instance_id: instance.into(), usage_value: value.into(), event_id: id.into(), occurred_at: at }
}

async fn active(h: &Harness, instance: &str, sku: &str, at: DateTime<Utc>) {
    let event = DomainEvent::InstanceActive {
        instance_id: InstanceId::from(instance),
        order_id: "CS-CYCLE".into(),
        expire_time: None,
        product_id: Some("OFFI-ON-DEMAND".into()),
        sku_code: Some(sku.into()),
    };
    h.instance_event(&format!("{instance}:active"), at, event).await;
}

async fn send(h: &Harness, worker: &Worker, id: &str, events: Vec<UsageEvent>) {
    h.publish(id, &UsageBatch { events }).await;
    worker.drain().await.unwrap();
}

#[tokio::test]
async fn daily_skus_are_billed_per_day_and_a_known_cycle_never_changes() {
    let mut h = Harness::start().await;
    h.cfg.metering.daily_skus = vec![DAILY_SKU.to_owned()];
    for id in ["i-day", "i-hour", "i-early"] {
        h.sim.register_instance(SimInstance::on_demand(id));
    }
    let worker = h.worker().await;
    let day = (Utc::now() - Duration::days(2)).duration_trunc(Duration::days(1)).unwrap();
    let (morning, evening) = (day + Duration::hours(3), day + Duration::hours(20));

    // i-early's first usage comes before KooGallery's instance.active: hourly, the default.
    send(&h, &worker, "b0", vec![event("i-early", "e0", "1", morning)]).await;
    active(&h, "i-day", DAILY_SKU, day - Duration::days(1)).await;
    active(&h, "i-hour", "sku-hourly-0001", day - Duration::days(1)).await;
    active(&h, "i-early", DAILY_SKU, day - Duration::days(1)).await;
    worker.drain().await.unwrap();
    let events = |i: &str| vec![event(i, "e1", "1.25", morning), event(i, "e2", "2", evening)];
    send(&h, &worker, "b1", [events("i-day"), events("i-hour")].concat()).await;
    send(&h, &worker, "b2", vec![event("i-early", "e2", "2", evening)]).await;

    let ws = windows(&worker).await;
    let of = |i: &str| {
        ws.iter()
            .filter(|w| w.instance_id == i)
            .map(|w| {
                let total = koofill_model::usage::Quantity::parse(&w.total).unwrap().to_plain();
                (w.cycle.clone(), w.window_begin, w.window_end - w.window_begin, total)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(of("i-day"), [("daily".to_owned(), day, Duration::days(1), "3.25".to_owned())]);
    let hourly = |at: DateTime<Utc>, total: &str| {
        ("hourly".to_owned(), at.duration_trunc(Duration::hours(1)).unwrap(), Duration::hours(1), total.to_owned())
    };
    assert_eq!(of("i-hour"), [hourly(morning, "1.25"), hourly(evening, "2")]);
    assert_eq!(of("i-early"), [hourly(morning, "1"), hourly(evening, "2")], "no day window over its hour windows");

    // The day has ended: one record for the whole day, the sum of its usage.
    let report = worker.ledger().flush().await.unwrap();
    assert_eq!(report.pushed, 5, "{report:?}");
    let records: Vec<_> = h.sim.usage_records().into_iter().filter(|r| r.record["instance_id"] == "i-day").collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].record["usage_value"], "3.25");
}
