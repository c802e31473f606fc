//! The HTTP client.

use std::time::Duration;

use koofill_model::{OrderId, OrderLineId, QueryOrderResponse, order::OrderInfo};
use koofill_signing::{apig, percent};
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use crate::MarketplaceError;

/// Path of 查询订单 (query order, spec §8.2).
pub const QUERY_ORDER_PATH: &str = "/api/mkp-openapi-public/global/v1/order/query";

/// Where and how to call the open APIs.
#[derive(Debug, Clone)]
pub struct MarketplaceConfig {
    /// Primary base URL (`https://mkt.myhuaweicloud.com`, or the simulator's).
    pub api_base: String,
    /// Fallback base URL used when the primary cannot be reached (`https://mkt.myhuaweicloud.cn`).
    pub fallback_base: Option<String>,
    /// AK.
    pub access_key_id: String,
    /// SK.
    pub secret_access_key: SecretString,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Attempts per host (at least 1).
    pub attempts: u32,
    /// Pause before the second attempt; doubles after each.
    pub backoff: Duration,
}

impl MarketplaceConfig {
    /// A configuration with the defaults: 5 s per attempt, 3 attempts, 200 ms backoff, no fallback.
    pub fn new(
        api_base: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        Self {
            api_base: api_base.into(),
            fallback_base: None,
            access_key_id: access_key_id.into(),
            secret_access_key: SecretString::from(secret_access_key.into()),
            timeout: Duration::from_secs(5),
            attempts: 3,
            backoff: Duration::from_millis(200),
        }
    }
}

/// The client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MarketplaceClient {
    http: reqwest::Client,
    bases: Vec<Url>,
    cfg: MarketplaceConfig,
}

impl MarketplaceClient {
    /// Builds the client.
    ///
    /// # Errors
    /// [`MarketplaceError::Config`] for an unparsable base URL or a TLS set-up failure.
    pub fn new(cfg: MarketplaceConfig) -> Result<Self, MarketplaceError> {
        let mut bases = vec![parse_base(&cfg.api_base)?];
        if let Some(fallback) = cfg.fallback_base.as_deref().filter(|f| !f.is_empty() && *f != cfg.api_base) {
            bases.push(parse_base(fallback)?);
        }
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .https_only(false) // the simulator and tests speak plain HTTP on loopback
            .build()
            .map_err(|e| MarketplaceError::Config(e.to_string()))?;
        Ok(Self { http, bases, cfg })
    }

    /// 查询订单: the order (and with `order_line_id`, just that line) as KooGallery knows it.
    ///
    /// # Errors
    /// [`MarketplaceError::Api`] for an `MKT.*` answer (e.g. `MKT.0100` for an unknown order), others
    /// when KooGallery cannot be reached or answers something undocumented.
    #[tracing::instrument(skip_all, fields(order_id = %order_id))]
    pub async fn query_order(
        &self,
        order_id: &OrderId,
        order_line_id: Option<&OrderLineId>,
    ) -> Result<OrderInfo, MarketplaceError> {
        let mut query = format!("orderId={}", percent::encode_rfc3986(order_id.as_str()));
        if let Some(line) = order_line_id {
            query.push_str(&format!("&orderLineId={}", percent::encode_rfc3986(line.as_str())));
        }
        let (status, response): (u16, QueryOrderResponse) =
            self.call(Method::GET, QUERY_ORDER_PATH, &query, Vec::new()).await?;
        match response.order_info {
            Some(info) if response.result_code == "MKT.0000" => Ok(info),
            _ => Err(MarketplaceError::Api {
                status,
                code: response.result_code,
                message: response.result_msg.unwrap_or_default(),
            }),
        }
    }

