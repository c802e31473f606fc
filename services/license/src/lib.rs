//! The license worker: License 2.0 codes (spec §7) kept in step with KooGallery, the activation
//! proxy that keeps the AK/SK out of shipped software, and the offline status token.
//!
//! Consumes `license` on `<prefix>.inbound.license.>` (refreshLicenseCode,
//! updateLicenseCodeStatus, releaseLicenseCode; see [`consumer`] for the transitions, request
//! order and tombstones). Answers `<prefix>.rpc.license.activate` and
//! `<prefix>.rpc.license.status` for the ingress's `/v1/licenses` routes ([`proxy`]). Produces
//! `license.refreshed`, `license.frozen`, `license.unfrozen`, `license.released` and
//! `license.activated` on `<prefix>.event.license.*` through the outbox, and tells the seller's
//! product through the provisioner ([`provisioner`]).
//!
//! Tables owned (crate `koofill-store`): `licenses`, `license_transitions`, `license_checks`;
//! attempts also go to the shared `provisioner_calls`.
#![warn(missing_docs)]

pub mod consumer;
mod context;
mod error;
pub mod provisioner;
pub mod proxy;
mod repo;
pub mod token;
mod worker;

pub use error::{LicenseError, StartError};
pub use worker::{BuildOptions, SERVICE, Worker, run};
