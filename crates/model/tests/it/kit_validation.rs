//! Kit requests are rejected with an error that names the field, nested paths included.

use koofill_model::{KitInterface, KitRequest, Problem, ValidationError};
use serde_json::{Value, json};

use crate::common::{assert_rejected, json, with, without};

/// The spec's mandatory fields of each interface (§5.2–§5.6), written out independently of the parser.
const MANDATORY: [(&str, KitInterface, &[&str]); 6] = [
    (
        "kit-tenant-sync.json",
        KitInterface::TenantSync,
        &["instanceId", "orderId", "tenantId", "tenantCode", "name", "domainName", "flag", "testFlag", "timeStamp"],
    ),
    (
        "kit-application-sync.json",
        KitInterface::ApplicationSync,
        &["instanceId", "tenantId", "appId", "clientId", "clientSecret", "flag", "testFlag", "timeStamp"],
    ),
    (
        "kit-auth-sync-user-list-array.json",
        KitInterface::AuthSync,
        &["instanceId", "tenantId", "appId", "userList", "currentSyncTime", "flag", "testFlag", "timeStamp"],
    ),
    (
        "kit-auth-sync-user-list-string.json",
        KitInterface::AuthSync,
        &["instanceId", "tenantId", "appId", "userList", "currentSyncTime", "flag", "testFlag", "timeStamp"],
    ),
    (
        "kit-single-org-sync.json",
        KitInterface::SingleOrgSync,
        &["instanceId", "tenantId", "orgCode", "orgName", "flag", "testFlag", "timeStamp"],
    ),
    (
        "kit-all-org-sync.json",
        KitInterface::AllOrgSync,
        &["instanceId", "tenantId", "orgInfoList", "testFlag", "timeStamp"],
    ),
];

/// Fields that are mandatory but may be empty: the credential application flow (§5.2, §5.3).
const MAY_BE_EMPTY: [(KitInterface, &str); 3] = [
    (KitInterface::TenantSync, "instanceId"),
    (KitInterface::TenantSync, "orderId"),
    (KitInterface::ApplicationSync, "instanceId"),
];

fn parse(interface: KitInterface, body: &Value) -> Result<KitRequest, ValidationError> {
    KitRequest::from_value(interface, body)
}

#[test]
fn removing_a_mandatory_field_names_it() {
    for (name, interface, mandatory) in MANDATORY {
        let body = json(name);
        for field in mandatory {
            assert_rejected(parse(interface, &without(&body, field)), field, Problem::Missing);
            let empty = parse(interface, &with(&body, field, json!("")));
            if MAY_BE_EMPTY.contains(&(interface, field)) {
                assert!(empty.is_ok(), "{name}: {field} may be empty");
            } else {
                assert_eq!(empty.unwrap_err().field, *field, "{name}: empty {field}");
            }
        }
    }
}

#[test]
fn removing_an_optional_field_is_fine() {
    for (name, interface, mandatory) in MANDATORY {
        let body = json(name);
        for field in body.as_object().unwrap().keys().filter(|k| !mandatory.contains(&k.as_str())) {
            let result = parse(interface, &without(&body, field));
            assert!(result.is_ok(), "{name} without {field}: {:?}", result.err());
        }
    }
}

#[test]
fn removing_a_mandatory_user_field_names_its_path() {
    for name in ["kit-auth-sync-user-list-array.json", "kit-auth-sync-user-list-string.json"] {
        let array = json("kit-auth-sync-user-list-array.json");
        for field in ["userName", "name", "orgCode", "role", "enable"] {
            let mut body = array.clone();
            body["userList"][1].as_object_mut().unwrap().remove(field);
            if name.contains("string") {
                body["userList"] = json!(body["userList"].to_string());
            }
            assert_rejected(parse(KitInterface::AuthSync, &body), &format!("userList[1].{field}"), Problem::Missing);
        }
        for field in ["position", "employeeCode", "mobile", "email", "extension"] {
            let mut body = array.clone();
            body["userList"][0].as_object_mut().unwrap().remove(field);
            assert!(parse(KitInterface::AuthSync, &body).is_ok(), "{field} is optional");
        }
    }
}

#[test]
fn removing_a_mandatory_org_field_names_its_path() {
    let body = with(
        &json("kit-all-org-sync.json"),
        "orgInfoList",
        json!([{"orgCode": "1", "orgName": "A"}, {"orgName": "B"}, {"orgCode": "3"}]),
    );
    assert_rejected(parse(KitInterface::AllOrgSync, &body), "orgInfoList[1].orgCode", Problem::Missing);
    let body = with(&body, "orgInfoList", json!([{"orgCode": "3"}]));
    assert_rejected(parse(KitInterface::AllOrgSync, &body), "orgInfoList[0].orgName", Problem::Missing);
    let body = with(&body, "orgInfoList", json!("[{orgCode:'3', orgName:''}]"));
    assert_rejected(parse(KitInterface::AllOrgSync, &body), "orgInfoList[0].orgName", Problem::Empty);
}

