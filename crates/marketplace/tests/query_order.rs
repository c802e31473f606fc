//! The query-order client against a local stand-in that checks the APIG signature as the gateway
//! does.
#![allow(clippy::unwrap_used)]

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::get,
};
use koofill_marketplace::{MarketplaceClient, MarketplaceConfig, MarketplaceError, QUERY_ORDER_PATH};
use koofill_signing::apig;

const AK: &str = "TESTAK";
const SK: &str = "test-sk";
const MOCK: &str = r#"{"resultCode":"MKT.0000","resultMsg":"Success","orderInfo":{"orderId":"MOCKPERIODYEARNEW","orderType":"NEW","createTime":"20241121090846","orderLine":[{"orderLineId":"MOCKPERIODYEARNEW-000001","chargingMode":"PERIOD","periodType":"year","periodNumber":1,"expireTime":"20251121235959","productInfo":[{"productId":"OFFI846204237451911168","skuCode":"0a4d1578-5295-46a7-92d4-7c803dccc51d","linearValue":50,"productName":"MOCK测试商品,测试规格,基础版,包周期"}],"extendParams":[{"name":"emailDomainName","value":"test.xxxx.com"},{"name":"ip","value":"127.0.0.1"}],"currency":"100","currencyAfterDiscount":"100"}],"buyerInfo":{"mobilePhone":"18688888888","email":null,"customerId":"459bbbec25d24749b2eb83be37b602a8","customerName":"mock_user_01","customerRealName":"测试用户1","customerType":0,"userId":null,"userName":null},"extendParams":[]}}"#;

#[derive(Clone, Default)]
struct StandIn {
    /// Answer 500 this many times first.
    fail_first: Arc<AtomicU32>,
    calls: Arc<AtomicU32>,
}

async fn query(State(s): State<StandIn>, headers: HeaderMap, RawQuery(q): RawQuery) -> impl IntoResponse {
    s.calls.fetch_add(1, Ordering::SeqCst);
    let pairs: Vec<(String, String)> =
        headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
    let query = q.unwrap_or_default();
    let verified = apig::verify_received("GET", QUERY_ORDER_PATH, &query, &pairs, b"", |ak| {
        (ak == AK).then(|| SK.as_bytes().to_vec())
    });
    if verified.is_err() {
        return (StatusCode::UNAUTHORIZED, r#"{"error_code":"MKT.0154","error_msg":"Illegal token"}"#.to_owned());
    }
    if s.fail_first.load(Ordering::SeqCst) > 0 {
        s.fail_first.fetch_sub(1, Ordering::SeqCst);
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error_code":"MKT.0999","error_msg":"System internal error."}"#.to_owned(),
        );
    }
    if query.contains("orderId=MOCKPERIODYEARNEW") {
        (StatusCode::OK, MOCK.to_owned())
    } else {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"resultCode":"MKT.0100","resultMsg":"Failure of input parameter"}"#.to_owned(),
        )
    }
}

async fn stand_in(state: StandIn) -> SocketAddr {
    let app = Router::new().route(QUERY_ORDER_PATH, get(query)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn config(base: String) -> MarketplaceConfig {
    let mut cfg = MarketplaceConfig::new(base, AK, SK);
    cfg.backoff = Duration::from_millis(10);
    cfg.timeout = Duration::from_secs(2);
    cfg
}

#[tokio::test]
async fn signed_query_order_returns_the_mock_order() {
    let addr = stand_in(StandIn::default()).await;
    let client = MarketplaceClient::new(config(format!("http://{addr}"))).unwrap();
    let order =
        client.query_order(&"MOCKPERIODYEARNEW".into(), Some(&"MOCKPERIODYEARNEW-000001".into())).await.unwrap();
    assert_eq!(order.order_id.as_str(), "MOCKPERIODYEARNEW");
    assert_eq!(order.order_line.len(), 1);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_without_retrying() {
    let state = StandIn::default();
    let addr = stand_in(state.clone()).await;
    let mut cfg = config(format!("http://{addr}"));
    cfg.secret_access_key = "wrong".to_owned().into();
    let err = MarketplaceClient::new(cfg).unwrap().query_order(&"MOCKPERIODYEARNEW".into(), None).await.unwrap_err();
    assert_eq!(err.code(), Some("MKT.0154"));
    assert!(!err.is_retryable());
    assert_eq!(state.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn server_errors_are_retried() {
    let state = StandIn { fail_first: Arc::new(AtomicU32::new(2)), ..Default::default() };
    let addr = stand_in(state.clone()).await;
    let client = MarketplaceClient::new(config(format!("http://{addr}"))).unwrap();
    client.query_order(&"MOCKPERIODYEARNEW".into(), None).await.unwrap();
    assert_eq!(state.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn unknown_orders_fail_with_the_mkt_code() {
    let addr = stand_in(StandIn::default()).await;
    let client = MarketplaceClient::new(config(format!("http://{addr}"))).unwrap();
    let err = client.query_order(&"NOSUCHORDER".into(), None).await.unwrap_err();
    assert!(matches!(&err, MarketplaceError::Api { code, .. } if code == "MKT.0100"), "{err}");
    assert!(!err.is_retryable(), "input errors are not retried");
}

#[tokio::test]
async fn an_unreachable_primary_falls_back_to_the_second_host() {
    let state = StandIn::default();
    let addr = stand_in(state.clone()).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut cfg = config(format!("http://{closed}"));
    cfg.fallback_base = Some(format!("http://{addr}"));
    let order = MarketplaceClient::new(cfg).unwrap().query_order(&"MOCKPERIODYEARNEW".into(), None).await.unwrap();
    assert_eq!(order.order_type.as_str(), "NEW");
    assert_eq!(state.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn https_bases_use_strict_certificate_checks() {
    // A TLS handshake with a plain-HTTP server fails; no insecure mode exists to fall back to.
    let addr = stand_in(StandIn::default()).await;
    let mut cfg = config(format!("https://{addr}"));
    cfg.attempts = 1;
    let err = MarketplaceClient::new(cfg).unwrap().query_order(&"MOCKPERIODYEARNEW".into(), None).await.unwrap_err();
    assert!(matches!(err, MarketplaceError::Unreachable(_)), "{err}");
}
