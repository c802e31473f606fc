//! The retired V1 interfaces: off by default; when enabled, verified with the V1 `authToken`,
//! rewritten into their V2 twins and published as those would be.

use koofill_testkit::{sign_v1, v1_time_stamp};
use serde_json::json;

use crate::{BASIC_KEY, KIT_KEY, TestApp};

async fn v1_app() -> TestApp {
    TestApp::spawn_with(&[("KOOFILL__KOOGALLERY__V1_ENABLED", "true")]).await
}

#[tokio::test]
async fn v1_is_not_routed_unless_enabled() {
    let app = TestApp::spawn().await;
    let get =
        reqwest::get(format!("{}?{}", app.base_url, sign_v1(BASIC_KEY.as_bytes(), &[("activity", "newInstance")])))
            .await
            .unwrap();
    assert_eq!(get.status(), 405);
    let reply = app.client.send_kit_v1("tenantSync", &json!({"instanceId": "i"})).await;
    assert_eq!(reply.status, 404);
    assert!(app.inbound().await.is_empty());
}

#[tokio::test]
async fn the_published_v1_url_is_accepted_with_its_key() {
    // The published example was signed in 2020: a window of ten years lets it through unchanged.
    let app = TestApp::spawn_with(&[
        ("KOOFILL__KOOGALLERY__V1_ENABLED", "true"),
        ("KOOFILL__KOOGALLERY__BASIC_KEY", "xxxxxxx"),
        ("KOOFILL__KOOGALLERY__MAX_CLOCK_SKEW_SECS", "315360000"),
    ])
    .await;
    let url = format!(
        "{}?activity=newInstance&businessId=61e834ba-7b97-4418-b8f7-e5345137278c&customerId=68cbc86abc2018ab880d92f36422fa0e&expireTime=20200727153156&orderId=CS1906666666ABCDE&productId=00301-666666-0--0&testFlag=1&timeStamp=20200727073711903&authToken=Gzbfjf9LHRBcI3bFVi++sLinCNOBF6qa7is1fvjEgYQ=",
        app.base_url
    );
    let response = reqwest::get(&url).await.unwrap();
    let sign = response.headers().get("Body-Sign").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.bytes().await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["resultCode"], "000000", "{json}");
    let expected_id = koofill_model::InstanceId::for_order_line(
        &koofill_model::OrderId::new("CS1906666666ABCDE"),
        &koofill_model::OrderLineId::new("00301-666666-0--0"),
    );
    assert_eq!(json["instanceId"], expected_id.as_str());
    let sign = sign.expect("V1 answers carry Body-Sign");
    assert_eq!(sign, koofill_signing::body_sign::header_value(b"xxxxxxx", &body));

    // The same URL again is a replay: the token identifies the request.
    let again: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(again["resultCode"], "000001", "{again}");
    let inbound = app.inbound().await;
    assert_eq!(inbound.len(), 1);
    assert_eq!(inbound[0].0, "test:newInstance:CS1906666666ABCDE:00301-666666-0--0");
}

#[tokio::test]
async fn every_v1_basic_activity_is_published_as_its_v2_twin() {
    let app = v1_app().await;
    let new = app
        .client
        .send_v1(&[("activity", "newInstance"), ("orderId", "CSV1A"), ("businessId", "b-1"), ("productId", "P-1")])
        .await;
    assert_eq!(new.result_code(), "000000", "{}", new.text());
    assert!(new.verify_body_sign(BASIC_KEY.as_bytes()));
    let id = new.json["instanceId"].as_str().unwrap().to_owned();
    let calls: [&[(&str, &str)]; 5] = [
        &[
            ("activity", "refreshInstance"),
            ("orderId", "CSV1B"),
            ("expireTime", "20300101000000"),
            ("trialToFormal", "1"),
        ],
        &[("activity", "instanceStatus"), ("instanceStatus", "FREEZE")],
        &[("activity", "instanceStatus"), ("instanceStatus", "NORMAL")],
        &[("activity", "upgrade"), ("orderId", "CSV1C"), ("productId", "P-2")],
        &[("activity", "expireInstance")],
    ];
    for call in calls {
        let mut params = call.to_vec();
        params.push(("instanceId", &id));
        let reply = app.client.send_v1(&params).await;
        assert_eq!(reply.result_code(), "000000", "{call:?}: {}", reply.text());
    }
    let release =
        app.client.send_v1(&[("activity", "releaseInstance"), ("instanceId", &id), ("orderId", "CSV1A")]).await;
    assert_eq!(release.result_code(), "000000", "{}", release.text());
    // queryInstance reads the view: accepted, not ready.
    let query = app.client.send_v1(&[("activity", "queryInstance"), ("instanceId", &id)]).await;
    assert_eq!(query.result_code(), "000004", "{}", query.text());

    let published: Vec<(String, String)> = app
        .inbound()
        .await
        .into_iter()
        .map(|(msg_id, e)| (e.data.activity, msg_id.split(':').take(4).collect::<Vec<_>>().join(":")))
        .collect();
    let activities: Vec<&str> = published.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        activities,
        [
            "newInstance",
            "refreshInstance",
            "updateInstanceStatus",
            "updateInstanceStatus",
            "upgradeInstance",
            "updateInstanceStatus",
            "releaseInstance"
        ]
    );
    assert_eq!(published[1].1, format!("refreshInstance:{id}:CSV1B:TRIAL_TO_FORMAL"));
    assert!(published[2].1.starts_with(&format!("updateInstanceStatus:{id}:FREEZE")), "{published:?}");
    assert!(published[3].1.starts_with(&format!("updateInstanceStatus:{id}:UNFREEZE")), "{published:?}");
}

