//! The provisioning worker: a paid KooGallery order becomes a working tenant in the seller's
//! product, and every later change to the order reaches it exactly once (architecture §6, §7).
//!
//! Consumes (durable pull consumers on `KOOFILL_INBOUND`, one filter each):
//! - `provisioning-saas` on `<prefix>.inbound.saas.>`: newInstance, refreshInstance,
//!   updateInstanceStatus, releaseInstance, upgradeInstance;
//! - `provisioning-order` on `<prefix>.inbound.order.>`: orderNotify;
//! - `provisioning-kit` on `<prefix>.inbound.kit.>`: tenantSync, applicationSync, authSync,
//!   singleOrgSync, allOrgSync.
//!
//! Produces: events on `<prefix>.event.{instance,order,tenant,application,users,departments}.*`
//! (through the outbox), the instance view in the `<prefix>_instances` KV bucket, dead letters
//! on `<prefix>.dlq.<consumer>` (through the bus runner), and answers on
//! `<prefix>.rpc.provisioning.change_check`.
//!
//! Tables owned (crate `koofill-store`): `orders`, `order_lines`, `instances`,
//! `instance_transitions`, `provisioner_calls`, `tenants`, `applications`, `directory_users`,
//! `departments`; shared: `inbox`, `outbox`.
//!
//! The path of a newInstance:
//! 1. the ingress verified the callback, published it as `saas.newInstance` with id
//!    `newInstance:{orderId}:{orderLineId}`, wrote the view as `accepted` and answered the
//!    UUIDv5 instance ID;
//! 2. the runner delivers it to [`handlers::SaasHandler`]; the instance's lock is taken (a
//!    release of the same instance waits its turn) and the inbox checked: a message processed
//!    before only rewrites the view from the database (repairing a view write lost after an
//!    earlier commit);
//! 3. the view becomes `provisioning`; query order (spec §8.2) gives buyer, product, period and
//!    expiry;
//! 4. the provisioner ([`provisioner`]) creates the tenant (debug orders go to the template
//!    provisioner unless `provisioner.provision_debug_orders`);
//! 5. one transaction writes the inbox row, the order, the instance `active` with the appInfo
//!    credentials encrypted in KooGallery's format, the transition and the `instance.active`
//!    event in the outbox;
//! 6. after the commit the view becomes `active` (queryInstance answers `000000` with appInfo),
//!    the host's outbox relay publishes the event with `Nats-Msg-Id` = its outbox id, and the runner
//!    acknowledges the message;
//! 7. on failure the runner retries with a growing delay; a permanent failure or the last attempt
//!    marks the instance `failed` (event `instance.failed`) and dead-letters the message, which
//!    `koofill dlq redrive` can send again after a fix.
//!
//! Decisions where the spec leaves room are documented where they are made: out-of-order calls
//! (before the create, and older than the change already applied) in `handlers/lifecycle.rs`, on-demand lines with several products in [`provisioner::CreateRequest`]
//! (one instance per order line, all products attached), secrets at rest in `handlers/kit.rs` and [`client_secret`].
#![warn(missing_docs)]

pub mod bench;
mod change_check;
pub mod client_secret;
mod context;
mod error;
pub mod handlers;
pub mod provisioner;
mod repo;
pub mod stand_in;
mod worker;

pub use change_check::{ChangeCheckReply, ChangeCheckRequest};
pub use error::{ProvisioningError, StartError};
pub use worker::{BuildOptions, SERVICE, Worker, run};
