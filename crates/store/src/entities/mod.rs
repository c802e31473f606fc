//! One sea-orm entity per table. Relations are not modelled: joins are explicit where needed,
//! and each worker only reads its own tables (architecture §1, principle 4).
// The derive macros generate the `Entity`, `Column`, `PrimaryKey` and `ActiveModel` items of each
// module; their meaning is the same in every module and documented on `Model`.
#![allow(missing_docs)]

pub mod applications;
pub mod departments;
pub mod directory_users;
pub mod inbox;
pub mod instance_transitions;
pub mod instances;
pub mod license_checks;
pub mod license_transitions;
pub mod licenses;
pub mod metering_instances;
pub mod notification_attempts;
pub mod notification_deliveries;
pub mod order_lines;
pub mod orders;
pub mod outbox;
pub mod provisioner_calls;
pub mod sso_sessions;
pub mod supervision_cases;
pub mod supervision_deadlines;
pub mod supervision_reminders;
pub mod supervision_steps;
pub mod tenants;
pub mod usage_events;
pub mod usage_pushes;
pub mod usage_windows;
