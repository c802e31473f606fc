//! The orders query order answers: the spec's mock (debug) orders, and fresh orders the scenarios
//! create, all with data consistent with their scenario.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use koofill_model::order::{BuyerInfo, ChargingMode, ExtendParam, OrderInfo, OrderLine, OrderType, ProductInfo};
use koofill_model::time::{CompactTime, Precision};
use koofill_model::wire::WireNumber;

/// The real mock answer for `MOCKPERIODYEARNEW` (spec §8.2), served byte for byte.
pub const MOCK_PERIOD_YEAR_NEW_RESPONSE: &str = r#"{"resultCode":"MKT.0000","resultMsg":"Success","orderInfo":{"orderId":"MOCKPERIODYEARNEW","orderType":"NEW","createTime":"20241121090846","orderLine":[{"orderLineId":"MOCKPERIODYEARNEW-000001","chargingMode":"PERIOD","periodType":"year","periodNumber":1,"expireTime":"20251121235959","productInfo":[{"productId":"OFFI846204237451911168","skuCode":"0a4d1578-5295-46a7-92d4-7c803dccc51d","linearValue":50,"productName":"MOCK测试商品,测试规格,基础版,包周期"}],"extendParams":[{"name":"emailDomainName","value":"test.xxxx.com"},{"name":"ip","value":"127.0.0.1"}],"currency":"100","currencyAfterDiscount":"100"}],"buyerInfo":{"mobilePhone":"18688888888","email":null,"customerId":"459bbbec25d24749b2eb83be37b602a8","customerName":"mock_user_01","customerRealName":"测试用户1","customerType":0,"userId":null,"userName":null},"extendParams":[]}}"#;

/// The mock orders of spec §8.2, each with its scenario.
pub const MOCK_ORDER_IDS: [(&str, &str); 9] = [
    ("MOCKPERIODYEARNEW", "new, period (yearly)"),
    ("MOCKONETIMENEW", "new, one-time"),
    ("MOCKONDEMAND", "new, on-demand"),
    ("MOCKONDEMANDPKG", "new, on-demand package"),
    ("MOCKPERIODDAYTRIAL", "trial (7 days)"),
    ("MOCKMONTYTRIALTOFORMAL", "trial to formal (monthly)"),
    ("MOCKMONTYUNSUBSCRIBE", "unsubscribe (monthly)"),
    ("MOCKMONTYRENEW", "renew (monthly)"),
    ("MOCKMONTYCHANGE", "change / upgrade (monthly)"),
];

/// The SKU of the basic spec (the real mock's).
pub const SKU_BASIC: &str = "0a4d1578-5295-46a7-92d4-7c803dccc51d";
/// The SKU of the professional spec, the target of upgrades.
pub const SKU_PRO: &str = "7b1e3c52-0d8f-4a61-9e27-3f5c6d8a9b10";
/// The yearly product of the basic SKU (the real mock's).
pub const PRODUCT_YEARLY: &str = "OFFI846204237451911168";
/// The monthly product of the basic SKU (another period type, so another product under one SKU).
pub const PRODUCT_MONTHLY: &str = "OFFI846204237451911170";
/// The daily product used for trials.
pub const PRODUCT_DAILY_TRIAL: &str = "OFFI846204237451911171";
/// The one-time product.
pub const PRODUCT_ONE_TIME: &str = "OFFI846204237451911169";
/// The on-demand billing items: one product per item under one SKU, hence one instance each.
pub const PRODUCTS_ON_DEMAND: [&str; 2] = ["OFFI846204237451911172", "OFFI846204237451911173"];
/// The on-demand package.
pub const PRODUCT_PACKAGE: &str = "OFFI846204237451911174";
/// The monthly product of the professional SKU.
pub const PRODUCT_PRO_MONTHLY: &str = "OFFI846204237451911175";

