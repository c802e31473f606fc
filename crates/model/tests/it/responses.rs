//! Every answer example of the spec parses; koofill's answers are compact, ASCII-only and parse back.

use koofill_model::basic::response::EncryptType;
use koofill_model::order::{ChargingMode, OrderType};
use koofill_model::{AppInfo, CallbackResponse, InstanceId, InstanceInfo, QueryOrderResponse, ResultCode};
use serde_json::Value;

use crate::common::{fixture, json};

#[test]
fn every_answer_example_parses() {
    for name in [
        "response-new-instance.json",
        "response-success-dot.json",
        "response-success.json",
        "response-kit-success.json",
    ] {
        let response = CallbackResponse::from_slice(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(response.result_code, ResultCode::Success, "{name}");
        assert_eq!(serde_json::to_value(&response).unwrap(), json(name), "{name} does not round-trip");
    }
    let created = CallbackResponse::from_slice(&fixture("response-new-instance.json")).unwrap();
    assert_eq!(created.instance_id, Some(InstanceId::from("03pf80c2bae96vc49*********")));
    assert_eq!(created.result_msg.as_deref(), Some("success."));
}

#[test]
fn the_query_instance_answer_parses() {
    let response = CallbackResponse::from_slice(&fixture("response-query-instance.json")).unwrap();
    assert_eq!(response.encrypt_type, Some(EncryptType::Aes256));
    let info = response.info.as_ref().unwrap();
    let app = info[0].app_info.as_ref().unwrap();
    assert_eq!(app.front_end_url, "https://app.example.com/t/abc");
    assert_eq!(app.memo.as_deref(), Some("请使用..."));
    assert_eq!(serde_json::to_value(&response).unwrap(), json("response-query-instance.json"));
    // koofill's own bytes for the same answer carry the memo escaped, as the spec's example does.
    let bytes = response.to_bytes();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains(r#""memo":"\u8bf7\u4f7f\u7528...""#), "{text}");
    assert_eq!(CallbackResponse::from_slice(&bytes).unwrap(), response);
}

#[test]
fn answers_escape_non_ascii_including_surrogate_pairs() {
    let response = CallbackResponse::query_instance(vec![InstanceInfo {
        instance_id: InstanceId::from("i-1"),
        app_info: Some(AppInfo {
            front_end_url: "https://例子.cn/".into(),
            admin_url: None,
            user_name: None,
            password: None,
            memo: Some("登录 🔑".into()),
        }),
        usage_info: None,
    }])
    .with_message("成功");
    let bytes = response.to_bytes();
    assert!(bytes.is_ascii());
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(text.contains(r"\u4f8b\u5b50"), "{text}");
    assert!(text.contains(r"\u767b\u5f55 \ud83d\udd11"), "{text}");
    assert!(text.contains(r#""resultMsg":"\u6210\u529f""#), "{text}");
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value, serde_json::to_value(&response).unwrap());
    assert_eq!(CallbackResponse::from_slice(&bytes).unwrap(), response);
}

#[test]
fn invalid_requests_answer_000002_with_the_field() {
    let error = koofill_model::BasicRequest::parse(br#"{"activity":"newInstance","orderId":"o"}"#).unwrap_err();
    let response = CallbackResponse::invalid(&error);
    assert_eq!(
        String::from_utf8(response.to_bytes()).unwrap(),
        r#"{"resultCode":"000002","resultMsg":"orderLineId is missing"}"#
    );
}

#[test]
fn the_real_query_order_mock_parses_and_round_trips() {
    let response: QueryOrderResponse = serde_json::from_slice(&fixture("open-api-query-order-mock.json")).unwrap();
    assert!(response.is_success());
    assert_eq!(serde_json::to_value(&response).unwrap(), json("open-api-query-order-mock.json"));
    let order = response.order_info.as_ref().unwrap();
    assert_eq!(order.order_type, OrderType::New);
    assert_eq!(order.create_time.unwrap().to_string(), "20241121090846");
    let line = order.line(&"MOCKPERIODYEARNEW-000001".into()).unwrap();
    assert_eq!(line.charging_mode, ChargingMode::Period);
    assert_eq!(line.period_type.as_deref(), Some("year"));
    assert_eq!(line.period_number, Some(1));
    assert_eq!(line.expire_time.unwrap().at().to_rfc3339(), "2025-11-21T23:59:59+00:00");
    assert_eq!(line.product_info[0].linear_value.as_ref().and_then(|v| v.as_i64()), Some(50));
    assert_eq!(line.extend_param("emailDomainName"), Some("test.xxxx.com"));
    let buyer = order.buyer_info.as_ref().unwrap();
    assert_eq!(buyer.customer_name.as_deref(), Some("mock_user_01"));
    assert_eq!(buyer.email, None);
    assert_eq!(buyer.customer_type, Some(0));
}

#[test]
fn query_order_tolerates_unknown_values_and_missing_optionals() {
    let body = r#"{"resultCode":"MKT.0000","resultMsg":"Success","orderInfo":{"orderId":"X","orderType":"SWITCH",
        "orderLine":[{"orderLineId":"X-1","chargingMode":"PER_CALL","productInfo":[{"productId":"p","skuCode":"s","linearValue":"3"}]}],
        "newField":1}}"#;
    let response: QueryOrderResponse = serde_json::from_str(body).unwrap();
    let order = response.order_info.unwrap();
    assert_eq!(order.order_type, OrderType::Other("SWITCH".into()));
    assert_eq!(order.order_line[0].charging_mode, ChargingMode::Other("PER_CALL".into()));
    assert_eq!(order.order_line[0].product_info[0].linear_value.as_ref().and_then(|v| v.as_i64()), Some(3));

    let failure: QueryOrderResponse =
        serde_json::from_str(r#"{"resultCode":"MKT.9001","resultMsg":"Instance ID not found."}"#).unwrap();
    assert!(!failure.is_success());
    assert!(failure.order_info.is_none());
}
