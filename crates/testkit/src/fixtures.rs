//! The request bodies of the KooGallery spec's examples, as the spec prints them.
//!
//! Bodies the spec shows are copied verbatim, spacing and masked IDs included (the Kit examples
//! are pretty-printed and mask their IDs with `*`). Where the spec only masks values
//! (`******`, License 2.0) or gives no example (applicationSync, authSync), realistic values
//! stand in, reusing the IDs of the neighbouring examples so that a test can play a whole flow.

use serde_json::Value;

/// Stands in for `clientSecret` in [`APPLICATION_SYNC`]: a test replaces it with a ciphertext
/// made for its own RSA key (`koofill_signing::client_secret::encrypt`).
pub const CLIENT_SECRET_PLACEHOLDER: &str = "REPLACE-WITH-RSA-OAEP-CIPHERTEXT";

/// `newInstance`, spec §1.3.
pub const NEW_INSTANCE: &str = r#"{"activity":"newInstance","businessId":"87b94795-0603-4e24-8ae5-69420d60e3c8","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"1"}"#;

/// `queryInstance`, spec §1.4.
pub const QUERY_INSTANCE: &str =
    r#"{"activity":"queryInstance","instanceId":"10e758d0-31ad-4c4b-8f1b-81d03469a10e","testFlag":"1"}"#;

/// `refreshInstance`, spec §1.5 (note the 17-digit `expireTime`).
pub const REFRESH_INSTANCE: &str = r#"{"activity":"refreshInstance","expireTime":"20221124023618256","instanceId":"10e758d0-31ad-4c4b-8f1b-81d03469a10e","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","productId":"OFFI461867333479178240","scene":"RENEWAL","testFlag":"1"}"#;

/// `updateInstanceStatus`, spec §1.6.
pub const UPDATE_INSTANCE_STATUS: &str = r#"{"activity":"updateInstanceStatus","instanceId":"10e758d0-31ad-4c4b-8f1b-81d03469a10e","status":"FREEZE","testFlag":"1"}"#;

/// `releaseInstance`, spec §1.7.
pub const RELEASE_INSTANCE: &str = r#"{"activity":"releaseInstance","instanceId":"10e758d0-31ad-4c4b-8f1b-81d03469a10e","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"1"}"#;

/// `upgradeInstance`, spec §1.8 (the spec's example has `testFlag` `"0"`).
pub const UPGRADE_INSTANCE: &str = r#"{"activity":"upgradeInstance","instanceId":"10e758d0-31ad-4c4b-8f1b-81d03469a10e","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"0"}"#;

/// `orderNotify`, spec §9.
pub const ORDER_NOTIFY: &str = r#"{"activity":"orderNotify","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"1"}"#;

/// `refreshLicenseCode`, spec §7.2, with realistic values for the masked ones.
pub const REFRESH_LICENSE_CODE: &str = r#"{"activity":"refreshLicenseCode","expireTime":"20230523201932","license":"PL0000000001","orderId":"CS2305231519PLXYZ","orderLineId":"CS2305231519PLXYZ-000001","productId":"OFFI702034217345028096","scene":"RENEWAL","testFlag":"1"}"#;

/// `updateLicenseCodeStatus`, spec §7.2, with a realistic license code.
pub const UPDATE_LICENSE_CODE_STATUS: &str =
    r#"{"activity":"updateLicenseCodeStatus","license":"PL0000000001","status":"FREEZE","testFlag":"1"}"#;

/// `releaseLicenseCode`, spec §7.2, with realistic values for the masked ones.
pub const RELEASE_LICENSE_CODE: &str = r#"{"activity":"releaseLicenseCode","license":"PL0000000001","orderId":"CS2305231519PLXYZ","orderLineId":"CS2305231519PLXYZ-000001","testFlag":"1"}"#;

/// `tenantSync`, spec §5.2 (Kit; pretty-printed with spaces, integer flags).
pub const TENANT_SYNC: &str = r#"{"instanceId": "huaiweitest123456","orderId": "CS1906666666ABCDE","tenantId": "68cbc86****************880d92f36422fa0e","tenantCode": "huawei","name": "huaiweitest","domainName": "https://example.tenantaccount.com","flag": 1,"testFlag": 0,"timeStamp": "20220413093539534"}"#;

/// `applicationSync`, built from the field table of spec §5.3 (the spec has no example), for
/// the tenant of [`TENANT_SYNC`]; `clientSecret` is [`CLIENT_SECRET_PLACEHOLDER`].
pub const APPLICATION_SYNC: &str = r#"{"instanceId": "huaiweitest123456","tenantId": "68cbc86****************880d92f36422fa0e","appId": "app-7f3c2a9e51d04b6c","clientId": "client-3b8d6e1f0a2c4d57","clientSecret": "REPLACE-WITH-RSA-OAEP-CIPHERTEXT","flag": 1,"testFlag": 0,"timeStamp": "20220413093539534"}"#;

/// `authSync`, built from spec §5.4 for the tenant and app of [`APPLICATION_SYNC`], with the
/// spec's V1 `userList` example as a JSON array (V2's form; `extension` kept as printed).
pub const AUTH_SYNC: &str = r#"{"instanceId": "huaiweitest123456","tenantId": "68cbc86****************880d92f36422fa0e","appId": "app-7f3c2a9e51d04b6c","userList": [{"userName":"zhangsan01","name":"张三","position":"系统管理员","orgCode":"123456789","role":"admin","enable":"true","employeeCode":"","mobile":"","email":"","extension":{"entryDate":"2022-11-9","employeeType":"4","workPlace":"南京"}},
 {"userName":"lisi02","name":"李四","position":"运营经理","orgCode":"123456789","role":"user","enable":"true","extension":{"entryDate":"2022-11-16","employeeType":"4","workPlace":"南京"}}],"currentSyncTime": "20220413093539534","flag": 1,"testFlag": 0,"timeStamp": "20220413093539534"}"#;

