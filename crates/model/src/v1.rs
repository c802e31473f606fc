//! The retired V1 interfaces read as their V2 twins (spec §1.13, §2.3, §5.1).
//!
//! Products listed before V2 still receive V1 calls: the basic activities as a `GET` with every
//! field in the query string, the Kit syncs as a `POST` to `/produceAPI/{name}`. Rather than a
//! second pipeline, a V1 call is rewritten into the body its V2 twin would have carried and goes
//! through [`BasicRequest::parse`](crate::BasicRequest::parse), the same dedup keys, workers and
//! answers. The Kit V1 bodies need no rewriting: the Kit parsers already accept the V1 shapes
//! (`userList` / `orgInfo` as strings, `name` for `orgName`).
//!
//! | V1 `activity` | V2 body |
//! |---|---|
//! | `newInstance` | `newInstance`; `orderLineId` = `productId` (a V1 instance is one per order and product), or `orderId` without one |
//! | `refreshInstance` | `refreshInstance`; `scene` from `trialToFormal=1` (TRIAL_TO_FORMAL), a negative `orderAmount` (UNSUBSCRIBE_RENEWAL_PERIOD), else RENEWAL |
//! | `expireInstance` | `updateInstanceStatus` with `FREEZE` (V2 freezes an expired instance) |
//! | `instanceStatus` | `updateInstanceStatus`: `FREEZE` → `FREEZE`, `NORMAL` → `UNFREEZE` |
//! | `releaseInstance` | `releaseInstance` |
//! | `upgrade` | `upgradeInstance`; `orderLineId` as for `newInstance` |
//! | `queryInstance` | `queryInstance` |
//!
//! V1 has no nonce: the `authToken` itself identifies a request (it covers the timestamp and every
//! parameter), so [`request_nonce`] derives the replay key from it.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::time::{parse_compact, parse_utc8};
use crate::validation::{Problem, ValidationError};

/// The V1 timestamp parameter (`yyyyMMddHHmmssSSS`; UTC for the basic calls, UTC+8 in Kit bodies).
pub const TIME_STAMP: &str = "timeStamp";

/// A V1 basic call rewritten as V2.
#[derive(Debug, Clone, PartialEq)]
pub struct V1Basic {
    /// The body of the V2 twin, to parse and publish as if KooGallery had sent it.
    pub body: Value,
    /// When KooGallery signed the call (its `timeStamp`).
    pub requested_at: DateTime<Utc>,
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn required<'a>(params: &'a [(String, String)], name: &str) -> Result<&'a str, ValidationError> {
    match param(params, name) {
        None => Err(ValidationError::new(name, Problem::Missing)),
        Some(v) if v.trim().is_empty() => Err(ValidationError::new(name, Problem::Empty)),
        Some(v) => Ok(v),
    }
}

/// When a V1 basic call was signed: its `timeStamp`, 17 (or 14) digits in UTC.
///
/// # Errors
/// A [`ValidationError`] naming `timeStamp` when it is missing or not such a time.
pub fn basic_requested_at(params: &[(String, String)]) -> Result<DateTime<Utc>, ValidationError> {
    parse_compact(required(params, TIME_STAMP)?.trim()).map_err(|_| bad_time())
}

/// When a Kit V1 body was signed: its `timeStamp`, in UTC+8 like every Kit time (spec §5.1).
///
/// # Errors
/// A [`ValidationError`] naming `timeStamp` when it is missing or not such a time.
pub fn kit_requested_at(params: &[(String, String)]) -> Result<DateTime<Utc>, ValidationError> {
    parse_utc8(required(params, TIME_STAMP)?.trim()).map_err(|_| bad_time())
}

fn bad_time() -> ValidationError {
    ValidationError::new(TIME_STAMP, Problem::BadFormat { what: "time", expected: "yyyyMMddHHmmssSSS" })
}

/// The replay key of a V1 request: `v1-` and 32 hex digits of SHA-256 of its `authToken`. Two
/// requests share it only when they carry the same token, which (being an HMAC over the
/// timestamp and every parameter) means the same request sent again.
pub fn request_nonce(auth_token: &str) -> String {
    let digest = Sha256::digest(auth_token.trim().replace(' ', "+").as_bytes());
    format!("v1-{}", hex::encode(&digest[..16]))
}

