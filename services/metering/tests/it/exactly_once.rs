//! 10,000 events, 10 % of them repeats, through a worker killed twice mid-stream: every window's
//! total equals the sum of the distinct events, exactly.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use koofill_config::BillingCycle;
use koofill_metering::window::window_of;
use koofill_model::usage::{Quantity, UsageBatch, UsageEvent};
use koofill_store::{
    entities::usage_events,
    sea_orm::{EntityTrait, PaginatorTrait},
};

use crate::support::{Harness, hour_start, windows};

const DISTINCT: usize = 9_000;
const REPEATS: usize = 1_000;
const BATCH: usize = 200;

/// A deterministic stream of distinct events over 5 instances and 3 hours, then 1,000 repeats of
/// some of them (a repeat may come before its original: whichever arrives first counts).
fn events(origin: DateTime<Utc>) -> (Vec<UsageEvent>, Vec<UsageEvent>) {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let distinct: Vec<UsageEvent> = (0..DISTINCT)
        .map(|i| {
            let r = next();
            UsageEvent {
                instance_id: format!("i-{}", i % 5),
                usage_value: format!("{}.{:08}", r % 100, (r >> 8) % 100_000_000),
                event_id: format!("e-{i}"),
                occurred_at: origin + chrono::Duration::seconds(i64::try_from(r % (3 * 3600)).unwrap()),
            }
        })
        .collect();
    let repeats = (0..REPEATS).map(|_| distinct[usize::try_from(next() % DISTINCT as u64).unwrap()].clone()).collect();
    (distinct, repeats)
}

async fn counted(worker: &koofill_metering::Worker) -> u64 {
    usage_events::Entity::find().count(worker.db()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_window_sums_the_distinct_events_through_two_kills() {
    let mut h = Harness::start().await;
    let origin = hour_start(4);
    let (distinct, repeats) = events(origin);
    let mut all: Vec<UsageEvent> = distinct.clone();
    // Repeats interleaved: some in the same batch as their original, most in later batches.
    for (i, e) in repeats.into_iter().enumerate() {
        all.insert((i * 10 + 5).min(all.len()), e);
    }

    let mut worker = h.worker().await;
    for (n, chunk) in all.chunks(BATCH).enumerate() {
        h.publish(&format!("batch-{n}"), &UsageBatch { events: chunk.to_vec() }).await;
    }
    // A producer retrying the first batches under new message IDs: every event a repeat.
    for (n, chunk) in all.chunks(BATCH).take(5).enumerate() {
        h.publish(&format!("retry-{n}"), &UsageBatch { events: chunk.to_vec() }).await;
    }

    // Killed twice mid-stream: the consuming task is aborted with batches in flight (their
    // transactions roll back, their messages stay unacknowledged and come back).
    for stop_at in [2_500, 6_000] {
        let running = tokio::spawn({
            let worker = worker.clone();
            async move { worker.drain().await }
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while counted(&worker).await < stop_at {
            assert!(tokio::time::Instant::now() < deadline, "the worker did not reach {stop_at} events");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        running.abort();
        let _ = running.await;
        drop(worker);
        worker = h.worker().await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while counted(&worker).await < DISTINCT as u64 {
        assert!(tokio::time::Instant::now() < deadline, "not every event was counted");
        worker.drain().await.unwrap();
    }
    worker.drain().await.unwrap(); // what the kills left unacknowledged adds nothing

    let mut expected: BTreeMap<(String, DateTime<Utc>), (Quantity, i64)> = BTreeMap::new();
    for e in &distinct {
        let (begin, _) = window_of(e.occurred_at, BillingCycle::Hourly);
        let slot = expected.entry((e.instance_id.clone(), begin)).or_default();
        slot.0 = slot.0.checked_add(Quantity::parse(&e.usage_value).unwrap()).unwrap();
        slot.1 += 1;
    }
    let actual: BTreeMap<_, _> = windows(&worker)
        .await
        .into_iter()
        .map(|w| ((w.instance_id, w.window_begin), (Quantity::parse(&w.total).unwrap(), w.events)))
        .collect();
    assert_eq!(counted(&worker).await, DISTINCT as u64);
    assert_eq!(actual, expected);
}
