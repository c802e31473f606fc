//! The parsers face untrusted input: whatever arrives, they answer with a value or an error, never a panic.

use koofill_model::{BasicRequest, KitInterface, KitRequest, lenient_json};
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::common::json;

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-zA-Z0-9 ,:'\"{}\\[\\]\\\\]{0,24}".prop_map(Value::String),
        Just(Value::String("20221124023618256".into())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Field names the parsers look at, so random objects reach deep into validation.
const KEYS: [&str; 22] = [
    "activity",
    "orderId",
    "orderLineId",
    "businessId",
    "instanceId",
    "testFlag",
    "scene",
    "expireTime",
    "status",
    "productInfo",
    "license",
    "tenantId",
    "appId",
    "userList",
    "orgInfoList",
    "orgInfo",
    "flag",
    "timeStamp",
    "currentSyncTime",
    "clientSecret",
    "orgCode",
    "orgName",
];

fn fixture_with_one_field_replaced() -> impl Strategy<Value = (String, Value)> {
    let names = prop::sample::select(vec![
        "basic-new-instance.json",
        "basic-refresh-instance.json",
        "basic-change-instance-check.json",
        "kit-tenant-sync.json",
        "kit-auth-sync-user-list-array.json",
        "kit-all-org-sync.json",
    ]);
    (names, prop::sample::select(KEYS.to_vec()), any_json()).prop_map(|(name, key, value)| {
        let mut body = json(name);
        body.as_object_mut().expect("fixtures are objects").insert(key.to_owned(), value);
        (name.to_owned(), body)
    })
}

fn interface_for(name: &str) -> Option<KitInterface> {
    match name {
        "kit-tenant-sync.json" => Some(KitInterface::TenantSync),
        "kit-auth-sync-user-list-array.json" => Some(KitInterface::AuthSync),
        "kit-all-org-sync.json" => Some(KitInterface::AllOrgSync),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn basic_parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = BasicRequest::parse(&bytes);
    }

    #[test]
    fn kit_parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        for interface in KitInterface::ALL {
            let _ = KitRequest::parse(*interface, &bytes);
        }
    }

    #[test]
    fn parsers_never_panic_on_json(value in any_json()) {
        let _ = BasicRequest::from_value(&value);
        for interface in KitInterface::ALL {
            let _ = KitRequest::from_value(*interface, &value);
        }
    }

    #[test]
    fn parsers_never_panic_on_damaged_examples((name, body) in fixture_with_one_field_replaced()) {
        match interface_for(&name) {
            Some(interface) => {
                if let Ok(request) = KitRequest::from_value(interface, &body) {
                    let _ = request.dedup_id();
                    prop_assert!(serde_json::to_value(&request).is_ok());
                }
            }
            None => {
                if let Ok(request) = BasicRequest::from_value(&body) {
                    let _ = request.dedup_id();
                    prop_assert!(serde_json::to_value(&request).is_ok());
                }
            }
        }
    }

    #[test]
    fn lenient_parser_never_panics_on_json_ish_text(text in "[\\[\\]{}:,'\"\\\\a-z0-9 .+eE\\-uU_$产品部\\n]{0,64}") {
        let _ = lenient_json::parse(&text);
    }

    #[test]
    fn lenient_parser_never_panics_on_any_string(text in any::<String>()) {
        let _ = lenient_json::parse(&text);
    }

    #[test]
    fn lenient_parser_agrees_with_serde_json_on_strict_json(value in any_json()) {
        let text = value.to_string();
        prop_assert_eq!(lenient_json::parse(&text).ok(), serde_json::from_str::<Value>(&text).ok());
    }
}

#[test]
fn deeply_nested_bodies_are_refused_without_overflowing() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(BasicRequest::parse(deep.as_bytes()).is_err());
    let body = format!(
        r#"{{"instanceId":"i","tenantId":"t","orgInfoList":"{}","testFlag":0,"timeStamp":"20220413093539534"}}"#,
        "[".repeat(100_000)
    );
    assert!(KitRequest::parse(KitInterface::AllOrgSync, body.as_bytes()).is_err());
}
