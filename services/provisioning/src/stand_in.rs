//! A small local stand-in for KooGallery's query-order API (spec §8.2), for tests and the
//! benchmark: it checks the APIG signature as the gateway does and answers the spec's mock
//! orders, generated orders (IDs starting with `GEN` or `BENCH`: a yearly period order) and
//! orders registered with [`QueryOrderStandIn::insert`]. The simulator (`services/simulator`)
//! is the complete fake KooGallery.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
};

use axum::{
    Router,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode},
    routing::get,
};
use koofill_marketplace::QUERY_ORDER_PATH;
use koofill_signing::apig;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The spec's mock order IDs (调测订单数据); each line is the order ID + `-000001`.
pub const MOCK_ORDERS: [&str; 9] = [
    "MOCKPERIODYEARNEW",
    "MOCKONETIMENEW",
    "MOCKONDEMAND",
    "MOCKONDEMANDPKG",
    "MOCKPERIODDAYTRIAL",
    "MOCKMONTYTRIALTOFORMAL",
    "MOCKMONTYUNSUBSCRIBE",
    "MOCKMONTYRENEW",
    "MOCKMONTYCHANGE",
];

#[derive(Debug)]
struct Inner {
    ak: String,
    sk: String,
    orders: Mutex<HashMap<String, Value>>,
    fail_next: AtomicU32,
    calls: AtomicU32,
}

/// A running stand-in; stops when dropped.
#[derive(Debug)]
pub struct QueryOrderStandIn {
    addr: SocketAddr,
    inner: Arc<Inner>,
    stop: CancellationToken,
}

impl Drop for QueryOrderStandIn {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl QueryOrderStandIn {
    /// Listens on a free loopback port and accepts requests signed with `ak`/`sk`.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(ak: &str, sk: &str) -> std::io::Result<Self> {
        let inner = Arc::new(Inner {
            ak: ak.to_owned(),
            sk: sk.to_owned(),
            orders: Mutex::new(HashMap::new()),
            fail_next: AtomicU32::new(0),
            calls: AtomicU32::new(0),
        });
        let app = Router::new().route(QUERY_ORDER_PATH, get(query)).with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let until = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).with_graceful_shutdown(until.cancelled_owned()).await;
        });
        Ok(Self { addr, inner, stop })
    }

    /// The base URL to configure as `koogallery.api_base`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Registers (or replaces) an order: an `orderInfo` object with at least `orderId`.
    pub fn insert(&self, order_info: Value) {
        let id = order_info["orderId"].as_str().unwrap_or_default().to_owned();
        self.inner.orders.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, order_info);
    }

    /// Answers the next `n` (correctly signed) requests with HTTP 500 `MKT.0999`.
    pub fn fail_next(&self, n: u32) {
        self.inner.fail_next.store(n, Ordering::SeqCst);
    }

    /// Correctly signed requests received so far.
    pub fn calls(&self) -> u32 {
        self.inner.calls.load(Ordering::SeqCst)
    }
}

async fn query(State(s): State<Arc<Inner>>, headers: HeaderMap, RawQuery(q): RawQuery) -> (StatusCode, String) {
    let pairs: Vec<(String, String)> =
        headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
    let query = q.unwrap_or_default();
    let signed = apig::verify_received("GET", QUERY_ORDER_PATH, &query, &pairs, b"", |ak| {
        (ak == s.ak).then(|| s.sk.as_bytes().to_vec())
    })
    .is_ok();
    if !signed {
        return (StatusCode::UNAUTHORIZED, r#"{"error_code":"MKT.0154","error_msg":"Illegal token"}"#.to_owned());
    }
    s.calls.fetch_add(1, Ordering::SeqCst);
    if s.fail_next.load(Ordering::SeqCst) > 0 {
        s.fail_next.fetch_sub(1, Ordering::SeqCst);
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error_code":"MKT.0999","error_msg":"System internal error."}"#.to_owned(),
        );
    }
    let order_id =
        query.split('&').find_map(|kv| kv.strip_prefix("orderId=")).map(|v| v.replace("%2D", "-")).unwrap_or_default();
    let registered = s.orders.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&order_id).cloned();
    match registered.or_else(|| known_order(&order_id)) {
        Some(info) => {
            (StatusCode::OK, json!({"resultCode": "MKT.0000", "resultMsg": "Success", "orderInfo": info}).to_string())
        }
        None => (
            StatusCode::BAD_REQUEST,
            r#"{"resultCode":"MKT.0100","resultMsg":"Failure of input parameter"}"#.to_owned(),
        ),
    }
}

