//! koofill's configuration: one typed tree, loaded in three layers, validated once.
//!
//! Every service and the `koofill` command read the same tree and ignore the sections they do not
//! use. The layers, later ones winning:
//!
//! 1. the embedded defaults ([`DEFAULTS_TOML`], `crates/config/defaults.toml`), so a binary runs
//!    with no files at all;
//! 2. a TOML file: the path given explicitly (`--config`), else the one named by `KOOFILL_CONFIG`,
//!    else `koofill.toml` in the working directory. A file someone named must exist; the default
//!    one is optional;
//! 3. environment variables `KOOFILL__SECTION__KEY` (e.g. `KOOFILL__INGRESS__LISTEN=0.0.0.0:9000`;
//!    names are case-insensitive, empty values count as unset).
//!
//! Then every `<key>_file` is replaced by `<key>` holding that file's trimmed content, so secrets can
//! come from mounted files (`KOOFILL__KOOGALLERY__BASIC_KEY_FILE=/run/secrets/basic_key`); finally
//! [`Config::validate`] checks the rules that span fields. Errors name the key at fault
//! ([`ConfigError::key`]). [`configured_keys`] tells a value someone set from a default.
//!
//! Secrets are [`secrecy::SecretString`]s, and passwords inside URLs are masked, so the `Debug`
//! output of a [`Config`] is safe to log.
//!
//! ```no_run
//! let cfg = koofill_config::load(None)?;
//! println!("listening on {}", cfg.ingress.listen);
//! # Ok::<(), koofill_config::ConfigError>(())
//! ```
#![warn(missing_docs)]

mod configured;
mod error;
mod loader;
mod secret_files;
mod section;

use serde::Deserialize;

pub use crate::configured::{ConfiguredKeys, configured_keys, configured_keys_with_env};
pub use crate::error::ConfigError;
pub use crate::loader::{
    CONFIG_FILE_VAR, DEFAULT_FILE, DEFAULTS_TOML, ENV_PREFIX, ENV_SEPARATOR, load, load_as, load_as_with_env,
    load_with_env,
};
pub use crate::secret_files::FILE_SUFFIX;
pub use crate::section::consumer::ConsumerConfig;
pub use crate::section::database::DatabaseConfig;
pub use crate::section::ingress::{ChangeCheckDefault, IngressConfig, KOOGALLERY_DEADLINE_MS};
pub use crate::section::koogallery::KooGalleryConfig;
pub use crate::section::license::{LicenseConfig, TOKEN_TTL_MAX_SECS};
pub use crate::section::metering::{BillingCycle, MeteringConfig, PushSortDepth};
pub use crate::section::nats::NatsConfig;
pub use crate::section::notification::{
    ChannelConfig, ChannelKind, Language, NotificationConfig, RuleConfig, SmtpTls, TemplateConfig, outbound_url_allowed,
};
pub use crate::section::process::{DevConfig, ShutdownConfig, WorkerConfig};
pub use crate::section::provisioner::{ProvisionerConfig, ProvisionerKind};
pub use crate::section::redact::redact_url;
pub use crate::section::sso::{ASSERTION_TTL_MAX_SECS, DEFAULT_LOGIN_URL, SsoConfig};
pub use crate::section::supervision::{
    CalendarSpan, DeadlineConfig, DeadlinesConfig, GoodsKind, SpanUnit, SupervisionConfig,
};
pub use crate::section::telemetry::{LogFormat, TelemetryConfig};
pub use secrecy::{ExposeSecret, SecretString};

/// The whole configuration, one field per section. A section missing from every layer takes its
/// defaults, and unknown sections and keys are ignored, since other services may define them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `[koogallery]`: signing keys, AK/SK, open-API URLs.
    pub koogallery: KooGalleryConfig,
    /// `[nats]`: connection and name prefix.
    pub nats: NatsConfig,
    /// `[database]`: the workers' database.
    pub database: DatabaseConfig,
    /// `[ingress]`: the HTTP server KooGallery calls.
    pub ingress: IngressConfig,
    /// `[provisioner]`: how the ISV's product is provisioned.
    pub provisioner: ProvisionerConfig,
    /// `[license]`: the license activation proxy and its status token.
    pub license: LicenseConfig,
    /// `[supervision]`: which products are supervised, deadlines and reminders, the admin API token.
    pub supervision: SupervisionConfig,
    /// `[sso]`: the 联营 single sign-on broker.
    pub sso: SsoConfig,
    /// `[metering]`: billing windows, the usage-push schedule, `/v1/usage` limits.
    pub metering: MeteringConfig,
    /// `[consumer]`: JetStream consumer settings.
    pub consumer: ConsumerConfig,
    /// `[telemetry]`: logs and traces.
    pub telemetry: TelemetryConfig,
    /// `[worker]`: what every worker process serves besides its consumers.
    pub worker: WorkerConfig,
    /// `[shutdown]`: graceful shutdown.
    pub shutdown: ShutdownConfig,
    /// `[dev]`: `koofill dev`.
    pub dev: DevConfig,
    /// `[notification]`: routing rules, channels and templates of the notification worker.
    pub notification: NotificationConfig,
}

