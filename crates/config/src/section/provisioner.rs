//! `[provisioner]`: how koofill reaches the ISV's own product (architecture §7).

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::checks;
use crate::error::ConfigError;

/// Which provisioner runs lifecycle steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProvisionerKind {
    /// No ISV endpoint: URLs come from templates and passwords are generated.
    #[default]
    Template,
    /// POST a signed Standard Webhooks request to the ISV for every step.
    Webhook,
}

/// The provisioner and its settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ProvisionerConfig {
    /// Which provisioner to use. Default: `template`.
    pub kind: ProvisionerKind,
    /// URL the webhook provisioner POSTs to; required when `kind = "webhook"`. Default: unset.
    pub webhook_url: Option<String>,
    /// Standard Webhooks signing secret; required when `kind = "webhook"`. Secret. Default: unset.
    pub webhook_secret: Option<SecretString>,
    /// Deadline of one webhook call in milliseconds. Default: 3000.
    pub timeout_ms: u64,
    /// Template of the `frontEndUrl` the template provisioner answers; placeholders `{instanceId}`,
    /// `{customerId}`, `{tenantCode}`. Default: `https://app.example.com/t/{tenantCode}`.
    pub front_end_url_template: String,
    /// Template of the `adminUrl`, with the same placeholders.
    /// Default: `https://app.example.com/admin/{instanceId}`.
    pub admin_url_template: String,
    /// Send debug orders (`testFlag = "1"`) to the real provisioner too, instead of answering them
    /// without touching real resources. Default: false.
    pub provision_debug_orders: bool,
}

impl Default for ProvisionerConfig {
    fn default() -> Self {
        Self {
            kind: ProvisionerKind::Template,
            webhook_url: None,
            webhook_secret: None,
            timeout_ms: 3000,
            front_end_url_template: "https://app.example.com/t/{tenantCode}".to_owned(),
            admin_url_template: "https://app.example.com/admin/{instanceId}".to_owned(),
            provision_debug_orders: false,
        }
    }
}

impl ProvisionerConfig {
    /// [`ProvisionerConfig::timeout_ms`] as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        checks::non_blank("provisioner.webhook_secret", self.webhook_secret.as_ref())?;
        checks::at_least("provisioner.timeout_ms", self.timeout_ms, 1)?;
        if self.kind == ProvisionerKind::Webhook {
            match &self.webhook_url {
                Some(url) => checks::http_url("provisioner.webhook_url", url)?,
                None => {
                    return Err(ConfigError::invalid(
                        "provisioner.webhook_url",
                        "is required when provisioner.kind = \"webhook\"",
                    ));
                }
            }
            if self.webhook_secret.is_none() {
                return Err(ConfigError::invalid(
                    "provisioner.webhook_secret",
                    "is required when provisioner.kind = \"webhook\"",
                ));
            }
        }
        Ok(())
    }
}
