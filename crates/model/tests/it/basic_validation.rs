//! Basic requests are rejected with an error that names the field and says exactly what is wrong.

use koofill_model::{BasicRequest, Problem, ValidationError};
use serde_json::{Value, json};

use crate::common::{assert_rejected, json, with, without};

/// The spec's mandatory fields of each activity (§1.3–§1.9, §7.2, §9), written out independently of the
/// parser.
const MANDATORY: [(&str, &[&str]); 12] = [
    ("basic-new-instance.json", &["activity", "orderId", "orderLineId", "businessId"]),
    ("basic-query-instance.json", &["activity", "instanceId"]),
    ("basic-refresh-instance.json", &["activity", "scene", "orderId", "orderLineId", "instanceId", "expireTime"]),
    ("basic-update-instance-status.json", &["activity", "instanceId", "status"]),
    ("basic-release-instance.json", &["activity", "instanceId"]),
    ("basic-upgrade-instance.json", &["activity", "instanceId", "orderId", "orderLineId"]),
    ("basic-change-instance-check.json", &["activity", "instanceId", "productInfo"]),
    ("basic-change-instance-check-string.json", &["activity", "instanceId", "productInfo"]),
    ("basic-order-notify.json", &["activity", "orderId", "orderLineId"]),
    ("basic-refresh-license-code.json", &["activity", "scene", "orderId", "orderLineId", "license", "expireTime"]),
    ("basic-update-license-code-status.json", &["activity", "license", "status"]),
    ("basic-release-license-code.json", &["activity", "license"]),
];

fn parse(body: &Value) -> Result<BasicRequest, ValidationError> {
    BasicRequest::from_value(body)
}

#[test]
fn removing_a_mandatory_field_names_it() {
    for (name, mandatory) in MANDATORY {
        let body = json(name);
        for field in mandatory {
            assert_rejected(parse(&without(&body, field)), field, Problem::Missing);
            assert_rejected(parse(&with(&body, field, Value::Null)), field, Problem::Missing);
            assert_rejected(parse(&with(&body, field, json!(""))), field, Problem::Empty);
        }
    }
}

#[test]
fn removing_an_optional_field_is_fine() {
    for (name, mandatory) in MANDATORY {
        let body = json(name);
        for field in body.as_object().unwrap().keys().filter(|k| !mandatory.contains(&k.as_str())) {
            let result = parse(&without(&body, field));
            assert!(result.is_ok(), "{name} without {field}: {:?}", result.err());
        }
    }
}

#[test]
fn fields_must_be_strings() {
    let body = json("basic-new-instance.json");
    let error = parse(&with(&body, "orderId", json!(123))).unwrap_err();
    assert_eq!(error.to_string(), "orderId must be a string");
    assert_rejected(parse(&with(&body, "activity", json!(1))), "activity", Problem::WrongType { expected: "a string" });
}

#[test]
fn too_long_fields() {
    let body = json("basic-new-instance.json");
    assert!(parse(&with(&body, "orderId", json!("x".repeat(64)))).is_ok());
    let error = parse(&with(&body, "orderId", json!("x".repeat(65)))).unwrap_err();
    assert_eq!(error, ValidationError::new("orderId", Problem::TooLong { max: 64 }));
    assert_eq!(error.to_string(), "orderId is longer than 64 characters");
    // Characters, not bytes: 64 Chinese characters fit.
    assert!(parse(&with(&body, "businessId", json!("码".repeat(64)))).is_ok());
    assert_rejected(parse(&with(&body, "testFlag", json!("100"))), "testFlag", Problem::TooLong { max: 2 });

    let refresh = json("basic-refresh-instance.json");
    assert_rejected(
        parse(&with(&refresh, "productId", json!("p".repeat(65)))),
        "productId",
        Problem::TooLong { max: 64 },
    );
}

#[test]
fn bad_enumerations() {
    let status = json("basic-update-instance-status.json");
    let error = parse(&with(&status, "status", json!("FROZEN"))).unwrap_err();
    assert_eq!(error.to_string(), "status must be one of FREEZE, UNFREEZE");

    let refresh = json("basic-refresh-instance.json");
    let error = parse(&with(&refresh, "scene", json!("renewal"))).unwrap_err();
    assert_eq!(error.field, "scene");
    assert_eq!(
        error.to_string(),
        "scene must be one of TRIAL_TO_FORMAL, RENEWAL, UNSUBSCRIBE_RENEWAL_PERIOD, RENEWAL_CHANGE"
    );
    for scene in ["TRIAL_TO_FORMAL", "RENEWAL", "UNSUBSCRIBE_RENEWAL_PERIOD", "RENEWAL_CHANGE"] {
        assert!(parse(&with(&refresh, "scene", json!(scene))).is_ok(), "{scene}");
    }

    let license = json("basic-refresh-license-code.json");
    let error = parse(&with(&license, "scene", json!("TRIAL_TO_FORMAL"))).unwrap_err();
    assert_eq!(error.to_string(), "scene must be one of RENEWAL, UNSUBSCRIBE_RENEWAL_PERIOD");
    assert!(parse(&with(&license, "scene", json!("UNSUBSCRIBE_RENEWAL_PERIOD"))).is_ok());

    let license_status = json("basic-update-license-code-status.json");
    assert!(parse(&with(&license_status, "status", json!("UNFREEZE"))).is_ok());
    assert_eq!(parse(&with(&license_status, "status", json!("RELEASED"))).unwrap_err().field, "status");

    let error = parse(&with(&status, "testFlag", json!("2"))).unwrap_err();
    assert_eq!(error.to_string(), "testFlag must be one of 0, 1");
}