/// Rewrites the decoded query parameters of a V1 basic call (`authToken` may be among them and is
/// ignored) into its V2 twin; see the module table.
///
/// # Errors
/// A [`ValidationError`] naming the field: a missing or unknown `activity`, a missing mandatory
/// field, a bad `timeStamp` or `instanceStatus`.
pub fn basic_from_query(params: &[(String, String)]) -> Result<V1Basic, ValidationError> {
    let requested_at = basic_requested_at(params)?;
    let activity = required(params, "activity")?;
    let (v2_activity, copied): (&str, &[&str]) = match activity {
        "newInstance" => ("newInstance", &["orderId", "businessId"]),
        // productId names the order line in V1 (see `order_line`), not a change of product.
        "refreshInstance" => ("refreshInstance", &["orderId", "instanceId", "expireTime"]),
        "expireInstance" | "instanceStatus" => ("updateInstanceStatus", &["instanceId"]),
        "releaseInstance" => ("releaseInstance", &["instanceId", "orderId"]),
        "upgrade" => ("upgradeInstance", &["instanceId", "orderId"]),
        "queryInstance" => ("queryInstance", &["instanceId"]),
        other => {
            return Err(ValidationError::new("activity", Problem::UnknownActivity(other.chars().take(40).collect())));
        }
    };
    let mut body = Map::new();
    let mut put = |name: &str, value: &str| {
        body.insert(name.to_owned(), Value::String(value.to_owned()));
    };
    put("activity", v2_activity);
    // Every V1 activity may carry testFlag; V2 reads the same name and values.
    for name in copied.iter().chain(&["testFlag"]) {
        if let Some(v) = param(params, name) {
            put(name, v);
        }
    }
    match activity {
        "newInstance" | "upgrade" => put("orderLineId", order_line(params)?),
        "refreshInstance" => {
            put("orderLineId", order_line(params)?);
            put("scene", refresh_scene(params));
        }
        "expireInstance" => put("status", "FREEZE"),
        "instanceStatus" => put(
            "status",
            match required(params, "instanceStatus")?.trim() {
                "FREEZE" => "FREEZE",
                "NORMAL" => "UNFREEZE",
                _ => {
                    let allowed = vec!["FREEZE".to_owned(), "NORMAL".to_owned()];
                    return Err(ValidationError::new("instanceStatus", Problem::NotOneOf { allowed }));
                }
            },
        ),
        _ => {}
    }
    Ok(V1Basic { body: Value::Object(body), requested_at })
}

/// The order line a V1 call stands for: its `productId` (V1 opens one instance per order and
/// product), or the order itself when no product is named.
fn order_line(params: &[(String, String)]) -> Result<&str, ValidationError> {
    match param(params, "productId").map(str::trim).filter(|p| !p.is_empty()) {
        Some(product) => Ok(product),
        None => required(params, "orderId"),
    }
}

