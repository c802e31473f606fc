//! How the simulated open APIs behave: who may call them, and the limits they enforce.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::SimKeys;

/// How far an `X-Sdk-Date` may be from the simulator's clock, either way. Huawei's API gateway
/// rejects requests signed more than 15 minutes away from its time.
pub const SDK_DATE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How old a usage record's `begin_time` may be (spec §8.3 rule 6: within 21 days of now).
pub const USAGE_MAX_AGE: Duration = Duration::from_secs(21 * 24 * 3600);
/// Records per usage push (spec §8.3: at most 1000; `MKT.9003` beyond).
pub const USAGE_MAX_RECORDS: usize = 1000;
/// Largest request body read. A full usage push of 1000 records is about 250 KiB.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// One AK/SK pair the simulated gateway accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The AK, sent in clear in `Authorization: … Access=AK`.
    pub access_key_id: String,
    /// The SK the signature is keyed with.
    pub secret_access_key: String,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// Where a usage record whose `begin_time` is older than [`SimConfig::usage_max_age`] is refused.
///
/// The spec lists both an API answer (`MKT.9004`, "Record beginTime extends Limit", §3.2) and a
/// record-level reason (`007`, "Record time expired", §8.3), and says bad records are otherwise
/// validated asynchronously. The simulator refuses the whole push with `MKT.9004` by default,
/// because that is the documented API answer; [`StaleBeginPolicy::RecordLevel`] marks just the
/// record with `007` instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StaleBeginPolicy {
    /// Answer the push with `MKT.9004` and record nothing (the default).
    #[default]
    RequestLevel,
    /// Accept the push and reject the record with reason `007`.
    RecordLevel,
}

/// The simulator's settings. `Debug` shows whether a usage key is set, never the key.
#[derive(Clone)]
pub struct SimConfig {
    /// Address to bind; `127.0.0.1:0` (a free loopback port) by default.
    pub listen: SocketAddr,
    /// AK/SK pairs whose APIG signatures are accepted.
    pub access_keys: Vec<AccessKey>,
    /// The seller's basic key, which signs usage pushes (spec §8.3); pushes are refused without it.
    pub usage_key: Option<String>,
    /// Accepted distance of `X-Sdk-Date` from now, either way ([`SDK_DATE_WINDOW`]).
    pub sdk_date_window: Duration,
    /// Accepted distance of a usage push's `ts` header from now, either way. Not documented; the
    /// gateway's window is used.
    pub usage_ts_window: Duration,
    /// Oldest accepted usage `begin_time` ([`USAGE_MAX_AGE`]).
    pub usage_max_age: Duration,
    /// Records per push ([`USAGE_MAX_RECORDS`]).
    pub usage_max_records: usize,
    /// Where a too-old `begin_time` is refused.
    pub stale_begin: StaleBeginPolicy,
    /// Serve the spec's mock (debug) orders, `MOCKPERIODYEARNEW` and the others. On by default.
    pub mock_orders: bool,
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Spelled out field by field, so a new secret field is a decision here, not a leak.
        let Self {
            listen,
            access_keys,
            usage_key,
            sdk_date_window,
            usage_ts_window,
            usage_max_age,
            usage_max_records,
            stale_begin,
            mock_orders,
        } = self;
        f.debug_struct("SimConfig")
            .field("listen", listen)
            .field("access_keys", access_keys)
            .field("usage_key", &usage_key.as_ref().map(|_| "[REDACTED]"))
            .field("sdk_date_window", sdk_date_window)
            .field("usage_ts_window", usage_ts_window)
            .field("usage_max_age", usage_max_age)
            .field("usage_max_records", usage_max_records)
            .field("stale_begin", stale_begin)
            .field("mock_orders", mock_orders)
            .finish()
    }
}

impl Default for SimConfig {
    /// Loopback, no keys: every signed request is refused until keys are added.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            access_keys: Vec::new(),
            usage_key: None,
            sdk_date_window: SDK_DATE_WINDOW,
            usage_ts_window: SDK_DATE_WINDOW,
            usage_max_age: USAGE_MAX_AGE,
            usage_max_records: USAGE_MAX_RECORDS,
            stale_begin: StaleBeginPolicy::default(),
            mock_orders: true,
        }
    }
}

impl SimConfig {
    /// The settings for one seller: its AK/SK (when set) and its basic key for usage pushes.
    pub fn for_keys(keys: &SimKeys) -> Self {
        let mut cfg = Self { usage_key: Some(keys.basic_key.clone()), ..Self::default() };
        if let Some((ak, sk)) = keys.access_key() {
            cfg = cfg.with_access_key(ak, sk);
        }
        cfg
    }

    /// Accepts another AK/SK pair.
    pub fn with_access_key(mut self, access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        self.access_keys
            .push(AccessKey { access_key_id: access_key_id.into(), secret_access_key: secret_access_key.into() });
        self
    }

    /// Binds `listen` instead of a free loopback port.
    pub fn with_listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// The SK of `access_key_id`, when it is accepted.
    pub(crate) fn secret_for(&self, access_key_id: &str) -> Option<&str> {
        self.access_keys.iter().find(|k| k.access_key_id == access_key_id).map(|k| k.secret_access_key.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_usage_key_and_the_secret_keys() {
        let cfg = SimConfig { usage_key: Some("the-basic-key-1234".into()), ..SimConfig::default() }
            .with_access_key("AKVISIBLE", "sk-never-shown");
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("the-basic-key-1234") && !shown.contains("sk-never-shown"), "{shown}");
        assert!(shown.contains("usage_key: Some(\"[REDACTED]\")") && shown.contains("AKVISIBLE"), "{shown}");
        assert!(format!("{:?}", SimConfig::default()).contains("usage_key: None"));
    }
}
