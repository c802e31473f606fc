//! The notification worker: the right people hear about every event, once per channel
//! (architecture §6).
//!
//! Consumes: the durable consumer `notification` on `<prefix>.event.>` (every domain event),
//! decoded as `Envelope<serde_json::Value>` so that a new event type needs no change here, and
//! `notification_dlq` on `<prefix>.dlq.>`, which announces every dead letter as a `dlq.message`
//! event ([`handler::DeadLetterHandler`]). Rules with `digest_secs` batch events ([`digest`]).
//!
//! Tables owned (crate `koofill-store`): `notification_deliveries` (`UNIQUE(event_id,
//! channel_id)`) and `notification_attempts`; shared: `inbox`.
//!
//! The path of an event:
//! 1. the [`handler::EventHandler`] matches it against `[[notification.rules]]` ([`routing`]); an
//!    event no rule takes is acknowledged with no write;
//! 2. one transaction claims the event in the inbox and inserts one delivery per channel with the
//!    message rendered ([`templates`]); a redelivered event finds its inbox row, and a second
//!    replica racing on it is stopped by the unique key: never a second delivery;
//! 3. the [`dispatch::Dispatcher`] (woken by the commit, and every `poll_interval_ms`) claims each
//!    due delivery (state `sending`, a lease of `lease_secs`) *before* sending, sends it through
//!    its [`channels::Channel`] under the channel's rate limiter and `send_timeout_ms`, and records
//!    the attempt and the outcome in one transaction;
//! 4. an answer that says "later" (5xx, timeouts, the providers' "too fast" codes inside HTTP 200)
//!    puts the delivery back to `pending` at the channel's next retry delay (or the provider's
//!    penalty, whichever is longer); a permanent answer (bad key, bad request) or a used-up
//!    schedule marks it `failed`, counted in the metrics and listed by `koofill notify deliveries
//!    --failed`.
//!
//! Retries are the dispatcher's, not the bus runner's NAKs: one event fans out to several
//! channels, each with its own schedule and penalty, and a failure on one must not resend the
//! others. The event is acknowledged once its deliveries are stored.
//!
//! A crash between the provider's answer and the recorded outcome leaves the delivery `sending`;
//! when its lease runs out it is sent again with the same delivery id (`webhook-id` for webhooks,
//! `Message-ID` for email), so the provider may see a retry of one delivery, never two.
#![warn(missing_docs)]

pub mod channels;
pub mod clock;
pub mod digest;
pub mod dispatch;
mod error;
pub mod handler;
mod limiter;
mod metrics;
pub mod repo;
pub mod routing;
pub mod templates;
mod worker;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{NotificationError, StartError};
pub use worker::{BuildOptions, CONSUMER, DLQ_CONSUMER, SERVICE, Worker, dev_catch_all, run};
