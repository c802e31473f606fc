//! Every Kit example of the spec parses, means what the spec says, and serialises back; the tolerances the
//! spec asks for are pinned.

use koofill_model::kit::{AllOrgSync, AuthSync, EmployeeKind, SyncFlag, UserRole};
use koofill_model::{Family, KitInterface, KitRequest};
use serde_json::{Value, json};

use crate::common::{fixture, json, with};

const EXAMPLES: [(&str, KitInterface); 6] = [
    ("kit-tenant-sync.json", KitInterface::TenantSync),
    ("kit-application-sync.json", KitInterface::ApplicationSync),
    ("kit-auth-sync-user-list-array.json", KitInterface::AuthSync),
    ("kit-auth-sync-user-list-string.json", KitInterface::AuthSync),
    ("kit-single-org-sync.json", KitInterface::SingleOrgSync),
    ("kit-all-org-sync.json", KitInterface::AllOrgSync),
];

fn parse(name: &str, interface: KitInterface) -> KitRequest {
    KitRequest::parse(interface, &fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn auth(body: &Value) -> AuthSync {
    match KitRequest::from_value(KitInterface::AuthSync, body).expect("a valid authSync") {
        KitRequest::AuthSync(a) => a,
        other => panic!("{other:?}"),
    }
}

fn all_org(body: &Value) -> AllOrgSync {
    match KitRequest::from_value(KitInterface::AllOrgSync, body).expect("a valid allOrgSync") {
        KitRequest::AllOrgSync(a) => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_example_parses_and_round_trips() {
    for (name, interface) in EXAMPLES {
        let request = parse(name, interface);
        assert_eq!(request.interface(), interface);
        assert_eq!(request.family(), Family::Kit);
        assert!(!request.is_test(), "{name} has testFlag 0");
        assert_eq!(serde_json::to_value(&request).unwrap(), json(name), "{name} does not round-trip");
    }
}

#[test]
fn interface_path_names() {
    let names: Vec<&str> = KitInterface::ALL.iter().map(|i| i.path_name()).collect();
    assert_eq!(names, ["tenantSync", "applicationSync", "authSync", "singleOrgSync", "allOrgSync"]);
    assert_eq!("authSync".parse::<KitInterface>(), Ok(KitInterface::AuthSync));
    assert!("AuthSync".parse::<KitInterface>().is_err());
}

#[test]
fn dedup_ids_are_natural_keys_plus_flag_and_request_time() {
    let expected = [
        (
            "kit-tenant-sync.json",
            "tenantSync:huaiweitest123456:68cbc86****************880d92f36422fa0e:1:20220413093539534",
        ),
        (
            "kit-application-sync.json",
            "applicationSync:huaiweitest123456:68cbc86abc2018ab880d92f36422fa0e:a1b2c3d4e5f6:1:20220413093539534",
        ),
        (
            "kit-auth-sync-user-list-array.json",
            "authSync:huaiweitest123456:68cbc86abc2018ab880d92f36422fa0e:a1b2c3d4e5f6:1:20221109093539534:20221109093539534:38bcc83f3bcf4656",
        ),
        (
            "kit-single-org-sync.json",
            "singleOrgSync:hua********23456:68cbc********0d92f36422fa0e:10000:1:20220413093539534",
        ),
        ("kit-all-org-sync.json", "allOrgSync:hua******t123456:68cbc8******b880d92f36422fa0e:20220413093539534"),
    ];
    for (name, id) in expected {
        let interface = EXAMPLES.iter().find(|(n, _)| *n == name).unwrap().1;
        assert_eq!(parse(name, interface).dedup_id(), id, "{name}");
        let debug = with(&json(name), "testFlag", json!(1));
        let request = KitRequest::from_value(interface, &debug).unwrap();
        assert!(request.is_test());
        assert_eq!(request.dedup_id(), format!("test:{id}"), "{name}");
    }
}

#[test]
fn tenant_sync_fields() {
    let KitRequest::TenantSync(t) = parse("kit-tenant-sync.json", KitInterface::TenantSync) else { panic!() };
    assert_eq!(t.flag, SyncFlag::Add);
    assert_eq!(t.domain_name, "https://example.tenantaccount.com");
    assert_eq!(t.instance_id.as_ref().map(|i| i.as_str()), Some("huaiweitest123456"));
    // timeStamp is Beijing time.
    assert_eq!(t.time_stamp.at().to_rfc3339(), "2022-04-13T01:35:39.534+00:00");
}

#[test]
fn user_list_as_array_or_string() {
    let array = auth(&json("kit-auth-sync-user-list-array.json"));
    let string = auth(&json("kit-auth-sync-user-list-string.json"));
    assert_eq!(array.users(), string.users());
    assert!(array.user_list.encoded().is_none());
    assert!(string.user_list.encoded().is_some());

    let users = array.users();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].user_name, "zhangsan01");
    assert_eq!(users[0].name, "张三");
    assert_eq!(users[0].role, UserRole::Admin);
    assert!(users[0].enable.is_enabled());
    assert_eq!(users[1].role, UserRole::User);
    assert_eq!(users[0].org_code.as_str(), "123456789");
}

#[test]
fn optional_user_fields_come_from_the_top_level_or_extension() {
    let users = auth(&json("kit-auth-sync-user-list-array.json")).users().to_vec();
    // Under `extension` in the V1 example.
    assert_eq!(users[0].entry_date(), Some("2022-11-9"));
    assert_eq!(users[0].work_place(), Some("南京"));
    assert_eq!(users[0].employee_type().and_then(|t| t.kind()), Some(EmployeeKind::Outsourced));
    // At the top level; empty strings count as absent.
    assert_eq!(users[0].position(), Some("系统管理员"));
    assert_eq!(users[0].mobile(), None);
    assert_eq!(users[0].employee_code(), None);

    // The top level wins over `extension`.
    let body = json!({
        "instanceId": "i", "tenantId": "t", "appId": "a", "currentSyncTime": "20221109093539534",
        "flag": 1, "testFlag": 0, "timeStamp": "20221109093539534",
        "userList": [{
            "userName": "u", "name": "n", "orgCode": "o", "role": "user", "enable": "false",
            "workPlace": "北京", "employeeType": 2, "email": "u@example.com",
            "extension": {"workPlace": "南京", "employeeType": "4", "mobile": "13800138000", "hobby": "chess"}
        }]
    });
    let user = auth(&body).users()[0].clone();
    assert_eq!(user.work_place(), Some("北京"));
    assert_eq!(user.employee_type().map(|t| t.code()), Some(2));
    assert_eq!(user.mobile(), Some("13800138000"));
    assert_eq!(user.email(), Some("u@example.com"));
    assert!(!user.enable.is_enabled());
    assert_eq!(serde_json::to_value(&user).unwrap(), body["userList"][0], "unknown fields are kept");
}

#[test]
fn employee_type_as_number_or_string() {
    let base = json("kit-auth-sync-user-list-array.json");
    for (value, code) in [(json!(1), 1), (json!("1"), 1), (json!(3), 3), (json!("4"), 4), (json!(9), 9)] {
        let mut body = base.clone();
        body["userList"][1]["employeeType"] = value.clone();
        let request = auth(&body);
        let user = &request.users()[1];
        assert_eq!(user.employee_type().map(|t| t.code()), Some(code), "{value}");
        assert_eq!(serde_json::to_value(user).unwrap()["employeeType"], value, "written back as it came");
    }
    let mut body = base.clone();
    body["userList"][1]["employeeType"] = json!(9);
    assert_eq!(auth(&body).users()[1].employee_type().and_then(|t| t.kind()), None, "unknown code kept");
}

#[test]
fn org_info_list_as_lenient_string_or_array() {
    let string = all_org(&json("kit-all-org-sync.json"));
    let orgs = string.orgs();
    assert_eq!(orgs.len(), 2);
    assert_eq!(orgs[0].org_code.as_str(), "00000001");
    assert_eq!(orgs[0].display_name(), "产品部");
    assert_eq!(orgs[1].display_name(), "测试部");
    assert_eq!(orgs[1].parent().map(|p| p.as_str()), Some("265789314"));
    assert_eq!(string.flag, Some(json!(1)), "the undocumented flag is kept");

    let array_body = with(
        &json("kit-all-org-sync.json"),
        "orgInfoList",
        json!([
            {"orgCode": "00000001", "orgName": "产品部", "parentCode": "265789314"},
            {"orgCode": "00000002", "orgName": "测试部", "parentCode": "265789314"}
        ]),
    );
    let array = all_org(&array_body);
    assert_eq!(array.orgs(), string.orgs());
    assert_eq!(serde_json::to_value(&array).unwrap(), array_body);

    let strict = with(
        &json("kit-all-org-sync.json"),
        "orgInfoList",
        json!(r#"[{"orgCode":"1","orgName":"A","parentCode":""}]"#),
    );
    let strict = all_org(&strict);
    assert_eq!(strict.orgs()[0].parent(), None, "an empty parent is a top-level department");

    let sloppy = with(&json("kit-all-org-sync.json"), "orgInfoList", json!("[{orgCode:'1', orgName:'A',},]"));
    assert_eq!(all_org(&sloppy).orgs()[0].display_name(), "A");
}

#[test]
fn v1_org_info_with_name() {
    let mut body = json("kit-all-org-sync.json");
    let object = body.as_object_mut().unwrap();
    object.remove("orgInfoList");
    object.remove("flag");
    object.insert("orgInfo".into(), json!(r#"[{"orgCode":"00000001","name":"产品部","parentCode":"265789314"}]"#));
    let sync = all_org(&body);
    assert_eq!(sync.orgs().len(), 1);
    assert_eq!(sync.orgs()[0].display_name(), "产品部");
    assert!(sync.org_info_list.is_none());
    assert_eq!(serde_json::to_value(&sync).unwrap(), body);
}

#[test]
fn test_flag_as_integer_or_string() {
    let body = json("kit-tenant-sync.json");
    for (value, test) in [(json!(0), false), (json!(1), true), (json!("1"), true), (json!("0"), false)] {
        let request =
            KitRequest::from_value(KitInterface::TenantSync, &with(&body, "testFlag", value.clone())).unwrap();
        assert_eq!(request.is_test(), test, "{value}");
    }
    let request = KitRequest::from_value(KitInterface::TenantSync, &with(&body, "flag", json!("2"))).unwrap();
    let KitRequest::TenantSync(t) = request else { panic!() };
    assert_eq!(t.flag, SyncFlag::Modify);
}

#[test]
fn credential_application_sends_empty_ids() {
    let body = with(&with(&json("kit-tenant-sync.json"), "instanceId", json!("")), "orderId", json!(""));
    let request = KitRequest::from_value(KitInterface::TenantSync, &body).unwrap();
    assert_eq!(request.instance_id(), None);
    assert_eq!(request.dedup_id(), "tenantSync::68cbc86****************880d92f36422fa0e:1:20220413093539534");
    assert_eq!(serde_json::to_value(&request).unwrap(), body);

    let body = with(&json("kit-application-sync.json"), "instanceId", json!(""));
    let request = KitRequest::from_value(KitInterface::ApplicationSync, &body).unwrap();
    assert_eq!(request.instance_id(), None);
    assert_eq!(serde_json::to_value(&request).unwrap(), body);
}

#[test]
fn client_secret_is_redacted_in_debug() {
    let request = parse("kit-application-sync.json", KitInterface::ApplicationSync);
    let debug = format!("{request:?}");
    assert!(!debug.contains("b64-rsa-oaep-ciphertext"), "{debug}");
    assert!(debug.contains("[redacted]"), "{debug}");
    let KitRequest::ApplicationSync(app) = request else { panic!() };
    assert_eq!(app.client_secret.expose_encrypted(), "b64-rsa-oaep-ciphertext==");
}
