//! Authentication failures: `000001`, signed, and nothing published.

use koofill_testkit::{now_ms, sign_basic, sign_kit, spec_example, wire_json};

use crate::{BASIC_KEY, KIT_KEY, TestApp};

async fn assert_rejected(app: &TestApp, reply: koofill_testkit::CallbackReply, code: &str, what: &str) {
    assert_eq!(reply.status, 200, "{what}");
    assert_eq!(reply.result_code(), code, "{what}: {}", reply.text());
    assert!(
        reply.verify_body_sign(BASIC_KEY.as_bytes()) || reply.verify_body_sign(KIT_KEY.as_bytes()),
        "{what}: signed"
    );
    let _ = app;
}

#[tokio::test]
async fn bad_signatures_keys_times_and_replays_answer_000001() {
    let app = TestApp::spawn().await;
    let body = wire_json(&spec_example("orderNotify"));

    let good = sign_basic(BASIC_KEY.as_bytes(), &body, now_ms());
    let tampered = good.query_string.replace(&good.signature, &good.signature.replace('A', "B").replace('1', "2"));
    assert_rejected(&app, app.client.send_basic_raw(&body, &tampered).await, "000001", "tampered signature").await;

    let kit_signed = sign_basic(KIT_KEY.as_bytes(), &body, now_ms());
    assert_rejected(
        &app,
        app.client.send_basic_raw(&body, &kit_signed.query_string).await,
        "000001",
        "Kit key on a basic call",
    )
    .await;

    let stale = sign_basic(BASIC_KEY.as_bytes(), &body, now_ms() - 61_000);
    assert_rejected(&app, app.client.send_basic_raw(&body, &stale.query_string).await, "000001", "stale").await;
    let future = sign_basic(BASIC_KEY.as_bytes(), &body, now_ms() + 61_000);
    assert_rejected(&app, app.client.send_basic_raw(&body, &future.query_string).await, "000001", "future").await;

    let fresh = sign_basic(BASIC_KEY.as_bytes(), &body, now_ms());
    assert_rejected(&app, app.client.send_basic_raw(&body, &fresh.query_string).await, "000000", "first use").await;
    assert_rejected(&app, app.client.send_basic_raw(&body, &fresh.query_string).await, "000001", "replayed nonce")
        .await;

    let no_sig = format!("timestamp={}&nonce={}", fresh.timestamp, "N2");
    assert_rejected(&app, app.client.send_basic_raw(&body, &no_sig).await, "000001", "no signature").await;

    // Only the one accepted call was published.
    assert_eq!(app.inbound().await.len(), 1);
    let metrics = app.metrics().await;
    for reason in ["bad_signature", "stale_timestamp", "future_timestamp", "replayed_nonce"] {
        assert!(metrics.contains(&format!("reason=\"{reason}\"")), "{reason} counted: {metrics}");
    }
}

#[tokio::test]
async fn kit_calls_need_the_kit_key_in_headers() {
    let app = TestApp::spawn().await;
    let body = wire_json(&spec_example("tenantSync"));
    let with_basic_key = sign_kit(BASIC_KEY.as_bytes(), &body, now_ms());
    let reply = app.client.send_kit_raw("tenantSync", &body, &with_basic_key).await;
    assert_eq!(reply.result_code(), "000001", "{}", reply.text());
    assert!(reply.verify_body_sign(KIT_KEY.as_bytes()));
    let stale = sign_kit(KIT_KEY.as_bytes(), &body, now_ms() - 120_000);
    assert_eq!(app.client.send_kit_raw("tenantSync", &body, &stale).await.result_code(), "000001");
    let ok = sign_kit(KIT_KEY.as_bytes(), &body, now_ms());
    assert_eq!(app.client.send_kit_raw("tenantSync", &body, &ok).await.result_code(), "000000");
    assert_eq!(app.client.send_kit_raw("tenantSync", &body, &ok).await.result_code(), "000001", "replayed");
    assert_eq!(app.inbound().await.len(), 1);
}

#[tokio::test]
async fn previous_key_still_verifies_during_a_rotation_and_signs_the_answer() {
    let app = TestApp::spawn_with(&[
        ("KOOFILL__KOOGALLERY__BASIC_KEY", "the-new-key"),
        ("KOOFILL__KOOGALLERY__BASIC_KEY_PREVIOUS", BASIC_KEY),
    ])
    .await;
    let reply = app.client.send_basic(&spec_example("orderNotify")).await;
    assert_eq!(reply.result_code(), "000000", "{}", reply.text());
    assert!(reply.verify_body_sign(BASIC_KEY.as_bytes()), "answered with the key KooGallery used");
}
