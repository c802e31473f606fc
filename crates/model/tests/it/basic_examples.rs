//! Every basic request example of the spec parses, means what the spec says, and serialises back.

use koofill_model::basic::{ChangeInstanceCheck, InstanceStatus, LicenseScene, RefreshScene};
use koofill_model::time::Precision;
use koofill_model::{Activity, BasicRequest, Family, InstanceId};
use serde_json::{Value, json};

use crate::common::{fixture, json};

const EXAMPLES: [(&str, Activity); 12] = [
    ("basic-new-instance.json", Activity::NewInstance),
    ("basic-query-instance.json", Activity::QueryInstance),
    ("basic-refresh-instance.json", Activity::RefreshInstance),
    ("basic-update-instance-status.json", Activity::UpdateInstanceStatus),
    ("basic-release-instance.json", Activity::ReleaseInstance),
    ("basic-upgrade-instance.json", Activity::UpgradeInstance),
    ("basic-change-instance-check.json", Activity::ChangeInstanceCheck),
    ("basic-change-instance-check-string.json", Activity::ChangeInstanceCheck),
    ("basic-order-notify.json", Activity::OrderNotify),
    ("basic-refresh-license-code.json", Activity::RefreshLicenseCode),
    ("basic-update-license-code-status.json", Activity::UpdateLicenseCodeStatus),
    ("basic-release-license-code.json", Activity::ReleaseLicenseCode),
];

