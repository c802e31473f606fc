//! The bodies KooGallery sends, field for field as the spec lists them (§1, §5, §7.2, §9). Basic
//! fields are all strings (`testFlag` `"1"`); Kit `flag` and `testFlag` are integers and
//! `timeStamp` is UTC+8 `yyyyMMddHHmmssSSS`.

use chrono::{DateTime, FixedOffset, Offset, Utc};
use serde_json::{Value, json};

/// Beijing time, the zone of the Kit `timeStamp` (spec §5.1).
const UTC8_SECONDS: i32 = 8 * 3600;

/// `"1"` for a debug call, `None` (field omitted, as in the newest pages) for a real one.
fn test_flag(test: bool) -> Option<&'static str> {
    test.then_some("1")
}

fn basic(activity: &str, test: bool, mut fields: Value) -> Value {
    fields["activity"] = json!(activity);
    if let Some(flag) = test_flag(test) {
        fields["testFlag"] = json!(flag);
    }
    fields
}

/// A fresh `businessId`: unique per request, retries included (spec §1.3).
pub fn business_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `newInstance` with a fresh `businessId`.
pub fn new_instance(order_id: &str, order_line_id: &str, test: bool) -> Value {
    basic("newInstance", test, json!({"orderId": order_id, "orderLineId": order_line_id, "businessId": business_id()}))
}

/// `queryInstance` for one or more comma-separated IDs.
pub fn query_instance(instance_id: &str, test: bool) -> Value {
    basic("queryInstance", test, json!({"instanceId": instance_id}))
}

/// `refreshInstance` (`scene`: `TRIAL_TO_FORMAL`, `RENEWAL`, `UNSUBSCRIBE_RENEWAL_PERIOD`,
/// `RENEWAL_CHANGE`); `expire_time` as sent (14 or 17 digits).
pub fn refresh_instance(
    instance_id: &str,
    order_id: &str,
    order_line_id: &str,
    scene: &str,
    product_id: Option<&str>,
    expire_time: &str,
    test: bool,
) -> Value {
    let mut fields = json!({"instanceId": instance_id, "orderId": order_id, "orderLineId": order_line_id,
        "scene": scene, "expireTime": expire_time});
    if let Some(product_id) = product_id {
        fields["productId"] = json!(product_id);
    }
    basic("refreshInstance", test, fields)
}

/// `updateInstanceStatus` (`FREEZE` or `UNFREEZE`).
pub fn update_instance_status(instance_id: &str, status: &str, test: bool) -> Value {
    basic("updateInstanceStatus", test, json!({"instanceId": instance_id, "status": status}))
}

/// `releaseInstance`, with the unsubscribe order when the release was caused by one.
pub fn release_instance(instance_id: &str, order: Option<(&str, &str)>, test: bool) -> Value {
    let mut fields = json!({"instanceId": instance_id});
    if let Some((order_id, line)) = order {
        fields["orderId"] = json!(order_id);
        fields["orderLineId"] = json!(line);
    }
    basic("releaseInstance", test, fields)
}

/// `upgradeInstance` with the new (CHANGE) order.
pub fn upgrade_instance(instance_id: &str, order_id: &str, order_line_id: &str, test: bool) -> Value {
    basic(
        "upgradeInstance",
        test,
        json!({"instanceId": instance_id, "orderId": order_id, "orderLineId": order_line_id}),
    )
}

/// `changeInstanceCheck` with the target product as an object (spec §1.9).
pub fn change_instance_check(instance_id: &str, product: &crate::orders::Product, test: bool) -> Value {
    let (product_id, sku, linear, name) = product;
    basic(
        "changeInstanceCheck",
        test,
        json!({"instanceId": instance_id,
            "productInfo": {"productId": product_id, "skuCode": sku, "linearValue": linear, "productName": name}}),
    )
}

/// `orderNotify` (spec §9; its `testFlag` is mandatory, `"0"` for real orders).
pub fn order_notify(order_id: &str, order_line_id: &str, test: bool) -> Value {
    json!({"activity": "orderNotify", "orderId": order_id, "orderLineId": order_line_id,
        "testFlag": if test { "1" } else { "0" }})
}

/// `refreshLicenseCode` (`RENEWAL` or `UNSUBSCRIBE_RENEWAL_PERIOD`), `expireTime` 14 digits.
pub fn refresh_license_code(
    license: &str,
    order_id: &str,
    order_line_id: &str,
    scene: &str,
    expire_time: &str,
    test: bool,
) -> Value {
    basic(
        "refreshLicenseCode",
        test,
        json!({"license": license, "orderId": order_id, "orderLineId": order_line_id, "scene": scene,
            "expireTime": expire_time}),
    )
}

/// `updateLicenseCodeStatus` (`FREEZE` or `UNFREEZE`).
pub fn update_license_code_status(license: &str, status: &str, test: bool) -> Value {
    basic("updateLicenseCodeStatus", test, json!({"license": license, "status": status}))
}

/// `releaseLicenseCode`.
pub fn release_license_code(license: &str, order: Option<(&str, &str)>, test: bool) -> Value {
    let mut fields = json!({"license": license});
    if let Some((order_id, line)) = order {
        fields["orderId"] = json!(order_id);
        fields["orderLineId"] = json!(line);
    }
    basic("releaseLicenseCode", test, fields)
}

/// A Kit `timeStamp`: UTC+8, `yyyyMMddHHmmssSSS`.
pub fn kit_time_stamp(at: DateTime<Utc>) -> String {
    let zone = FixedOffset::east_opt(UTC8_SECONDS).unwrap_or_else(|| Utc.fix());
    at.with_timezone(&zone).format("%Y%m%d%H%M%S%3f").to_string()
}

