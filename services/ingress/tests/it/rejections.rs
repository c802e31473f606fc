//! Invalid input: precise `000002` answers naming the problem, and nothing published.

use koofill_testkit::{now_ms, sign_basic};
use serde_json::json;

use crate::{BASIC_KEY, TestApp};

async fn send_raw(app: &TestApp, body: &[u8]) -> koofill_testkit::CallbackReply {
    let sig = sign_basic(BASIC_KEY.as_bytes(), body, now_ms());
    app.client.send_basic_raw(body, &sig.query_string).await
}

#[tokio::test]
async fn invalid_bodies_answer_000002_naming_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({"activity":"newInstance","orderLineId":"L-1","businessId":"b"}), "orderId"),
        (json!({"activity":"newInstance","orderId":"","orderLineId":"L-1","businessId":"b"}), "orderId"),
        (json!({"activity":"newInstance","orderId":"O".repeat(65),"orderLineId":"L-1","businessId":"b"}), "orderId"),
        (json!({"activity":"updateInstanceStatus","instanceId":"i","status":"PAUSE"}), "status"),
        (
            json!({"activity":"refreshInstance","instanceId":"i","orderId":"o","orderLineId":"l","scene":"RENEWAL","expireTime":"2022-11-24"}),
            "expireTime",
        ),
        (json!({"activity":"fooBar"}), "fooBar"),
        (json!({"orderId":"o"}), "activity"),
    ];
    for (body, named) in cases {
        let reply = app.client.send_basic(&body).await;
        assert_eq!(reply.result_code(), "000002", "{body}: {}", reply.text());
        assert!(reply.result_msg().contains(named), "{body}: message {:?} names {named}", reply.result_msg());
        assert!(reply.verify_body_sign(BASIC_KEY.as_bytes()));
    }
    let ids: Vec<String> = (0..101).map(|i| format!("i{i}")).collect();
    let reply = app.client.send_basic(&json!({"activity":"queryInstance","instanceId": ids.join(",")})).await;
    assert_eq!(reply.result_code(), "000002");
    assert!(reply.result_msg().contains("instanceId"), "{}", reply.text());

    let malformed = send_raw(&app, b"{\"activity\":\"newInstance\",").await;
    assert_eq!(malformed.result_code(), "000002", "{}", malformed.text());
    assert!(malformed.result_msg().contains("JSON"), "{}", malformed.text());
    assert!(app.inbound().await.is_empty(), "nothing published");
}

#[tokio::test]
async fn missing_signature_parameters_answer_000002() {
    let app = TestApp::spawn().await;
    let body = br#"{"activity":"orderNotify","orderId":"o","orderLineId":"l","testFlag":"1"}"#;
    let sig = sign_basic(BASIC_KEY.as_bytes(), body.as_slice(), now_ms());
    let no_ts = format!("signature={}&nonce={}", sig.signature, sig.nonce);
    let reply = app.client.send_basic_raw(body, &no_ts).await;
    assert_eq!(reply.result_code(), "000002");
    assert!(reply.result_msg().contains("timestamp"), "{}", reply.text());
    let no_nonce = format!("signature={}&timestamp={}", sig.signature, sig.timestamp);
    let reply = app.client.send_basic_raw(body, &no_nonce).await;
    assert_eq!(reply.result_code(), "000002");
    assert!(reply.result_msg().contains("nonce"), "{}", reply.text());
}

#[tokio::test]
async fn oversized_bodies_are_rejected_before_parsing() {
    let app = TestApp::spawn_with(&[("KOOFILL__INGRESS__BODY_LIMIT_BYTES", "1024")]).await;
    let big = format!(r#"{{"activity":"orderNotify","orderId":"o","orderLineId":"l","pad":"{}"}}"#, "x".repeat(4096));
    let reply = send_raw(&app, big.as_bytes()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.result_code(), "000002", "{}", reply.text());
    assert!(reply.result_msg().contains("1024"), "{}", reply.text());
    assert!(reply.verify_body_sign(BASIC_KEY.as_bytes()));
    assert!(app.inbound().await.is_empty());
}

#[tokio::test]
async fn a_kit_path_that_is_not_utf8_is_an_unknown_interface() {
    let app = TestApp::spawn().await;
    let url = format!("{}/produceAPI/v2/%C0", app.base_url);
    let response = reqwest::Client::new().post(url).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let signed = response.headers().get("body-sign").map(|v| v.to_str().unwrap().to_owned());
    let body = response.bytes().await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["resultCode"], "000002", "{json}");
    // Signed with the Kit key: the path says so.
    koofill_signing::body_sign::verify(crate::KIT_KEY.as_bytes(), &signed.unwrap(), &body).unwrap();
}