    /// 查询订单 for one order line, asking for the whole order when KooGallery refuses the line.
    ///
    /// A call from a V1 product names its order line by the `productId` (V1 has no
    /// `orderLineId`), which query order may not know as a line; the whole order still answers,
    /// and the caller picks the line from it (or the first). Only a definite refusal (an `MKT.*`
    /// answer that is neither retryable nor about credentials) is asked again.
    ///
    /// # Errors
    /// As [`Self::query_order`], from the second call when there was one.
    pub async fn query_order_line(
        &self,
        order_id: &OrderId,
        order_line_id: &OrderLineId,
    ) -> Result<OrderInfo, MarketplaceError> {
        match self.query_order(order_id, Some(order_line_id)).await {
            Err(e @ MarketplaceError::Api { .. }) if !e.is_retryable() && !e.is_misconfigured() => {
                tracing::debug!(
                    error = &e as &dyn std::error::Error,
                    "query order by line refused; asking for the order"
                );
                self.query_order(order_id, None).await
            }
            other => other,
        }
    }

    /// Sends a signed request, with retries per host and the fallback host, and decodes the JSON.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Vec<u8>,
    ) -> Result<(u16, T), MarketplaceError> {
        let mut last = None;
        for base in &self.bases {
            let mut delay = self.cfg.backoff;
            for attempt in 1..=self.cfg.attempts.max(1) {
                if attempt > 1 {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                match self.once(base, method.clone(), path, query, &body).await {
                    Ok(ok) => return Ok(ok),
                    Err(e) if e.is_retryable() => {
                        tracing::warn!(error = &e as &dyn std::error::Error, host = %base, attempt, "open-API call failed; retrying");
                        last = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Err(last.unwrap_or_else(|| MarketplaceError::Config("no base URL".into())))
    }

    async fn once<T: DeserializeOwned>(
        &self,
        base: &Url,
        method: Method,
        path: &str,
        query: &str,
        body: &[u8],
    ) -> Result<(u16, T), MarketplaceError> {
        let host = match (base.host_str(), base.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(MarketplaceError::Config(format!("{base} has no host"))),
        };
        let full_path = format!("{}{path}", base.path().trim_end_matches('/'));
        let headers = vec![
            (apig::DATE_HEADER.to_owned(), apig::format_sdk_date(chrono::Utc::now().timestamp())),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ];
        let req =
            apig::Request { method: method.as_str(), host: &host, path: &full_path, query, headers: &headers, body };
        let signed = apig::sign(&req, &self.cfg.access_key_id, self.cfg.secret_access_key.expose_secret().as_bytes())?;
        let mut url = base.clone();
        url.set_path(&full_path);
        url.set_query((!query.is_empty()).then_some(query));
        let mut request =
            self.http.request(method, url).header("Authorization", signed.authorization).header("Host", &host);
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        let response = request.body(body.to_vec()).send().await.map_err(MarketplaceError::Unreachable)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(MarketplaceError::Unreachable)?;
        match serde_json::from_slice::<T>(&bytes) {
            Ok(value) => Ok((status, value)),
            Err(source) => Err(api_error(status, &bytes).unwrap_or(MarketplaceError::Malformed { status, source })),
        }
    }
}

/// Reads `{error_code, error_msg}` or `{resultCode, resultMsg}` from an error answer.
fn api_error(status: u16, body: &[u8]) -> Option<MarketplaceError> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = v.get("error_code").or_else(|| v.get("resultCode"))?.as_str()?.to_owned();
    let message =
        v.get("error_msg").or_else(|| v.get("resultMsg")).and_then(|m| m.as_str()).unwrap_or_default().to_owned();
    Some(MarketplaceError::Api { status, code, message })
}

fn parse_base(base: &str) -> Result<Url, MarketplaceError> {
    let url = Url::parse(base).map_err(|e| MarketplaceError::Config(format!("{base:?}: {e}")))?;
    match url.scheme() {
        "https" | "http" => Ok(url),
        other => Err(MarketplaceError::Config(format!("{base:?}: scheme {other} is not http(s)"))),
    }
}
