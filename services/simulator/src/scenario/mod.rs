//! Scenario runs: the marketplace side of a purchase, played against a production address.
//!
//! Each scenario registers its orders with the marketplace first (so the seller's query-order call
//! finds them), then sends the callbacks KooGallery would send, with the debugger's habits:
//! `testFlag` `"1"`, creates resent with a fresh `businessId`, calls repeated at random (seeded),
//! failed calls retried with a fresh nonce and timestamp. Every answer is checked: HTTP 200, a
//! `Body-Sign` that verifies over the exact bytes with the right key, the expected result code,
//! the same instance ID for a repeated create, and queryInstance polled until the instance is
//! ready, its appInfo credentials decrypted.
//!
//! Readiness needs a provisioning worker. Without one, queryInstance keeps answering `000004`; by
//! default that is a warning, not a failure ([`ScenarioOptions::require_ready`]).

mod kit;
mod license;
mod license_check;
pub(crate) mod runner;
mod saas;
mod usage_check;

use std::time::Duration;

pub use kit::CLIENT_SECRET;
pub use license_check::LicenseProxy;
pub use usage_check::UsageProbe;

use crate::callback::CallbackSender;
use crate::registry::Registry;
use crate::report::ScenarioReport;
use crate::{SimError, SimKeys};

/// The scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ScenarioName {
    /// New period (yearly) order: create, query, freeze, unfreeze, release.
    Period,
    /// New one-time order: create, query, release.
    OneTime,
    /// New on-demand order with two billing items: create, query, usage reported and pushed (with
    /// [`ScenarioOptions::usage`]), freeze for arrears, unfreeze, release.
    OnDemand,
    /// New on-demand package: create, query, release.
    OnDemandPackage,
    /// Trial, then its conversion to a paid order (refreshInstance TRIAL_TO_FORMAL).
    TrialToFormal,
    /// Renewal (refreshInstance RENEWAL with a period-type change).
    Renewal,
    /// Renewal, unsubscribe of the renewal period, then unsubscribe and release.
    Unsubscribe,
    /// changeInstanceCheck, then upgradeInstance with the CHANGE order.
    Upgrade,
    /// Kit (联营) binding: tenant, application (RSA-encrypted clientSecret), users, departments.
    KitBinding,
    /// License 2.0: a license code renewed, frozen, unfrozen and released.
    License,
}

impl ScenarioName {
    /// Every scenario, in the order `all` plays them.
    pub const ALL: [ScenarioName; 10] = [
        Self::Period,
        Self::OneTime,
        Self::OnDemand,
        Self::OnDemandPackage,
        Self::TrialToFormal,
        Self::Renewal,
        Self::Unsubscribe,
        Self::Upgrade,
        Self::KitBinding,
        Self::License,
    ];

    /// The kebab-case name, e.g. `on-demand-package`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Period => "period",
            Self::OneTime => "one-time",
            Self::OnDemand => "on-demand",
            Self::OnDemandPackage => "on-demand-package",
            Self::TrialToFormal => "trial-to-formal",
            Self::Renewal => "renewal",
            Self::Unsubscribe => "unsubscribe",
            Self::Upgrade => "upgrade",
            Self::KitBinding => "kit-binding",
            Self::License => "license",
        }
    }
}

/// How a scenario run behaves.
#[derive(Debug, Clone)]
pub struct ScenarioOptions {
    /// Fail (rather than warn) when an instance is not ready by `ready_deadline`. Off by default,
    /// so that runs against an ingress without a provisioning worker report clearly but pass.
    pub require_ready: bool,
    /// How long to poll queryInstance for readiness. Default 5 s.
    pub ready_deadline: Duration,
    /// Pause between polls. Default 250 ms.
    pub poll_interval: Duration,
    /// Extra attempts for a failed call, each with a fresh nonce, timestamp and `businessId`
    /// (KooGallery retries for hours; the simulator compresses that). Default 2.
    pub retries: u32,
    /// Pause before each retry. Default 200 ms.
    pub retry_backoff: Duration,
    /// Repeat calls at random, as the debugger does. Default on.
    pub repeats: bool,
    /// Seed of the random choices (repeats, time formats, department order).
    pub seed: u64,
    /// Mark calls as debug calls (`testFlag`). Default on.
    pub test_flag: bool,
    /// The seller's RSA public key (SPKI PEM) for applicationSync's `clientSecret`; that step is
    /// skipped without it.
    pub client_secret_public_key_pem: Option<String>,
    /// koofill's license activation proxy: when set (and orders are registered with a
    /// marketplace), the License 2.0 scenario activates its code there and checks each
    /// callback's effect through `GET /v1/licenses/{code}`. Default: unset, not checked.
    pub license_proxy: Option<LicenseProxy>,
    /// koofill's usage ingestion: when set (and orders are registered with a marketplace), the
    /// on-demand scenario reports usage there and checks the record the metering worker pushes
    /// to the marketplace. Default: unset, not checked.
    pub usage: Option<UsageProbe>,
}

impl Default for ScenarioOptions {
    fn default() -> Self {
        Self {
            require_ready: false,
            ready_deadline: Duration::from_secs(5),
            poll_interval: Duration::from_millis(250),
            retries: 2,
            retry_backoff: Duration::from_millis(200),
            repeats: true,
            seed: rand::random(),
            test_flag: true,
            client_secret_public_key_pem: None,
            license_proxy: None,
            usage: None,
        }
    }
}

/// Plays one scenario against the production address `target`.
///
/// # Errors
/// [`SimError`] only when the run cannot start (a bad URL); failed checks are in the report.
pub async fn run_scenario(
    name: ScenarioName,
    target: &str,
    keys: &SimKeys,
    registry: &Registry,
    options: &ScenarioOptions,
) -> Result<ScenarioReport, SimError> {
    let sender = CallbackSender::new(target, keys.clone())?;
    Ok(play(name, &sender, registry, options).await)
}

/// Plays every scenario in turn.
///
/// # Errors
/// As [`run_scenario`].
pub async fn run_all(
    target: &str,
    keys: &SimKeys,
    registry: &Registry,
    options: &ScenarioOptions,
) -> Result<Vec<ScenarioReport>, SimError> {
    let sender = CallbackSender::new(target, keys.clone())?;
    let mut reports = Vec::with_capacity(ScenarioName::ALL.len());
    for name in ScenarioName::ALL {
        reports.push(play(name, &sender, registry, options).await);
    }
    Ok(reports)
}

async fn play(
    name: ScenarioName,
    sender: &CallbackSender,
    registry: &Registry,
    options: &ScenarioOptions,
) -> ScenarioReport {
    let run = runner::Run::new(name.as_str(), sender, registry, options);
    match name {
        ScenarioName::Period => saas::period(run).await,
        ScenarioName::OneTime => saas::one_time(run).await,
        ScenarioName::OnDemand => saas::on_demand(run).await,
        ScenarioName::OnDemandPackage => saas::on_demand_package(run).await,
        ScenarioName::TrialToFormal => saas::trial_to_formal(run).await,
        ScenarioName::Renewal => saas::renewal(run).await,
        ScenarioName::Unsubscribe => saas::unsubscribe(run).await,
        ScenarioName::Upgrade => saas::upgrade(run).await,
        ScenarioName::KitBinding => kit::binding(run).await,
        ScenarioName::License => license::license(run).await,
    }
}
