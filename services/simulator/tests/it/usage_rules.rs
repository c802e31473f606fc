//! Every usage-push rule the simulator implements, one record (or push) per reason code.

use chrono::{Duration, Utc};
use koofill_model::order::ChargingMode;
use koofill_model::time::format_open_api;
use koofill_signing::usage::{self, SortDepth};
use koofill_simulator::{InstanceStatus, SimConfig, SimInstance, Simulator, StaleBeginPolicy, USAGE_PATH};
use serde_json::{Value, json};

use crate::{BASIC_KEY, keys};

async fn push(sim: &Simulator, records: &[Value]) -> (u16, String) {
    let raw = serde_json::to_vec(&json!({ "usage_records": records })).unwrap();
    let body = usage::sorted_body(&raw, SortDepth::AllLevels).unwrap();
    let ts = Utc::now().timestamp_millis().to_string();
    let nonce = uuid::Uuid::new_v4().to_string();
    let response = reqwest::Client::new()
        .post(format!("{}{USAGE_PATH}", sim.base_url()))
        .header("Content-Type", "application/json")
        .header("signature", usage::sign(BASIC_KEY.as_bytes(), &ts, &nonce, &body))
        .header("ts", ts)
        .header("nonce", nonce)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let v: Value = response.json().await.unwrap();
    (status, v["error_code"].as_str().unwrap_or_default().to_owned())
}

/// One "now" for every record, so that two records of the same window have equal times even when
/// a second passes between building them.
fn base() -> chrono::DateTime<Utc> {
    static BASE: std::sync::OnceLock<chrono::DateTime<Utc>> = std::sync::OnceLock::new();
    *BASE.get_or_init(Utc::now)
}

/// A record of `hours` ago to `hours - 1` ago.
fn rec(instance: &str, sn: &str, hours: i64) -> Value {
    let t = |h: i64| format_open_api(base() - Duration::hours(h));
    json!({"instance_id": instance, "metering_sn": sn, "record_time": t(0), "begin_time": t(hours),
        "end_time": t(hours - 1), "usage_value": "1.5"})
}

fn with(mut record: Value, field: &str, value: Value) -> Value {
    if value.is_null() {
        record.as_object_mut().unwrap().remove(field);
    } else {
        record[field] = value;
    }
    record
}

fn instance(id: &str, change: impl FnOnce(&mut SimInstance)) -> SimInstance {
    let mut instance = SimInstance::on_demand(id);
    instance.opened_at = Utc::now() - Duration::days(2);
    change(&mut instance);
    instance
}

