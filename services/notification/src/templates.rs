//! Messages: built-in titles and bodies in English and Chinese for every event type (an
//! unknown type still gets a readable message listing its fields), or a configured template
//! with `{field}` placeholders.
//!
//! Bodies are light Markdown (`**label**: value` lines); [`plain`] strips it for channels that
//! show text only. Channels cut messages to their providers' limits ([`truncate_bytes`]).

use koofill_config::{Language, TemplateConfig};
use serde_json::Value;

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line (email subject, Markdown heading).
    pub title: String,
    /// Markdown body.
    pub body: String,
}

/// What is known about the event being rendered.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    /// Envelope id.
    pub event_id: &'a str,
    /// Event type.
    pub event_type: &'a str,
    /// Debug event.
    pub test: bool,
    /// The event's data.
    pub data: &'a Value,
}

/// (type, English title, Chinese title) of every event type koofill emits.
const TITLES: &[(&str, &str, &str)] = &[
    ("instance.accepted", "Order accepted", "订单已受理"),
    ("instance.provisioning", "Instance being opened", "实例开通中"),
    ("instance.active", "Instance opened", "实例已开通"),
    ("instance.renewed", "Instance renewed", "实例已续费"),
    ("instance.frozen", "Instance frozen", "实例已冻结"),
    ("instance.unfrozen", "Instance unfrozen", "实例已解冻"),
    ("instance.upgraded", "Instance upgraded", "实例已升级"),
    ("instance.released", "Instance released", "实例已释放"),
    ("instance.failed", "Instance could not be opened", "实例开通失败"),
    ("order.received", "Order received", "收到订单"),
    ("tenant.synced", "Tenant synchronised", "租户已同步"),
    ("application.synced", "Application synchronised", "应用已同步"),
    ("users.synced", "Users synchronised", "用户已同步"),
    ("departments.synced", "Departments synchronised", "部门已同步"),
    ("license.refreshed", "License renewed", "License 已续期"),
    ("license.frozen", "License frozen", "License 已冻结"),
    ("license.unfrozen", "License unfrozen", "License 已解冻"),
    ("license.released", "License released", "License 已释放"),
    ("usage.window_pushed", "Usage reported", "用量已上报"),
    ("usage.rejected", "Usage rejected", "用量被拒绝"),
    ("supervision.deadline_approaching", "Supervision deadline approaching", "监管截止时间临近"),
    ("dlq.message", "Message dead-lettered", "消息进入死信队列"),
];

/// (field, English label, Chinese label), in display order; other fields follow by name.
const LABELS: &[(&str, &str, &str)] = &[
    ("order_id", "Order", "订单"),
    ("order_line_id", "Order line", "订单行"),
    ("order_type", "Order type", "订单类型"),
    ("product_id", "Product", "产品"),
    ("sku_code", "SKU", "规格"),
    ("instance_id", "Instance", "实例"),
    ("license", "License", "License"),
    ("tenant_id", "Tenant", "租户"),
    ("customer_id", "Customer", "客户"),
    ("state", "State", "状态"),
    ("scene", "Reason", "场景"),
    ("expire_time", "Expires", "到期时间"),
    ("amount", "Amount", "金额"),
    ("usage_value", "Usage", "用量"),
    ("begin_time", "From", "开始时间"),
    ("end_time", "To", "结束时间"),
    ("reason", "Why", "原因"),
    ("deadline", "Deadline", "截止时间"),
];

/// The built-in message of an event.
pub fn builtin(event: EventView<'_>, language: Language, console_url: Option<&str>) -> Rendered {
    let zh = language == Language::Zh;
    let known = TITLES.iter().find(|(t, _, _)| *t == event.event_type);
    let mut title = match known {
        Some((_, en, cn)) => (if zh { *cn } else { *en }).to_owned(),
        None => event.event_type.to_owned(),
    };
    if event.test {
        title = format!("{} {title}", if zh { "[测试]" } else { "[TEST]" });
    }
    let mut lines = Vec::new();
    let fields = event.data.as_object();
    for (name, en, cn) in LABELS {
        if let Some(v) = fields.and_then(|f| f.get(*name)).and_then(scalar) {
            lines.push(format!("**{}**: {v}", if zh { cn } else { en }));
        }
    }
    if let Some(f) = fields {
        for (name, value) in f {
            if name == "type" || LABELS.iter().any(|(l, _, _)| l == name) {
                continue;
            }
            if let Some(v) = scalar(value) {
                lines.push(format!("**{name}**: {v}"));
            }
        }
    }
    lines.push(format!("**{}**: {}", if zh { "事件" } else { "Event" }, event.event_id));
    if let Some(url) = console_url {
        lines.push(format!("[{}]({url})", if zh { "在控制台查看" } else { "Open in the console" }));
    }
    Rendered { title, body: lines.join("\n") }
}

