//! What the ingress publishes is built from the verified request identity (timestamp and nonce):
//! ids that tell requests apart, `requested_at` from KooGallery's clock, and the same envelope
//! the testkit builds for harnesses that stand in for the ingress.

use koofill_model::{Envelope, InboundCallback, KitInterface, KitRequest};
use koofill_signing::{basic, kit};
use koofill_testkit::{KitHeaders, inbound, now_ms, spec_example, wire_json};
use serde_json::{Value, json};

use crate::{BASIC_KEY, KIT_KEY, TestApp};

/// A basic query signed with the given `timestamp` and `nonce`, as KooGallery would sign it.
fn basic_query(body: &[u8], timestamp: &str, nonce: &str) -> String {
    let signature = basic::sign_body(BASIC_KEY.as_bytes(), nonce, timestamp, body).unwrap();
    format!("signature={signature}&timestamp={timestamp}&nonce={nonce}")
}

/// Kit headers signed with the given `x-timestamp` and `x-nonce`.
fn kit_headers(body: &[u8], timestamp: &str, nonce: &str) -> KitHeaders {
    let x_sign = kit::sign_body(KIT_KEY.as_bytes(), nonce, timestamp, body).unwrap();
    KitHeaders { x_sign, x_timestamp: timestamp.to_owned(), x_nonce: nonce.to_owned() }
}

async fn new_instance(app: &TestApp) -> String {
    let reply = app.client.send_basic(&spec_example("newInstance")).await;
    reply.json["instanceId"].as_str().unwrap().to_owned()
}

fn activity<'a>(
    inbound: &'a [(String, Envelope<InboundCallback>)],
    name: &str,
) -> Vec<&'a (String, Envelope<InboundCallback>)> {
    inbound.iter().filter(|(_, e)| e.data.activity == name).collect()
}

