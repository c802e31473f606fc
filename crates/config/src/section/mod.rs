//! One struct per configuration section, each with the rules that concern only its own keys.

pub(crate) mod checks;
pub mod consumer;
pub mod database;
pub mod ingress;
pub mod koogallery;
pub mod license;
pub mod metering;
pub mod nats;
pub mod notification;
pub mod process;
pub mod provisioner;
pub(crate) mod redact;
pub mod sso;
pub mod supervision;
pub mod telemetry;
