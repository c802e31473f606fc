//! Each activity with the spec's example bodies gets the answer of architecture §5, signed.

use koofill_testkit::spec_example;
use serde_json::{Value, json};

use crate::{BASIC_KEY, KIT_KEY, TestApp};

fn with(mut body: Value, key: &str, value: &str) -> Value {
    body[key] = Value::String(value.to_owned());
    body
}

#[tokio::test]
async fn new_instance_answers_a_deterministic_instance_id_and_writes_the_view() {
    let app = TestApp::spawn().await;
    let reply = app.client.send_basic(&spec_example("newInstance")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.result_code(), "000000", "{}", reply.text());
    assert!(reply.verify_body_sign(BASIC_KEY.as_bytes()), "Body-Sign verifies over the exact bytes");
    assert!(!reply.verify_body_sign(KIT_KEY.as_bytes()));
    let id = reply.json["instanceId"].as_str().unwrap().to_owned();
    assert_eq!(
        id,
        koofill_model::InstanceId::for_order_line(
            &koofill_model::OrderId::new("CS2211181819B4LVS"),
            &koofill_model::OrderLineId::new("CS2211181819B4LVS-000001")
        )
        .as_str()
    );
    // queryInstance: accepted, not ready yet → 000004.
    let query = app.client.send_basic(&with(spec_example("queryInstance"), "instanceId", &id)).await;
    assert_eq!(query.result_code(), "000004", "{}", query.text());
    assert!(query.verify_body_sign(BASIC_KEY.as_bytes()));
}

#[tokio::test]
async fn lifecycle_calls_for_a_known_instance_succeed_and_are_published() {
    let app = TestApp::spawn().await;
    let id = app.client.send_basic(&spec_example("newInstance")).await.json["instanceId"].as_str().unwrap().to_owned();
    for activity in ["refreshInstance", "updateInstanceStatus", "upgradeInstance", "releaseInstance"] {
        let reply = app.client.send_basic(&with(spec_example(activity), "instanceId", &id)).await;
        assert_eq!(reply.result_code(), "000000", "{activity}: {}", reply.text());
        assert!(reply.verify_body_sign(BASIC_KEY.as_bytes()), "{activity}");
    }
    let activities: Vec<String> = app.inbound().await.into_iter().map(|(_, e)| e.data.activity).collect();
    assert_eq!(
        activities,
        ["newInstance", "refreshInstance", "updateInstanceStatus", "upgradeInstance", "releaseInstance"]
    );
}

#[tokio::test]
async fn lifecycle_calls_for_an_unknown_instance_answer_000003_and_publish_nothing() {
    let app = TestApp::spawn().await;
    for activity in ["refreshInstance", "updateInstanceStatus", "upgradeInstance", "releaseInstance", "queryInstance"] {
        let reply = app.client.send_basic(&spec_example(activity)).await;
        assert_eq!(reply.result_code(), "000003", "{activity}: {}", reply.text());
        assert!(reply.verify_body_sign(BASIC_KEY.as_bytes()));
    }
    assert!(app.inbound().await.is_empty());
}

#[tokio::test]
async fn order_and_license_callbacks_are_published_and_acknowledged() {
    let app = TestApp::spawn().await;
    for activity in ["orderNotify", "refreshLicenseCode", "updateLicenseCodeStatus", "releaseLicenseCode"] {
        let reply = app.client.send_basic(&spec_example(activity)).await;
        assert_eq!(reply.result_code(), "000000", "{activity}: {}", reply.text());
        assert!(reply.verify_body_sign(BASIC_KEY.as_bytes()));
    }
    let inbound = app.inbound().await;
    let families: Vec<String> = inbound.iter().map(|(_, e)| e.data.family.as_str().to_owned()).collect();
    assert_eq!(families, ["order", "license", "license", "license"]);
}