/// One product of an order line: `(productId, skuCode, linearValue, productName)`.
pub type Product = (&'static str, &'static str, i64, &'static str);

/// What an order says; [`OrderSpec::build`] turns it into the query-order shape.
#[derive(Debug, Clone)]
pub struct OrderSpec {
    /// The order ID; its single line is `{order_id}-000001`.
    pub order_id: String,
    /// New, trial, renewal…
    pub order_type: OrderType,
    /// How the line is charged.
    pub charging_mode: ChargingMode,
    /// `(periodType, periodNumber)`, for period and package lines.
    pub period: Option<(&'static str, i64)>,
    /// When the order was placed.
    pub create_time: DateTime<Utc>,
    /// When the line expires, for period and package lines.
    pub expire_time: Option<DateTime<Utc>>,
    /// The products of the line.
    pub products: Vec<Product>,
    /// `(currency, currencyAfterDiscount)`.
    pub amount: (&'static str, &'static str),
}

impl OrderSpec {
    /// The order line ID of the order's single line.
    pub fn line_id(&self) -> String {
        line_id(&self.order_id)
    }

    /// The order as query order returns it, with the mock buyer and extend params.
    pub fn build(&self) -> OrderInfo {
        let seconds = |at: DateTime<Utc>| CompactTime::new(at, Precision::Seconds);
        let product_info = self
            .products
            .iter()
            .map(|(id, sku, linear, name)| ProductInfo {
                product_id: (*id).into(),
                sku_code: (*sku).into(),
                linear_value: Some(WireNumber::new(*linear)),
                product_name: Some((*name).to_owned()),
            })
            .collect();
        let param = |name: &str, value: &str| ExtendParam { name: name.to_owned(), value: Some(value.to_owned()) };
        OrderInfo {
            order_id: self.order_id.as_str().into(),
            order_type: self.order_type.clone(),
            create_time: Some(seconds(self.create_time)),
            order_line: vec![OrderLine {
                order_line_id: self.line_id().into(),
                charging_mode: self.charging_mode.clone(),
                period_type: self.period.map(|(t, _)| t.to_owned()),
                period_number: self.period.map(|(_, n)| n),
                expire_time: self.expire_time.map(seconds),
                product_info,
                extend_params: Some(vec![param("emailDomainName", "test.xxxx.com"), param("ip", "127.0.0.1")]),
                currency: Some(self.amount.0.to_owned()),
                currency_after_discount: Some(self.amount.1.to_owned()),
            }],
            buyer_info: Some(BuyerInfo {
                mobile_phone: Some("18688888888".to_owned()),
                email: None,
                customer_id: Some("459bbbec25d24749b2eb83be37b602a8".to_owned()),
                customer_name: Some("mock_user_01".to_owned()),
                customer_real_name: Some("测试用户1".to_owned()),
                customer_type: Some(0),
                user_id: None,
                user_name: None,
            }),
            extend_params: Some(Vec::new()),
        }
    }
}

/// `{order_id}-000001`.
pub fn line_id(order_id: &str) -> String {
    format!("{order_id}-000001")
}

/// The basic yearly product line of the real mock.
pub const YEARLY_BASIC: Product = (PRODUCT_YEARLY, SKU_BASIC, 50, "MOCK测试商品,测试规格,基础版,包周期");
/// The basic monthly product.
pub const MONTHLY_BASIC: Product = (PRODUCT_MONTHLY, SKU_BASIC, 50, "MOCK测试商品,测试规格,基础版,包月");
/// The professional monthly product (upgrade target).
pub const MONTHLY_PRO: Product = (PRODUCT_PRO_MONTHLY, SKU_PRO, 100, "MOCK测试商品,测试规格,专业版,包月");
/// The two on-demand billing items.
pub const ON_DEMAND_ITEMS: [Product; 2] = [
    (PRODUCTS_ON_DEMAND[0], SKU_BASIC, 1, "MOCK测试商品,测试规格,按需,API调用次数"),
    (PRODUCTS_ON_DEMAND[1], SKU_BASIC, 1, "MOCK测试商品,测试规格,按需,存储容量GB"),
];

fn at(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|date| date.and_hms_opt(h, mi, s))
        .map(|naive| Utc.from_utc_datetime(&naive))
        .unwrap_or_default()
}

/// The eight mock orders other than `MOCKPERIODYEARNEW` (which is served from the spec's text),
/// dated like the real mock: placed on 2024-11-21, a monthly cycle ending 2024-12-21.
pub fn mock_orders() -> Vec<OrderInfo> {
    use ChargingMode::{OnDemand, OnDemandPkg, OneTime, Period};
    use OrderType::{Change, New, Renew, Trial, TrialToFormal, Unsubscribe};
    let created = at(2024, 11, 21, 9, 8, 46);
    let month_end = Some(at(2024, 12, 21, 23, 59, 59));
    let spec = |id: &str, order_type, mode, period, expire, products: Vec<Product>, amount| OrderSpec {
        order_id: id.to_owned(),
        order_type,
        charging_mode: mode,
        period,
        create_time: created,
        expire_time: expire,
        products,
        amount,
    };
    let one_time = (PRODUCT_ONE_TIME, SKU_BASIC, 1, "MOCK测试商品,测试规格,基础版,按次");
    let package = (PRODUCT_PACKAGE, SKU_BASIC, 100, "MOCK测试商品,测试规格,按需套餐包,100次");
    let trial = (PRODUCT_DAILY_TRIAL, SKU_BASIC, 50, "MOCK测试商品,测试规格,基础版,试用");
    [
        spec("MOCKONETIMENEW", New, OneTime, None, None, vec![one_time], ("500", "500")),
        spec("MOCKONDEMAND", New, OnDemand, None, None, ON_DEMAND_ITEMS.to_vec(), ("0", "0")),
        spec("MOCKONDEMANDPKG", New, OnDemandPkg, Some(("month", 1)), month_end, vec![package], ("30", "30")),
        spec(
            "MOCKPERIODDAYTRIAL",
            Trial,
            Period,
            Some(("day", 7)),
            Some(at(2024, 11, 28, 23, 59, 59)),
            vec![trial],
            ("0", "0"),
        ),
        spec(
            "MOCKMONTYTRIALTOFORMAL",
            TrialToFormal,
            Period,
            Some(("month", 1)),
            month_end,
            vec![MONTHLY_BASIC],
            ("10", "10"),
        ),
        spec(
            "MOCKMONTYUNSUBSCRIBE",
            Unsubscribe,
            Period,
            Some(("month", 1)),
            month_end,
            vec![MONTHLY_BASIC],
            ("", "-10"),
        ),
        spec(
            "MOCKMONTYRENEW",
            Renew,
            Period,
            Some(("month", 1)),
            Some(at(2025, 1, 21, 23, 59, 59)),
            vec![MONTHLY_BASIC],
            ("10", "10"),
        ),
        spec("MOCKMONTYCHANGE", Change, Period, Some(("month", 1)), month_end, vec![MONTHLY_PRO], ("15", "15")),
    ]
    .iter()
    .map(OrderSpec::build)
    .collect()
}

#[cfg(test)]
mod tests {
    use koofill_model::QueryOrderResponse;

    use super::*;

    #[test]
    fn the_real_mock_parses_and_serialises_back_byte_for_byte() {
        let parsed: QueryOrderResponse = serde_json::from_str(MOCK_PERIOD_YEAR_NEW_RESPONSE).unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), MOCK_PERIOD_YEAR_NEW_RESPONSE);
    }

    #[test]
    fn every_mock_order_id_has_an_order_consistent_with_its_scenario() {
        let orders = mock_orders();
        assert_eq!(orders.len() + 1, MOCK_ORDER_IDS.len());
        for order in &orders {
            assert!(MOCK_ORDER_IDS.iter().any(|(id, _)| *id == order.order_id.as_str()));
            let line = &order.order_line[0];
            assert_eq!(line.order_line_id.as_str(), line_id(order.order_id.as_str()));
            let period = matches!(line.charging_mode, ChargingMode::Period | ChargingMode::OnDemandPkg);
            assert_eq!(line.expire_time.is_some(), period, "{:?}", order.order_id);
        }
        let on_demand = orders.iter().find(|o| o.order_id.as_str() == "MOCKONDEMAND").unwrap();
        assert_eq!(on_demand.order_line[0].product_info.len(), 2);
    }
}