#[tokio::test]
async fn each_record_rule_rejects_with_its_reason_code() {
    let sim = crate::simulator().await;
    sim.register_instance(instance("od", |_| {}));
    sim.register_instance(instance("period", |i| i.charging_mode = ChargingMode::Period));
    sim.register_instance(instance("package", |i| i.charging_mode = ChargingMode::OnDemandPkg));
    sim.register_instance(instance("delisted", |i| i.delisted = true));
    sim.register_instance(instance("frozen", |i| i.status = InstanceStatus::Frozen));
    sim.register_instance(instance("foreign", |i| i.other_seller = true));
    sim.register_instance(instance("released", |i| {
        i.status = InstanceStatus::Released;
        i.closed_at = Some(Utc::now() - Duration::hours(5));
    }));
    sim.register_instance(instance("young", |i| i.opened_at = Utc::now() - Duration::minutes(90)));
    let cases: Vec<(Option<&str>, Value)> = vec![
        (None, rec("od", "ok-1", 10)),
        (Some("001"), rec("nobody", "r-001", 10)),
        (Some("001"), with(rec("od", "r-001b", 10), "instance_id", Value::Null)),
        (Some("002"), with(rec("od", "r-002", 10), "begin_time", json!("2024-01-01 00:00:00"))),
        (Some("002"), with(rec("od", "r-002b", 10), "record_time", json!("20240101T000000"))),
        (Some("003"), with(rec("od", "r-003", 11), "usage_value", json!("0"))),
        (Some("003"), with(rec("od", "r-003b", 11), "usage_value", json!("1.23456"))),
        (Some("003"), with(rec("od", "r-003c", 11), "usage_value", json!("-2"))),
        (None, with(rec("od", "ok-num", 11), "usage_value", json!(2.25))),
        (Some("004"), with(rec("od", "", 12), "metering_sn", Value::Null)),
        (Some("004"), rec("od", " ", 12)),
        (Some("005"), rec("od", "ok-1", 13)),
        (Some("006"), rec("delisted", "r-006", 10)),
        (Some("009"), rec("foreign", "r-009", 10)),
        (Some("010"), rec("od", "r-010", 10)),
        (
            Some("011"),
            with(rec("od", "r-011", 14), "end_time", json!(format_open_api(Utc::now() - Duration::hours(15)))),
        ),
        (
            Some("011"),
            with(rec("od", "r-011b", 1), "end_time", json!(format_open_api(Utc::now() + Duration::hours(1)))),
        ),
        (Some("011"), rec("young", "r-011c", 2)),
        (Some("011"), rec("released", "r-011d", 5)),
        (None, rec("released", "ok-released", 7)),
        (Some("012"), rec("period", "r-012", 10)),
        (Some("012"), rec("package", "r-012b", 10)),
        (Some("013"), rec("frozen", "r-013", 10)),
    ];
    let records: Vec<Value> = cases.iter().map(|(_, r)| r.clone()).collect();
    assert_eq!(push(&sim, &records).await, (200, "MKT.0000".to_owned()), "bad records do not fail the push");
    let results = sim.usage_records();
    assert_eq!(results.len(), cases.len());
    for ((expected, record), result) in cases.iter().zip(&results) {
        assert_eq!(result.reason().map(|r| r.code()), *expected, "{record}");
    }
    // A later push: a metering_sn accepted before is a duplicate; a rejected one may be re-reported.
    let again = [rec("od", "ok-1", 20), rec("od", "r-003", 16)];
    push(&sim, &again).await;
    let results = sim.usage_records();
    assert_eq!(results[cases.len()].reason().map(|r| r.code()), Some("005"));
    assert_eq!(results[cases.len()].push, 2);
    assert_eq!(results[cases.len() + 1].reason(), None, "the fixed record is accepted");
}

#[tokio::test]
async fn push_level_limits_refuse_the_whole_push() {
    let sim = crate::simulator().await;
    sim.register_instance(instance("od", |_| {}));
    let many: Vec<Value> = (0..1001).map(|i| rec("od", &format!("sn-{i}"), 10)).collect();
    assert_eq!(push(&sim, &many).await, (500, "MKT.9003".to_owned()));
    assert_eq!(push(&sim, &many[..1000]).await, (200, "MKT.0000".to_owned()), "1000 records are fine");
    let old = with(rec("od", "old", 10), "begin_time", json!(format_open_api(Utc::now() - Duration::days(22))));
    assert_eq!(push(&sim, &[rec("od", "fresh", 30), old]).await, (500, "MKT.9004".to_owned()));
    assert_eq!(sim.usage_records().len(), 1000, "refused pushes record nothing");
    assert_eq!(push(&sim, &[json!({"records": []})]).await.0, 200, "records without fields are still a push");
    let response =
        reqwest::Client::new().post(format!("{}{USAGE_PATH}", sim.base_url())).body("{}").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 400, "unsigned");
}

#[tokio::test]
async fn with_the_record_level_policy_an_old_begin_time_is_reason_007() {
    let cfg = SimConfig { stale_begin: StaleBeginPolicy::RecordLevel, ..SimConfig::for_keys(&keys()) };
    let sim = Simulator::start(cfg).await.unwrap();
    let mut old_instance = instance("od", |_| {});
    old_instance.opened_at = Utc::now() - Duration::days(40);
    sim.register_instance(old_instance);
    let old = with(rec("od", "old", 10), "begin_time", json!(format_open_api(Utc::now() - Duration::days(22))));
    assert_eq!(push(&sim, &[old, rec("od", "fresh", 3)]).await, (200, "MKT.0000".to_owned()));
    let codes: Vec<Option<&str>> = sim.usage_records().iter().map(|r| r.reason().map(|r| r.code())).collect();
    assert_eq!(codes, [Some("007"), None]);
}
