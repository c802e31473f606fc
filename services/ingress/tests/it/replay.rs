//! Replays: a request signed once is acted on once. Published callbacks claim their nonce in the
//! write that stores them, the others in the nonce bucket; either way a replay answers `000001`,
//! at any replica, and a replay of a stored callback is refused after a server restart too.

use std::time::Duration;

use koofill_testkit::{CallbackClient, now_ms, sign_basic, sign_kit, spec_example, wire_json};
use serde_json::{Value, json};

use crate::{BASIC_KEY, KIT_KEY, TestApp};

/// Sends `body` signed once, twice; returns both result codes.
async fn basic_twice(first: &CallbackClient, second: &CallbackClient, body: &Value) -> (String, String) {
    let bytes = wire_json(body);
    let signed = sign_basic(BASIC_KEY.as_bytes(), &bytes, now_ms());
    let a = first.send_basic_raw(&bytes, &signed.query_string).await.result_code().to_owned();
    let b = second.send_basic_raw(&bytes, &signed.query_string).await.result_code().to_owned();
    (a, b)
}

#[tokio::test]
async fn every_kind_of_answer_refuses_its_replay() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let new_instance = spec_example("newInstance");
    let (first, replay) = basic_twice(c, c, &new_instance).await;
    assert_eq!((first.as_str(), replay.as_str()), ("000000", "000001"), "newInstance (published)");
    let id = new_instance_id(&new_instance);

    let query = json!({"activity":"queryInstance","instanceId":id,"testFlag":"1"});
    let (first, replay) = basic_twice(c, c, &query).await;
    assert_eq!((first.as_str(), replay.as_str()), ("000004", "000001"), "queryInstance (bucket)");

    let unknown = json!({"activity":"releaseInstance","instanceId":"never-issued","testFlag":"1"});
    let (first, replay) = basic_twice(c, c, &unknown).await;
    assert_eq!((first.as_str(), replay.as_str()), ("000003", "000001"), "an unknown instance (bucket)");

    let release = json!({"activity":"releaseInstance","instanceId":id,"testFlag":"1"});
    let (first, replay) = basic_twice(c, c, &release).await;
    assert_eq!((first.as_str(), replay.as_str()), ("000000", "000001"), "releaseInstance (published)");

    let tenant = wire_json(&spec_example("tenantSync"));
    let headers = sign_kit(KIT_KEY.as_bytes(), &tenant, now_ms());
    assert_eq!(c.send_kit_raw("tenantSync", &tenant, &headers).await.result_code(), "000000");
    assert_eq!(c.send_kit_raw("tenantSync", &tenant, &headers).await.result_code(), "000001", "Kit (published)");

    // Two callbacks stored, one each; the replays left nothing behind.
    let activities: Vec<String> = app.inbound().await.into_iter().map(|(_, e)| e.data.activity).collect();
    assert_eq!(activities, ["newInstance", "releaseInstance", "tenantSync"]);
    assert!(app.metrics().await.contains("reason=\"replayed_nonce\""));
}

#[tokio::test]
async fn a_replay_to_another_replica_is_refused() {
    let app = TestApp::spawn().await;
    let other = app.replica().await;
    let (first, replay) = basic_twice(&app.client, &other, &spec_example("newInstance")).await;
    assert_eq!((first.as_str(), replay.as_str()), ("000000", "000001"), "published");
    let query = json!({"activity":"queryInstance","instanceId":"never-issued","testFlag":"1"});
    let (first, replay) = basic_twice(&other, &app.client, &query).await;
    assert_eq!((first.as_str(), replay.as_str()), ("000003", "000001"), "answered from the view");
}

/// The duplicate table of `KOOFILL_INBOUND` is rebuilt from its stored messages when the server
/// starts, so a replay of a stored callback stays refused. (Answers that publish nothing claim in
/// the memory-backed bucket, which a restart empties; a replayed query after a restart is
/// answered again, which changes nothing.)
#[tokio::test]
async fn a_replay_of_a_stored_callback_after_a_nats_restart_is_refused() {
    let mut app = TestApp::spawn().await;
    let bytes = wire_json(&spec_example("newInstance"));
    let signed = sign_basic(BASIC_KEY.as_bytes(), &bytes, now_ms());
    assert_eq!(app.client.send_basic_raw(&bytes, &signed.query_string).await.result_code(), "000000");

    app.nats.stop();
    app.nats.restart();
    // Wait until the ingress is back (a fresh order is accepted), then replay.
    let mut back = false;
    for i in 0..80 {
        let mut fresh = spec_example("orderNotify");
        fresh["orderId"] = json!(format!("CS00000000RESTART{i}"));
        if app.client.send_basic(&fresh).await.result_code() == "000000" {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(back, "the ingress answers again after the restart");
    let replay = app.client.send_basic_raw(&bytes, &signed.query_string).await;
    assert_eq!(replay.result_code(), "000001", "{}", replay.text());
    let new_instances = app.inbound().await.into_iter().filter(|(_, e)| e.data.activity == "newInstance").count();
    assert_eq!(new_instances, 1);
}

fn new_instance_id(body: &Value) -> String {
    let request = koofill_model::BasicRequest::from_value(body).unwrap();
    let koofill_model::BasicRequest::NewInstance(r) = request else { unreachable!() };
    r.instance_id().to_string()
}
