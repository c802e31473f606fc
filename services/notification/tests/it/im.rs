//! Each IM provider against a local stand-in that checks the request the way the provider
//! documents, answers its "too fast" code inside HTTP 200 (retried after the penalty) and its
//! bad-key code (permanent).

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::{
    stand_in::{Reply, Seen, StandIn, now_secs, percent_decode, raw_param},
    support::TestWorker,
};

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(msg);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// A provider as a test sees it.
struct Provider {
    kind: &'static str,
    secret: Option<&'static str>,
    ok_path: &'static str,
    bad_path: &'static str,
    success: &'static str,
    /// The first answer of the `ok` robot.
    first: Reply,
    bad_key: &'static str,
    check: fn(&Seen) -> Result<(), String>,
}

/// Two robots of one provider: `ok` answers `first` then succeeds, `bad` answers `bad_key`.
async fn two_robots(p: Provider) -> (TestWorker, StandIn, StandIn) {
    let Provider { kind, secret, ok_path, bad_path, success, first, bad_key, check } = p;
    let ok = StandIn::start(Reply::Answer(200, success), Reply::Answer(200, bad_key), vec![first], check).await;
    let bad = StandIn::start(Reply::Answer(200, bad_key), Reply::Answer(200, bad_key), vec![], check).await;
    let secret_line = secret.map(|s| format!("secret = \"{s}\"")).unwrap_or_default();
    let toml = format!(
        r#"
[notification]
send_timeout_ms = 2000
[notification.channels.ok]
kind = "{kind}"
url = "{}"
{secret_line}
rate_per_minute = 6000
[notification.channels.bad]
kind = "{kind}"
url = "{}"
{secret_line}
rate_per_minute = 6000
[[notification.rules]]
events = ["instance.*"]
channels = ["ok", "bad"]
"#,
        ok.url(ok_path),
        bad.url(bad_path),
    );
    let w = TestWorker::start(&toml).await;
    w.publish("evt-im", "evt-im", "instance.frozen", false, json!({"instance_id": "i-9"})).await;
    (w, ok, bad)
}

/// The rate-limited robot is retried only after `penalty` and then delivered; the bad-key robot
/// fails at once and is never tried again.
async fn assert_penalty_then_delivery_and_bad_key_final(
    w: &TestWorker,
    ok: &StandIn,
    bad: &StandIn,
    penalty: Duration,
) {
    assert_eq!(w.settle().await, 2);
    let limited = w.delivery("evt-im", "ok").await;
    assert_eq!(limited.state, "pending", "{limited:?}");
    assert_eq!(limited.attempts, 1);
    let due_in =
        (limited.next_attempt_at - koofill_notification::Clock::now(&w.clock)).to_std().expect("in the future");
    assert!(
        due_in >= penalty - Duration::from_secs(1) && due_in <= penalty,
        "retry in {due_in:?}, penalty {penalty:?}"
    );
    assert_eq!(w.attempts("evt-im", "ok").await[0].outcome, "rate_limited");
    let failed = w.delivery("evt-im", "bad").await;
    assert_eq!(failed.state, "failed", "{failed:?}");

    // Not before the penalty…
    w.clock.advance(penalty - Duration::from_secs(2));
    assert_eq!(w.worker.dispatch_due().await.expect("dispatched"), 0);
    assert_eq!(ok.seen().len(), 1);
    // …then once.
    w.clock.advance(Duration::from_secs(2));
    assert_eq!(w.worker.dispatch_due().await.expect("dispatched"), 1);
    let delivered = w.delivery("evt-im", "ok").await;
    assert_eq!(delivered.state, "delivered");
    assert_eq!(delivered.attempts, 2);
    assert_eq!(ok.seen().len(), 2);

    // The bad key is never tried again, however long we wait.
    w.clock.advance(Duration::from_secs(2 * 86_400));
    assert_eq!(w.worker.dispatch_due().await.expect("dispatched"), 0);
    assert_eq!(bad.seen().len(), 1);
    assert_eq!(w.attempts("evt-im", "bad").await.len(), 1);
    ok.assert_all_verified();
    bad.assert_all_verified();
}

const DINGTALK_SECRET: &str = "SEC0123456789abcdef";

/// DingTalk: `timestamp` in epoch milliseconds within an hour, `sign` URL-encoded
/// `base64(HMAC-SHA256(secret, timestamp + "\n" + secret))`; a markdown message has `title` and
/// `text` under `markdown`.
fn dingtalk_check(seen: &Seen) -> Result<(), String> {
    if raw_param(&seen.query, "access_token") != Some("robot-token") {
        return Err(format!("access_token missing: {}", seen.query));
    }
    let ts = raw_param(&seen.query, "timestamp").ok_or("no timestamp")?;
    let ms: i64 = ts.parse().map_err(|_| "timestamp not numeric")?;
    if ts.len() != 13 || (ms / 1000 - now_secs()).abs() > 3600 {
        return Err(format!("timestamp {ts} is not epoch milliseconds within an hour"));
    }
    let raw_sign = raw_param(&seen.query, "sign").ok_or("no sign")?;
    if raw_sign.contains(['+', '/', '=']) {
        return Err(format!("sign is not URL-encoded: {raw_sign}"));
    }
    let expected = hmac_b64(DINGTALK_SECRET.as_bytes(), format!("{ts}\n{DINGTALK_SECRET}").as_bytes());
    if percent_decode(raw_sign) != expected {
        return Err("sign mismatch".into());
    }
    let body = seen.json();
    if body["msgtype"] != "markdown" || !body["markdown"]["title"].is_string() || !body["markdown"]["text"].is_string()
    {
        return Err(format!("not a markdown message: {body}"));
    }
    Ok(())
}

