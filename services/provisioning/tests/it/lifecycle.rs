//! The instance state machine at the worker: idempotency beyond the dedup window, calls that
//! overtake their create, orderNotify and the change check.

use std::time::Duration;

use async_nats::HeaderMap;
use chrono::Utc;
use koofill_bus::{names, rpc, views::InstanceState};
use koofill_model::{Envelope, Family, basic::ChangeProductInfo};
use koofill_provisioning::{ChangeCheckReply, ChangeCheckRequest};
use koofill_store::{
    entities::{order_lines, orders},
    sea_orm::{EntityTrait, PaginatorTrait},
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::support::{PREFIX, TestWorker, instance_id, new_instance};

fn refresh(order: &str, id: &str, renewal_order: &str, expire: &str) -> serde_json::Value {
    refresh_scene("RENEWAL", order, id, renewal_order, expire)
}

fn refresh_scene(scene: &str, order: &str, id: &str, renewal_order: &str, expire: &str) -> serde_json::Value {
    json!({"activity": "refreshInstance", "scene": scene, "orderId": renewal_order,
        "orderLineId": format!("{renewal_order}-000001"), "instanceId": id, "expireTime": expire,
        "productId": format!("P-{order}")})
}

fn status(id: &str, status: &str) -> serde_json::Value {
    json!({"activity": "updateInstanceStatus", "instanceId": id, "status": status})
}

/// Puts back the view a failed write after the commit would have left (the ingress's `accepted`).
async fn stale_view(app: &TestWorker, id: &str, state: InstanceState) {
    let mut view = app.view(id).await.unwrap();
    view.state = state;
    view.app_info = None;
    app.views.put(&view).await.unwrap();
}

#[tokio::test]
async fn create_and_renew_take_effect_once_even_when_resent_after_the_dedup_window() {
    let app = TestWorker::start().await;
    let id = instance_id("GENONCE");
    let create_id = app.send_basic(new_instance("GENONCE", false)).await;
    app.settle().await;
    assert_eq!(app.state(&id).await.as_deref(), Some("active"));
    let refresh_body = refresh("GENONCE", &id, "GENONCER", "20300101000000");
    let refresh_id = app.send_basic(refresh_body.clone()).await;
    app.settle().await;

    app.resend_outside_window(new_instance("GENONCE", false), &create_id).await;
    app.resend_outside_window(refresh_body, &refresh_id).await;
    app.settle().await;

    let counts = app.event_counts(&id).await;
    assert_eq!(counts.get("instance.active"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("instance.renewed"), Some(&1), "{counts:?}");
    let row = app.instance(&id).await.unwrap();
    assert_eq!(row.expire_time.unwrap().to_rfc3339(), "2030-01-01T00:00:00+00:00", "set, not extended");
    assert_eq!(row.product_id.as_deref(), Some("P-GENONCE"));
}

#[tokio::test]
async fn a_release_that_overtakes_its_create_wins_and_the_late_create_provisions_nothing() {
    let app = TestWorker::start().await;
    let id = instance_id("GENRELFIRST");
    // Query order is down for the first create attempt (3 tries inside one delivery).
    app.stand_in.fail_next(3);
    app.send_basic(new_instance("GENRELFIRST", false)).await;
    app.send_basic(json!({"activity": "releaseInstance", "instanceId": id})).await;
    app.worker.drain().await.unwrap();
    let row = app.instance(&id).await.unwrap();
    assert_eq!(row.state.as_str(), "released");
    assert!(row.released_before_create);
    assert_eq!(row.order_id.as_deref(), Some("GENRELFIRST"), "the order comes from the ingress's view");

    app.settle().await;
    let row = app.instance(&id).await.unwrap();
    assert_eq!(row.state.as_str(), "released", "the late create did not resurrect it");
    assert!(row.front_end_url.is_none(), "nothing was provisioned");
    assert_eq!(app.view(&id).await.unwrap().state, koofill_bus::views::InstanceState::Released);
    let counts = app.event_counts(&id).await;
    assert_eq!(counts.get("instance.released"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("instance.active"), None, "{counts:?}");
}

#[tokio::test]
async fn refresh_and_freeze_that_overtake_their_create_wait_for_it() {
    // Retry delays longer than one drain, so the first drain sees only first attempts.
    let app = TestWorker::start_with(
        &[("KOOFILL__CONSUMER__NAK_BASE_DELAY_MS", "500"), ("KOOFILL__CONSUMER__NAK_MAX_DELAY_MS", "2000")],
        koofill_provisioning::BuildOptions::default(),
    )
    .await;
    let id = instance_id("GENWAIT");
    app.stand_in.fail_next(3);
    app.send_basic(new_instance("GENWAIT", false)).await;
    app.send_basic(refresh("GENWAIT", &id, "GENWAITR", "20310101000000")).await;
    app.send_basic(json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"})).await;
    app.worker.drain().await.unwrap();
    assert_eq!(app.state(&id).await, None, "nothing applied before the create");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while app.state(&id).await.as_deref() != Some("frozen") {
        assert!(tokio::time::Instant::now() < deadline, "the freeze was never applied");
        app.worker.drain().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.settle().await;
    let row = app.instance(&id).await.unwrap();
    assert_eq!(row.state.as_str(), "frozen");
    assert_eq!(row.expire_time.unwrap().to_rfc3339(), "2031-01-01T00:00:00+00:00", "the create did not overwrite it");
    let counts = app.event_counts(&id).await;
    assert_eq!(
        (counts.get("instance.active"), counts.get("instance.renewed"), counts.get("instance.frozen")),
        (Some(&1), Some(&1), Some(&1)),
        "{counts:?}"
    );
    assert_eq!(app.view(&id).await.unwrap().state, koofill_bus::views::InstanceState::Frozen);
}

#[tokio::test]
async fn order_notify_records_the_order_once() {
    let app = TestWorker::start().await;
    let body = json!({"activity": "orderNotify", "orderId": "MOCKMONTYRENEW", "orderLineId": "MOCKMONTYRENEW-000001"});
    let id = app.send_basic(body.clone()).await;
    app.settle().await;
    // A debug notification for an order query order does not know is recorded too.
    app.send_basic(json!({"activity": "orderNotify", "orderId": "CS2211181819B4LVS",
        "orderLineId": "CS2211181819B4LVS-000001", "testFlag": "1"}))
        .await;
    app.settle().await;
    let request = koofill_model::BasicRequest::from_value(&body).unwrap();
    let mut env = Envelope::inbound_basic(&request, body, chrono::Utc::now(), "ingress").unwrap();
    env.id = id;
    let subject = names::inbound(PREFIX, Family::Order, "orderNotify");
    app.publisher
        .publish_raw(&subject, "later", HeaderMap::new(), serde_json::to_vec(&env).unwrap().into())
        .await
        .unwrap();
    app.settle().await;

    let order = orders::Entity::find_by_id("MOCKMONTYRENEW".to_owned()).one(app.worker.db()).await.unwrap().unwrap();
    assert_eq!(order.order_type.as_deref(), Some("RENEW"));
    assert_eq!(order.customer_id.as_deref(), Some("459bbbec25d24749b2eb83be37b602a8"));
    let line = order_lines::Entity::find_by_id(("MOCKMONTYRENEW".to_owned(), "MOCKMONTYRENEW-000001".to_owned()))
        .one(app.worker.db())
        .await
        .unwrap()
        .unwrap();
    assert!(line.notified);
    assert_eq!(line.charging_mode.as_deref(), Some("PERIOD"));
    assert_eq!(order_lines::Entity::find().count(app.worker.db()).await.unwrap(), 2);
    let counts = app.event_counts("MOCKMONTYRENEW").await;
    assert_eq!(counts.get("order.received"), Some(&1), "{counts:?}");
    assert_eq!(app.event_counts("CS2211181819B4LVS").await.get("order.received"), Some(&1));
}

#[tokio::test]
async fn the_change_check_is_answered_over_request_reply() {
    let app = TestWorker::start().await;
    let id = instance_id("GENCHECK");
    app.send_basic(new_instance("GENCHECK", false)).await;
    app.settle().await;
    let stop = CancellationToken::new();
    let responder = tokio::spawn({
        let worker = app.worker.clone();
        let stop = stop.clone();
        async move { worker.serve_change_check(stop).await }
    });
    let product: ChangeProductInfo =
        serde_json::from_value(json!({"productId": "OFFI1", "skuCode": "sku-2", "linearValue": 10})).unwrap();
    let subject = names::rpc_change_check(PREFIX);
    let ask = |instance: &str, test: bool| ChangeCheckRequest {
        instance_id: instance.into(),
        product_info: product.clone(),
        test,
    };
    let client = &app.worker.bus().client;
    let mut reply: Option<ChangeCheckReply> = None;
    for _ in 0..20 {
        // The responder subscribes asynchronously; ask until it answers.
        if let Ok(r) = rpc::request_json(client, &subject, &ask(&id, false), Duration::from_millis(300)).await {
            reply = Some(r);
            break;
        }
    }
    assert!(reply.unwrap().allowed);
    let unknown: ChangeCheckReply =
        rpc::request_json(client, &subject, &ask("nope", false), Duration::from_secs(1)).await.unwrap();
    assert!(!unknown.allowed && unknown.message.is_some());
    let debug: ChangeCheckReply =
        rpc::request_json(client, &subject, &ask("nope", true), Duration::from_secs(1)).await.unwrap();
    assert!(debug.allowed, "debug calls are answered by the template provisioner");
    // Same wire shape as the ingress's request type.
    let wire = serde_json::to_value(ask(&id, false)).unwrap();
    assert_eq!(wire["product_info"]["productId"], "OFFI1");
    assert!(wire.get("instance_id").is_some() && wire.get("test").is_some());
    stop.cancel();
    let _ = responder.await;
}

#[tokio::test]
async fn a_view_left_behind_after_the_commit_is_rewritten_by_a_redelivery_or_a_resend() {
    let app = TestWorker::start().await;
    let id = instance_id("GENVIEW");
    let create_id = app.send_basic(new_instance("GENVIEW", false)).await;
    app.settle().await;
    assert_eq!(app.view(&id).await.unwrap().state, InstanceState::Active);

    // The commit happened, the view write did not: queryInstance would answer 000004 forever.
    stale_view(&app, &id, InstanceState::Accepted).await;
    // The same message again (a redelivery, or KooGallery's resend outside the dedup window).
    app.resend_outside_window(new_instance("GENVIEW", false), &create_id).await;
    app.settle().await;
    let view = app.view(&id).await.unwrap();
    assert_eq!(view.state, InstanceState::Active, "rewritten from the database");
    assert!(view.app_info.is_some_and(|a| a.front_end_url.starts_with("https://")));

    // A resend under another id (a redriven dead letter) for the same order line.
    stale_view(&app, &id, InstanceState::Accepted).await;
    app.resend_outside_window(new_instance("GENVIEW", false), &format!("{create_id}:redriven")).await;
    app.settle().await;
    assert_eq!(app.view(&id).await.unwrap().state, InstanceState::Active);

    // The same holds for every lifecycle message the inbox already knows.
    let freeze_id = app.send_basic(status(&id, "FREEZE")).await;
    app.settle().await;
    stale_view(&app, &id, InstanceState::Active).await;
    app.resend_outside_window(status(&id, "FREEZE"), &freeze_id).await;
    app.settle().await;
    assert_eq!(app.view(&id).await.unwrap().state, InstanceState::Frozen);

    let counts = app.event_counts(&id).await;
    assert_eq!((counts.get("instance.active"), counts.get("instance.frozen")), (Some(&1), Some(&1)), "{counts:?}");
}

#[tokio::test]
async fn freeze_and_unfreeze_take_effect_in_request_order() {
    let app = TestWorker::start().await;
    let id = instance_id("GENSTATUS");
    app.send_basic(new_instance("GENSTATUS", false)).await;
    app.settle().await;
    let t0 = Utc::now();
    let at = |secs: i64| t0 + chrono::Duration::seconds(secs);

    // In request order: FREEZE, then UNFREEZE.
    app.send_basic_at(status(&id, "FREEZE"), at(1)).await;
    app.settle().await;
    assert_eq!(app.state(&id).await.as_deref(), Some("frozen"));
    app.send_basic_at(status(&id, "UNFREEZE"), at(3)).await;
    app.settle().await;
    assert_eq!(app.state(&id).await.as_deref(), Some("active"));

    // A FREEZE accepted before that UNFREEZE, handled after it (its retry delay ran out late):
    // the paid instance stays active.
    app.send_basic_at(status(&id, "FREEZE"), at(2)).await;
    app.settle().await;
    assert_eq!(app.state(&id).await.as_deref(), Some("active"));

    // An UNFREEZE of an active instance changes nothing but still counts: the older FREEZE
    // handled after it does not freeze.
    app.send_basic_at(status(&id, "UNFREEZE"), at(6)).await;
    app.settle().await;
    app.send_basic_at(status(&id, "FREEZE"), at(5)).await;
    app.settle().await;
    assert_eq!(app.state(&id).await.as_deref(), Some("active"));
    assert_eq!(app.view(&id).await.unwrap().state, InstanceState::Active);

    // A newer FREEZE still freezes.
    app.send_basic_at(status(&id, "FREEZE"), at(7)).await;
    app.settle().await;
    assert_eq!(app.state(&id).await.as_deref(), Some("frozen"));
    let counts = app.event_counts(&id).await;
    assert_eq!((counts.get("instance.frozen"), counts.get("instance.unfrozen")), (Some(&2), Some(&1)), "{counts:?}");
}

#[tokio::test]
async fn renewal_and_its_unsubscription_take_effect_in_request_order() {
    let app = TestWorker::start().await;
    let t0 = Utc::now();
    let at = |secs: i64| t0 + chrono::Duration::seconds(secs);
    let (in_order, reversed) = (instance_id("GENRENEW1"), instance_id("GENRENEW2"));
    app.send_basic(new_instance("GENRENEW1", false)).await;
    app.send_basic(new_instance("GENRENEW2", false)).await;
    app.settle().await;

    // The renewal sets 2031; unsubscribing the renewal period puts back 2030.
    let renewal = |id: &str, order: &str| refresh_scene("RENEWAL", order, id, &format!("{order}R"), "20310101000000");
    let unsubscribe = |id: &str, order: &str| {
        refresh_scene("UNSUBSCRIBE_RENEWAL_PERIOD", order, id, &format!("{order}R"), "20300101000000")
    };

    app.send_basic_at(renewal(&in_order, "GENRENEW1"), at(1)).await;
    app.settle().await;
    app.send_basic_at(unsubscribe(&in_order, "GENRENEW1"), at(2)).await;
    app.settle().await;

    // The renewal handled last (retried after its provisioner call failed) was undone already.
    app.send_basic_at(unsubscribe(&reversed, "GENRENEW2"), at(2)).await;
    app.settle().await;
    app.send_basic_at(renewal(&reversed, "GENRENEW2"), at(1)).await;
    app.settle().await;

    for (id, renewed) in [(&in_order, 2), (&reversed, 1)] {
        let row = app.instance(id).await.unwrap();
        assert_eq!(row.expire_time.unwrap().to_rfc3339(), "2030-01-01T00:00:00+00:00", "{id}");
        assert_eq!(app.event_counts(id).await.get("instance.renewed"), Some(&renewed), "{id}");
    }
}

#[tokio::test]
async fn an_upgrade_older_than_the_one_applied_changes_nothing() {
    let app = TestWorker::start().await;
    let id = instance_id("GENUPG");
    app.send_basic(new_instance("GENUPG", false)).await;
    app.settle().await;
    let upgrade = |order: &str| {
        json!({"activity": "upgradeInstance", "instanceId": id, "orderId": order,
            "orderLineId": format!("{order}-000001")})
    };
    let now = Utc::now();
    app.send_basic_at(upgrade("MOCKMONTYCHANGE"), now).await;
    app.settle().await;
    let upgraded = app.instance(&id).await.unwrap();
    assert_eq!(app.event_counts(&id).await.get("instance.upgraded"), Some(&1));

    // An upgrade KooGallery signed earlier, handled only now (a retry): acknowledged with no
    // effect — not even a query of its order, which this stand-in does not know.
    app.send_basic_at(upgrade("GENUPGOLD"), now - chrono::Duration::minutes(5)).await;
    app.settle().await;
    let after = app.instance(&id).await.unwrap();
    assert_eq!(
        (after.product_id, after.sku_code, after.version),
        (upgraded.product_id, upgraded.sku_code, upgraded.version),
        "the newer upgrade's product stands"
    );
    assert_eq!(app.event_counts(&id).await.get("instance.upgraded"), Some(&1));
    assert!(koofill_bus::dlq::list(app.worker.bus()).await.unwrap().is_empty(), "nothing failed");
}