/// V1 says why an instance is refreshed through `trialToFormal` and the sign of `orderAmount`.
fn refresh_scene(params: &[(String, String)]) -> &'static str {
    if param(params, "trialToFormal").is_some_and(|v| v.trim() == "1") {
        "TRIAL_TO_FORMAL"
    } else if param(params, "orderAmount").is_some_and(|v| v.trim_start().starts_with('-')) {
        "UNSUBSCRIBE_RENEWAL_PERIOD"
    } else {
        "RENEWAL"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BasicRequest;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn v2(pairs: &[(&str, &str)]) -> BasicRequest {
        let v1 = basic_from_query(&params(pairs)).expect("rewritten");
        BasicRequest::parse(&serde_json::to_vec(&v1.body).unwrap()).expect("a valid V2 body")
    }

    #[test]
    fn the_published_new_instance_becomes_its_v2_twin() {
        let request = v2(&[
            ("activity", "newInstance"),
            ("businessId", "61e834ba-7b97-4418-b8f7-e5345137278c"),
            ("customerId", "68cbc86abc2018ab880d92f36422fa0e"),
            ("expireTime", "20200727153156"),
            ("orderId", "CS1906666666ABCDE"),
            ("productId", "00301-666666-0--0"),
            ("testFlag", "1"),
            ("timeStamp", "20200727073711903"),
            ("authToken", "Gzbfjf9LHRBcI3bFVi++sLinCNOBF6qa7is1fvjEgYQ="),
        ]);
        let BasicRequest::NewInstance(new) = request else { panic!("{request:?}") };
        assert_eq!(new.order_id.as_str(), "CS1906666666ABCDE");
        assert_eq!(new.order_line_id.as_str(), "00301-666666-0--0");
        assert!(new.is_test());
        assert_eq!(new.dedup_id(), "test:newInstance:CS1906666666ABCDE:00301-666666-0--0");
    }

    #[test]
    fn refresh_scenes_follow_trial_and_amount() {
        let base = [
            ("activity", "refreshInstance"),
            ("instanceId", "i-1"),
            ("orderId", "CS2"),
            ("expireTime", "20300101000000"),
            ("timeStamp", "20170725025113409"),
        ];
        let scene = |extra: &[(&str, &str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            match v2(&all) {
                BasicRequest::RefreshInstance(r) => r.scene.as_str().to_owned(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(scene(&[]), "RENEWAL");
        assert_eq!(scene(&[("trialToFormal", "1")]), "TRIAL_TO_FORMAL");
        assert_eq!(scene(&[("orderAmount", "-12.300")]), "UNSUBSCRIBE_RENEWAL_PERIOD");
    }

    #[test]
    fn expiry_and_status_become_freeze_and_unfreeze() {
        let ts = ("timeStamp", "20230327070251713");
        let status = |pairs: &[(&str, &str)]| match v2(pairs) {
            BasicRequest::UpdateInstanceStatus(u) => u.status.as_str().to_owned(),
            other => panic!("{other:?}"),
        };
        assert_eq!(status(&[("activity", "expireInstance"), ("instanceId", "i"), ts]), "FREEZE");
        assert_eq!(
            status(&[("activity", "instanceStatus"), ("instanceId", "i"), ("instanceStatus", "FREEZE"), ts]),
            "FREEZE"
        );
        assert_eq!(
            status(&[("activity", "instanceStatus"), ("instanceId", "i"), ("instanceStatus", "NORMAL"), ts]),
            "UNFREEZE"
        );
        let bad = basic_from_query(&params(&[
            ("activity", "instanceStatus"),
            ("instanceId", "i"),
            ("instanceStatus", "GONE"),
            ts,
        ]))
        .unwrap_err();
        assert_eq!(bad.field, "instanceStatus");
    }

    #[test]
    fn release_upgrade_and_query_keep_their_fields() {
        let ts = ("timeStamp", "20230327070251713");
        assert!(matches!(
            v2(&[("activity", "releaseInstance"), ("instanceId", "i"), ("orderId", "CS3"), ts]),
            BasicRequest::ReleaseInstance(r) if r.instance_id.as_str() == "i"
        ));
        assert!(matches!(
            v2(&[("activity", "upgrade"), ("instanceId", "i"), ("orderId", "CS4"), ("productId", "p"), ts]),
            BasicRequest::UpgradeInstance(u) if u.order_line_id.as_str() == "p" && u.order_id.as_str() == "CS4"
        ));
        assert!(matches!(
            v2(&[("activity", "queryInstance"), ("instanceId", "a,b"), ts]),
            BasicRequest::QueryInstance(q) if q.instance_ids.len() == 2
        ));
    }

    #[test]
    fn errors_name_the_field() {
        let no_ts = basic_from_query(&params(&[("activity", "newInstance"), ("orderId", "o")])).unwrap_err();
        assert_eq!(no_ts.field, "timeStamp");
        let bad_ts =
            basic_from_query(&params(&[("activity", "newInstance"), ("timeStamp", "2020-07-27")])).unwrap_err();
        assert_eq!(bad_ts.field, "timeStamp");
        let unknown =
            basic_from_query(&params(&[("activity", "orderNotify"), ("timeStamp", "20200727073711903")])).unwrap_err();
        assert_eq!(unknown.field, "activity");
        let no_order =
            basic_from_query(&params(&[("activity", "newInstance"), ("timeStamp", "20200727073711903")])).unwrap_err();
        assert_eq!(no_order.field, "orderId");
    }

    #[test]
    fn timestamps_read_in_their_zones() {
        let p = params(&[("timeStamp", "20220420114117642")]);
        let utc = basic_requested_at(&p).unwrap();
        let beijing = kit_requested_at(&p).unwrap();
        assert_eq!((utc - beijing).num_hours(), 8);
    }

    #[test]
    fn the_replay_key_depends_on_the_token_alone() {
        assert_eq!(request_nonce("a+b="), request_nonce("a b="));
        assert_ne!(request_nonce("a+b="), request_nonce("a+c="));
        assert_eq!(request_nonce("x").len(), 3 + 32);
    }
}
