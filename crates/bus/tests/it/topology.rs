use std::time::Duration;

use async_nats::jetstream::stream::RetentionPolicy;
use koofill_bus::{names, topology};

use crate::{PREFIX, bus, options};

#[tokio::test]
async fn ensure_is_idempotent_and_reports_drift_without_changing_anything() {
    let (_nats, bus) = bus().await;
    let again = topology::ensure(&bus.js, &options()).await.unwrap();
    assert!(again.created.is_empty(), "second run creates nothing: {:?}", again.created);
    assert!(again.drift.is_empty(), "{:?}", again.drift);

    let name = names::stream(PREFIX, names::INBOUND);
    let mut info = bus.js.get_stream(&name).await.unwrap().cached_info().config.clone();
    assert_eq!(info.retention, RetentionPolicy::Limits);
    assert_eq!(info.duplicate_window, Duration::from_secs(600));
    info.max_age = Duration::from_secs(3600);
    bus.js.update_stream(info).await.unwrap();

    let report = topology::ensure(&bus.js, &options()).await.unwrap();
    assert_eq!(report.drift.len(), 1, "{:?}", report.drift);
    assert!(report.drift[0].contains("max_age"), "{}", report.drift[0]);
    // Left alone: still the operator's value.
    let after = bus.js.get_stream(&name).await.unwrap().cached_info().config.clone();
    assert_eq!(after.max_age, Duration::from_secs(3600));
}

#[tokio::test]
async fn usage_stream_is_a_work_queue() {
    let (_nats, bus) = bus().await;
    let usage = bus.js.get_stream(names::stream(PREFIX, names::USAGE)).await.unwrap();
    assert_eq!(usage.cached_info().config.retention, RetentionPolicy::WorkQueue);
}