#[tokio::test]
async fn dingtalk_signs_with_ms_timestamps_and_honours_130101_and_310000() {
    let (w, ok, bad) = two_robots(Provider {
        kind: "dingtalk",
        secret: Some(DINGTALK_SECRET),
        ok_path: "/robot/send?access_token=robot-token",
        bad_path: "/robot/send?access_token=robot-token",
        success: r#"{"errcode":0,"errmsg":"ok"}"#,
        first: Reply::Answer(200, r#"{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}"#),
        bad_key: r#"{"errcode":310000,"errmsg":"sign not match"}"#,
        check: dingtalk_check,
    })
    .await;
    assert_penalty_then_delivery_and_bad_key_final(&w, &ok, &bad, Duration::from_secs(600)).await;
}

const FEISHU_SECRET: &str = "feishu-bot-secret";

/// Feishu: `timestamp` in epoch seconds within an hour, `sign` =
/// `base64(HMAC-SHA256(key = timestamp + "\n" + secret, msg = ""))`, both in the body.
fn feishu_check(seen: &Seen) -> Result<(), String> {
    let body = seen.json();
    let ts = body["timestamp"].as_str().ok_or("no timestamp string")?;
    let secs: i64 = ts.parse().map_err(|_| "timestamp not numeric")?;
    if ts.len() != 10 || (secs - now_secs()).abs() > 3600 {
        return Err(format!("timestamp {ts} is not epoch seconds within an hour"));
    }
    let expected = hmac_b64(format!("{ts}\n{FEISHU_SECRET}").as_bytes(), b"");
    if body["sign"] != expected.as_str() {
        return Err("sign mismatch".into());
    }
    if body["msg_type"] != "text" || !body["content"]["text"].is_string() {
        return Err(format!("not a text message: {body}"));
    }
    Ok(())
}

#[tokio::test]
async fn feishu_signs_with_seconds_and_an_empty_message_and_honours_11232_and_19021() {
    let (w, ok, bad) = two_robots(Provider {
        kind: "feishu",
        secret: Some(FEISHU_SECRET),
        ok_path: "/open-apis/bot/v2/hook/ok-token",
        bad_path: "/open-apis/bot/v2/hook/bad-token",
        success: r#"{"code":0,"msg":"success","data":{}}"#,
        first: Reply::Answer(200, r#"{"code":11232,"msg":"frequency limited","data":{}}"#),
        bad_key: r#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}"#,
        check: feishu_check,
    })
    .await;
    assert_penalty_then_delivery_and_bad_key_final(&w, &ok, &bad, Duration::from_secs(60)).await;
}

/// WeCom: the key in the URL, a markdown message.
fn wecom_check(seen: &Seen) -> Result<(), String> {
    if raw_param(&seen.query, "key").is_none() {
        return Err("no key".into());
    }
    let body = seen.json();
    let content = body["markdown"]["content"].as_str().ok_or("no markdown.content")?;
    if body["msgtype"] != "markdown" || content.len() > 4096 {
        return Err(format!("not a markdown message within 4096 bytes: {body}"));
    }
    Ok(())
}

#[tokio::test]
async fn wecom_honours_45009_and_93000() {
    let (w, ok, bad) = two_robots(Provider {
        kind: "wecom",
        secret: None,
        ok_path: "/cgi-bin/webhook/send?key=ok-key",
        bad_path: "/cgi-bin/webhook/send?key=bad-key",
        success: r#"{"errcode":0,"errmsg":"ok"}"#,
        first: Reply::Answer(200, r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#),
        bad_key: r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#,
        check: wecom_check,
    })
    .await;
    assert_penalty_then_delivery_and_bad_key_final(&w, &ok, &bad, Duration::from_secs(60)).await;
}

fn slack_check(seen: &Seen) -> Result<(), String> {
    seen.json()["text"].as_str().map(|_| ()).ok_or_else(|| "no text".into())
}

#[tokio::test]
async fn slack_reads_ok_from_the_body_and_honours_retry_after_and_dead_webhooks() {
    // Slack has no error codes inside HTTP 200: it rate-limits with 429 + Retry-After and
    // answers a removed webhook with 404 `no_service`. A 200 whose body is not `ok` is no success.
    let ok = StandIn::start(
        Reply::Answer(200, "ok"),
        Reply::Answer(400, "invalid_payload"),
        vec![Reply::Answer(200, "")],
        slack_check,
    )
    .await;
    let bad =
        StandIn::start(Reply::Answer(404, "no_service"), Reply::Answer(400, "invalid_payload"), vec![], slack_check)
            .await;
    let toml = format!(
        r#"
[notification.channels.ok]
kind = "slack"
url = "{}"
retry_schedule_secs = [5]
[notification.channels.bad]
kind = "slack"
url = "{}"
[[notification.rules]]
events = ["instance.*"]
channels = ["ok", "bad"]
"#,
        ok.url("/services/T/B/ok"),
        bad.url("/services/T/B/gone"),
    );
    let w = TestWorker::start(&toml).await;
    w.publish("evt-slack", "evt-slack", "instance.frozen", false, json!({"instance_id": "i-9"})).await;
    assert_eq!(w.settle().await, 2);
    assert_eq!(w.delivery("evt-slack", "ok").await.state, "failed", "an empty 200 is not `ok`");
    let gone = w.delivery("evt-slack", "bad").await;
    assert_eq!(gone.state, "failed");
    assert_eq!(w.attempts("evt-slack", "bad").await[0].status_code, Some(404));
    w.clock.advance(Duration::from_secs(86_400));
    assert_eq!(w.worker.dispatch_due().await.expect("dispatched"), 0);
    assert_eq!(bad.seen().len(), 1);
}
