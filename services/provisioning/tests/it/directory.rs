//! The Kit directory: natural keys, tombstones, both userList shapes, full org replace, and the
//! client secret sealed at rest.

use koofill_model::KitInterface;
use koofill_signing::client_secret::{self, OaepVariant};
use koofill_store::{
    entities::{applications, departments, directory_users, tenants},
    sea_orm::{ColumnTrait, EntityTrait, QueryFilter},
};
use serde_json::{Value, json};

use crate::support::{TestWorker, client_secret_pem, client_secret_public_pem};

/// A Kit `timeStamp` (UTC+8, 17 digits) `secs` seconds after a fixed instant.
fn at(secs: u32) -> String {
    format!("2024061210{:02}{:02}000", secs / 60, secs % 60)
}

fn tenant(instance: &str, flag: u8, name: &str, secs: u32) -> Value {
    json!({"instanceId": instance, "orderId": "CS1", "tenantId": "t-1", "tenantCode": "acme", "name": name,
        "domainName": "https://acme.example.com", "flag": flag, "testFlag": 0, "timeStamp": at(secs)})
}

#[tokio::test]
async fn tenant_sync_adds_twice_modifies_and_deletes_twice_leaving_one_row_per_key() {
    let app = TestWorker::start().await;
    for body in [
        tenant("inst-1", 1, "Acme", 1),
        tenant("inst-1", 1, "Acme", 2),
        tenant("inst-1", 2, "Acme Ltd", 3),
        tenant("inst-1", 0, "Acme Ltd", 4),
        tenant("inst-1", 0, "Acme Ltd", 5),
        // Deletes for an instance nobody created succeed and leave one tombstone.
        tenant("never-created", 0, "X", 6),
        tenant("never-created", 0, "X", 7),
    ] {
        app.send_kit(KitInterface::TenantSync, body).await;
    }
    app.settle().await;
    let rows = tenants::Entity::find().all(app.worker.db()).await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let row = |instance: &str| rows.iter().find(|r| r.instance_id == instance).unwrap().clone();
    assert_eq!((row("inst-1").state.as_str(), row("inst-1").name.as_str()), ("deleted", "Acme Ltd"));
    assert_eq!(row("never-created").state.as_str(), "deleted");
    // Older adds arriving late (a retry) do not bring them back, whether the row existed or not.
    app.send_kit(KitInterface::TenantSync, tenant("inst-1", 1, "Stale", 0)).await;
    app.send_kit(KitInterface::TenantSync, tenant("never-created", 1, "Stale", 5)).await;
    app.settle().await;
    let rows = tenants::Entity::find().all(app.worker.db()).await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.state.as_str() == "deleted" && r.name != "Stale"), "{rows:?}");
    let synced = app.events().await.iter().filter(|e| e.r#type == "tenant.synced").count();
    assert_eq!(synced, 7, "one event per call that changed something; none for the stale ones");
}

#[tokio::test]
async fn adds_of_one_key_handled_at_once_all_succeed() {
    let app = TestWorker::start().await;
    // Twelve calls for the same (instance, tenant) handled concurrently: none may find no row
    // and then collide on the unique key (PostgreSQL would refuse the second insert).
    for secs in 1..=12 {
        app.send_kit(KitInterface::TenantSync, tenant("inst-c", 1, &format!("Acme {secs}"), secs)).await;
    }
    app.run_until_idle(std::time::Duration::from_secs(20)).await;
    let letters = koofill_bus::dlq::list(app.worker.bus()).await.unwrap();
    assert!(letters.is_empty(), "{letters:?}");
    let rows = tenants::Entity::find().all(app.worker.db()).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].state.as_str(), rows[0].name.as_str()), ("active", "Acme 12"), "the newest call wins");
}

fn auth(user_list: Value, flag: u8, secs: u32) -> Value {
    json!({"instanceId": "inst-1", "tenantId": "t-1", "appId": "app-1", "userList": user_list,
        "currentSyncTime": at(secs), "flag": flag, "testFlag": 0, "timeStamp": at(secs)})
}