/// One line of a digest: the event's title and what it is about (instance, order, or the event).
pub fn digest_line(event: EventView<'_>, language: Language) -> String {
    let title = builtin(event, language, None).title;
    let field = |name: &str| event.data.get(name).and_then(scalar);
    let about = field("instance_id").or_else(|| field("order_id")).unwrap_or_else(|| event.event_id.to_owned());
    format!("{title} · {about}")
}

/// The title of a digest of `count` events.
pub fn digest_title(count: u64, language: Language) -> String {
    match language {
        Language::Zh => format!("koofill 汇总：{count} 条事件"),
        Language::En => format!("koofill digest: {count} event{}", if count == 1 { "" } else { "s" }),
    }
}

/// A configured template: `{name}` becomes the event's field of that name, or `type`,
/// `event_id`, `test`, `console_url`; unknown names become empty.
pub fn custom(template: &TemplateConfig, event: EventView<'_>, console_url: Option<&str>) -> Rendered {
    let lookup = |name: &str| -> String {
        match name {
            "type" => event.event_type.to_owned(),
            "event_id" => event.event_id.to_owned(),
            "test" => event.test.to_string(),
            "console_url" => console_url.unwrap_or_default().to_owned(),
            _ => event.data.get(name).and_then(scalar).unwrap_or_default(),
        }
    };
    Rendered { title: fill(&template.title, &lookup), body: fill(&template.body, &lookup) }
}

/// The console link of an event: `{instance_id}` and `{order_id}` replaced; `None` when no
/// template is configured.
pub fn console_url(template: &str, data: &Value) -> Option<String> {
    if template.is_empty() {
        return None;
    }
    Some(fill(template, &|name| data.get(name).and_then(scalar).unwrap_or_default()))
}

fn fill(template: &str, lookup: &dyn Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if after[..close].chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                out.push_str(&lookup(&after[..close]));
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(scalar).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        Value::Null | Value::Object(_) => None,
    }
}

/// The body without Markdown emphasis, for text-only channels.
pub fn plain(markdown: &str) -> String {
    markdown.replace("**", "")
}

/// `text` cut to at most `max` bytes on a character boundary, marked with `…` when cut.
pub fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let ellipsis = "…";
    let mut end = max.saturating_sub(ellipsis.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ellipsis}", &text[..end])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn view<'a>(event_type: &'a str, data: &'a Value) -> EventView<'a> {
        EventView { event_id: "evt-1", event_type, test: false, data }
    }

    #[test]
    fn every_emitted_event_type_has_a_title_in_both_languages() {
        for (t, en, zh) in TITLES {
            assert!(!en.is_empty() && !zh.is_empty(), "{t}");
        }
        let data = json!({"type": "instance.failed", "instance_id": "i-1", "order_id": "CS1", "reason": "boom"});
        let en = builtin(view("instance.failed", &data), Language::En, Some("https://c.example/i-1"));
        assert_eq!(en.title, "Instance could not be opened");
        assert_eq!(
            en.body,
            "**Order**: CS1\n**Instance**: i-1\n**Why**: boom\n**Event**: evt-1\n[Open in the console](https://c.example/i-1)"
        );
        let zh = builtin(EventView { test: true, ..view("instance.failed", &data) }, Language::Zh, None);
        assert_eq!(zh.title, "[测试] 实例开通失败");
        assert!(zh.body.starts_with("**订单**: CS1\n**实例**: i-1"), "{}", zh.body);
    }

    #[test]
    fn unknown_types_list_their_fields() {
        let data = json!({"type": "x.y", "widget": "w1", "count": 3, "nested": {"a": 1}});
        let r = builtin(view("x.y", &data), Language::En, None);
        assert_eq!(r.title, "x.y");
        assert_eq!(r.body, "**count**: 3\n**widget**: w1\n**Event**: evt-1");
    }

    #[test]
    fn custom_templates_fill_fields_and_leave_other_braces() {
        let data = json!({"order_id": "CS1"});
        let t = TemplateConfig { title: "{type} {order_id}".into(), body: "{missing}|{not a field}|{test}".into() };
        let r = custom(&t, view("order.received", &data), None);
        assert_eq!(r.title, "order.received CS1");
        assert_eq!(r.body, "|{not a field}|false");
        assert_eq!(console_url("https://c/{order_id}", &data).as_deref(), Some("https://c/CS1"));
        assert_eq!(console_url("", &data), None);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_bytes("abc", 3), "abc");
        let cut = truncate_bytes("订单订单订单", 8);
        assert!(cut.len() <= 8 && cut.ends_with('…'), "{cut}");
        assert_eq!(cut, "订…");
    }
}
