//! KooGallery's retired V1 dialect (spec §1.13, §2.3, §5.1), for products listed before V2.
//!
//! The simulator builds every call as V2 and, when told to speak V1 ([`crate::CallbackSender::v1`]),
//! rewrites it here: a basic body becomes the query of a `GET` with `timeStamp` (UTC
//! `yyyyMMddHHmmssSSS`) and `authToken`; a Kit body goes to `/produceAPI/{name}` with an
//! `authToken` header and V1's shapes (`userList` and `orgInfo` as strings holding JSON, `name` for
//! a department's name). The rewriting is the inverse of koofill's reading
//! (`koofill_model::v1`): the V2 `orderLineId` travels as V1's `productId`, the key V1 opens one
//! instance per.

use koofill_model::time::format_compact17;
use koofill_signing::{percent::encode_rfc3986, v1};
use serde_json::{Map, Value};

/// The V1 parameters of a V2 basic body, or `None` for an activity V1 does not have
/// (`orderNotify`, `changeInstanceCheck`, the License 2.0 activities).
pub fn basic_params(body: &Value) -> Option<Vec<(String, String)>> {
    let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    let mut params = Vec::new();
    let mut copy = |v1_name: &str, v2_name: &str| {
        if let Some(v) = field(v2_name) {
            params.push((v1_name.to_owned(), v));
        }
    };
    let activity = field("activity")?;
    let v1_activity = match activity.as_str() {
        "newInstance" => {
            copy("orderId", "orderId");
            copy("businessId", "businessId");
            copy("productId", "orderLineId");
            "newInstance"
        }
        "refreshInstance" => {
            copy("instanceId", "instanceId");
            copy("orderId", "orderId");
            copy("productId", "orderLineId");
            copy("expireTime", "expireTime");
            match field("scene").as_deref() {
                Some("TRIAL_TO_FORMAL") => params.push(("trialToFormal".to_owned(), "1".to_owned())),
                Some("UNSUBSCRIBE_RENEWAL_PERIOD") => params.push(("orderAmount".to_owned(), "-1.000".to_owned())),
                _ => {}
            }
            "refreshInstance"
        }
        "updateInstanceStatus" => {
            copy("instanceId", "instanceId");
            let status = if field("status").as_deref() == Some("UNFREEZE") { "NORMAL" } else { "FREEZE" };
            params.push(("instanceStatus".to_owned(), status.to_owned()));
            "instanceStatus"
        }
        "releaseInstance" => {
            copy("instanceId", "instanceId");
            copy("orderId", "orderId");
            "releaseInstance"
        }
        "upgradeInstance" => {
            copy("instanceId", "instanceId");
            copy("orderId", "orderId");
            copy("productId", "orderLineId");
            "upgrade"
        }
        "queryInstance" => {
            copy("instanceId", "instanceId");
            "queryInstance"
        }
        // Not a V1 activity name either: sent as is, so the target can refuse it.
        other if !matches!(other, "orderNotify" | "changeInstanceCheck") && !other.contains("License") => {
            params.push(("activity".to_owned(), other.to_owned()));
            if let Some(v) = field("testFlag") {
                params.push(("testFlag".to_owned(), v));
            }
            return Some(params);
        }
        _ => return None,
    };
    params.insert(0, ("activity".to_owned(), v1_activity.to_owned()));
    if let Some(v) = field("testFlag") {
        params.push(("testFlag".to_owned(), v));
    }
    Some(params)
}

/// The signed V1 query (no leading `?`): `params`, `timeStamp` for `now_ms` (UTC) and `authToken`
/// computed with `key`, every name and value percent-encoded.
pub fn signed_query(key: &[u8], params: &[(String, String)], now_ms: i64) -> String {
    let mut all = params.to_vec();
    let at = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
    all.push((v1::TIME_STAMP.to_owned(), format_compact17(at)));
    let token = v1::auth_token(key, &all).unwrap_or_default();
    all.push((v1::AUTH_TOKEN.to_owned(), token));
    all.iter().map(|(k, v)| format!("{}={}", encode_rfc3986(k), encode_rfc3986(v))).collect::<Vec<_>>().join("&")
}