fn kit(test: bool, flag: Option<i64>, mut fields: Value) -> Value {
    fields["testFlag"] = json!(i64::from(test));
    fields["timeStamp"] = json!(kit_time_stamp(Utc::now()));
    if let Some(flag) = flag {
        fields["flag"] = json!(flag);
    }
    fields
}

/// The enterprise bound in a Kit scenario.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// `tenantId`.
    pub tenant_id: String,
    /// `tenantCode`.
    pub tenant_code: String,
    /// `name`.
    pub name: String,
    /// `domainName`, with `https://`.
    pub domain_name: String,
}

/// `tenantSync` (flag 0 delete, 1 add, 2 modify).
pub fn tenant_sync(instance_id: &str, order_id: &str, tenant: &Tenant, flag: i64, test: bool) -> Value {
    kit(
        test,
        Some(flag),
        json!({"instanceId": instance_id, "orderId": order_id, "tenantId": tenant.tenant_id,
            "tenantCode": tenant.tenant_code, "name": tenant.name, "domainName": tenant.domain_name}),
    )
}

/// `applicationSync` with an already encrypted `clientSecret`.
pub fn application_sync(
    instance_id: &str,
    tenant_id: &str,
    app_id: &str,
    client_id: &str,
    client_secret: &str,
    flag: i64,
    test: bool,
) -> Value {
    kit(
        test,
        Some(flag),
        json!({"instanceId": instance_id, "tenantId": tenant_id, "appId": app_id, "clientId": client_id,
            "clientSecret": client_secret}),
    )
}

/// `authSync` with a V2 `userList` array (flag 0 delete, 1 add, 2 modify, 3 revoke).
pub fn auth_sync(instance_id: &str, tenant_id: &str, app_id: &str, users: &[Value], flag: i64, test: bool) -> Value {
    kit(
        test,
        Some(flag),
        json!({"instanceId": instance_id, "tenantId": tenant_id, "appId": app_id, "userList": users,
            "currentSyncTime": kit_time_stamp(Utc::now())}),
    )
}

/// A `User` of authSync.
pub fn user(user_name: &str, name: &str, org_code: &str, role: &str) -> Value {
    json!({"userName": user_name, "name": name, "orgCode": org_code, "role": role, "enable": "true",
        "position": "", "employeeCode": "", "mobile": "", "email": ""})
}

/// `singleOrgSync` (flag 0 delete, 1 add, 2 modify).
pub fn single_org_sync(
    instance_id: &str,
    tenant_id: &str,
    org: &(String, String, String),
    flag: i64,
    test: bool,
) -> Value {
    let (code, name, parent) = org;
    kit(
        test,
        Some(flag),
        json!({"instanceId": instance_id, "tenantId": tenant_id, "orgCode": code, "orgName": name,
            "parentCode": parent}),
    )
}

/// `allOrgSync` with a V2 `orgInfoList` array of `(orgCode, orgName, parentCode)`.
pub fn all_org_sync(instance_id: &str, tenant_id: &str, orgs: &[(String, String, String)], test: bool) -> Value {
    let list: Vec<Value> = orgs
        .iter()
        .map(|(code, name, parent)| json!({"orgCode": code, "orgName": name, "parentCode": parent}))
        .collect();
    kit(test, None, json!({"instanceId": instance_id, "tenantId": tenant_id, "orgInfoList": list}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_parse_with_koofills_model() {
        for body in [
            new_instance("CS1", "CS1-000001", true),
            query_instance("i-1", true),
            refresh_instance("i-1", "CS1", "CS1-000001", "RENEWAL", Some("P1"), "20251121235959", true),
            update_instance_status("i-1", "FREEZE", false),
            release_instance("i-1", Some(("CS2", "CS2-000001")), true),
            upgrade_instance("i-1", "CS3", "CS3-000001", true),
            change_instance_check("i-1", &crate::orders::MONTHLY_PRO, true),
            order_notify("CS1", "CS1-000001", true),
            refresh_license_code("PL1", "CS1", "CS1-000001", "RENEWAL", "20251121235959", true),
            update_license_code_status("PL1", "UNFREEZE", true),
            release_license_code("PL1", None, true),
        ] {
            let bytes = crate::callback::wire_bytes(&body);
            assert!(koofill_model::BasicRequest::parse(&bytes).is_ok(), "{body}");
        }
    }

    #[test]
    fn kit_bodies_parse_with_koofills_model() {
        use koofill_model::{KitInterface, KitRequest};
        let tenant = Tenant {
            tenant_id: "t1".into(),
            tenant_code: "acme".into(),
            name: "Acme".into(),
            domain_name: "https://acme.example".into(),
        };
        let org = ("10000".to_owned(), "开发部".to_owned(), String::new());
        for (interface, body) in [
            (KitInterface::TenantSync, tenant_sync("i-1", "CS1", &tenant, 1, true)),
            (KitInterface::ApplicationSync, application_sync("i-1", "t1", "app", "client", "c2VjcmV0", 1, true)),
            (KitInterface::AuthSync, auth_sync("i-1", "t1", "app", &[user("zs", "张三", "10000", "admin")], 1, true)),
            (KitInterface::SingleOrgSync, single_org_sync("i-1", "t1", &org, 1, true)),
            (KitInterface::AllOrgSync, all_org_sync("i-1", "t1", std::slice::from_ref(&org), true)),
        ] {
            let bytes = crate::callback::wire_bytes(&body);
            assert!(KitRequest::parse(interface, &bytes).is_ok(), "{body}");
        }
        assert_eq!(kit_time_stamp(DateTime::from_timestamp_millis(1_649_813_739_534).unwrap()), "20220413093539534");
    }
}
