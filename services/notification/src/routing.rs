//! Which channels an event goes to: the union of the channels of every `[[notification.rules]]`
//! it matches, each channel once (the first matching rule's template and digest period win for
//! that channel).

use koofill_config::{NotificationConfig, RuleConfig};
use serde_json::Value;

/// One channel an event goes to, and the template to render it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The channel id.
    pub channel: String,
    /// A named template, or `None` for the built-in one of the event type.
    pub template: Option<String>,
    /// The digest period in seconds when the rule batches its events.
    pub digest_secs: Option<u64>,
}

/// The routing rules.
#[derive(Debug, Clone)]
pub struct Router {
    rules: Vec<RuleConfig>,
}

impl Router {
    /// The rules of `cfg`.
    pub fn new(cfg: &NotificationConfig) -> Self {
        Self { rules: cfg.rules.clone() }
    }

    /// Where an event of type `event_type` (debug when `test`) with payload `data` goes.
    pub fn route(&self, event_type: &str, test: bool, data: &Value) -> Vec<Target> {
        let mut targets: Vec<Target> = Vec::new();
        for rule in self.rules.iter().filter(|r| matches(r, event_type, test, data)) {
            for channel in &rule.channels {
                if !targets.iter().any(|t| &t.channel == channel) {
                    targets.push(Target {
                        channel: channel.clone(),
                        template: rule.template.clone(),
                        digest_secs: rule.digest_secs,
                    });
                }
            }
        }
        targets
    }
}

fn matches(rule: &RuleConfig, event_type: &str, test: bool, data: &Value) -> bool {
    let field = |name: &str| data.get(name).and_then(Value::as_str);
    let one_of = |allowed: &[String], value: Option<&str>| {
        allowed.is_empty() || value.is_some_and(|v| allowed.iter().any(|a| a == v))
    };
    rule.events.iter().any(|g| glob(g, event_type))
        && rule.test.is_none_or(|t| t == test)
        && one_of(&rule.products, field("product_id"))
        && one_of(&rule.skus, field("sku_code"))
        && (rule.tenants.is_empty()
            || one_of(&rule.tenants, field("tenant_id"))
            || one_of(&rule.tenants, field("customer_id")))
}

/// `*` matches any run of characters (dots included), `?` one character; the rest literally.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Iterative matching with one backtrack point: linear for patterns with few stars.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule(events: &[&str], channels: &[&str]) -> RuleConfig {
        RuleConfig {
            events: events.iter().map(|s| (*s).to_owned()).collect(),
            test: None,
            products: vec![],
            skus: vec![],
            tenants: vec![],
            channels: channels.iter().map(|s| (*s).to_owned()).collect(),
            template: None,
            digest_secs: None,
        }
    }

    #[test]
    fn globs() {
        assert!(glob("instance.*", "instance.failed"));
        assert!(glob("*", "license.released"));
        assert!(glob("*.failed", "instance.failed"));
        assert!(glob("instance.?rozen", "instance.frozen"));
        assert!(!glob("instance.*", "order.received"));
        assert!(!glob("instance.failed", "instance.failed2"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
    }

    #[test]
    fn rules_filter_by_type_test_flag_product_and_tenant_and_union_their_channels() {
        let mut only_real = rule(&["instance.*"], &["ops", "mail"]);
        only_real.test = Some(false);
        let mut product = rule(&["*"], &["mail", "sales"]);
        product.products = vec!["P1".into()];
        let mut tenant = rule(&["tenant.*"], &["it"]);
        tenant.tenants = vec!["T1".into()];
        let cfg = NotificationConfig { rules: vec![only_real, product, tenant], ..Default::default() };
        let router = Router::new(&cfg);
        let channels = |t: &str, test: bool, data: Value| -> Vec<String> {
            router.route(t, test, &data).into_iter().map(|t| t.channel).collect()
        };
        assert_eq!(channels("instance.failed", false, json!({})), ["ops", "mail"]);
        assert!(channels("instance.failed", true, json!({})).is_empty());
        assert_eq!(channels("instance.failed", false, json!({"product_id": "P1"})), ["ops", "mail", "sales"]);
        assert_eq!(channels("order.received", true, json!({"product_id": "P1"})), ["mail", "sales"]);
        assert_eq!(channels("tenant.synced", false, json!({"tenant_id": "T1"})), ["it"]);
        assert!(channels("tenant.synced", false, json!({"tenant_id": "T2"})).is_empty());
    }
}
