//! The callbacks: renewal, freeze, unfreeze and release, with repeats and out-of-order calls.

use chrono::{Duration, Utc};
use koofill_model::time::parse_compact;

use crate::support::{TestWorker, refresh, release, status};

#[tokio::test]
async fn renewed_twice_frozen_twice_unfrozen_released_twice_each_effect_once_in_request_order() {
    let app = TestWorker::start().await;
    let code = "PLLIFE0001";
    let t0 = Utc::now() - Duration::minutes(30);
    let at = |minutes: i64| t0 + Duration::minutes(minutes);

    app.send_at(refresh(code, "CSRENEW1", "20300101000000"), at(0)).await;
    app.resend(refresh(code, "CSRENEW1", "20300101000000"), at(1)).await; // same order id again
    app.settle().await;
    app.send_at(refresh(code, "CSRENEW2", "20310101000000"), at(2)).await;
    app.settle().await;
    app.send_at(status(code, "FREEZE"), at(3)).await;
    app.settle().await;
    app.send_at(status(code, "FREEZE"), at(4)).await; // frozen again
    app.settle().await;
    assert_eq!(app.license(code).await.unwrap().status, "frozen");
    app.send_at(status(code, "UNFREEZE"), at(6)).await;
    app.settle().await;
    // An older FREEZE (signed before the UNFREEZE) handled after it: no effect.
    app.send_at(status(code, "FREEZE"), at(5)).await;
    app.settle().await;
    let row = app.license(code).await.unwrap();
    assert_eq!(row.status, "active", "the newer UNFREEZE holds");

    app.send_at(release(code), at(7)).await;
    app.settle().await;
    app.resend(release(code), at(8)).await;
    app.settle().await;
    // A renewal signed before the release, handled after it, does not bring the code back.
    app.send_at(refresh(code, "CSRENEW3", "20320101000000"), at(6)).await;
    app.settle().await;

    let row = app.license(code).await.unwrap();
    assert_eq!(row.status, "released");
    assert_eq!(row.expire_time, Some(parse_compact("20310101000000").unwrap()), "set, not added");
    let effects = app.provisioner_effects().await;
    assert_eq!(effects.get("license.renew"), Some(&2), "{effects:?}");
    assert_eq!(effects.get("license.freeze"), Some(&1), "{effects:?}");
    assert_eq!(effects.get("license.unfreeze"), Some(&1), "{effects:?}");
    assert_eq!(effects.get("license.release"), Some(&1), "{effects:?}");
    let events = app.event_counts(code).await;
    assert_eq!(events.get("license.refreshed"), Some(&2), "{events:?}");
    assert_eq!(events.get("license.frozen"), Some(&1), "{events:?}");
    assert_eq!(events.get("license.unfrozen"), Some(&1), "{events:?}");
    assert_eq!(events.get("license.released"), Some(&1), "{events:?}");
}

#[tokio::test]
async fn a_release_before_anything_else_leaves_a_tombstone_that_a_late_renewal_respects() {
    let app = TestWorker::start().await;
    let code = "PLTOMB0001";
    let now = Utc::now();
    app.send_at(release(code), now).await;
    app.settle().await;
    app.send_at(refresh(code, "CSLATE1", "20300101000000"), now - Duration::minutes(5)).await;
    app.send_at(status(code, "UNFREEZE"), now - Duration::minutes(4)).await;
    app.settle().await;
    let row = app.license(code).await.unwrap();
    assert_eq!((row.status.as_str(), row.released_before_known, row.expire_time), ("released", true, None));
    let effects = app.provisioner_effects().await;
    assert_eq!(effects.get("license.release"), Some(&1));
    assert_eq!(effects.get("license.renew"), None);
    assert_eq!(effects.get("license.unfreeze"), None);
}
