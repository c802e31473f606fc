//! The simulator's gateway accepts koofill's correctly signed requests and refuses each tampered
//! field.

use koofill_marketplace::{MarketplaceClient, MarketplaceConfig};
use koofill_signing::apig;
use koofill_signing::usage::{self, SortDepth};
use koofill_simulator::{
    LICENSE_ACTIVATE_PATH, QUERY_ORDER_PATH, Registry, RemoteSimulator, SimError, SimInstance, USAGE_PATH,
    orders::MOCK_PERIOD_YEAR_NEW_RESPONSE,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{AK, BASIC_KEY, SK, simulator};

/// A request to sign, then to send with one part changed.
#[derive(Clone)]
struct Req {
    method: &'static str,
    path: String,
    query: String,
    date: String,
    body: Vec<u8>,
}

impl Req {
    fn query_order(query: &str) -> Self {
        Self {
            method: "GET",
            path: QUERY_ORDER_PATH.into(),
            query: query.into(),
            date: apig::format_sdk_date(chrono::Utc::now().timestamp()),
            body: Vec::new(),
        }
    }

    fn headers(&self) -> Vec<(String, String)> {
        vec![
            (apig::DATE_HEADER.to_owned(), self.date.clone()),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ]
    }

    fn authorization(&self, host: &str, ak: &str, sk: &str) -> String {
        let headers = self.headers();
        let request = apig::Request {
            method: self.method,
            host,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            body: &self.body,
        };
        apig::sign(&request, ak, sk.as_bytes()).unwrap().authorization
    }

    async fn send(&self, base: &str, authorization: Option<&str>) -> (StatusCode, Value) {
        let url = format!("{base}{}{}{}", self.path, if self.query.is_empty() { "" } else { "?" }, self.query);
        let client = reqwest::Client::new();
        let mut builder = client.request(self.method.parse().unwrap(), url).body(self.body.clone());
        for (k, v) in self.headers() {
            builder = builder.header(k, v);
        }
        if let Some(auth) = authorization {
            builder = builder.header("Authorization", auth);
        }
        let response = builder.send().await.unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }
}

fn error_code(answer: &(StatusCode, Value)) -> String {
    let v = &answer.1;
    v.get("error_code").or_else(|| v.get("resultCode")).and_then(Value::as_str).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn koofills_query_order_client_is_accepted_and_gets_the_real_mock() {
    let sim = simulator().await;
    let client = MarketplaceClient::new(MarketplaceConfig::new(sim.base_url(), AK, SK)).unwrap();
    let order =
        client.query_order(&"MOCKPERIODYEARNEW".into(), Some(&"MOCKPERIODYEARNEW-000001".into())).await.unwrap();
    assert_eq!(order.order_line[0].product_info[0].product_id.as_str(), "OFFI846204237451911168");
    for (id, _) in koofill_simulator::orders::MOCK_ORDER_IDS {
        let order = client.query_order(&id.into(), None).await.unwrap();
        assert_eq!(order.order_line[0].order_line_id.as_str(), format!("{id}-000001"));
    }
    let err = client.query_order(&"NOSUCHORDER".into(), None).await.unwrap_err();
    assert_eq!(err.code(), Some("MKT.0100"));
    let err =
        client.query_order(&"MOCKPERIODYEARNEW".into(), Some(&"MOCKPERIODYEARNEW-000002".into())).await.unwrap_err();
    assert_eq!(err.code(), Some("MKT.0100"), "an unknown line of a known order");

    // The mock is served byte for byte as the spec prints it.
    let req = Req::query_order("orderId=MOCKPERIODYEARNEW");
    let host = sim.local_addr().to_string();
    let text = reqwest::Client::new()
        .get(format!("{}{QUERY_ORDER_PATH}?orderId=MOCKPERIODYEARNEW", sim.base_url()))
        .header(apig::DATE_HEADER, &req.date)
        .header("Content-Type", "application/json")
        .header("Authorization", req.authorization(&host, AK, SK))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, MOCK_PERIOD_YEAR_NEW_RESPONSE);

    // Every request is recorded; the Authorization value is not.
    let recorded = sim.requests();
    assert_eq!(recorded.len(), 13);
    assert!(recorded.iter().all(|r| r.path == QUERY_ORDER_PATH));
    assert_eq!(recorded[0].verdict.code, "MKT.0000");
    assert!(recorded[0].query.contains("orderLineId=MOCKPERIODYEARNEW-000001"));
    let auth = recorded[0].headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.as_str());
    assert_eq!(auth, Some("<redacted>"));
    assert_eq!(recorded[10].verdict.status, 500);
}

