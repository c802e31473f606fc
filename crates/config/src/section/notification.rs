//! `[notification]`: who hears about which event, through which channel (the notification
//! worker, architecture §6).
//!
//! ```toml
//! [notification.channels.ops-dingtalk]
//! kind = "dingtalk"
//! url = "https://oapi.dingtalk.com/robot/send?access_token=..."   # secret: the token is in it
//! secret_file = "/run/secrets/dingtalk"                           # SEC...
//!
//! [[notification.rules]]
//! events = ["instance.failed", "instance.frozen", "dlq.*"]
//! channels = ["ops-dingtalk"]
//!
//! [[notification.rules]]                # one message an hour listing every usage event
//! events = ["usage.*"]
//! channels = ["ops-dingtalk"]
//! digest_secs = 3600
//! ```

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::checks;
use crate::error::ConfigError;

/// Which provider a channel talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// The seller's own HTTP endpoint, signed the Standard Webhooks way.
    Webhook,
    /// WeCom (企业微信) group robot.
    Wecom,
    /// DingTalk (钉钉) custom robot with a signing secret.
    Dingtalk,
    /// Feishu / Lark custom bot with a signing secret.
    Feishu,
    /// Slack incoming webhook.
    Slack,
    /// Email over SMTP.
    Email,
    /// One JSON line per notification appended to a local file (`koofill dev`'s catch-all).
    File,
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587), required.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the loopback interface.
    None,
}

/// Message language of the built-in templates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

/// One destination. Which keys apply depends on `kind`.
#[derive(Clone, Debug, Deserialize)]
pub struct ChannelConfig {
    /// The provider.
    pub kind: ChannelKind,
    /// Endpoint (webhook, wecom, dingtalk, feishu, slack). Secret: robot URLs carry their key.
    /// https only; http is accepted for loopback addresses (local stand-ins).
    #[serde(default)]
    pub url: Option<SecretString>,
    /// Signing secret: `whsec_…` (webhook), `SEC…` (dingtalk), the bot's secret (feishu). Secret.
    #[serde(default)]
    pub secret: Option<SecretString>,
    /// Delays before each retry, in seconds; when used up the delivery fails.
    /// Default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    #[serde(default = "default_schedule")]
    pub retry_schedule_secs: Vec<u64>,
    /// Messages per minute sent to this channel; default the provider's limit (wecom, dingtalk 20,
    /// feishu 100, slack 60, webhook and email 600, file unlimited).
    #[serde(default)]
    pub rate_per_minute: Option<u32>,
    /// Language of the built-in templates; default `notification.language`.
    #[serde(default)]
    pub language: Option<Language>,
    /// SMTP server host (email).
    #[serde(default)]
    pub smtp_host: Option<String>,
    /// SMTP port (email); default 587 for starttls, 465 for tls, 25 for none.
    #[serde(default)]
    pub smtp_port: Option<u16>,
    /// SMTP security (email). Default starttls.
    #[serde(default)]
    pub smtp_tls: SmtpTls,
    /// SMTP user name (email); no authentication when unset.
    #[serde(default)]
    pub username: Option<String>,
    /// SMTP password (email). Secret.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// Sender address (email).
    #[serde(default)]
    pub from: Option<String>,
    /// Recipient addresses (email).
    #[serde(default)]
    pub to: Vec<String>,
    /// File that receives one JSON line per notification (file).
    #[serde(default)]
    pub path: Option<PathBuf>,
}

fn default_schedule() -> Vec<u64> {
    vec![5, 300, 1800, 7200, 18_000, 36_000, 36_000]
}

