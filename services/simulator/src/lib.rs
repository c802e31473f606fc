//! A fake KooGallery: the marketplace side of every callback and open API, for end-to-end tests,
//! `koofill dev --demo`, the load benchmarks and sellers rehearsing a launch (`koofill sim …`).
//!
//! | Part | What it does | Entry point |
//! |---|---|---|
//! | Open APIs (spec §8) | query order (the spec's mock orders and registered ones), usage push (signature, record rules, reason codes), license activate/heartbeat; APIG signatures verified; every request recorded | [`Simulator::start`] |
//! | Scenarios | the marketplace side of a purchase (period, one-time, on-demand, package, trial → formal, renewal, unsubscribe, upgrade, Kit binding, License 2.0), every answer checked | [`run_scenario`], [`run_all`] |
//! | Conformance | the seller console's debug cases against any production address, pass/fail per case | [`conformance()`] |
//! | Load | open-loop signed callbacks at a rate, HDR latency percentiles | [`load()`] |
//! | Demo | every scenario through an in-process simulator, one summary table | [`demo()`] |
//! | CLI | `koofill sim` `serve`, `conformance`, `load`, `scenario` | [`SimCommand`], [`run`] |
//!
//! The path of a scenario step:
//! 1. the scenario registers its order with the marketplace ([`Registry`]: this process's
//!    [`Marketplace`], or another process's simulator through its signed registration API);
//! 2. it builds the callback body as KooGallery does ([`bodies`]), serialises it compact and
//!    key-sorted, and signs it with a fresh nonce and timestamp ([`callback::CallbackSender`]);
//! 3. the seller answers; the answer must be HTTP 200 with a `Body-Sign` that verifies over the
//!    exact bytes with the interface's key, and the expected result code;
//! 4. meanwhile the seller calls query order on the simulator, whose gateway verifies the APIG
//!    signature before answering; every such request is recorded;
//! 5. failures are retried with a fresh nonce, timestamp and `businessId`, and each step lands in a
//!    [`ScenarioReport`].
//!
//! Decisions where the spec is uncertain are documented where they are made: the 21-day limit
//! ([`StaleBeginPolicy`]), the order of the usage rules ([`usage_rules`]), the license answers'
//! HTTP status ([`license`]), the gateway's refusals (`MKT.0154`, `MKT.0150`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), koofill_simulator::SimError> {
//! use koofill_simulator::{Registry, ScenarioName, ScenarioOptions, SimConfig, SimKeys, Simulator, run_scenario};
//!
//! let keys = SimKeys::new("basic-key").with_kit_key("kit-key").with_access_key("AK", "SK");
//! let sim = Simulator::start(SimConfig::for_keys(&keys)).await?;
//! // … start koofill with koogallery.api_base = sim.base_url() …
//! let registry = Registry::Local(sim.marketplace().clone());
//! let report = run_scenario(ScenarioName::Period, "http://127.0.0.1:8080/kg/produce", &keys, &registry,
//!     &ScenarioOptions::default()).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod bodies;
pub mod callback;
mod cli;
mod config;
pub mod conformance;
mod demo;
mod error;
mod keys;
pub mod license;
pub mod load;
mod market;
pub mod oauth;
pub mod orders;
mod registry;
mod report;
pub mod scenario;
mod server;
pub mod sso;
mod table;
pub mod usage_rules;
pub mod v1;

pub use cli::{KeyArgs, Selection, SimCommand, TargetArgs, parse_duration, run};
pub use config::{
    AccessKey, BODY_LIMIT, SDK_DATE_WINDOW, SimConfig, StaleBeginPolicy, USAGE_MAX_AGE, USAGE_MAX_RECORDS,
};
pub use conformance::{ConformanceOptions, ConformanceReport, conformance};
pub use demo::{DemoSummary, demo, demo_with};
pub use error::SimError;
pub use keys::{DEV_KEYS_FILE, SimKeys, dev_keys_path};
pub use load::{LoadActivity, LoadOptions, LoadReport, load};
pub use market::{InstanceStatus, Marketplace, RecordedRequest, SimInstance, Verdict};
pub use oauth::{SimOAuthClient, SimOAuthUser};
pub use registry::{Registry, RemoteSimulator};
pub use report::{Outcome, ScenarioReport, Step};
pub use scenario::{LicenseProxy, ScenarioName, ScenarioOptions, UsageProbe, run_all, run_scenario};
pub use server::{
    ADMIN_INSTANCES_PATH, ADMIN_LICENSES_PATH, ADMIN_OAUTH_CLIENTS_PATH, ADMIN_OAUTH_USERS_PATH, ADMIN_ORDERS_PATH,
    ADMIN_USAGE_RECORDS_PATH, AUTHORIZE_PATH, LICENSE_ACTIVATE_PATH, LICENSE_HEARTBEAT_PATH, LOGOUT_PATH,
    QUERY_ORDER_PATH, Simulator, TOKEN_PATH, UNIFIED_LOGIN_PATH, USAGE_PATH, USERINFO_PATH,
};
