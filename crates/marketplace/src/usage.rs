//! 按需使用量推送(新) (on-demand usage push, spec §8.3): at most 1000 records per call, the body
//! serialised once with its keys sorted and signed with the seller's basic key
//! (`signature = Base64(HMAC-SHA256(key, "ts={ts}&nonce={nonce}&body={body}"))` in the `signature`,
//! `ts` and `nonce` headers). Not APIG-signed: the AK/SK play no part.
//!
//! KooGallery answers `MKT.0000` once it has received the records and validates them later; a
//! record's own result (reason codes `001`…`013`) is only shown in the seller console.

use std::time::Duration;

use koofill_signing::usage::{self, SortDepth};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::MarketplaceError;

/// Path of the usage push.
pub const USAGE_PUSH_PATH: &str = "/api/mkp-openapi-public/global/v1/isv/usage-data";
/// Most records one call may carry (`MKT.9003` beyond).
pub const USAGE_PUSH_MAX_RECORDS: usize = 1000;

/// One usage record (`UsagePushData`), times as `yyyyMMdd'T'HHmmss'Z'`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRecord {
    /// The on-demand instance.
    pub instance_id: String,
    /// When the record was made.
    pub record_time: String,
    /// Metering start.
    pub begin_time: String,
    /// Metering end.
    pub end_time: String,
    /// > 0, at most 4 decimals, as decimal text.
    pub usage_value: String,
    /// The seller's unique ID of the record.
    pub metering_sn: String,
}

/// Where and how to push.
#[derive(Debug, Clone)]
pub struct UsagePushConfig {
    /// Primary base URL (`https://mkt.myhuaweicloud.com`, or the simulator's).
    pub api_base: String,
    /// Fallback base URL used when the primary cannot be reached.
    pub fallback_base: Option<String>,
    /// The key bound to the basic interface (`koogallery.basic_key`).
    pub key: SecretString,
    /// How deep the body's keys are sorted before signing (spec §8.3 leaves it open).
    pub sort_depth: SortDepth,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Attempts per host (at least 1).
    pub attempts: u32,
    /// Pause before the second attempt; doubles after each.
    pub backoff: Duration,
}

impl UsagePushConfig {
    /// A configuration with the defaults: keys sorted at every level, 5 s per attempt, 3
    /// attempts, 200 ms backoff, no fallback.
    pub fn new(api_base: impl Into<String>, key: SecretString) -> Self {
        Self {
            api_base: api_base.into(),
            fallback_base: None,
            key,
            sort_depth: SortDepth::AllLevels,
            timeout: Duration::from_secs(5),
            attempts: 3,
            backoff: Duration::from_millis(200),
        }
    }
}

/// The usage-push client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UsagePushClient {
    http: reqwest::Client,
    urls: Vec<Url>,
    cfg: UsagePushConfig,
}

#[derive(serde::Deserialize)]
struct PushAnswer {
    error_code: String,
    #[serde(default)]
    error_msg: Option<String>,
}

impl UsagePushClient {
    /// Builds the client.
    ///
    /// # Errors
    /// [`MarketplaceError::Config`] for an unparsable base URL or a TLS set-up failure.
    pub fn new(cfg: UsagePushConfig) -> Result<Self, MarketplaceError> {
        let mut urls = vec![push_url(&cfg.api_base)?];
        if let Some(fallback) = cfg.fallback_base.as_deref().filter(|f| !f.is_empty() && *f != cfg.api_base) {
            urls.push(push_url(fallback)?);
        }
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| MarketplaceError::Config(e.to_string()))?;
        Ok(Self { http, urls, cfg })
    }

    /// Pushes `records` (at most [`USAGE_PUSH_MAX_RECORDS`]); `Ok` once KooGallery answered
    /// `MKT.0000`. Retries on timeouts, connection failures and 5xx (safe: KooGallery keeps the
    /// first record per `metering_sn` and per (instance, begin, end)), then the fallback host.
    ///
    /// # Errors
    /// [`MarketplaceError::Config`] for more than 1000 records; [`MarketplaceError::Api`] for an
    /// `MKT.*` answer (`MKT.0102` bad signature, `MKT.9003` too many records, `MKT.9004` a
    /// `begin_time` older than 21 days); others when KooGallery cannot be reached.
    #[tracing::instrument(skip_all, fields(records = records.len()))]
    pub async fn push(&self, records: &[UsageRecord]) -> Result<(), MarketplaceError> {
        if records.len() > USAGE_PUSH_MAX_RECORDS {
            return Err(MarketplaceError::Config(format!(
                "{} usage records in one push; at most {USAGE_PUSH_MAX_RECORDS}",
                records.len()
            )));
        }
        let json = serde_json::to_vec(&serde_json::json!({ "usage_records": records }))
            .map_err(|source| MarketplaceError::Malformed { status: 0, source })?;
        let body = usage::sorted_body(&json, self.cfg.sort_depth)?;
        let mut last = None;
        for url in &self.urls {
            let mut delay = self.cfg.backoff;
            for attempt in 1..=self.cfg.attempts.max(1) {
                if attempt > 1 {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                match self.once(url, &body).await {
                    Ok(()) => return Ok(()),
                    Err(e) if e.is_retryable() => {
                        tracing::warn!(error = &e as &dyn std::error::Error, host = %url, attempt, "usage push failed; retrying");
                        last = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Err(last.unwrap_or_else(|| MarketplaceError::Config("no base URL".into())))
    }

    async fn once(&self, url: &Url, body: &str) -> Result<(), MarketplaceError> {
        // A fresh ts and nonce per attempt: a retry is a new request to KooGallery.
        let ts = chrono::Utc::now().timestamp_millis().to_string();
        let nonce = uuid::Uuid::new_v4().to_string();
        let signature = usage::sign(self.cfg.key.expose_secret().as_bytes(), &ts, &nonce, body);
        let response = self
            .http
            .post(url.clone())
            .header("Content-Type", "application/json")
            .header("ts", &ts)
            .header("nonce", &nonce)
            .header("signature", signature)
            .body(body.to_owned())
            .send()
            .await
            .map_err(MarketplaceError::Unreachable)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(MarketplaceError::Unreachable)?;
        match serde_json::from_slice::<PushAnswer>(&bytes) {
            Ok(answer) if answer.error_code == "MKT.0000" && status < 300 => Ok(()),
            Ok(answer) => Err(MarketplaceError::Api {
                status,
                code: answer.error_code,
                message: answer.error_msg.unwrap_or_default(),
            }),
            Err(source) => Err(MarketplaceError::Malformed { status, source }),
        }
    }
}

fn push_url(base: &str) -> Result<Url, MarketplaceError> {
    let url = Url::parse(base).map_err(|e| MarketplaceError::Config(format!("{base:?}: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(MarketplaceError::Config(format!("{base:?}: scheme {} is not http(s)", url.scheme())));
    }
    let mut url = url;
    let path = format!("{}{USAGE_PUSH_PATH}", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url)
}
