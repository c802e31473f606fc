//! The event handler: routes an event and stores its deliveries, one per channel (or its line in
//! the channel's digest), in the unit of work that claims the event in the inbox. Sending is the
//! [`crate::dispatch::Dispatcher`]'s.

use std::{collections::BTreeMap, sync::Arc};

use koofill_bus::consumer::{DeadLetter, Delivery, Handler};
use koofill_config::{Language, NotificationConfig, TemplateConfig};
use koofill_model::Envelope;
use koofill_store::{OutboxSignal, UnitOfWork};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::{
    Clock, NotificationError,
    channels::kind_name,
    digest,
    repo::{self, NewDelivery},
    routing::Router,
    templates::{self, EventView},
};

/// Stores the deliveries of every routed event.
#[derive(Debug)]
pub struct EventHandler {
    db: DatabaseConnection,
    outbox: OutboxSignal,
    consumer: &'static str,
    router: Router,
    templates: BTreeMap<String, TemplateConfig>,
    /// Channel id → (kind name, language).
    channels: BTreeMap<String, (&'static str, Language)>,
    console_url_template: String,
    clock: Arc<dyn Clock>,
    dispatcher: Arc<Notify>,
}

impl EventHandler {
    pub(crate) fn new(
        cfg: &NotificationConfig,
        db: DatabaseConnection,
        outbox: OutboxSignal,
        consumer: &'static str,
        clock: Arc<dyn Clock>,
        dispatcher: Arc<Notify>,
    ) -> Self {
        let channels = cfg
            .channels
            .iter()
            .map(|(id, c)| (id.clone(), (kind_name(c.kind), c.language.unwrap_or(cfg.language))))
            .collect();
        Self {
            db,
            outbox,
            consumer,
            router: Router::new(cfg),
            templates: cfg.templates.clone(),
            channels,
            console_url_template: cfg.console_url_template.clone(),
            clock,
            dispatcher,
        }
    }
}

impl Handler for EventHandler {
    type Msg = Envelope<Value>;
    type Error = NotificationError;

    async fn handle(&self, delivery: &Delivery<Self::Msg>) -> Result<(), NotificationError> {
        let env = &delivery.msg;
        self.store(&env.id, &env.r#type, env.test, &env.data).await
    }
}

impl EventHandler {
    /// Routes one event and stores its deliveries (or digest lines) with its inbox claim.
    async fn store(&self, id: &str, event_type: &str, test: bool, data: &Value) -> Result<(), NotificationError> {
        let targets = self.router.route(event_type, test, data);
        if targets.is_empty() {
            return Ok(()); // no rule takes it: nothing to remember
        }
        let Some(uow) = UnitOfWork::begin(&self.db, &self.outbox, self.consumer, id).await? else {
            return Ok(()); // stored before
        };
        let view = EventView { event_id: id, event_type, test, data };
        let console = templates::console_url(&self.console_url_template, data);
        let data = serde_json::to_string(data).map_err(NotificationError::Encode)?;
        let (digests, targets): (Vec<_>, Vec<_>) = targets.into_iter().partition(|t| t.digest_secs.is_some());
        let now = self.clock.now();
        for t in &digests {
            let (Some(period_secs), Some((kind, language))) = (t.digest_secs, self.channels.get(&t.channel)) else {
                continue;
            };
            let entry = digest::Entry {
                channel_id: &t.channel,
                channel_kind: kind,
                language: *language,
                period_secs,
                event_id: id,
                event_type,
                test,
                line: templates::digest_line(view, *language),
            };
            digest::append(uow.txn(), &entry, now).await?;
        }
        let rows = targets
            .into_iter()
            .filter_map(|t| {
                // Config validation ties every rule's channels to configured ones.
                let (kind, language) = self.channels.get(&t.channel)?;
                let rendered = match t.template.as_ref().and_then(|name| self.templates.get(name)) {
                    Some(template) => templates::custom(template, view, console.as_deref()),
                    None => templates::builtin(view, *language, console.as_deref()),
                };
                Some(NewDelivery {
                    event_id: id.to_owned(),
                    event_type: event_type.to_owned(),
                    test,
                    channel_id: t.channel,
                    channel_kind: (*kind).to_owned(),
                    title: rendered.title,
                    body: rendered.body,
                    data: data.clone(),
                })
            })
            .collect();
        repo::insert(uow.txn(), rows, now).await?;
        uow.commit().await?;
        self.dispatcher.notify_one();
        Ok(())
    }
}

/// The event type dead letters are announced as.
pub const DEAD_LETTER_TYPE: &str = "dlq.message";

/// Longest error text a dead-letter message carries (the full chain is in `koofill dlq show`).
const ERROR_CHARS: usize = 600;

/// Tells people about dead letters: each one becomes a `dlq.message` event, routed like any
/// other, once per dead letter.
#[derive(Debug)]
pub struct DeadLetterHandler {
    events: EventHandler,
    own_consumer: &'static str,
}

impl DeadLetterHandler {
    /// Announces dead letters through `events`' rules; letters of `own_consumer` (this very
    /// consumer) are skipped, so a letter about a letter cannot loop.
    pub(crate) fn new(events: EventHandler, own_consumer: &'static str) -> Self {
        Self { events, own_consumer }
    }
}

/// The event a dead letter is announced as: its id names the original message (stream and
/// sequence) and the consumer that gave up, so a redelivered letter is the same event.
pub fn dead_letter_event(letter: &DeadLetter) -> (String, bool, Value) {
    let id = format!("dlq:{}:{}:{}", letter.stream, letter.stream_sequence, letter.consumer);
    let original: Option<Value> = letter.payload().ok().and_then(|p| serde_json::from_slice(&p).ok());
    let field = |name: &str| original.as_ref().and_then(|o| o.get("data")).and_then(|d| d.get(name)).cloned();
    let error: String = letter.error.chars().take(ERROR_CHARS).collect();
    let mut data = json!({
        "consumer": letter.consumer,
        "subject": letter.subject,
        "stream_sequence": letter.stream_sequence,
        "delivered": letter.delivered,
        "reason": error,
        "retryable": letter.retryable,
        "failed_at": letter.failed_at,
    });
    for name in ["order_id", "order_line_id", "instance_id", "product_id", "tenant_id"] {
        if let Some(value) = field(name) {
            data[name] = value;
        }
    }
    if let Some(kind) = original.as_ref().and_then(|o| o.get("type")).and_then(Value::as_str) {
        data["message_type"] = json!(kind);
    }
    let test = original.as_ref().and_then(|o| o.get("test")).and_then(Value::as_bool).unwrap_or(false);
    (id, test, data)
}

impl Handler for DeadLetterHandler {
    type Msg = DeadLetter;
    type Error = NotificationError;

    async fn handle(&self, delivery: &Delivery<Self::Msg>) -> Result<(), NotificationError> {
        let letter = &delivery.msg;
        if letter.consumer == self.own_consumer {
            tracing::warn!(subject = %letter.subject, "a dead letter about a dead letter is not announced");
            return Ok(());
        }
        let (id, test, data) = dead_letter_event(letter);
        self.events.store(&id, DEAD_LETTER_TYPE, test, &data).await
    }
}