/// `singleOrgSync`, spec §5.5 (the V1 example; V2 is presumed to carry the same fields).
pub const SINGLE_ORG_SYNC: &str = r#"{"instanceId": "hua********23456","tenantId": "68cbc********0d92f36422fa0e","orgCode": "10000","orgName": "开发部","parentCode": "","flag": 1,"testFlag": 0,"timeStamp": "20220413093539534"}"#;

/// `allOrgSync`, spec §5.6: `orgInfoList` is a string holding non-strict JSON (unquoted keys),
/// exactly as the spec's example sends it.
pub const ALL_ORG_SYNC: &str = r#"{"instanceId": "hua******t123456","tenantId": "68cbc8******b880d92f36422fa0e","orgInfoList": "[{orgCode:\"00000001\", orgName:\"产品部\", parentCode:\"265789314\" },{orgCode:\"00000002\", orgName:\"测试部\", parentCode:\"265789314\" }]","flag": 1,"testFlag": 0,"timeStamp": "20220413093539534"}"#;

/// Every example by name: the `activity` for basic interfaces, the interface (URL path
/// segment) for Kit ones.
pub const SPEC_EXAMPLES: &[(&str, &str)] = &[
    ("newInstance", NEW_INSTANCE),
    ("queryInstance", QUERY_INSTANCE),
    ("refreshInstance", REFRESH_INSTANCE),
    ("updateInstanceStatus", UPDATE_INSTANCE_STATUS),
    ("releaseInstance", RELEASE_INSTANCE),
    ("upgradeInstance", UPGRADE_INSTANCE),
    ("orderNotify", ORDER_NOTIFY),
    ("refreshLicenseCode", REFRESH_LICENSE_CODE),
    ("updateLicenseCodeStatus", UPDATE_LICENSE_CODE_STATUS),
    ("releaseLicenseCode", RELEASE_LICENSE_CODE),
    ("tenantSync", TENANT_SYNC),
    ("applicationSync", APPLICATION_SYNC),
    ("authSync", AUTH_SYNC),
    ("singleOrgSync", SINGLE_ORG_SYNC),
    ("allOrgSync", ALL_ORG_SYNC),
];

/// The names of the Kit examples, sent with [`crate::CallbackClient::send_kit`]; the others are
/// basic interfaces.
pub const KIT_INTERFACES: &[&str] = &["tenantSync", "applicationSync", "authSync", "singleOrgSync", "allOrgSync"];

/// The text of the example `name`, exactly as the spec prints it.
///
/// # Panics
/// For an unknown name; the message lists the known ones.
pub fn spec_example_text(name: &str) -> &'static str {
    SPEC_EXAMPLES.iter().find(|(n, _)| *n == name).map(|(_, text)| *text).unwrap_or_else(|| {
        let known: Vec<&str> = SPEC_EXAMPLES.iter().map(|(n, _)| *n).collect();
        panic!("no spec example named {name:?}; known: {}", known.join(", "))
    })
}

/// The example `name` parsed as JSON (`newInstance`, `tenantSync`, ...; see [`SPEC_EXAMPLES`]).
///
/// # Panics
/// For an unknown name.
pub fn spec_example(name: &str) -> Value {
    let text = spec_example_text(name);
    serde_json::from_str(text).unwrap_or_else(|e| panic!("spec example {name} is not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_is_a_json_object() {
        for (name, _) in SPEC_EXAMPLES {
            assert!(spec_example(name).is_object(), "{name}");
        }
    }

    #[test]
    fn basic_examples_carry_their_activity() {
        for (name, _) in SPEC_EXAMPLES.iter().filter(|(n, _)| !KIT_INTERFACES.contains(n)) {
            let body = spec_example(name);
            assert_eq!(body["activity"], *name);
            assert!(body["testFlag"].is_string(), "{name}: basic fields are strings");
        }
    }

    #[test]
    fn kit_examples_have_integer_flags() {
        for name in KIT_INTERFACES {
            let body = spec_example(name);
            assert!(body.get("activity").is_none(), "{name}");
            assert!(body["testFlag"].is_u64(), "{name}");
            assert!(body["flag"].is_u64(), "{name}");
        }
    }

    #[test]
    fn masked_license_values_are_replaced() {
        for name in ["refreshLicenseCode", "updateLicenseCodeStatus", "releaseLicenseCode"] {
            assert!(!spec_example_text(name).contains('*'), "{name}");
            assert_eq!(spec_example(name)["license"], "PL0000000001");
        }
    }

    #[test]
    fn kit_list_shapes_are_as_in_the_spec() {
        let users = spec_example("authSync")["userList"].as_array().map(Vec::len);
        assert_eq!(users, Some(2));
        let orgs = spec_example("allOrgSync")["orgInfoList"].as_str().map(str::to_owned).unwrap_or_default();
        assert!(orgs.starts_with("[{orgCode:\"00000001\", orgName:\"产品部\""), "{orgs}");
        assert_eq!(spec_example("applicationSync")["clientSecret"], CLIENT_SECRET_PLACEHOLDER);
    }

    #[test]
    #[should_panic(expected = "known: newInstance")]
    fn unknown_names_panic_with_the_list() {
        spec_example("noSuchActivity");
    }
}
