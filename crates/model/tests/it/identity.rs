//! Ids qualified with the request identity: distinct requests never share an id, one request
//! (published again by our own retries) always has the same one; authSync ids carry the users.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use koofill_model::identity::parse_request_timestamp;
use koofill_model::kit::AuthSync;
use koofill_model::time::TimeError;
use koofill_model::{BasicRequest, Envelope, KitInterface, KitRequest, RequestIdentity};
use serde_json::{Value, json};

use crate::common::{fixture, json, with};

fn millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).expect("in range")
}

fn status(value: &str) -> BasicRequest {
    BasicRequest::from_value(&json!({"activity": "updateInstanceStatus", "instanceId": "i-1", "status": value}))
        .expect("a valid updateInstanceStatus")
}

fn auth(body: &Value) -> AuthSync {
    match KitRequest::from_value(KitInterface::AuthSync, body).expect("a valid authSync") {
        KitRequest::AuthSync(a) => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn request_timestamps_are_milliseconds_or_seconds_up_to_ten_digits() {
    assert_eq!(parse_request_timestamp("1680508066618"), Ok(millis(1_680_508_066_618)));
    assert_eq!(parse_request_timestamp("1680508066"), Ok(millis(1_680_508_066_000)));
    assert_eq!(parse_request_timestamp(" 1680508066618 "), Ok(millis(1_680_508_066_618)));
    assert!(matches!(parse_request_timestamp(""), Err(TimeError::WrongLength { len: 0, .. })));
    assert!(matches!(parse_request_timestamp("-1"), Err(TimeError::NotDigits { .. })));
    assert!(matches!(parse_request_timestamp("12a"), Err(TimeError::NotDigits { .. })));
    assert!(matches!(parse_request_timestamp("9999999999999999999"), Err(TimeError::WrongLength { len: 19, .. })));
    assert_eq!(parse_request_timestamp("999999999999999999"), Err(TimeError::OutOfRange));
    assert_eq!(RequestIdentity::new("1680508066", "n").requested_at(), Some(millis(1_680_508_066_000)));
    assert_eq!(RequestIdentity::new("soon", "n").requested_at(), None);
}

#[test]
fn freeze_unfreeze_freeze_within_one_second_are_three_messages() {
    // Seconds-precision timestamps, all in the same second: only the nonces differ.
    let calls = [("FREEZE", "N1"), ("UNFREEZE", "N2"), ("FREEZE", "N3")];
    let ids: Vec<String> = calls
        .iter()
        .map(|(s, nonce)| status(s).message_id(&RequestIdentity::new("1680508066", *nonce)).unwrap())
        .collect();
    assert_eq!(ids[0], "updateInstanceStatus:i-1:FREEZE:1680508066:N1");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 3, "{ids:?}");
    // And in the same millisecond.
    let a = status("FREEZE").message_id(&RequestIdentity::new("1680508066618", "N1"));
    let b = status("FREEZE").message_id(&RequestIdentity::new("1680508066618", "N3"));
    assert_ne!(a, b);
}

#[test]
fn the_same_request_published_again_keeps_its_id() {
    let identity = RequestIdentity::new("1680508066618", "50D83FDECAED6CCD");
    for name in ["basic-update-instance-status.json", "basic-update-license-code-status.json"] {
        let request = BasicRequest::parse(&fixture(name)).unwrap();
        let first = request.message_id(&identity).unwrap();
        assert_eq!(request.message_id(&identity.clone()).unwrap(), first, "{name}");
        assert_eq!(first, format!("{}:1680508066618:50D83FDECAED6CCD", request.dedup_id().unwrap()));
        let envelope = |at| Envelope::basic_callback(&request, json(name), &identity, at).unwrap();
        // Received twice (a publish retry), built twice: one id, one requested_at.
        let (one, two) = (envelope(millis(1)), envelope(millis(2)));
        assert_eq!((one.id, one.requested_at), (two.id, two.requested_at));
    }
}

#[test]
fn keyed_activities_ignore_the_request_identity() {
    // A KooGallery retry of newInstance is a new request with a new nonce: still one order.
    let request = BasicRequest::parse(&fixture("basic-new-instance.json")).unwrap();
    let first = request.message_id(&RequestIdentity::new("1680508066618", "N1"));
    let retry = request.message_id(&RequestIdentity::new("1680511666618", "N2"));
    assert_eq!(first, retry);
    assert_eq!(first, request.dedup_id());
    let query = BasicRequest::parse(&fixture("basic-query-instance.json")).unwrap();
    assert_eq!(query.message_id(&RequestIdentity::new("1", "N")), None);
}

#[test]
fn every_kit_call_is_a_message_of_its_own() {
    let request = KitRequest::parse(KitInterface::TenantSync, &fixture("kit-tenant-sync.json")).unwrap();
    let id = |ts: &str, nonce: &str| request.message_id(&RequestIdentity::new(ts, nonce));
    assert_eq!(id("1680508066618", "N1"), format!("{}:1680508066618:N1", request.dedup_id()));
    assert_eq!(id("1680508066618", "N1"), id("1680508066618", "N1"));
    // The same body (an add sent again, or a second add after a delete within the body's second).
    assert_ne!(id("1680508066618", "N1"), id("1680508066618", "N2"));
}

#[test]
fn auth_sync_batches_differing_only_in_users_get_different_ids() {
    let body = json("kit-auth-sync-user-list-array.json");
    let users = body["userList"].as_array().unwrap().clone();
    let first = with(&body, "userList", Value::Array(users[..1].to_vec()));
    let second = with(&body, "userList", Value::Array(users[1..].to_vec()));
    let (a, b) = (auth(&first), auth(&second));
    assert_ne!(a.dedup_id(), b.dedup_id());
    let identity = RequestIdentity::new("1680508066618", "N1");
    let id = |v: &Value| KitRequest::from_value(KitInterface::AuthSync, v).unwrap().message_id(&identity);
    assert_ne!(id(&first), id(&second), "even with one request identity");

    // One user's fields changed: another batch too.
    let mut changed = users.clone();
    changed[0]["role"] = json!("user");
    assert_ne!(auth(&with(&body, "userList", Value::Array(changed))).dedup_id(), auth(&body).dedup_id());
}

#[test]
fn the_users_digest_is_canonical() {
    let array = auth(&json("kit-auth-sync-user-list-array.json"));
    let string = auth(&json("kit-auth-sync-user-list-string.json"));
    assert_eq!(array.users_digest(), string.users_digest(), "array or string holding one");
    let body = json("kit-auth-sync-user-list-array.json");
    let mut users = body["userList"].as_array().unwrap().clone();
    users.reverse();
    assert_eq!(auth(&with(&body, "userList", Value::Array(users))).users_digest(), array.users_digest());
    assert_eq!(array.users_digest().len(), 16);
    assert!(array.users_digest().bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    // Pinned, so that a change of the canonical form is a deliberate one.
    assert_eq!(array.users_digest(), "38bcc83f3bcf4656");
}
