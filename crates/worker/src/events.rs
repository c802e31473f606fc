//! Outbox rows for domain events: subject, envelope and trace context.

use std::collections::BTreeMap;

use async_nats::HeaderMap;
use chrono::Utc;
use koofill_bus::names;
use koofill_model::{DomainEvent, Envelope};
use koofill_store::outbox::NewEvent;

/// Builds the outbox rows of one worker's events. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventFactory {
    prefix: String,
    source: &'static str,
}

impl EventFactory {
    /// Events published under `prefix`, with `source` as the envelope's source.
    pub fn new(prefix: &str, source: &'static str) -> Self {
        Self { prefix: prefix.to_owned(), source }
    }

    /// The outbox row for `event` with id `id` (deterministic: `{message id}:{step}`, so a
    /// redelivered handler writes the same row), carrying the current trace context.
    ///
    /// # Errors
    /// When the event cannot be encoded (a bug: every event type encodes).
    pub fn event(&self, id: String, test: bool, event: DomainEvent) -> Result<NewEvent, serde_json::Error> {
        let subject = names::event(&self.prefix, event.subject_suffix());
        let envelope = Envelope::event(id.clone(), self.source, Utc::now(), test, event);
        let payload = serde_json::to_string(&envelope)?;
        let mut map = HeaderMap::new();
        koofill_telemetry::nats::inject(&mut map);
        let headers: BTreeMap<String, String> = map
            .iter()
            .filter_map(|(name, values)| values.first().map(|v| (name.to_string(), v.as_str().to_owned())))
            .collect();
        Ok(NewEvent { id, subject, payload, headers })
    }
}