/// Which events a rule takes, and where they go.
#[derive(Clone, Debug, Deserialize)]
pub struct RuleConfig {
    /// Event type globs (`instance.*`, `*`); `*` matches any run of characters, dots included.
    pub events: Vec<String>,
    /// Debug events (`test`): `true` only those, `false` only real ones; unset takes both.
    #[serde(default)]
    pub test: Option<bool>,
    /// Only events whose `product_id` is one of these; empty takes all.
    #[serde(default)]
    pub products: Vec<String>,
    /// Only events whose `sku_code` is one of these; empty takes all.
    #[serde(default)]
    pub skus: Vec<String>,
    /// Only events whose `tenant_id` or `customer_id` is one of these; empty takes all.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// Channel ids (keys of `notification.channels`).
    pub channels: Vec<String>,
    /// A template of `notification.templates` instead of the built-in one for the event type.
    #[serde(default)]
    pub template: Option<String>,
    /// Batch the matching events into one message per channel every this many seconds (a
    /// digest: one line per event, sent when the period ends), for high-volume events such as
    /// `usage.*` or `instance.renewed`. Unset: one message per event. Between 60 and 86400.
    #[serde(default)]
    pub digest_secs: Option<u64>,
}

/// Shortest digest period.
pub const DIGEST_SECS_MIN: u64 = 60;
/// Longest digest period (a day).
pub const DIGEST_SECS_MAX: u64 = 86_400;

/// A message template: `{name}` is replaced by the event's field of that name (`order_id`,
/// `instance_id`, `expire_time`, …) or by `type`, `event_id`, `test`, `console_url`.
#[derive(Clone, Debug, Deserialize)]
pub struct TemplateConfig {
    /// Title (email subject, Markdown heading).
    pub title: String,
    /// Body (Markdown where the channel renders it).
    pub body: String,
}

/// The notification worker's settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct NotificationConfig {
    /// Language of the built-in templates. Default en.
    pub language: Language,
    /// Link to the seller's console in every message; `{instance_id}`, `{order_id}` are replaced.
    /// Empty leaves the link out. Default empty.
    pub console_url_template: String,
    /// Deadline of one send (HTTP request or whole SMTP conversation), in milliseconds. Default 10000.
    pub send_timeout_ms: u64,
    /// A delivery claimed by a sender that neither succeeded nor failed within this many seconds
    /// (the process died mid-send) is sent again, with the same delivery id. Default 120.
    pub lease_secs: u64,
    /// How often due retries are looked for, in milliseconds. Default 1000.
    pub poll_interval_ms: u64,
    /// Deliveries sent at once by one process. Default 8.
    pub concurrency: usize,
    /// The destinations, by id.
    pub channels: BTreeMap<String, ChannelConfig>,
    /// The routing rules; an event goes to the union of the channels of every rule it matches.
    pub rules: Vec<RuleConfig>,
    /// Named templates rules may use.
    pub templates: BTreeMap<String, TemplateConfig>,
}

impl Default for NotificationConfig {
    fn default() -> Self {
        Self {
            language: Language::En,
            console_url_template: String::new(),
            send_timeout_ms: 10_000,
            lease_secs: 120,
            poll_interval_ms: 1000,
            concurrency: 8,
            channels: BTreeMap::new(),
            rules: Vec::new(),
            templates: BTreeMap::new(),
        }
    }
}