#[tokio::test]
async fn freeze_unfreeze_freeze_signed_within_one_second_are_three_messages() {
    let app = TestApp::spawn().await;
    let id = new_instance(&app).await;
    // A timestamp in seconds (some spec pages say seconds): one value for all three calls.
    let second = (now_ms() / 1000).to_string();
    for (status, nonce) in [("FREEZE", "NONCE-1"), ("UNFREEZE", "NONCE-2"), ("FREEZE", "NONCE-3")] {
        let body =
            wire_json(&json!({"activity":"updateInstanceStatus","instanceId":id,"status":status,"testFlag":"1"}));
        let reply = app.client.send_basic_raw(&body, &basic_query(&body, &second, nonce)).await;
        assert_eq!(reply.result_code(), "000000", "{status}: {}", reply.text());
    }
    let inbound = app.inbound().await;
    let published: Vec<(&str, &str)> = activity(&inbound, "updateInstanceStatus")
        .into_iter()
        .map(|(msg_id, e)| (msg_id.as_str(), e.data.body["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        published,
        [
            (format!("test:updateInstanceStatus:{id}:FREEZE:{second}:NONCE-1").as_str(), "FREEZE"),
            (format!("test:updateInstanceStatus:{id}:UNFREEZE:{second}:NONCE-2").as_str(), "UNFREEZE"),
            (format!("test:updateInstanceStatus:{id}:FREEZE:{second}:NONCE-3").as_str(), "FREEZE"),
        ],
        "the second FREEZE is not taken for the first"
    );
}

#[tokio::test]
async fn requested_at_is_the_signed_timestamp_not_the_receive_time() {
    let app = TestApp::spawn().await;
    let id = new_instance(&app).await;
    // Signed 30 s (basic, milliseconds) and 20 s (Kit) before they are sent: inside the window.
    let basic_signed = now_ms() - 30_000;
    let body = wire_json(&json!({"activity":"updateInstanceStatus","instanceId":id,"status":"FREEZE"}));
    let reply = app.client.send_basic_raw(&body, &basic_query(&body, &basic_signed.to_string(), "N-BASIC")).await;
    assert_eq!(reply.result_code(), "000000", "{}", reply.text());
    let kit_signed = now_ms() - 20_000;
    let body = wire_json(&spec_example("tenantSync"));
    let headers = kit_headers(&body, &kit_signed.to_string(), "N-KIT");
    assert_eq!(app.client.send_kit_raw("tenantSync", &body, &headers).await.result_code(), "000000");

    let inbound = app.inbound().await;
    for (name, signed) in [("updateInstanceStatus", basic_signed), ("tenantSync", kit_signed)] {
        let (_, env) = activity(&inbound, name)[0];
        let signed = chrono::DateTime::from_timestamp_millis(signed).unwrap();
        assert_eq!(env.requested_at, Some(signed), "{name}");
        assert_eq!(env.request_time(), signed, "{name}");
        assert!(env.occurred_at - signed >= chrono::Duration::seconds(19), "{name}: occurred_at is the receive time");
    }
}

#[tokio::test]
async fn auth_sync_batches_differing_only_in_users_are_two_messages() {
    let app = TestApp::spawn().await;
    let example = spec_example("authSync");
    let users = example["userList"].as_array().unwrap().clone();
    for (i, batch) in [&users[..1], &users[1..]].into_iter().enumerate() {
        let mut body = example.clone();
        body["userList"] = Value::Array(batch.to_vec());
        let reply = app.client.send_kit("authSync", &body).await;
        assert_eq!(reply.result_code(), "000000", "batch {i}: {}", reply.text());
    }
    let inbound = app.inbound().await;
    let ids: Vec<&str> = inbound.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    let digest = |(_, e): &(String, Envelope<InboundCallback>)| match e.data.kit_request().unwrap().unwrap() {
        KitRequest::AuthSync(a) => a.users_digest(),
        other => panic!("{other:?}"),
    };
    let (first, second) = (digest(&inbound[0]), digest(&inbound[1]));
    assert_ne!(first, second);
    assert!(ids[0].contains(&format!(":{first}:")), "{ids:?}");
    assert!(ids[1].contains(&format!(":{second}:")), "{ids:?}");
}

#[tokio::test]
async fn the_testkit_builds_the_envelopes_the_ingress_publishes() {
    let app = TestApp::spawn().await;
    let id = new_instance(&app).await;
    let (ts, nonce) = inbound::fresh_identity();
    let status = json!({"activity":"updateLicenseCodeStatus","license":"LIC-1","status":"FREEZE"});
    let bytes = wire_json(&status);
    assert_eq!(app.client.send_basic_raw(&bytes, &basic_query(&bytes, &ts, &nonce)).await.result_code(), "000000");
    let release = json!({"activity":"releaseInstance","instanceId":id});
    let (release_ts, release_nonce) = inbound::fresh_identity();
    let bytes = wire_json(&release);
    let query = basic_query(&bytes, &release_ts, &release_nonce);
    assert_eq!(app.client.send_basic_raw(&bytes, &query).await.result_code(), "000000");
    let (kit_ts, kit_nonce) = inbound::fresh_identity();
    let tenant = spec_example("tenantSync");
    let bytes = wire_json(&tenant);
    let headers = kit_headers(&bytes, &kit_ts, &kit_nonce);
    assert_eq!(app.client.send_kit_raw("tenantSync", &bytes, &headers).await.result_code(), "000000");

    let basic_request = |v: &Value| koofill_model::BasicRequest::from_value(v).unwrap();
    let kit_request = KitRequest::from_value(KitInterface::TenantSync, &tenant).unwrap();
    let expected = [
        inbound::basic_envelope(&basic_request(&status), status.clone(), &ts, &nonce).unwrap(),
        inbound::basic_envelope(&basic_request(&release), release.clone(), &release_ts, &release_nonce).unwrap(),
        inbound::kit_envelope(&kit_request, tenant.clone(), &kit_ts, &kit_nonce),
    ];
    let published = app.inbound_messages().await;
    let nonces = [("basic", &nonce), ("basic", &release_nonce), ("kit", &kit_nonce)];
    for (mut built, (channel, nonce)) in expected.into_iter().zip(nonces) {
        let (msg_id, env) = published.iter().find(|(_, e)| e.data.activity == built.data.activity).unwrap();
        // Only the receive time may differ.
        built.occurred_at = env.occurred_at;
        built.data.received_at = env.data.received_at;
        assert_eq!(&built, env);
        assert_eq!(msg_id, &koofill_bus::replay_key(channel, nonce), "Nats-Msg-Id");
    }
}