/// A mock or generated order.
pub fn known_order(order_id: &str) -> Option<Value> {
    let buyer = json!({"mobilePhone": "18688888888", "email": null, "customerId": "459bbbec25d24749b2eb83be37b602a8",
        "customerName": "mock_user_01", "customerRealName": "测试用户1", "customerType": 0, "userId": null, "userName": null});
    let base_product = json!({"productId": "OFFI846204237451911168", "skuCode": "0a4d1578-5295-46a7-92d4-7c803dccc51d",
        "linearValue": 50, "productName": "MOCK测试商品,测试规格,基础版,包周期"});
    let (order_type, mode, period, expire, products, amount) = match order_id {
        "MOCKPERIODYEARNEW" => ("NEW", "PERIOD", Some(("year", 1)), Some("20251121235959"), vec![base_product], "100"),
        "MOCKONETIMENEW" => ("NEW", "ONE_TIME", None, None, vec![base_product], "100"),
        "MOCKONDEMAND" => (
            "NEW",
            "ON_DEMAND",
            None,
            None,
            vec![
                json!({"productId": "OFFI-ONDEMAND-CPU", "skuCode": "sku-ondemand", "productName": "CPU hours"}),
                json!({"productId": "OFFI-ONDEMAND-SMS", "skuCode": "sku-ondemand", "productName": "SMS"}),
            ],
            "0",
        ),
        "MOCKONDEMANDPKG" => {
            ("NEW", "ON_DEMAND_PKG", Some(("month", 1)), Some("20251221235959"), vec![base_product], "50")
        }
        "MOCKPERIODDAYTRIAL" => ("TRIAL", "PERIOD", Some(("day", 7)), Some("20241128235959"), vec![base_product], "0"),
        "MOCKMONTYTRIALTOFORMAL" => {
            ("TRIAL_TO_FORMAL", "PERIOD", Some(("month", 1)), Some("20251221235959"), vec![base_product], "100")
        }
        "MOCKMONTYUNSUBSCRIBE" => {
            ("UNSUBSCRIBE", "PERIOD", Some(("month", 1)), Some("20241221235959"), vec![base_product], "")
        }
        "MOCKMONTYRENEW" => ("RENEW", "PERIOD", Some(("month", 1)), Some("20260121235959"), vec![base_product], "100"),
        "MOCKMONTYCHANGE" => (
            "CHANGE",
            "PERIOD",
            Some(("month", 1)),
            Some("20251221235959"),
            vec![json!({"productId": "OFFI846204237451911169", "skuCode": "0a4d1578-5295-46a7-92d4-7c803dccc51e",
                "linearValue": 100, "productName": "MOCK测试商品,测试规格,专业版,包周期"})],
            "200",
        ),
        id if id.starts_with("GEN") || id.starts_with("BENCH") => {
            ("NEW", "PERIOD", Some(("year", 1)), Some("20301231235959"), vec![base_product], "100")
        }
        _ => return None,
    };
    let mut line = json!({
        "orderLineId": format!("{order_id}-000001"),
        "chargingMode": mode,
        "productInfo": products,
        "extendParams": [{"name": "emailDomainName", "value": "test.xxxx.com"}, {"name": "ip", "value": "127.0.0.1"}],
        "currency": amount,
        "currencyAfterDiscount": if order_type == "UNSUBSCRIBE" { "-100" } else { amount },
    });
    if let Some((unit, n)) = period {
        line["periodType"] = json!(unit);
        line["periodNumber"] = json!(n);
    }
    if let Some(e) = expire {
        line["expireTime"] = json!(e);
    }
    Some(json!({
        "orderId": order_id,
        "orderType": order_type,
        "createTime": "20241121090846",
        "orderLine": [line],
        "buyerInfo": buyer,
        "extendParams": [],
    }))
}
