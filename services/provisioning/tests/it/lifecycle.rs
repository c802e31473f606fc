//! The instance state machine at the worker: idempotency beyond the dedup window, calls that
//! overtake their create, orderNotify and the change check.

use std::time::Duration;

use async_nats::HeaderMap;
use koofill_bus::{names, rpc};
use koofill_model::{Envelope, Family, InboundCallback, basic::ChangeProductInfo};
use koofill_provisioning::{ChangeCheckReply, ChangeCheckRequest};
use koofill_store::{
    entities::{order_lines, orders},
    sea_orm::{EntityTrait, PaginatorTrait},
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::support::{PREFIX, TestWorker, instance_id, new_instance};

fn refresh(order: &str, id: &str, renewal_order: &str, expire: &str) -> serde_json::Value {
    json!({"activity": "refreshInstance", "scene": "RENEWAL", "orderId": renewal_order,
        "orderLineId": format!("{renewal_order}-000001"), "instanceId": id, "expireTime": expire,
        "productId": format!("P-{order}")})
}

/// KooGallery re-sends hours later, outside JetStream's deduplication window: same envelope,
/// new stream message. The inbox makes it a no-op.
async fn resend_outside_window(app: &TestWorker, body: serde_json::Value, id: &str) {
    let request = koofill_model::BasicRequest::from_value(&body).unwrap();
    let mut env: Envelope<InboundCallback> =
        Envelope::inbound_basic(&request, body, chrono::Utc::now(), "ingress").unwrap();
    env.id = id.to_owned();
    let subject = names::inbound(PREFIX, Family::Saas, request.activity().as_str());
    let payload = serde_json::to_vec(&env).unwrap();
    app.publisher.publish_raw(&subject, &format!("{id}:later"), HeaderMap::new(), payload.into()).await.unwrap();
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

    resend_outside_window(&app, new_instance("GENONCE", false), &create_id).await;
    resend_outside_window(&app, refresh_body, &refresh_id).await;
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
    assert_eq!(row.state, "released");
    assert!(row.released_before_create);
    assert_eq!(row.order_id.as_deref(), Some("GENRELFIRST"), "the order comes from the ingress's view");

    app.settle().await;
    let row = app.instance(&id).await.unwrap();
    assert_eq!(row.state, "released", "the late create did not resurrect it");
    assert!(row.front_end_url.is_none(), "nothing was provisioned");
    assert_eq!(app.view(&id).await.unwrap().state, koofill_bus::views::InstanceState::Released);
    let counts = app.event_counts(&id).await;
    assert_eq!(counts.get("instance.released"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("instance.active"), None, "{counts:?}");
}

#[tokio::test]
async fn refresh_and_freeze_that_overtake_their_create_wait_for_it() {
    let app = TestWorker::start().await;
    let id = instance_id("GENWAIT");
    app.stand_in.fail_next(3);
    app.send_basic(new_instance("GENWAIT", false)).await;
    app.send_basic(refresh("GENWAIT", &id, "GENWAITR", "20310101000000")).await;
    app.send_basic(json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"})).await;
    app.worker.drain().await.unwrap();
    assert_eq!(app.state(&id).await, None, "nothing applied before the create");

    app.settle().await;
    let row = app.instance(&id).await.unwrap();
    assert_eq!(row.state, "frozen");
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
    let responder = tokio::spawn(app.worker.serve_change_check(stop.clone()));
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