#[test]
fn flags_are_checked_per_interface() {
    let tenant = json("kit-tenant-sync.json");
    let error = parse(KitInterface::TenantSync, &with(&tenant, "flag", json!(3))).unwrap_err();
    assert_eq!(error.to_string(), "flag must be one of 0, 1, 2");
    let auth = json("kit-auth-sync-user-list-array.json");
    assert!(parse(KitInterface::AuthSync, &with(&auth, "flag", json!(3))).is_ok(), "authSync revokes with 3");
    let error = parse(KitInterface::AuthSync, &with(&auth, "flag", json!(4))).unwrap_err();
    assert_eq!(error.to_string(), "flag must be one of 0, 1, 2, 3");
    let single = json("kit-single-org-sync.json");
    assert_eq!(parse(KitInterface::SingleOrgSync, &with(&single, "flag", json!(3))).unwrap_err().field, "flag");
    // allOrgSync's flag is undocumented: anything goes.
    let all = json("kit-all-org-sync.json");
    assert!(parse(KitInterface::AllOrgSync, &with(&all, "flag", json!("whatever"))).is_ok());

    let error = parse(KitInterface::TenantSync, &with(&tenant, "flag", json!("one"))).unwrap_err();
    assert_eq!(error.to_string(), "flag is not a valid integer (expected digits)");
    let error = parse(KitInterface::TenantSync, &with(&tenant, "flag", json!(true))).unwrap_err();
    assert_eq!(error.to_string(), "flag must be an integer");
    let error = parse(KitInterface::TenantSync, &with(&tenant, "testFlag", json!(2))).unwrap_err();
    assert_eq!(error.to_string(), "testFlag must be one of 0, 1");
}

#[test]
fn bad_times_and_lengths() {
    let tenant = json("kit-tenant-sync.json");
    let error = parse(KitInterface::TenantSync, &with(&tenant, "timeStamp", json!("2022041309353953"))).unwrap_err();
    assert_eq!(error.to_string(), "timeStamp is not a valid time (expected yyyyMMddHHmmss or yyyyMMddHHmmssSSS)");
    let auth = json("kit-auth-sync-user-list-array.json");
    assert_eq!(
        parse(KitInterface::AuthSync, &with(&auth, "currentSyncTime", json!("yesterday"))).unwrap_err().field,
        "currentSyncTime"
    );
    assert_rejected(
        parse(KitInterface::TenantSync, &with(&tenant, "name", json!("n".repeat(256)))),
        "name",
        Problem::TooLong { max: 255 },
    );
    assert!(parse(KitInterface::TenantSync, &with(&tenant, "name", json!("名".repeat(255)))).is_ok());
    let single = json("kit-single-org-sync.json");
    assert_rejected(
        parse(KitInterface::SingleOrgSync, &with(&single, "orgName", json!("部".repeat(129)))),
        "orgName",
        Problem::TooLong { max: 128 },
    );
}

#[test]
fn bad_embedded_lists() {
    let auth = json("kit-auth-sync-user-list-array.json");
    let error = parse(KitInterface::AuthSync, &with(&auth, "userList", json!("[{\"userName\":"))).unwrap_err();
    assert_eq!(error.field, "userList");
    assert!(error.to_string().starts_with("userList is not valid JSON: "), "{error}");
    assert_rejected(
        parse(KitInterface::AuthSync, &with(&auth, "userList", json!({"userName": "u"}))),
        "userList",
        Problem::WrongType { expected: "an array" },
    );
    assert_rejected(
        parse(KitInterface::AuthSync, &with(&auth, "userList", json!(["u"]))),
        "userList[0]",
        Problem::WrongType { expected: "a JSON object" },
    );
    let mut bad_role = auth.clone();
    bad_role["userList"][0]["role"] = json!("owner");
    assert_eq!(
        parse(KitInterface::AuthSync, &bad_role).unwrap_err().to_string(),
        "userList[0].role must be one of user, admin"
    );
    let mut bad_type = auth.clone();
    bad_type["userList"][0]["extension"]["employeeType"] = json!("full-time");
    assert_eq!(parse(KitInterface::AuthSync, &bad_type).unwrap_err().field, "userList[0].extension.employeeType");

    let all = json("kit-all-org-sync.json");
    let error = parse(KitInterface::AllOrgSync, &with(&all, "orgInfoList", json!("[{orgCode \"1\"}]"))).unwrap_err();
    assert_eq!(error.field, "orgInfoList");
    assert!(matches!(error.problem, Problem::BadJson(_)));
}

#[test]
fn client_secret_never_appears_in_messages() {
    const SECRET: &str = "S3CR3T-ciphertext-value";
    let body = with(&json("kit-application-sync.json"), "clientSecret", json!(SECRET));
    let broken = [
        with(&body, "flag", json!(7)),
        with(&body, "timeStamp", json!(SECRET)),
        with(&body, "clientSecret", json!(7)),
        with(&body, "clientId", json!("c".repeat(65))),
        without(&body, "appId"),
    ];
    for bad in broken {
        let error = parse(KitInterface::ApplicationSync, &bad).unwrap_err();
        assert!(!error.to_string().contains(SECRET), "{error}");
        assert!(!format!("{error:?}").contains(SECRET), "{error:?}");
    }
    let raw = serde_json::to_vec(&body).unwrap();
    let error = KitRequest::parse(KitInterface::ApplicationSync, &raw[..raw.len() - 1]).unwrap_err();
    assert!(!error.to_string().contains(SECRET), "{error}");
}

#[test]
fn malformed_bodies() {
    let error = KitRequest::parse(KitInterface::TenantSync, b"{").unwrap_err();
    assert!(matches!(error.problem, Problem::BadJson(_)));
    assert_rejected(
        KitRequest::parse(KitInterface::TenantSync, b"[]"),
        "",
        Problem::WrongType { expected: "a JSON object" },
    );
    assert_rejected(KitRequest::parse(KitInterface::AllOrgSync, b"{}"), "instanceId", Problem::Missing);
}