#[tokio::test]
async fn each_tampered_field_of_a_signed_request_is_refused() {
    let sim = simulator().await;
    let base = sim.base_url();
    let host = sim.local_addr().to_string();
    let good = Req::query_order("orderId=MOCKPERIODYEARNEW");
    let auth = good.authorization(&host, AK, SK);
    assert_eq!(error_code(&good.send(&base, Some(&auth)).await), "MKT.0000");

    let mut cases: Vec<(&str, Req, String, &str)> = Vec::new();
    // Signed over one thing, sent with another.
    let mut signed = good.clone();
    signed.path = format!("{QUERY_ORDER_PATH}/other");
    cases.push(("path", good.clone(), signed.authorization(&host, AK, SK), "MKT.0154"));
    let mut sent = good.clone();
    sent.query = "orderId=MOCKONETIMENEW".into();
    cases.push(("query", sent, auth.clone(), "MKT.0154"));
    let mut sent = good.clone();
    sent.body = b"{}".to_vec();
    cases.push(("body", sent, auth.clone(), "MKT.0154"));
    let mut sent = good.clone();
    sent.date = apig::format_sdk_date(chrono::Utc::now().timestamp() + 1);
    cases.push(("date header", sent, auth.clone(), "MKT.0154"));
    let mut stale = good.clone();
    stale.date = apig::format_sdk_date(chrono::Utc::now().timestamp() - 16 * 60);
    cases.push((
        "date older than 15 minutes, correctly signed",
        stale.clone(),
        stale.authorization(&host, AK, SK),
        "MKT.0154",
    ));
    cases.push(("unknown AK", good.clone(), good.authorization(&host, "OTHERAK", SK), "MKT.0150"));
    cases.push(("AK of another secret", good.clone(), good.authorization(&host, AK, "other-secret"), "MKT.0154"));
    cases.push(("AK swapped in the header", good.clone(), auth.replace(AK, "OTHERAK"), "MKT.0150"));
    let flipped = {
        let (head, sig) = auth.rsplit_once("Signature=").unwrap();
        let first = if sig.starts_with('0') { '1' } else { '0' };
        format!("{head}Signature={first}{}", &sig[1..])
    };
    cases.push(("signature", good.clone(), flipped, "MKT.0154"));
    cases.push(("not SDK-HMAC-SHA256", good.clone(), "Bearer abc".into(), "MKT.0154"));
    for (what, req, authorization, expected) in cases {
        let answer = req.send(&base, Some(&authorization)).await;
        assert_eq!(answer.0, StatusCode::UNAUTHORIZED, "{what}: {:?}", answer.1);
        assert_eq!(error_code(&answer), expected, "{what}");
    }
    let answer = good.send(&base, None).await;
    assert_eq!((answer.0, error_code(&answer).as_str()), (StatusCode::UNAUTHORIZED, "MKT.0154"), "no Authorization");

    // A POST body is covered by the signature too.
    let mut activate = Req {
        method: "POST",
        path: LICENSE_ACTIVATE_PATH.into(),
        body: br#"{"license":"PL1"}"#.to_vec(),
        ..good.clone()
    };
    activate.query.clear();
    let auth = activate.authorization(&host, AK, SK);
    let mut sent = activate.clone();
    sent.body = br#"{"license":"PL2"}"#.to_vec();
    assert_eq!(error_code(&sent.send(&base, Some(&auth)).await), "MKT.0154");
    assert_eq!(error_code(&activate.send(&base, Some(&auth)).await), "92020005", "signed right: unknown code");

    let refused = sim.requests().iter().filter(|r| r.verdict.status == 401).count();
    assert_eq!(refused, 12);
}

/// A usage push as koofill signs it: body sorted at every level, signed over exactly the bytes sent.
struct Push {
    body: String,
    ts: String,
    nonce: String,
    signature: String,
}

impl Push {
    fn signed(records: Value, ts_ms: i64) -> Self {
        let raw = serde_json::to_vec(&json!({ "usage_records": records })).unwrap();
        let body = usage::sorted_body(&raw, SortDepth::AllLevels).unwrap();
        let ts = ts_ms.to_string();
        let nonce = uuid::Uuid::new_v4().to_string();
        let signature = usage::sign(BASIC_KEY.as_bytes(), &ts, &nonce, &body);
        Self { body, ts, nonce, signature }
    }

    async fn send(&self, base: &str) -> (StatusCode, Value) {
        let response = reqwest::Client::new()
            .post(format!("{base}{USAGE_PATH}"))
            .header("Content-Type", "application/json")
            .header("signature", &self.signature)
            .header("ts", &self.ts)
            .header("nonce", &self.nonce)
            .body(self.body.clone())
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }
}

pub fn record(instance: &str, sn: &str, hours_ago: i64) -> Value {
    let t = |h: i64| koofill_model::time::format_open_api(chrono::Utc::now() - chrono::Duration::hours(h));
    json!({"instance_id": instance, "metering_sn": sn, "record_time": t(0), "begin_time": t(hours_ago),
        "end_time": t(hours_ago - 1), "usage_value": "12.5"})
}

