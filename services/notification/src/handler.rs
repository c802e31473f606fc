//! The event handler: routes an event and stores its deliveries, one per channel, in the unit
//! of work that claims the event in the inbox. Sending is the [`crate::dispatch::Dispatcher`]'s.

use std::{collections::BTreeMap, sync::Arc};

use koofill_bus::consumer::{Delivery, Handler};
use koofill_config::{Language, NotificationConfig, TemplateConfig};
use koofill_model::Envelope;
use koofill_store::{OutboxSignal, UnitOfWork};
use sea_orm::DatabaseConnection;
use serde_json::Value;
use tokio::sync::Notify;

use crate::{
    Clock, NotificationError,
    channels::kind_name,
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
        let targets = self.router.route(&env.r#type, env.test, &env.data);
        if targets.is_empty() {
            return Ok(()); // no rule takes it: nothing to remember
        }
        let Some(uow) = UnitOfWork::begin(&self.db, &self.outbox, self.consumer, &env.id).await? else {
            return Ok(()); // stored before
        };
        let view = EventView { event_id: &env.id, event_type: &env.r#type, test: env.test, data: &env.data };
        let console = templates::console_url(&self.console_url_template, &env.data);
        let data = serde_json::to_string(&env.data).map_err(NotificationError::Encode)?;
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
                    event_id: env.id.clone(),
                    event_type: env.r#type.clone(),
                    test: env.test,
                    channel_id: t.channel,
                    channel_kind: (*kind).to_owned(),
                    title: rendered.title,
                    body: rendered.body,
                    data: data.clone(),
                })
            })
            .collect();
        repo::insert(uow.txn(), rows, self.clock.now()).await?;
        uow.commit().await?;
        self.dispatcher.notify_one();
        Ok(())
    }
}