#[tokio::test]
async fn auth_sync_accepts_user_lists_as_arrays_and_as_strings() {
    let app = TestWorker::start().await;
    let zhang = json!({"userName": "zhangsan01", "name": "张三", "orgCode": "100", "role": "admin", "enable": "true",
        "extension": {"entryDate": "2022-11-9", "employeeType": "4", "workPlace": "南京"}});
    let li = json!({"userName": "lisi02", "name": "李四", "orgCode": "100", "role": "user", "enable": "false"});
    app.send_kit(KitInterface::AuthSync, auth(json!([zhang]), 1, 1)).await;
    app.send_kit(KitInterface::AuthSync, auth(Value::String(json!([li]).to_string()), 1, 2)).await;
    app.send_kit(KitInterface::AuthSync, auth(json!([zhang]), 1, 3)).await;
    app.settle().await;
    let users = directory_users::Entity::find().all(app.worker.db()).await.unwrap();
    assert_eq!(users.len(), 2, "{users:?}");
    let z = users.iter().find(|u| u.user_name == "zhangsan01").unwrap();
    assert_eq!(
        (z.role.as_str(), z.enabled, z.employee_type, z.work_place.as_deref()),
        ("admin", true, Some(4), Some("南京"))
    );
    let l = users.iter().find(|u| u.user_name == "lisi02").unwrap();
    assert!(!l.enabled);
    // Revoking authorisation keeps the row, marked.
    app.send_kit(KitInterface::AuthSync, auth(json!([li]), 3, 4)).await;
    app.settle().await;
    let l = directory_users::Entity::find()
        .filter(directory_users::Column::UserName.eq("lisi02"))
        .one(app.worker.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l.state.as_str(), "revoked");
}

#[tokio::test]
async fn all_org_sync_replaces_the_department_set() {
    let app = TestWorker::start().await;
    for (code, secs) in [("A", 1), ("B", 2)] {
        app.send_kit(
            KitInterface::SingleOrgSync,
            json!({"instanceId": "inst-1", "tenantId": "t-1", "orgCode": code, "orgName": format!("Dept {code}"),
                "parentCode": "", "flag": 1, "testFlag": 0, "timeStamp": at(secs)}),
        )
        .await;
    }
    // The documented shape: a string holding non-strict JSON.
    app.send_kit(
        KitInterface::AllOrgSync,
        json!({"instanceId": "inst-1", "tenantId": "t-1",
            "orgInfoList": "[{orgCode:\"B\", orgName:\"Dept B2\", parentCode:\"\"},{orgCode:\"C\", orgName:\"Dept C\", parentCode:\"B\"}]",
            "flag": 1, "testFlag": 0, "timeStamp": at(3)}),
    )
    .await;
    app.settle().await;
    let rows = departments::Entity::find().all(app.worker.db()).await.unwrap();
    let mut active: Vec<(String, String)> = rows
        .iter()
        .filter(|d| d.state.as_str() == "active")
        .map(|d| (d.org_code.clone(), d.org_name.clone()))
        .collect();
    active.sort();
    assert_eq!(active, [("B".to_owned(), "Dept B2".to_owned()), ("C".to_owned(), "Dept C".to_owned())]);
    assert_eq!(rows.iter().find(|d| d.org_code == "A").unwrap().state.as_str(), "deleted");
    assert_eq!(rows.iter().find(|d| d.org_code == "C").unwrap().parent_code.as_deref(), Some("B"));
}

#[tokio::test]
async fn application_sync_stores_the_decrypted_client_secret_sealed() {
    let app = TestWorker::start().await;
    let sealed_by_koogallery =
        client_secret::encrypt(client_secret_public_pem(), "the-oauth-secret", OaepVariant::Sha256Mgf1Sha1).unwrap();
    let body = |flag: u8, secs: u32| {
        json!({"instanceId": "", "tenantId": "t-1", "appId": "app-1", "clientId": "client-1",
            "clientSecret": sealed_by_koogallery, "flag": flag, "testFlag": 1, "timeStamp": at(secs)})
    };
    app.send_kit(KitInterface::ApplicationSync, body(1, 1)).await;
    app.send_kit(KitInterface::ApplicationSync, body(1, 2)).await;
    app.settle().await;
    let rows = applications::Entity::find().all(app.worker.db()).await.unwrap();
    assert_eq!(rows.len(), 1);
    let stored = rows[0].client_secret_enc.clone().unwrap();
    assert!(!stored.contains("the-oauth-secret"));
    let opener = koofill_provisioning::client_secret::sealer(client_secret_pem()).unwrap();
    assert_eq!(opener.open(&stored).unwrap(), "the-oauth-secret");
    app.send_kit(KitInterface::ApplicationSync, body(0, 3)).await;
    app.settle().await;
    let row = applications::Entity::find().one(app.worker.db()).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.client_secret_enc.is_none()), ("deleted", true));
}
