//! The channels: one module per provider, each with its exact wire format, signature and way of
//! saying "delivered", "later" or "never" ([`Outcome`]).
//!
//! Common rules: the answer's body decides, not the HTTP status alone (the IM providers report
//! errors inside HTTP 200); "too fast" codes are retried after the provider's penalty; bad-key
//! codes are permanent. Outbound URLs are https only (http only to loopback), redirects are
//! never followed, and neither URLs (robot keys live in them) nor secrets reach errors, logs or
//! `Debug` output.

mod dingtalk;
mod email;
mod feishu;
mod file;
mod http;
mod slack;
mod webhook;
mod wecom;

use std::time::Duration;

use koofill_config::{ChannelConfig, ChannelKind, ExposeSecret, Language};
use serde_json::Value;

pub use dingtalk::dingtalk_sign;
pub use feishu::feishu_sign;

/// What a channel sends: one delivery's message.
#[derive(Debug, Clone)]
pub struct Message {
    /// The delivery id, stable across attempts (`webhook-id`, email `Message-ID`).
    pub delivery_id: String,
    /// The event's envelope id.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// A debug event.
    pub test: bool,
    /// Rendered title.
    pub title: String,
    /// Rendered Markdown body.
    pub body: String,
    /// The event's data.
    pub data: Value,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider accepted the message.
    Delivered {
        /// HTTP status, for HTTP channels.
        status: Option<u16>,
        /// The provider's answer (truncated).
        answer: String,
    },
    /// Worth another attempt.
    Retry {
        /// HTTP status, when an answer came.
        status: Option<u16>,
        /// The provider's answer (truncated), or empty.
        answer: String,
        /// Why.
        error: String,
        /// The provider's penalty or `Retry-After`: no attempt before this.
        after: Option<Duration>,
        /// The provider said "too fast": the channel's limiter is held back too.
        rate_limited: bool,
    },
    /// Will never succeed as configured (bad key, invalid request).
    Failed {
        /// HTTP status, when an answer came.
        status: Option<u16>,
        /// The provider's answer (truncated), or empty.
        answer: String,
        /// Why.
        error: String,
    },
}

impl Outcome {
    /// `delivered`, `retry`, `rate_limited` or `failed`: the label in tables and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Delivered { .. } => "delivered",
            Self::Retry { rate_limited: true, .. } => "rate_limited",
            Self::Retry { .. } => "retry",
            Self::Failed { .. } => "failed",
        }
    }

    pub(crate) fn retry(error: impl Into<String>) -> Self {
        Self::Retry { status: None, answer: String::new(), error: error.into(), after: None, rate_limited: false }
    }

    pub(crate) fn failed(error: impl Into<String>) -> Self {
        Self::Failed { status: None, answer: String::new(), error: error.into() }
    }
}

/// Why a channel could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
#[error("notification.channels.{channel}.{key}: {reason}")]
pub struct ChannelError {
    /// The channel id.
    pub channel: String,
    /// The key at fault.
    pub key: &'static str,
    /// Why.
    pub reason: String,
}

/// A configured destination.
#[derive(Debug)]
pub enum Channel {
    /// Standard Webhooks to the seller's endpoint.
    Webhook(webhook::Webhook),
    /// WeCom group robot.
    Wecom(wecom::Wecom),
    /// DingTalk custom robot.
    Dingtalk(dingtalk::Dingtalk),
    /// Feishu / Lark custom bot.
    Feishu(feishu::Feishu),
    /// Slack incoming webhook.
    Slack(slack::Slack),
    /// Email over SMTP.
    Email(email::Email),
    /// JSON lines in a local file.
    File(file::FileSink),
}

impl Channel {
    /// Builds channel `id` from its configuration; `timeout` bounds every send.
    ///
    /// # Errors
    /// [`ChannelError`] naming the key at fault.
    pub fn build(id: &str, cfg: &ChannelConfig, timeout: Duration) -> Result<Self, ChannelError> {
        let err = |key: &'static str, reason: String| ChannelError { channel: id.to_owned(), key, reason };
        let endpoint = || -> Result<http::Endpoint, ChannelError> {
            let url = cfg.url.as_ref().ok_or_else(|| err("url", "is required".into()))?;
            http::Endpoint::new(url.expose_secret(), timeout).map_err(|e| err("url", e))
        };
        let secret = || -> Result<String, ChannelError> {
            cfg.secret.as_ref().map(|s| s.expose_secret().to_owned()).ok_or_else(|| err("secret", "is required".into()))
        };
        Ok(match cfg.kind {
            ChannelKind::Webhook => {
                let key = koofill_signing::webhook::WebhookSecret::parse(&secret()?)
                    .map_err(|e| err("secret", e.to_string()))?;
                Self::Webhook(webhook::Webhook::new(endpoint()?, key))
            }
            ChannelKind::Wecom => Self::Wecom(wecom::Wecom::new(endpoint()?)),
            ChannelKind::Dingtalk => Self::Dingtalk(dingtalk::Dingtalk::new(endpoint()?, secret()?)),
            ChannelKind::Feishu => Self::Feishu(feishu::Feishu::new(endpoint()?, secret()?)),
            ChannelKind::Slack => Self::Slack(slack::Slack::new(endpoint()?)),
            ChannelKind::Email => Self::Email(email::Email::new(cfg, timeout).map_err(|(key, e)| err(key, e))?),
            ChannelKind::File => {
                let path = cfg.path.clone().ok_or_else(|| err("path", "is required".into()))?;
                Self::File(file::FileSink::new(path))
            }
        })
    }

    /// Sends one message.
    pub async fn send(&self, msg: &Message) -> Outcome {
        match self {
            Self::Webhook(c) => c.send(msg).await,
            Self::Wecom(c) => c.send(msg).await,
            Self::Dingtalk(c) => c.send(msg).await,
            Self::Feishu(c) => c.send(msg).await,
            Self::Slack(c) => c.send(msg).await,
            Self::Email(c) => c.send(msg).await,
            Self::File(c) => c.send(msg).await,
        }
    }

    /// The provider's rate when none is configured: messages per minute (`None`: unlimited).
    pub fn default_rate(kind: ChannelKind) -> Option<u32> {
        match kind {
            ChannelKind::Wecom | ChannelKind::Dingtalk => Some(20),
            ChannelKind::Feishu => Some(100),
            ChannelKind::Slack => Some(60),
            ChannelKind::Webhook | ChannelKind::Email => Some(600),
            ChannelKind::File => None,
        }
    }
}

/// The name of a channel kind in tables (`dingtalk`, …).
pub fn kind_name(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Webhook => "webhook",
        ChannelKind::Wecom => "wecom",
        ChannelKind::Dingtalk => "dingtalk",
        ChannelKind::Feishu => "feishu",
        ChannelKind::Slack => "slack",
        ChannelKind::Email => "email",
        ChannelKind::File => "file",
    }
}

/// A sample message for `koofill notify test`.
pub fn sample(language: Language) -> Message {
    let data = serde_json::json!({
        "type": "instance.active",
        "instance_id": "00000000-0000-0000-0000-000000000000",
        "order_id": "CS0000000000000",
    });
    let view =
        crate::templates::EventView { event_id: "sample", event_type: "instance.active", test: true, data: &data };
    let r = crate::templates::builtin(view, language, None);
    Message {
        delivery_id: format!("ntf_sample_{}", uuid::Uuid::new_v4().simple()),
        event_id: "sample".into(),
        event_type: "instance.active".into(),
        test: true,
        title: r.title,
        body: r.body,
        data,
    }
}
