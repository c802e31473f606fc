//! `[metering]`: the metering worker's billing windows, push schedule and usage-push body, and
//! the limits of `POST /v1/usage`.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::checks;
use crate::error::ConfigError;

/// Most records KooGallery takes in one usage push (spec §8.3).
pub const PUSH_RECORDS_MAX: usize = 1000;
/// The latest a window may be closed after it ends: KooGallery collects hourly usage at minute
/// 15 (and daily usage at 01:00, with pushes expected by 00:15), so a grace period of 10 minutes
/// leaves 5 for the push and its retries.
pub const GRACE_SECS_MAX: u64 = 600;

/// The billing cycle windows are aligned to (spec §11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingCycle {
    /// One window per UTC hour.
    Hourly,
    /// One window per UTC day.
    Daily,
}

impl BillingCycle {
    /// The configuration and database text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hourly => "hourly",
            Self::Daily => "daily",
        }
    }
}

/// How deep the usage-push body's keys are sorted before signing (spec §8.3 leaves it open).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushSortDepth {
    /// Every object at every level (the spec's recommendation).
    AllLevels,
    /// Only the top-level object (the fallback if KooGallery answers `MKT.0102`).
    TopLevel,
}

/// The metering worker.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct MeteringConfig {
    /// The billing cycle of an instance's windows unless its product or SKU is listed below.
    /// Default: `hourly`.
    pub cycle: BillingCycle,
    /// Product IDs whose pay-per-use spec is billed daily (the cycle is chosen per spec in the
    /// seller console, spec §11.2; KooGallery's order data does not carry it). Default: none.
    pub daily_products: Vec<String>,
    /// SKU codes billed daily, as `daily_products`. Default: none.
    pub daily_skus: Vec<String>,
    /// Seconds after a window ends before it is closed and pushed (late events until then still
    /// count in it); at most 600. Default: 120.
    pub grace_secs: u64,
    /// Seconds between two rounds of the push scheduler. Default: 30.
    pub tick_secs: u64,
    /// Records per usage-push call, at most 1000. Default: 1000.
    pub max_records_per_push: usize,
    /// Push only windows of instances koofill knows from `instance.*` events; others are held
    /// (and pushed once the instance is known, within 21 days). Default: true.
    pub require_known_instance: bool,
    /// How the usage-push body is sorted before signing. Default: `all_levels`.
    pub sort_depth: PushSortDepth,
    /// Most events `POST /v1/usage` takes in one request. Default: 1000.
    pub max_events_per_request: usize,
    /// Partitions of `<prefix>.usage.<partition>`; events go to one by a hash of the instance ID.
    /// Default: 16.
    pub partitions: u32,
    /// Bearer token of `POST /v1/usage` (the seller's metering backend). Separate from
    /// `license.api_token`, which ships inside License software: a customer holding that one
    /// must not be able to post usage. Unset: the route answers 401 to everyone.
    pub api_token: Option<SecretString>,
    /// The previous usage token, still accepted during a rotation.
    pub api_token_previous: Option<SecretString>,
}

impl Default for MeteringConfig {
    fn default() -> Self {
        Self {
            cycle: BillingCycle::Hourly,
            daily_products: Vec::new(),
            daily_skus: Vec::new(),
            grace_secs: 120,
            tick_secs: 30,
            max_records_per_push: PUSH_RECORDS_MAX,
            require_known_instance: true,
            sort_depth: PushSortDepth::AllLevels,
            max_events_per_request: 1000,
            partitions: 16,
            api_token: None,
            api_token_previous: None,
        }
    }
}

impl MeteringConfig {
    /// The billing cycle of an instance of `product_id` / `sku_code`: daily when either is listed
    /// in `daily_products` / `daily_skus`, else `cycle`.
    pub fn cycle_for(&self, product_id: Option<&str>, sku_code: Option<&str>) -> BillingCycle {
        let listed = |list: &[String], value: Option<&str>| value.is_some_and(|v| list.iter().any(|x| x == v));
        if listed(&self.daily_products, product_id) || listed(&self.daily_skus, sku_code) {
            BillingCycle::Daily
        } else {
            self.cycle
        }
    }

    /// [`MeteringConfig::grace_secs`] as a duration.
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.grace_secs)
    }

    /// [`MeteringConfig::tick_secs`] as a duration.
    pub fn tick(&self) -> Duration {
        Duration::from_secs(self.tick_secs)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        checks::non_blank("metering.api_token", self.api_token.as_ref())?;
        checks::non_blank("metering.api_token_previous", self.api_token_previous.as_ref())?;
        if self.grace_secs > GRACE_SECS_MAX {
            return Err(ConfigError::invalid(
                "metering.grace_secs",
                format!(
                    "must be at most {GRACE_SECS_MAX} so that pushes land before KooGallery collects at minute 15, got {}",
                    self.grace_secs
                ),
            ));
        }
        checks::at_least("metering.tick_secs", self.tick_secs, 1)?;
        checks::at_least("metering.max_records_per_push", self.max_records_per_push as u64, 1)?;
        if self.max_records_per_push > PUSH_RECORDS_MAX {
            return Err(ConfigError::invalid(
                "metering.max_records_per_push",
                format!("must be at most {PUSH_RECORDS_MAX} (spec §8.3), got {}", self.max_records_per_push),
            ));
        }
        checks::at_least("metering.max_events_per_request", self.max_events_per_request as u64, 1)?;
        checks::at_least("metering.partitions", u64::from(self.partitions), 1)?;
        for (key, list) in
            [("metering.daily_products", &self.daily_products), ("metering.daily_skus", &self.daily_skus)]
        {
            if list.iter().any(|v| v.trim().is_empty()) {
                return Err(ConfigError::invalid(key, "has an empty entry"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Breakage = fn(&mut MeteringConfig);

    #[test]
    fn limits_name_their_key() {
        let cases: [(Breakage, &str); 3] = [
            (|c| c.grace_secs = 900, "metering.grace_secs"),
            (|c| c.max_records_per_push = 1001, "metering.max_records_per_push"),
            (|c| c.partitions = 0, "metering.partitions"),
        ];
        for (breakage, key) in cases {
            let mut cfg = MeteringConfig::default();
            breakage(&mut cfg);
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
        MeteringConfig::default().validate().unwrap();
    }
}