#[test]
fn bad_times() {
    let refresh = json("basic-refresh-instance.json");
    for bad in
        ["2022112402361", "202211240236182", "2022112402361825", "20221324023618", "20220230023618", "2022-11-24 02:36"]
    {
        let error = parse(&with(&refresh, "expireTime", json!(bad))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "expireTime is not a valid time (expected yyyyMMddHHmmss or yyyyMMddHHmmssSSS)",
            "{bad}"
        );
    }
    let license = json("basic-refresh-license-code.json");
    assert_eq!(parse(&with(&license, "expireTime", json!("2023052320193x"))).unwrap_err().field, "expireTime");
}

#[test]
fn more_than_100_query_ids() {
    let ids: Vec<String> = (0..101).map(|i| format!("id-{i}")).collect();
    let body = json!({"activity": "queryInstance", "instanceId": ids.join(",")});
    let error = parse(&body).unwrap_err();
    assert_eq!(error, ValidationError::new("instanceId", Problem::TooMany { max: 100 }));
    assert_eq!(error.to_string(), "instanceId has more than 100 items");
    assert_eq!(error.result_code().as_str(), "000002");
}

#[test]
fn empty_or_long_query_ids() {
    let body = json!({"activity": "queryInstance", "instanceId": "a,,b"});
    assert_rejected(parse(&body), "instanceId[1]", Problem::Empty);
    let body = json!({"activity": "queryInstance", "instanceId": "a,"});
    assert_rejected(parse(&body), "instanceId[1]", Problem::Empty);
    let body = json!({"activity": "queryInstance", "instanceId": format!("a,{}", "x".repeat(65))});
    assert_rejected(parse(&body), "instanceId[1]", Problem::TooLong { max: 64 });
}

#[test]
fn unknown_activity() {
    let error = BasicRequest::parse(br#"{"activity":"foo","orderId":"x"}"#).unwrap_err();
    assert_eq!(error, ValidationError::new("activity", Problem::UnknownActivity("foo".into())));
    assert_eq!(error.to_string(), "activity \"foo\" is not supported");
    // Case matters, as on the wire.
    assert!(matches!(
        BasicRequest::parse(br#"{"activity":"NewInstance"}"#).unwrap_err().problem,
        Problem::UnknownActivity(_)
    ));
}

#[test]
fn malformed_bodies() {
    let error = BasicRequest::parse(b"{\"activity\":").unwrap_err();
    assert_eq!(error.field, "");
    assert!(matches!(error.problem, Problem::BadJson(_)));
    assert!(error.to_string().starts_with("body is not valid JSON: "), "{error}");

    for body in [&b"[]"[..], b"\"newInstance\"", b"42", b"null"] {
        assert_rejected(BasicRequest::parse(body), "", Problem::WrongType { expected: "a JSON object" });
    }
    assert_rejected(BasicRequest::parse(b"{}"), "activity", Problem::Missing);
    assert!(matches!(BasicRequest::parse(b"").unwrap_err().problem, Problem::BadJson(_)));
    assert!(matches!(BasicRequest::parse(&[0xff, 0xfe]).unwrap_err().problem, Problem::BadJson(_)));
}

#[test]
fn product_info_errors_name_the_nested_field() {
    let body = json("basic-change-instance-check.json");
    let mut info = body["productInfo"].clone();
    info.as_object_mut().unwrap().remove("productId");
    assert_rejected(parse(&with(&body, "productInfo", info)), "productInfo.productId", Problem::Missing);

    assert_rejected(
        parse(&with(&body, "productInfo", json!({"productId": "P", "linearValue": "fifty"}))),
        "productInfo.linearValue",
        Problem::BadFormat { what: "number", expected: "a number or a numeric string" },
    );
    assert_rejected(
        parse(&with(&body, "productInfo", json!([1]))),
        "productInfo",
        Problem::WrongType { expected: "a JSON object" },
    );
    let error = parse(&with(&body, "productInfo", json!("{productId:"))).unwrap_err();
    assert_eq!(error.field, "productInfo");
    assert!(error.to_string().starts_with("productInfo is not valid JSON: "), "{error}");
}
