//! The bus error type. Callers decide with [`BusError::is_retryable`], never by reading messages.

/// Errors from the message bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Connecting to the server failed.
    #[error("cannot connect to NATS at {url}")]
    Connect {
        /// The URL tried, credentials redacted.
        url: String,
        /// The cause.
        #[source]
        source: async_nats::Error,
    },
    /// A payload could not be decoded as the type expected.
    #[error("payload on {subject} is not a valid {expected}")]
    Decode {
        /// Subject of the message.
        subject: String,
        /// Name of the type expected.
        expected: &'static str,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// A value could not be encoded.
    #[error("cannot encode {what}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The encoding error.
        #[source]
        source: serde_json::Error,
    },
    /// A publish was not acknowledged by JetStream (in time, or at all).
    #[error("publish to {subject} was not acknowledged")]
    NotAcked {
        /// The subject published to.
        subject: String,
        /// The cause.
        #[source]
        source: async_nats::Error,
    },
    /// A JetStream API call (stream, consumer or KV management, or a KV read/write) failed.
    #[error("JetStream {operation} failed")]
    JetStream {
        /// Which operation.
        operation: String,
        /// The cause.
        #[source]
        source: async_nats::Error,
    },
    /// A deployed stream or consumer differs from the configuration koofill expects.
    #[error("{0}")]
    Drift(String),
    /// A request-reply call got no answer in time, or nobody listens on the subject.
    #[error("no reply on {subject}")]
    NoReply {
        /// The subject requested.
        subject: String,
        /// The cause.
        #[source]
        source: async_nats::Error,
    },
    /// A deadline passed.
    #[error("{operation} timed out after {millis} ms")]
    Timeout {
        /// What timed out.
        operation: String,
        /// The deadline in milliseconds.
        millis: u128,
    },
}

impl BusError {
    /// Whether trying again later may succeed (everything except decoding and encoding failures,
    /// and configuration drift, which need a person).
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Decode { .. } | Self::Encode { .. } | Self::Drift(_))
    }

    pub(crate) fn js(operation: impl Into<String>, source: impl Into<async_nats::Error>) -> Self {
        Self::JetStream { operation: operation.into(), source: source.into() }
    }
}
