//! Dead letters: everything needed to inspect and redrive a message that could not be handled.

use std::collections::BTreeMap;

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::RawDelivery;

/// The record published on `<prefix>.dlq.<consumer>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The consumer that gave up.
    pub consumer: String,
    /// The stream the message came from.
    pub stream: String,
    /// The original subject (a redrive publishes back to it).
    pub subject: String,
    /// The original stream sequence.
    pub stream_sequence: u64,
    /// Deliveries made.
    pub delivered: i64,
    /// The last error, with its chain.
    pub error: String,
    /// Whether the error was retryable (attempts ran out) or permanent (poison).
    pub retryable: bool,
    /// The original headers (multi-valued headers joined by `, `).
    pub headers: BTreeMap<String, String>,
    /// The original payload, Base64 (it may not be UTF-8).
    pub payload_base64: String,
    /// When it was dead-lettered.
    pub failed_at: DateTime<Utc>,
}

impl DeadLetter {
    /// Builds the record for a delivery.
    pub fn new(
        consumer: &str,
        stream: &str,
        delivery: &RawDelivery,
        error: &(dyn std::error::Error + 'static),
        retryable: bool,
    ) -> Self {
        let mut headers = BTreeMap::new();
        if let Some(map) = &delivery.headers {
            for (name, values) in map.iter() {
                let joined = values.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ");
                headers.insert(name.to_string(), joined);
            }
        }
        Self {
            consumer: consumer.to_owned(),
            stream: stream.to_owned(),
            subject: delivery.subject.clone(),
            stream_sequence: delivery.stream_sequence,
            delivered: delivery.delivered,
            error: error_chain(error),
            retryable,
            headers,
            payload_base64: STANDARD.encode(&delivery.payload),
            failed_at: Utc::now(),
        }
    }

    /// The original payload.
    ///
    /// # Errors
    /// When the stored Base64 is damaged (the record was edited by hand).
    pub fn payload(&self) -> Result<Vec<u8>, base64::DecodeError> {
        STANDARD.decode(&self.payload_base64)
    }

    /// The dedup id of the dead letter itself (one per original message).
    pub fn msg_id(&self) -> String {
        format!("dlq:{}:{}:{}", self.stream, self.consumer, self.stream_sequence)
    }
}

/// `error: cause: cause…`
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
