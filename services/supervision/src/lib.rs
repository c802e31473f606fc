//! The supervision worker (architecture §6, spec §10): a case per supervised order line, tracked
//! through `awaiting_requirement → requirement_confirmed | requirement_rejected → delivering →
//! delivered → accepted → completed` (plus `appealed`, which freezes every timer, and `closed`,
//! where a release of the order ends any case not completed), with the deadlines of spec §10.3
//! and reminders before each.
//!
//! KooGallery has no supervision API, so operators record the steps (`koofill supervision`, or
//! the admin API this worker serves); a License 2.0 activation passes its node by itself.
//!
//! - [`handler`]: the `supervision` consumer of every domain event (`order.received`,
//!   `instance.active`, `license.activated` open cases and pass nodes; `instance.released` and
//!   `license.released` close them);
//! - [`Supervision`]: the library every entry point goes through ([`Supervision::act`],
//!   [`Supervision::tick`], [`Supervision::list`], [`Supervision::show`],
//!   [`Supervision::settlement`]);
//! - [`state`] and [`deadline`]: the state machine and the deadline rules;
//! - [`admin`]: the bearer-token admin API under `/admin/supervision`;
//! - [`Worker`]: the registration on the worker host.
#![warn(missing_docs)]

pub mod admin;
pub mod calendar;
mod cases;
mod clock;
pub mod deadline;
mod error;
pub mod handler;
mod release;
mod repo;
pub mod state;
mod tick;
mod views;
mod worker;

pub use cases::{OPS_CONSUMER, StepInput, Supervision};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::SupervisionError;
pub use repo::LineFacts;
pub use tick::{DEADLINES_CONSUMER, TickReport};
pub use views::{CaseDetail, CaseSummary, DeadlineView, ReminderView, SettlementRow, StepView};
pub use worker::{BuildOptions, SERVICE, SOURCE, StartError, Worker, run};