impl NotificationConfig {
    /// [`NotificationConfig::send_timeout_ms`] as a duration.
    pub fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.send_timeout_ms)
    }

    /// [`NotificationConfig::lease_secs`] as a duration.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }

    /// [`NotificationConfig::poll_interval_ms`] as a duration.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        checks::at_least("notification.send_timeout_ms", self.send_timeout_ms, 1)?;
        checks::at_least("notification.lease_secs", self.lease_secs, 1)?;
        if self.lease_secs.saturating_mul(1000) <= self.send_timeout_ms {
            return Err(ConfigError::invalid(
                "notification.lease_secs",
                "must be longer than notification.send_timeout_ms, or a slow send would be repeated",
            ));
        }
        checks::at_least("notification.poll_interval_ms", self.poll_interval_ms, 10)?;
        checks::at_least("notification.concurrency", self.concurrency as u64, 1)?;
        for (id, channel) in &self.channels {
            channel.validate(&format!("notification.channels.{id}"))?;
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let key = format!("notification.rules[{i}]");
            if rule.events.is_empty() || rule.events.iter().any(|e| e.trim().is_empty()) {
                return Err(ConfigError::invalid(&format!("{key}.events"), "needs at least one non-empty glob"));
            }
            if rule.channels.is_empty() {
                return Err(ConfigError::invalid(&format!("{key}.channels"), "needs at least one channel"));
            }
            if let Some(unknown) = rule.channels.iter().find(|c| !self.channels.contains_key(*c)) {
                return Err(ConfigError::invalid(
                    &format!("{key}.channels"),
                    format!("names {unknown:?}, which is not a key of notification.channels"),
                ));
            }
            if let Some(secs) = rule.digest_secs
                && !(DIGEST_SECS_MIN..=DIGEST_SECS_MAX).contains(&secs)
            {
                return Err(ConfigError::invalid(
                    &format!("{key}.digest_secs"),
                    format!("must be between {DIGEST_SECS_MIN} and {DIGEST_SECS_MAX} seconds, got {secs}"),
                ));
            }
            if let Some(t) = &rule.template
                && !self.templates.contains_key(t)
            {
                return Err(ConfigError::invalid(
                    &format!("{key}.template"),
                    format!("names {t:?}, which is not a key of notification.templates"),
                ));
            }
        }
        Ok(())
    }
}

impl ChannelConfig {
    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let k = |field: &str| format!("{key}.{field}");
        checks::non_blank(&k("secret"), self.secret.as_ref())?;
        checks::non_blank(&k("password"), self.password.as_ref())?;
        if self.retry_schedule_secs.contains(&0) {
            return Err(ConfigError::invalid(&k("retry_schedule_secs"), "delays must be at least 1 second"));
        }
        if self.rate_per_minute == Some(0) {
            return Err(ConfigError::invalid(&k("rate_per_minute"), "must be at least 1"));
        }
        let needs_url = !matches!(self.kind, ChannelKind::Email | ChannelKind::File);
        if needs_url {
            let Some(url) = &self.url else {
                return Err(ConfigError::invalid(&k("url"), "is required for this kind of channel"));
            };
            if let Err(why) = outbound_url_allowed(url.expose_secret()) {
                return Err(ConfigError::invalid(&k("url"), why));
            }
        }
        match self.kind {
            ChannelKind::Webhook | ChannelKind::Dingtalk | ChannelKind::Feishu if self.secret.is_none() => {
                Err(ConfigError::invalid(&k("secret"), "is required for this kind of channel"))
            }
            ChannelKind::Email => {
                if self.smtp_host.as_deref().is_none_or(|h| h.trim().is_empty()) {
                    return Err(ConfigError::invalid(&k("smtp_host"), "is required for email"));
                }
                if self.from.as_deref().is_none_or(|f| !f.contains('@')) {
                    return Err(ConfigError::invalid(&k("from"), "must be an email address"));
                }
                if self.to.is_empty() || self.to.iter().any(|t| !t.contains('@')) {
                    return Err(ConfigError::invalid(&k("to"), "must list at least one email address"));
                }
                if self.password.is_some() && self.username.is_none() {
                    return Err(ConfigError::invalid(&k("username"), "is required when a password is set"));
                }
                Ok(())
            }
            ChannelKind::File if self.path.is_none() => {
                Err(ConfigError::invalid(&k("path"), "is required for a file channel"))
            }
            _ => Ok(()),
        }
    }
}