#[tokio::test]
async fn wrong_stale_or_incomplete_v1_calls_are_refused_precisely() {
    let app = v1_app().await;
    let params = [("activity", "newInstance"), ("orderId", "CSV1X"), ("businessId", "b"), ("productId", "P")];
    // Another key: 000001.
    let forged = format!("{}?{}", app.base_url, sign_v1(b"not-the-key", &params));
    let reply: serde_json::Value = reqwest::get(&forged).await.unwrap().json().await.unwrap();
    assert_eq!(reply["resultCode"], "000001", "{reply}");
    // A tampered parameter after signing: 000001.
    let signed = sign_v1(BASIC_KEY.as_bytes(), &params);
    let tampered = format!("{}?{}", app.base_url, signed.replace("CSV1X", "CSV1Y"));
    let reply: serde_json::Value = reqwest::get(&tampered).await.unwrap().json().await.unwrap();
    assert_eq!(reply["resultCode"], "000001", "{reply}");
    // Signed ten minutes ago: outside the window, 000001.
    let old = v1_time_stamp(koofill_testkit::now_ms() - 600_000);
    let mut stale = params.to_vec();
    stale.push(("timeStamp", &old));
    let reply = app.client.send_v1(&stale).await;
    assert_eq!(reply.result_code(), "000001", "{}", reply.text());
    // No authToken at all: 000001; no timeStamp: 000002 naming it.
    let bare: serde_json::Value =
        reqwest::get(format!("{}?activity=newInstance&orderId=o", app.base_url)).await.unwrap().json().await.unwrap();
    assert_eq!(bare["resultCode"], "000001", "{bare}");
    let no_ts: serde_json::Value = reqwest::get(format!("{}?activity=newInstance&authToken=abc", app.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(no_ts["resultCode"], "000002", "{no_ts}");
    assert!(no_ts["resultMsg"].as_str().unwrap().contains("timeStamp"), "{no_ts}");
    // Verified but not a V1 activity, or a mandatory field missing: 000002 naming the field.
    let reply = app.client.send_v1(&[("activity", "orderNotify")]).await;
    assert_eq!(reply.result_code(), "000002", "{}", reply.text());
    assert!(reply.result_msg().contains("activity"), "{}", reply.text());
    let reply = app.client.send_v1(&[("activity", "newInstance"), ("productId", "P")]).await;
    assert_eq!(reply.result_code(), "000002", "{}", reply.text());
    assert!(reply.result_msg().contains("orderId"), "{}", reply.text());
    // Lifecycle calls for an unknown instance: 000003, as in V2.
    let reply = app.client.send_v1(&[("activity", "releaseInstance"), ("instanceId", "nope")]).await;
    assert_eq!(reply.result_code(), "000003", "{}", reply.text());
    assert!(app.inbound().await.is_empty());
}

#[tokio::test]
async fn kit_v1_syncs_are_verified_with_the_kit_key_and_published() {
    let app = v1_app().await;
    let tenant = json!({
        "instanceId": "i-kit", "orderId": "CSK1", "tenantId": "t-1", "tenantCode": "code", "name": "企业",
        "domainName": "https://t.example.com", "flag": 1, "testFlag": 0
    });
    let reply = app.client.send_kit_v1("tenantSync", &tenant).await;
    assert_eq!(reply.result_code(), "000000", "{}", reply.text());
    assert!(reply.verify_body_sign(KIT_KEY.as_bytes()), "answers to Kit calls are signed with the Kit key");
    // V1 authSync sends userList as a string holding a JSON array.
    let users = json!({
        "instanceId": "i-kit", "tenantId": "t-1", "appId": "app-1", "flag": 1, "testFlag": 0,
        "currentSyncTime": "20220420114117642",
        "userList": "[{\"userName\":\"zhangsan01\",\"name\":\"张三\",\"orgCode\":\"1\",\"role\":\"admin\",\"enable\":\"true\"}]"
    });
    let reply = app.client.send_kit_v1("authSync", &users).await;
    assert_eq!(reply.result_code(), "000000", "{}", reply.text());
    // Signed with the basic key instead: 000001. Unknown interface: 000002.
    let (bytes, token) = koofill_testkit::sign_kit_v1(BASIC_KEY.as_bytes(), &tenant);
    let wrong: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/produceAPI/tenantSync", app.base_url))
        .header("authToken", token)
        .header("Content-Type", "application/json")
        .body(bytes)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wrong["resultCode"], "000001", "{wrong}");
    let reply = app.client.send_kit_v1("bogusSync", &tenant).await;
    assert_eq!(reply.result_code(), "000002", "{}", reply.text());
    let interfaces: Vec<String> = app.inbound().await.into_iter().map(|(_, e)| e.data.activity).collect();
    assert_eq!(interfaces, ["tenantSync", "authSync"]);
}