impl Config {
    /// Checks the rules a single type cannot express: ranges, formats and relations between keys.
    /// [`load`] calls it; call it again after changing a loaded config by hand.
    ///
    /// Presence of keys only some services need (`koogallery.basic_key` for the ingress, the AK/SK
    /// for workers calling open APIs) is left to those services, so every binary can start from the
    /// defaults alone.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the first key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.koogallery.validate()?;
        self.nats.validate()?;
        self.database.validate()?;
        self.ingress.validate()?;
        self.provisioner.validate()?;
        self.license.validate()?;
        self.supervision.validate()?;
        self.sso.validate()?;
        self.consumer.validate()?;
        self.metering.validate()?;
        self.notification.validate()?;
        self.telemetry.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Breakage = fn(&mut Config);

    /// Every rule of `validate`, each broken on its own: the key the error must name, and how.
    const CASES: &[(&str, Breakage)] = &[
        ("koogallery.basic_key", |c| c.koogallery.basic_key = Some(" ".into())),
        ("koogallery.basic_key_previous", |c| c.koogallery.basic_key_previous = Some("old".into())),
        ("koogallery.kit_key_previous", |c| c.koogallery.kit_key_previous = Some("old".into())),
        ("koogallery.secret_access_key", |c| c.koogallery.access_key_id = Some("AK".into())),
        ("koogallery.access_key_id", |c| c.koogallery.secret_access_key = Some("SK".into())),
        ("koogallery.client_secret_private_key", |c| {
            c.koogallery.client_secret_private_key = Some("".into());
        }),
        ("koogallery.api_base", |c| c.koogallery.api_base = "mkt.myhuaweicloud.com".into()),
        ("koogallery.api_fallback_base", |c| c.koogallery.api_fallback_base = "ftp://x".into()),
        ("koogallery.max_clock_skew_secs", |c| c.koogallery.max_clock_skew_secs = 0),
        ("koogallery.encrypt_type", |c| c.koogallery.encrypt_type = "3".into()),
        ("nats.url", |c| c.nats.url = String::new()),
        ("nats.prefix", |c| c.nats.prefix = String::new()),
        ("nats.prefix", |c| c.nats.prefix = "Koofill".into()),
        ("nats.prefix", |c| c.nats.prefix = "koo.fill".into()),
        ("nats.prefix", |c| c.nats.prefix = "koo*".into()),
        ("nats.connect_timeout_ms", |c| c.nats.connect_timeout_ms = 0),
        ("nats.request_timeout_ms", |c| c.nats.request_timeout_ms = 0),
        ("database.url", |c| c.database.url = " ".into()),
        ("database.max_connections", |c| c.database.max_connections = 0),
        ("ingress.base_path", |c| c.ingress.base_path = "kg/produce".into()),
        ("ingress.base_path", |c| c.ingress.base_path = "/kg/produce/".into()),
        ("ingress.base_path", |c| c.ingress.base_path = "/".into()),
        ("ingress.body_limit_bytes", |c| c.ingress.body_limit_bytes = 0),
        ("ingress.request_timeout_ms", |c| c.ingress.request_timeout_ms = 5000),
        ("ingress.request_timeout_ms", |c| c.ingress.request_timeout_ms = 0),
        ("ingress.publish_timeout_ms", |c| c.ingress.publish_timeout_ms = 3000),
        ("ingress.publish_timeout_ms", |c| c.ingress.publish_timeout_ms = 0),
        ("ingress.change_check_timeout_ms", |c| c.ingress.change_check_timeout_ms = 3500),
        ("ingress.admin_token", |c| c.ingress.admin_token = Some("".into())),
        ("provisioner.webhook_url", |c| {
            c.provisioner.kind = ProvisionerKind::Webhook;
            c.provisioner.webhook_secret = Some("whsec".into());
        }),
        ("provisioner.webhook_url", |c| {
            c.provisioner.kind = ProvisionerKind::Webhook;
            c.provisioner.webhook_url = Some("isv.example/hooks".into());
            c.provisioner.webhook_secret = Some("whsec".into());
        }),
        ("provisioner.webhook_secret", |c| {
            c.provisioner.kind = ProvisionerKind::Webhook;
            c.provisioner.webhook_url = Some("https://isv.example/hooks".into());
        }),
        ("provisioner.webhook_secret", |c| c.provisioner.webhook_secret = Some("\n".into())),
        ("provisioner.timeout_ms", |c| c.provisioner.timeout_ms = 0),
        ("license.api_token", |c| c.license.api_token = Some(" ".into())),
        ("license.api_token", |c| c.license.api_token_previous = Some("old".into())),
        ("license.signing_key", |c| c.license.signing_key = Some("".into())),
        ("license.rate_limit_per_minute", |c| c.license.rate_limit_per_minute = 0),
        ("license.token_ttl_secs", |c| c.license.token_ttl_secs = 172_801),
        ("license.signing_key_id", |c| c.license.signing_key_id = Some("a b".into())),
        ("supervision.admin_token", |c| c.supervision.admin_token = Some(" ".into())),
        ("supervision.tick_secs", |c| c.supervision.tick_secs = 0),
        ("supervision.max_rejections", |c| c.supervision.max_rejections = 0),
        ("supervision.products", |c| {
            c.supervision.products.insert(" ".into(), GoodsKind::License);
        }),
        ("supervision.deadlines.requirement.after", |c| {
            c.supervision.deadlines.requirement.after = "1 fortnight".into()
        }),
        ("supervision.deadlines.completion.after", |c| c.supervision.deadlines.completion.after = "0 hours".into()),
        ("supervision.deadlines.unaccepted.remind_before", |c| {
            c.supervision.deadlines.unaccepted.remind_before = vec!["soon".into()];
        }),
        ("metering.daily_skus", |c| c.metering.daily_skus = vec![" ".into()]),
        ("sso.public_url", |c| c.sso.public_url = Some("sso.example.com".into())),
        ("sso.product_url", |c| c.sso.product_url = Some("".into())),
        ("sso.login_url", |c| c.sso.login_url = "macroverse/unified-login".into()),
        ("sso.login_url", |c| c.sso.login_url = "{domain_name}api/v1/oauth2/authorize".into()),
        ("sso.audience", |c| c.sso.audience = Some(" ".into())),
        ("sso.signing_key", |c| c.sso.signing_key = Some("".into())),
        ("sso.api_token", |c| c.sso.api_token_previous = Some("old".into())),
        ("sso.assertion_ttl_secs", |c| c.sso.assertion_ttl_secs = 61),
        ("sso.assertion_ttl_secs", |c| c.sso.assertion_ttl_secs = 0),
        ("sso.timeout_ms", |c| c.sso.timeout_ms = 0),
        ("consumer.retry_horizon_secs", |c| c.consumer.retry_horizon_secs = 0),
        ("consumer.handler_timeout_secs", |c| c.consumer.handler_timeout_secs = 0),
        ("consumer.ack_wait_secs", |c| c.consumer.ack_wait_secs = 0),
        ("consumer.concurrency", |c| c.consumer.concurrency = 0),
        ("consumer.max_ack_pending", |c| c.consumer.max_ack_pending = 15),
        ("consumer.max_ack_pending", |c| c.consumer.max_ack_pending = -1),
        ("consumer.nak_base_delay_ms", |c| c.consumer.nak_base_delay_ms = 300_001),
        ("telemetry.otlp_endpoint", |c| c.telemetry.otlp_endpoint = Some("collector:4318".into())),
    ];

    #[test]
    fn the_defaults_pass() {
        Config::default().validate().expect("defaults are valid");
    }

    #[test]
    fn every_rule_names_the_key_it_guards() {
        for (key, breakage) in CASES {
            let mut cfg = Config::default();
            breakage(&mut cfg);
            let err = cfg.validate().expect_err(key);
            assert_eq!(err.key(), Some(*key), "{err}");
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn a_complete_webhook_provisioner_and_key_pairs_pass() {
        let mut cfg = Config::default();
        cfg.provisioner.kind = ProvisionerKind::Webhook;
        cfg.provisioner.webhook_url = Some("https://isv.example/hooks".into());
        cfg.provisioner.webhook_secret = Some("whsec".into());
        cfg.koogallery.access_key_id = Some("AK".into());
        cfg.koogallery.secret_access_key = Some("SK".into());
        cfg.koogallery.basic_key = Some("new".into());
        cfg.koogallery.basic_key_previous = Some("old".into());
        cfg.consumer.max_ack_pending = cfg.consumer.concurrency as i64;
        cfg.validate().expect("valid");
    }
}