fn parse(name: &str) -> BasicRequest {
    BasicRequest::parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_example_parses_and_round_trips() {
    for (name, activity) in EXAMPLES {
        let request = parse(name);
        assert_eq!(request.activity(), activity, "{name}");
        assert_eq!(serde_json::to_value(&request).unwrap(), json(name), "{name} does not round-trip");
        // Deserialize validates the same way.
        let again: BasicRequest = serde_json::from_value(json(name)).unwrap();
        assert_eq!(again, request, "{name}");
    }
}

#[test]
fn every_activity_has_an_example() {
    for activity in Activity::ALL {
        assert!(EXAMPLES.iter().any(|(_, a)| a == activity), "no example for {activity}");
        assert_eq!(activity.as_str().parse::<Activity>(), Ok(*activity));
    }
}

#[test]
fn dedup_ids_follow_the_architecture_and_separate_debug_calls() {
    let expected = [
        ("basic-new-instance.json", Some("test:newInstance:CS2211181819B4LVS:CS2211181819B4LVS-000001")),
        ("basic-query-instance.json", None),
        (
            "basic-refresh-instance.json",
            Some("test:refreshInstance:10e758d0-31ad-4c4b-8f1b-81d03469a10e:CS2211181819B4LVS:RENEWAL"),
        ),
        (
            "basic-update-instance-status.json",
            Some("test:updateInstanceStatus:10e758d0-31ad-4c4b-8f1b-81d03469a10e:FREEZE"),
        ),
        ("basic-release-instance.json", Some("test:releaseInstance:10e758d0-31ad-4c4b-8f1b-81d03469a10e")),
        // testFlag "0": a real call, no prefix.
        ("basic-upgrade-instance.json", Some("upgradeInstance:10e758d0-31ad-4c4b-8f1b-81d03469a10e:CS2211181819B4LVS")),
        ("basic-change-instance-check.json", None),
        ("basic-order-notify.json", Some("test:orderNotify:CS2211181819B4LVS:CS2211181819B4LVS-000001")),
        ("basic-refresh-license-code.json", Some("test:refreshLicenseCode:******:******:RENEWAL")),
        ("basic-update-license-code-status.json", Some("test:updateLicenseCodeStatus:******:FREEZE")),
        ("basic-release-license-code.json", Some("test:releaseLicenseCode:*******")),
    ];
    for (name, id) in expected {
        let request = parse(name);
        assert_eq!(request.dedup_id().as_deref(), id, "{name}");
        assert_eq!(request.dedup_id().is_some(), request.activity().is_published(), "{name}");
    }
}

#[test]
fn real_and_debug_calls_never_share_an_id() {
    let debug = json("basic-new-instance.json");
    let mut real = debug.clone();
    real["testFlag"] = json!("0");
    let mut absent = debug.clone();
    absent.as_object_mut().unwrap().remove("testFlag");
    let id = |v: &Value| BasicRequest::from_value(v).unwrap().dedup_id().unwrap();
    assert_eq!(id(&real), "newInstance:CS2211181819B4LVS:CS2211181819B4LVS-000001");
    assert_eq!(id(&absent), id(&real));
    assert_ne!(id(&debug), id(&real));
    assert!(BasicRequest::from_value(&debug).unwrap().is_test());
    assert!(!BasicRequest::from_value(&real).unwrap().is_test());
    assert!(!BasicRequest::from_value(&absent).unwrap().is_test());
}

#[test]
fn families() {
    for (name, activity) in EXAMPLES {
        let family = parse(name).family();
        let expected = match activity {
            Activity::OrderNotify => Family::Order,
            Activity::RefreshLicenseCode | Activity::UpdateLicenseCodeStatus | Activity::ReleaseLicenseCode => {
                Family::License
            }
            _ => Family::Saas,
        };
        assert_eq!(family, expected, "{name}");
    }
    assert_eq!(Family::Saas.as_str(), "saas");
    assert_eq!(Family::Kit.as_str(), "kit");
}

#[test]
fn fields_carry_their_meaning() {
    let BasicRequest::NewInstance(new) = parse("basic-new-instance.json") else { panic!("not newInstance") };
    assert_eq!(new.business_id.as_str(), "87b94795-0603-4e24-8ae5-69420d60e3c8");
    assert_eq!(
        new.instance_id(),
        InstanceId::for_order_line(&"CS2211181819B4LVS".into(), &"CS2211181819B4LVS-000001".into())
    );

    let BasicRequest::QueryInstance(query) = parse("basic-query-instance.json") else { panic!() };
    assert_eq!(query.instance_ids, vec![InstanceId::from("10e758d0-31ad-4c4b-8f1b-81d03469a10e")]);

    let BasicRequest::RefreshInstance(refresh) = parse("basic-refresh-instance.json") else { panic!() };
    assert_eq!(refresh.scene, RefreshScene::Renewal);
    assert_eq!(refresh.expire_time.precision(), Precision::Millis);
    assert_eq!(refresh.expire_time.at().to_rfc3339(), "2022-11-24T02:36:18.256+00:00");
    assert_eq!(refresh.product_id.as_ref().map(|p| p.as_str()), Some("OFFI461867333479178240"));

    let BasicRequest::UpdateInstanceStatus(status) = parse("basic-update-instance-status.json") else { panic!() };
    assert_eq!(status.status, InstanceStatus::Freeze);

    let BasicRequest::RefreshLicenseCode(license) = parse("basic-refresh-license-code.json") else { panic!() };
    assert_eq!(license.scene, LicenseScene::Renewal);
    assert_eq!(license.expire_time.precision(), Precision::Seconds);
    assert_eq!(license.expire_time.to_string(), "20230523201932");
}

fn change_check(name: &str) -> ChangeInstanceCheck {
    match parse(name) {
        BasicRequest::ChangeInstanceCheck(check) => check,
        other => panic!("{name} parsed as {other:?}"),
    }
}

#[test]
fn product_info_as_object_or_string() {
    let object = change_check("basic-change-instance-check.json");
    let string = change_check("basic-change-instance-check-string.json");
    assert!(object.product_info.encoded().is_none());
    assert!(string.product_info.encoded().is_some());
    for check in [&object, &string] {
        assert_eq!(check.product_info.product_id.as_str(), "OFFI846204237451911168");
        assert_eq!(check.product_info.sku_code.as_ref().unwrap().as_str(), "0a4d1578-5295-46a7-92d4-7c803dccc51d");
        assert_eq!(check.product_info.linear_value.as_ref().and_then(|v| v.as_i64()), Some(50));
    }
    assert!(string.product_info.linear_value.as_ref().unwrap().is_quoted());
    assert_eq!(object.product_info.product_name.as_deref(), Some("MOCK测试商品,测试规格,基础版,包周期"));
}

#[test]
fn product_info_keeps_unknown_fields_and_reads_lenient_strings() {
    let body = json!({
        "activity": "changeInstanceCheck",
        "instanceId": "i-1",
        "productInfo": {"productId": "P1", "periodType": "month", "amount": 3}
    });
    let BasicRequest::ChangeInstanceCheck(check) = BasicRequest::from_value(&body).unwrap() else { panic!() };
    assert_eq!(check.product_info.extra.get("periodType"), Some(&json!("month")));
    assert_eq!(serde_json::to_value(&check).unwrap()["productInfo"], body["productInfo"]);

    let lenient = json!({"activity": "changeInstanceCheck", "instanceId": "i-1", "productInfo": "{productId: 'P1',}"});
    let BasicRequest::ChangeInstanceCheck(check) = BasicRequest::from_value(&lenient).unwrap() else { panic!() };
    assert_eq!(check.product_info.product_id.as_str(), "P1");
}

#[test]
fn expire_time_with_14_or_17_digits() {
    let body = json("basic-refresh-instance.json");
    for time in ["20221124023618", "20221124023618256"] {
        let mut body = body.clone();
        body["expireTime"] = json!(time);
        let BasicRequest::RefreshInstance(r) = BasicRequest::from_value(&body).unwrap() else { panic!() };
        assert_eq!(r.expire_time.to_string(), time);
        assert_eq!(r.expire_time.at().timestamp(), 1_669_257_378);
    }
}

#[test]
fn query_instance_takes_up_to_100_comma_separated_ids() {
    let ids: Vec<String> = (0..100).map(|i| format!("id-{i}")).collect();
    let body = json!({"activity": "queryInstance", "instanceId": ids.join(",")});
    let BasicRequest::QueryInstance(q) = BasicRequest::from_value(&body).unwrap() else { panic!() };
    assert_eq!(q.instance_ids.len(), 100);
    assert_eq!(q.instance_ids[99].as_str(), "id-99");

    let body = json!({"activity": "queryInstance", "instanceId": " a , b ,c"});
    let BasicRequest::QueryInstance(q) = BasicRequest::from_value(&body).unwrap() else { panic!() };
    let ids: Vec<&str> = q.instance_ids.iter().map(|i| i.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
}

#[test]
fn unknown_fields_are_tolerated() {
    let body = json!({
        "activity": "newInstance", "businessId": "b", "orderId": "o", "orderLineId": "l",
        "newField": "x", "nested": {"a": [1, 2]}
    });
    let request = BasicRequest::from_value(&body).unwrap();
    assert_eq!(request.activity(), Activity::NewInstance);
}