#[tokio::test]
async fn kit_interfaces_are_verified_with_the_kit_key_and_published() {
    let app = TestApp::spawn().await;
    for interface in ["tenantSync", "applicationSync", "authSync", "singleOrgSync", "allOrgSync"] {
        let reply = app.client.send_kit(interface, &spec_example(interface)).await;
        assert_eq!(reply.result_code(), "000000", "{interface}: {}", reply.text());
        assert!(reply.verify_body_sign(KIT_KEY.as_bytes()), "{interface}: answers are signed with the Kit key");
    }
    let inbound = app.inbound().await;
    assert_eq!(inbound.len(), 5);
    assert!(inbound.iter().all(|(_, e)| e.data.family.as_str() == "kit"));
    let unknown = app.client.send_kit("fooSync", &json!({})).await;
    assert_eq!(unknown.result_code(), "000002");
    assert!(unknown.result_msg().contains("fooSync"), "{}", unknown.text());
}

#[tokio::test]
async fn change_instance_check_uses_provisioning_or_the_configured_default() {
    let app = TestApp::spawn().await;
    let body = json!({"activity":"changeInstanceCheck","instanceId":"10e758d0-31ad-4c4b-8f1b-81d03469a10e",
        "productInfo":{"productId":"OFFI461867333479178240","skuCode":"sku-1","linearValue":20},"testFlag":"1"});
    // Nobody answers: the default (allow).
    let reply = app.client.send_basic(&body).await;
    assert_eq!(reply.result_code(), "000000", "{}", reply.text());

    // Provisioning refuses: 000002 with its reason.
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(koofill_bus::rpc::serve_json(
        app.nats_client.clone(),
        koofill_bus::names::rpc_change_check(crate::PREFIX),
        "provisioning".into(),
        |_ask: koofill_ingress::change_check::ChangeCheckRequest| async move {
            koofill_ingress::change_check::ChangeCheckReply {
                allowed: false,
                message: Some("current usage exceeds target spec".into()),
            }
        },
        shutdown.clone(),
    ));
    let mut last = String::new();
    for _ in 0..20 {
        let reply = app.client.send_basic(&body).await;
        if reply.result_code() == "000002" {
            assert_eq!(reply.result_msg(), "current usage exceeds target spec");
            assert!(reply.verify_body_sign(BASIC_KEY.as_bytes()));
            shutdown.cancel();
            return;
        }
        last = reply.text();
    }
    panic!("provisioning's verdict never arrived: {last}");
}

#[tokio::test]
async fn change_check_default_can_be_reject() {
    let app = TestApp::spawn_with(&[("KOOFILL__INGRESS__CHANGE_CHECK_DEFAULT", "reject")]).await;
    let body = json!({"activity":"changeInstanceCheck","instanceId":"i-1","productInfo":"{\"productId\":\"P1\"}"});
    let reply = app.client.send_basic(&body).await;
    assert_eq!(reply.result_code(), "000002", "{}", reply.text());
}

#[tokio::test]
async fn debug_calls_carry_the_test_flag_in_the_envelope() {
    let app = TestApp::spawn().await;
    let mut real = spec_example("orderNotify");
    real["testFlag"] = json!("0");
    real["orderId"] = json!("CS0000000000REAL");
    real["orderLineId"] = json!("CS0000000000REAL-000001");
    app.client.send_basic(&spec_example("orderNotify")).await;
    app.client.send_basic(&real).await;
    let inbound = app.inbound().await;
    assert_eq!(inbound.len(), 2);
    let (debug_id, debug) = &inbound[0];
    assert!(debug.test, "testFlag 1 → test: true");
    assert!(debug_id.starts_with("test:"), "{debug_id}");
    let (real_id, real) = &inbound[1];
    assert!(!real.test);
    assert_eq!(real_id, "orderNotify:CS0000000000REAL:CS0000000000REAL-000001");
}

#[tokio::test]
async fn operator_endpoints_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(reqwest::get(format!("{}/healthz", app.root_url)).await.unwrap().status(), 200);
    assert_eq!(reqwest::get(format!("{}/readyz", app.root_url)).await.unwrap().status(), 200);
    app.client.send_basic(&spec_example("orderNotify")).await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("koofill_ingress_callbacks_total{activity=\"orderNotify\",result_code=\"000000\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("koofill_ingress_answer_seconds"), "{metrics}");
}