/// A V2 Kit body in V1's shapes: `userList` as a string holding the JSON array; `orgInfoList`
/// renamed `orgInfo`, as a string, its items' `orgName` renamed `name`.
pub fn kit_body(body: &Value) -> Value {
    let Value::Object(map) = body else { return body.clone() };
    let mut out = Map::new();
    for (name, value) in map {
        match (name.as_str(), value) {
            ("userList", list @ Value::Array(_)) => {
                out.insert(name.clone(), Value::String(list.to_string()));
            }
            ("orgInfoList", Value::Array(items)) => {
                let renamed: Vec<Value> = items
                    .iter()
                    .map(|item| match item {
                        Value::Object(fields) => Value::Object(
                            fields
                                .iter()
                                .map(|(k, v)| (if k == "orgName" { "name".to_owned() } else { k.clone() }, v.clone()))
                                .collect(),
                        ),
                        other => other.clone(),
                    })
                    .collect();
                out.insert("orgInfo".to_owned(), Value::String(Value::Array(renamed).to_string()));
            }
            _ => {
                out.insert(name.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

/// The `authToken` header of a Kit V1 body: the token over its top-level fields (the spec's
/// recommendation for the undocumented V1 POST string).
pub fn kit_token(key: &[u8], body: &[u8]) -> String {
    v1::params_from_json_body(body).ok().and_then(|params| v1::auth_token(key, &params).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use koofill_model::BasicRequest;
    use serde_json::json;

    use super::*;

    /// What the simulator sends, read back the way koofill reads it, is the V2 body it started from.
    #[test]
    fn basic_bodies_survive_the_round_trip_through_v1() {
        let bodies = [
            json!({"activity": "newInstance", "orderId": "CS1", "orderLineId": "CS1-000001", "businessId": "b", "testFlag": "1"}),
            json!({"activity": "refreshInstance", "scene": "TRIAL_TO_FORMAL", "orderId": "CS2", "orderLineId": "CS2-000001", "instanceId": "i", "expireTime": "20300101000000"}),
            json!({"activity": "refreshInstance", "scene": "UNSUBSCRIBE_RENEWAL_PERIOD", "orderId": "CS2", "orderLineId": "CS2-000001", "instanceId": "i", "expireTime": "20300101000000"}),
            json!({"activity": "updateInstanceStatus", "instanceId": "i", "status": "UNFREEZE"}),
            json!({"activity": "upgradeInstance", "instanceId": "i", "orderId": "CS3", "orderLineId": "CS3-000001"}),
            json!({"activity": "releaseInstance", "instanceId": "i", "orderId": "CS1"}),
            json!({"activity": "queryInstance", "instanceId": "i"}),
        ];
        for body in bodies {
            let mut params = basic_params(&body).unwrap();
            params.push(("timeStamp".to_owned(), "20300101000000000".to_owned()));
            let twin = koofill_model::v1::basic_from_query(&params).unwrap();
            let original = BasicRequest::parse(&serde_json::to_vec(&body).unwrap()).unwrap();
            let read_back = BasicRequest::parse(&serde_json::to_vec(&twin.body).unwrap()).unwrap();
            assert_eq!(read_back, original, "{body}");
        }
        assert!(basic_params(&json!({"activity": "orderNotify", "orderId": "x"})).is_none());
    }

    #[test]
    fn kit_bodies_take_v1_shapes_and_still_parse() {
        let body = json!({"instanceId": "i", "tenantId": "t", "testFlag": 0, "timeStamp": "20220413093539534",
            "orgInfoList": [{"orgCode": "1", "orgName": "开发部", "parentCode": ""}]});
        let v1 = kit_body(&body);
        assert!(v1["orgInfo"].as_str().unwrap().contains("\"name\":\"开发部\""), "{v1}");
        let parsed = koofill_model::KitRequest::parse(
            koofill_model::KitInterface::AllOrgSync,
            &serde_json::to_vec(&v1).unwrap(),
        );
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn the_signed_query_verifies() {
        let params = basic_params(&json!({"activity": "queryInstance", "instanceId": "i"})).unwrap();
        let query = signed_query(b"k", &params, 1_700_000_000_000);
        let decoded = koofill_signing::percent::parse_query(&query);
        assert!(v1::verify(b"k", &decoded, None).is_ok());
        assert!(v1::verify(b"other", &decoded, None).is_err());
    }
}