/// Whether koofill may send to `url`: https anywhere, http only to a loopback host (local
/// stand-ins). The reason names the rule, never the URL (which may hold a key).
///
/// # Errors
/// Why not.
pub fn outbound_url_allowed(url: &str) -> Result<(), &'static str> {
    let (scheme, rest) = url.split_once("://").ok_or("must be an https:// URL")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err("must name a host");
    }
    match scheme {
        "https" => Ok(()),
        "http" if host == "localhost" || host == "::1" || host.starts_with("127.") => Ok(()),
        "http" => Err("must use https (http only for loopback addresses)"),
        _ => Err("must be an https:// URL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(kind: ChannelKind) -> ChannelConfig {
        ChannelConfig {
            kind,
            url: Some("https://robot.example/send?key=k".into()),
            secret: Some("SECx".into()),
            retry_schedule_secs: default_schedule(),
            rate_per_minute: None,
            language: None,
            smtp_host: Some("smtp.example".into()),
            smtp_port: None,
            smtp_tls: SmtpTls::Starttls,
            username: None,
            password: None,
            from: Some("a@example.com".into()),
            to: vec!["b@example.com".into()],
            path: Some("n.log".into()),
        }
    }

    fn rule(channels: &[&str]) -> RuleConfig {
        RuleConfig {
            events: vec!["*".into()],
            test: None,
            products: vec![],
            skus: vec![],
            tenants: vec![],
            channels: channels.iter().map(|c| (*c).to_owned()).collect(),
            template: None,
            digest_secs: None,
        }
    }

    #[test]
    fn every_rule_names_the_key_it_guards() {
        type Breakage = fn(&mut NotificationConfig);
        let cases: &[(&str, Breakage)] = &[
            ("notification.lease_secs", |c| c.lease_secs = 5),
            ("notification.send_timeout_ms", |c| c.send_timeout_ms = 0),
            ("notification.channels.ops.url", |c| {
                if let Some(o) = c.channels.get_mut("ops") {
                    o.url = Some("http://robot.example/x".into());
                }
            }),
            ("notification.channels.ops.url", |c| {
                if let Some(o) = c.channels.get_mut("ops") {
                    o.url = None;
                }
            }),
            ("notification.channels.ops.secret", |c| {
                if let Some(o) = c.channels.get_mut("ops") {
                    o.secret = None;
                }
            }),
            ("notification.channels.ops.retry_schedule_secs", |c| {
                if let Some(o) = c.channels.get_mut("ops") {
                    o.retry_schedule_secs = vec![5, 0];
                }
            }),
            ("notification.channels.mail.to", |c| {
                if let Some(m) = c.channels.get_mut("mail") {
                    m.to.clear();
                }
            }),
            ("notification.channels.mail.smtp_host", |c| {
                if let Some(m) = c.channels.get_mut("mail") {
                    m.smtp_host = None;
                }
            }),
            ("notification.rules[0].channels", |c| c.rules[0].channels.push("nobody".into())),
            ("notification.rules[0].template", |c| c.rules[0].template = Some("nothing".into())),
            ("notification.rules[0].events", |c| c.rules[0].events.clear()),
            ("notification.rules[0].digest_secs", |c| c.rules[0].digest_secs = Some(5)),
        ];
        let valid = || NotificationConfig {
            channels: [
                ("ops".to_owned(), channel(ChannelKind::Dingtalk)),
                ("mail".to_owned(), channel(ChannelKind::Email)),
            ]
            .into(),
            rules: vec![rule(&["ops", "mail"])],
            ..NotificationConfig::default()
        };
        valid().validate().expect("valid");
        let shown = format!("{:?}", valid());
        assert!(!shown.contains("key=k") && !shown.contains("SECx"), "secrets in Debug: {shown}");
        for (key, breakage) in cases {
            let mut cfg = valid();
            breakage(&mut cfg);
            let err = cfg.validate().expect_err(key);
            assert_eq!(err.key(), Some(*key), "{err}");
        }
    }

    #[test]
    fn only_https_or_loopback_http_is_allowed() {
        assert!(outbound_url_allowed("https://oapi.dingtalk.com/robot/send?access_token=x").is_ok());
        assert!(outbound_url_allowed("http://127.0.0.1:8080/hook").is_ok());
        assert!(outbound_url_allowed("http://localhost/hook").is_ok());
        assert!(outbound_url_allowed("http://[::1]:9/hook").is_ok());
        assert!(outbound_url_allowed("http://hooks.example/hook").is_err());
        assert!(outbound_url_allowed("http://127.0.0.1@evil.example/").is_err());
        assert!(outbound_url_allowed("ftp://x").is_err());
        assert!(outbound_url_allowed("hooks.example").is_err());
    }
}
