//! `[supervision]`: which products are supervised (spec §10.1), the deadlines and reminders of
//! spec §10.3, and the admin API token of the supervision worker.

use std::{collections::BTreeMap, fmt, str::FromStr};

use secrecy::SecretString;
use serde::Deserialize;

use super::checks;
use crate::error::ConfigError;

/// The kind of supervised goods, which decides the deadlines that apply; `none` marks goods
/// that are not supervised (e.g. auto-delivered SaaS).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoodsKind {
    /// Not supervised.
    None,
    /// License goods.
    License,
    /// Manual service (人工服务).
    ManualService,
    /// Hardware: shipped offline, auto-accepted 10 days after sign-off.
    Hardware,
    /// SaaS that needs offline implementation.
    SaasOffline,
    /// App orchestration (应用编排).
    AppOrchestration,
    /// Data files (数据文件类).
    DataFile,
}

impl GoodsKind {
    /// The configuration and database text: `manual_service`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::License => "license",
            Self::ManualService => "manual_service",
            Self::Hardware => "hardware",
            Self::SaasOffline => "saas_offline",
            Self::AppOrchestration => "app_orchestration",
            Self::DataFile => "data_file",
        }
    }

    /// The kind for a text written by [`GoodsKind::as_str`].
    pub fn from_text(text: &str) -> Option<Self> {
        [
            Self::None,
            Self::License,
            Self::ManualService,
            Self::Hardware,
            Self::SaasOffline,
            Self::AppOrchestration,
            Self::DataFile,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// The unit of a [`CalendarSpan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanUnit {
    /// Minutes.
    Minutes,
    /// Hours.
    Hours,
    /// Calendar days.
    Days,
    /// Calendar months (the same day of a later month, or its last day).
    Months,
}

/// A duration as the spec states it, kept in its calendar unit so that "1 month" from Jan 31 is
/// Feb 28/29 rather than 30 days: `"3 hours"`, `"10 days"`, `"1 month"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CalendarSpan {
    /// How many units.
    pub amount: u32,
    /// Which unit.
    pub unit: SpanUnit,
}

impl FromStr for CalendarSpan {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let amount: u32 = number.parse().map_err(|_| format!("{text:?} must start with a whole number"))?;
        let unit = match unit.trim() {
            "m" | "min" | "mins" | "minute" | "minutes" => SpanUnit::Minutes,
            "h" | "hour" | "hours" => SpanUnit::Hours,
            "d" | "day" | "days" => SpanUnit::Days,
            "month" | "months" => SpanUnit::Months,
            other => return Err(format!("unknown unit {other:?} in {text:?} (minutes, hours, days or months)")),
        };
        if amount == 0 {
            return Err(format!("{text:?} must be longer than zero"));
        }
        Ok(Self { amount, unit })
    }
}

impl fmt::Display for CalendarSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match (self.unit, self.amount) {
            (SpanUnit::Minutes, 1) => "minute",
            (SpanUnit::Minutes, _) => "minutes",
            (SpanUnit::Hours, 1) => "hour",
            (SpanUnit::Hours, _) => "hours",
            (SpanUnit::Days, 1) => "day",
            (SpanUnit::Days, _) => "days",
            (SpanUnit::Months, 1) => "month",
            (SpanUnit::Months, _) => "months",
        };
        write!(f, "{} {unit}", self.amount)
    }
}

/// One deadline: how long after its start it falls due, and when to remind before it.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct DeadlineConfig {
    /// How long after the deadline starts it falls due (`"1 month"`).
    pub after: String,
    /// How long before the deadline each reminder goes out (`["7 days", "1 day"]`); thresholds
    /// longer than the deadline itself are skipped.
    pub remind_before: Vec<String>,
}

impl Default for DeadlineConfig {
    fn default() -> Self {
        Self::new("1 month", &["7 days", "1 day"])
    }
}

impl DeadlineConfig {
    fn new(after: &str, remind_before: &[&str]) -> Self {
        Self { after: after.to_owned(), remind_before: remind_before.iter().map(|s| (*s).to_owned()).collect() }
    }

    /// The parsed duration and reminder thresholds; `key` is the deadline's dotted key, for errors.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `<key>.after` or `<key>.remind_before`.
    pub fn spans(&self, key: &str) -> Result<(CalendarSpan, Vec<CalendarSpan>), ConfigError> {
        let after = self.after.parse().map_err(|e| ConfigError::invalid(&format!("{key}.after"), e))?;
        let reminders = self
            .remind_before
            .iter()
            .map(|r| r.parse().map_err(|e| ConfigError::invalid(&format!("{key}.remind_before"), e)))
            .collect::<Result<_, _>>()?;
        Ok((after, reminders))
    }
}