#[tokio::test]
async fn usage_pushes_verify_with_the_basic_key_and_each_tampered_part_is_refused() {
    let sim = simulator().await;
    sim.register_instance(SimInstance::on_demand("od-1"));
    let base = sim.base_url();
    let now = chrono::Utc::now().timestamp_millis();
    let good = Push::signed(json!([record("od-1", "sn-1", 3)]), now);
    let signed = |sn: &str, ts_ms: i64| Push::signed(json!([record("od-1", sn, 3)]), ts_ms);
    let tampered = [
        ("body", Push { body: good.body.replace("12.5", "99.5"), ..signed("sn-1", now) }),
        ("ts", Push { ts: (now + 1).to_string(), ..signed("sn-2", now) }),
        ("nonce", Push { nonce: "other-nonce".into(), ..signed("sn-3", now) }),
        ("signature", Push { signature: "AAAA".into(), ..signed("sn-4", now) }),
        ("stale ts, correctly signed", signed("sn-5", now - 16 * 60 * 1000)),
    ];
    for (what, push) in tampered {
        let answer = push.send(&base).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(answer.1["error_code"], "MKT.0102", "{what}");
    }
    assert!(sim.usage_records().is_empty(), "refused pushes record nothing");
    let answer = good.send(&base).await;
    assert_eq!((answer.0, answer.1["error_code"].as_str()), (StatusCode::OK, Some("MKT.0000")));
    let records = sim.usage_records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].reason(), None, "{records:?}");
    // A push signed with another key (the Kit key, say) is refused too.
    let mut wrong = Push::signed(json!([record("od-1", "sn-9", 3)]), now);
    wrong.signature = usage::sign(crate::KIT_KEY.as_bytes(), &wrong.ts, &wrong.nonce, &wrong.body);
    assert_eq!(wrong.send(&base).await.1["error_code"], "MKT.0102");
}

#[tokio::test]
async fn a_remote_registry_registers_through_the_signed_api() {
    let sim = simulator().await;
    let spec = koofill_simulator::orders::OrderSpec {
        order_id: "CS2501011200ABCDE".into(),
        order_type: koofill_model::order::OrderType::New,
        charging_mode: koofill_model::order::ChargingMode::OnDemand,
        period: None,
        create_time: chrono::Utc::now(),
        expire_time: None,
        products: koofill_simulator::orders::ON_DEMAND_ITEMS.to_vec(),
        amount: ("0", "0"),
    };
    let remote = Registry::Remote(RemoteSimulator::new(&sim.base_url(), AK, SK).unwrap());
    remote.order(&spec.build()).await.unwrap();
    remote.instance(&SimInstance::on_demand("od-remote")).await.unwrap();
    remote.instance_status("od-remote", koofill_simulator::InstanceStatus::Frozen).await.unwrap();
    assert_eq!(sim.marketplace().instance("od-remote").unwrap().status, koofill_simulator::InstanceStatus::Frozen);
    let client = MarketplaceClient::new(MarketplaceConfig::new(sim.base_url(), AK, SK)).unwrap();
    let order = client.query_order(&"CS2501011200ABCDE".into(), None).await.unwrap();
    assert_eq!(order.order_line[0].product_info.len(), 2);

    // What the marketplace received is read back through the same signed API, per instance.
    sim.register_instance(SimInstance::on_demand("od-read"));
    let now = chrono::Utc::now().timestamp_millis();
    let push = json!([record("od-read", "sn-r1", 3), record("od-read", "sn-r1", 3), record("od-other", "sn-r2", 3)]);
    assert_eq!(Push::signed(push, now).send(&sim.base_url()).await.0, StatusCode::OK);
    let views = remote.usage_records("od-read").await.unwrap();
    assert_eq!(views.len(), 2, "{views:?}");
    assert_eq!((views[0].reason.as_deref(), views[1].reason.as_deref()), (None, Some("005")));
    assert_eq!(views[0].usage_value, "12.5");
    assert_eq!(views[0].metering_sn.as_deref(), Some("sn-r1"));
    assert!(views[0].begin_time.ends_with('Z') && views[0].end_time.ends_with('Z'), "{views:?}");
    assert!(remote.usage_records("nobody").await.unwrap().is_empty());

    let wrong = Registry::Remote(RemoteSimulator::new(&sim.base_url(), AK, "wrong").unwrap());
    let err = wrong.order(&spec.build()).await.unwrap_err();
    assert!(matches!(err, SimError::Registration { status: 401, .. }), "{err}");
    let err = wrong.usage_records("od-read").await.unwrap_err();
    assert!(matches!(err, SimError::Registration { status: 401, .. }), "{err}");
}
