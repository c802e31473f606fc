//! koofill's database layer: sea-orm entities and migrations for PostgreSQL and SQLite from one
//! source, the shared inbox and outbox, and secrets at rest.
//!
//! Tables (architecture §8), by owner:
//!
//! | Table | Owner | Unique key (idempotency, spec §4.4) |
//! |---|---|---|
//! | `orders`, `order_lines` | provisioning | `order_id`; `(order_id, order_line_id)` |
//! | `instances` | provisioning | `instance_id`; `(order_id, order_line_id)` (the create key) |
//! | `instance_transitions` | provisioning | `(instance_id, idem_key)`: `create`, `refresh:{orderId}:{scene}`, `upgrade:{orderId}`, `release` |
//! | `provisioner_calls` | provisioning | none: every attempt is a row |
//! | `tenants` | provisioning | `(instance_id, tenant_id)` |
//! | `applications` | provisioning | `(instance_id, tenant_id, app_id)`; client secret sealed by [`SecretBox`] |
//! | `directory_users` | provisioning | `(instance_id, tenant_id, app_id, user_name)` |
//! | `departments` | provisioning | `(instance_id, tenant_id, org_code)` |
//! | `licenses` | license | `code` |
//! | `license_transitions` | license | `(code, idem_key)`: `refresh:{orderId}:{scene}`, `release` |
//! | `license_checks` | license | none: every KooGallery activate / heartbeat call is a row |
//! | `notification_deliveries` | notification | `(event_id, channel_id)`; id `ntf_` + UUIDv5 of the pair |
//! | `notification_attempts` | notification | none: every attempt is a row |
//! | `supervision_cases` | supervision | `(order_id, order_line_id)` |
//! | `supervision_steps` | supervision | `(case_id, seq)`: one step per case version |
//! | `supervision_deadlines` | supervision | `(case_id, kind)` |
//! | `supervision_reminders` | supervision | `(case_id, kind, cycle, threshold)`: each reminder once |
//! | `usage_events` | metering | `(instance_id, event_id)`: the event inbox, written with the window increment |
//! | `usage_windows` | metering | `(instance_id, window_begin)`; `metering_sn` |
//! | `usage_pushes` | metering | none: every usage-push call is a row |
//! | `metering_instances` | metering | `instance_id` |
//! | `sso_sessions` | sso | `id` (the session id); `assertion_jti`; tokens sealed by [`SecretBox`] |
//! | `inbox` | shared | `(consumer, event_id)` |
//! | `outbox` | shared | `id` (= the event's `Nats-Msg-Id`) |
//!
//! The path of a message through the store (house style §6.3), in one place: [`UnitOfWork`].
//! 1. [`UnitOfWork::begin`] opens a transaction and calls [`inbox::claim`]; `None` means the
//!    message was processed before, so it rolls back and the message is acknowledged;
//! 2. the handler writes its domain rows (unique indexes refuse a second row for the same key,
//!    reported as [`StoreError::Conflict`]) and adds its events with [`UnitOfWork::emit`];
//! 3. [`UnitOfWork::commit`] pushes the events to the outbox and commits: the inbox row, the
//!    effects and the events become visible together; then it wakes the relay;
//! 4. a relay (in `koofill-worker`) reads [`outbox::pending`], publishes each event with `Nats-Msg-Id = id`, and calls
//!    [`outbox::mark_sent`]; a crash in between republishes, and JetStream's deduplication and the
//!    consumers' inboxes absorb the repeat.
//!
//! Errors: every `DbErr` becomes a [`StoreError`] in one `From` impl; unique violations are
//! conflicts on both backends, connection trouble and failed statements are retryable.
//!
//! ```no_run
//! # async fn demo() -> Result<(), koofill_store::StoreError> {
//! let db = koofill_store::connect("sqlite://koofill.db?mode=rwc").await?;
//! koofill_store::migrate(&db).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod connect;
pub mod entities;
mod error;
pub mod inbox;
mod migration;
pub mod outbox;
mod secret;
mod unit_of_work;

pub use connect::{StoreOptions, connect, connect_with, is_sqlite, is_sqlite_connection, wait_for};
pub use error::StoreError;
pub use migration::{Migrator, applied, migrate};
pub use sea_orm;
pub use secret::SecretBox;
pub use unit_of_work::{OutboxSignal, UnitOfWork, record_no_effect};