/// The deadlines of spec §10.3, each with its default.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct DeadlinesConfig {
    /// The buyer has not submitted the requirement: from payment. Default 1 month.
    pub requirement: DeadlineConfig,
    /// The buyer has not provided the materials: from the start of delivery. Default 1 month.
    pub materials: DeadlineConfig,
    /// The buyer has given no feedback on the delivery: from delivery. Default 3 months.
    pub feedback: DeadlineConfig,
    /// The order has not shown "已完成" after acceptance. Default 3 hours.
    pub completion: DeadlineConfig,
    /// Hardware not accepted after the courier's sign-off (KooGallery auto-accepts). Default 10 days.
    pub hardware_acceptance: DeadlineConfig,
    /// Hardware: the flow stayed at the seller (the buyer may appeal). Default 5 days.
    pub seller_action: DeadlineConfig,
    /// The order is still not accepted (reminders to the BD and the seller). Default 180 days.
    pub unaccepted: DeadlineConfig,
}

impl Default for DeadlinesConfig {
    fn default() -> Self {
        Self {
            requirement: DeadlineConfig::new("1 month", &["7 days", "1 day"]),
            materials: DeadlineConfig::new("1 month", &["7 days", "1 day"]),
            feedback: DeadlineConfig::new("3 months", &["14 days", "3 days"]),
            completion: DeadlineConfig::new("3 hours", &["1 hour"]),
            hardware_acceptance: DeadlineConfig::new("10 days", &["2 days"]),
            seller_action: DeadlineConfig::new("5 days", &["1 day"]),
            unaccepted: DeadlineConfig::new("180 days", &["30 days", "7 days"]),
        }
    }
}

impl DeadlinesConfig {
    /// Every deadline with its dotted key, in the order above.
    pub fn all(&self) -> [(&'static str, &DeadlineConfig); 7] {
        [
            ("supervision.deadlines.requirement", &self.requirement),
            ("supervision.deadlines.materials", &self.materials),
            ("supervision.deadlines.feedback", &self.feedback),
            ("supervision.deadlines.completion", &self.completion),
            ("supervision.deadlines.hardware_acceptance", &self.hardware_acceptance),
            ("supervision.deadlines.seller_action", &self.seller_action),
            ("supervision.deadlines.unaccepted", &self.unaccepted),
        ]
    }
}

/// The supervision worker's settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SupervisionConfig {
    /// Bearer token of the admin API the worker serves. Secret. Default: unset (the API answers 401).
    pub admin_token: Option<SecretString>,
    /// Seconds between two evaluations of the deadlines. Default: 60.
    pub tick_secs: u64,
    /// Buyer rejections of a delivery after which the case may be appealed. Default: 3.
    pub max_rejections: u32,
    /// Supervision by SKU code (wins over the product and the charging mode). Default: empty.
    pub skus: BTreeMap<String, GoodsKind>,
    /// Supervision by product ID (wins over the charging mode). Default: empty.
    pub products: BTreeMap<String, GoodsKind>,
    /// Supervision by charging mode (`PERIOD`, `ONE_TIME`, `ON_DEMAND`, `ON_DEMAND_PKG`) when no SKU or
    /// product rule matches. Default: every mode `none`.
    pub charging_modes: BTreeMap<String, GoodsKind>,
    /// The deadlines.
    pub deadlines: DeadlinesConfig,
}

impl Default for SupervisionConfig {
    fn default() -> Self {
        Self {
            admin_token: None,
            tick_secs: 60,
            max_rejections: 3,
            skus: BTreeMap::new(),
            products: BTreeMap::new(),
            charging_modes: ["PERIOD", "ONE_TIME", "ON_DEMAND", "ON_DEMAND_PKG"]
                .into_iter()
                .map(|m| (m.to_owned(), GoodsKind::None))
                .collect(),
            deadlines: DeadlinesConfig::default(),
        }
    }
}

impl SupervisionConfig {
    /// How an order line of `product_id` / `sku_code` charged by `charging_mode` is supervised:
    /// the first SKU rule that matches, then the first product rule, then the charging mode.
    pub fn goods_for<'a>(
        &self,
        products: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
        charging_mode: Option<&str>,
    ) -> GoodsKind {
        let by_sku = products.clone().into_iter().find_map(|(_, sku)| self.skus.get(sku).copied());
        let by_product = || products.into_iter().find_map(|(product, _)| self.products.get(product).copied());
        by_sku
            .or_else(by_product)
            .or_else(|| charging_mode.and_then(|m| self.charging_modes.get(m).copied()))
            .unwrap_or(GoodsKind::None)
    }

    /// Whether any goods are supervised at all; when none are, no order needs looking at.
    pub fn supervises_anything(&self) -> bool {
        [&self.skus, &self.products, &self.charging_modes]
            .into_iter()
            .any(|rules| rules.values().any(|kind| *kind != GoodsKind::None))
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        checks::non_blank("supervision.admin_token", self.admin_token.as_ref())?;
        checks::at_least("supervision.tick_secs", self.tick_secs, 1)?;
        checks::at_least("supervision.max_rejections", u64::from(self.max_rejections), 1)?;
        for (key, rules) in [("supervision.skus", &self.skus), ("supervision.products", &self.products)] {
            if rules.keys().any(|k| k.trim().is_empty()) {
                return Err(ConfigError::invalid(key, "has an empty product ID or SKU code"));
            }
        }
        for (key, deadline) in self.deadlines.all() {
            deadline.spans(key)?;
        }
        Ok(())
    }
}
