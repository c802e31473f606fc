//! Where a scenario run makes its orders, instances and license codes known before it sends the
//! callbacks that refer to them, so that the seller's query-order (and usage or license) calls
//! find them: the simulator in this process, one in another process (`koofill dev`) through its
//! registration API, or none (the scenarios then use the spec's mock order IDs, which any
//! KooGallery, real or simulated, answers).

use koofill_model::order::OrderInfo;
use koofill_signing::apig;
use reqwest::Url;
use serde::Serialize;

use crate::SimError;
use crate::callback::check_url;
use crate::license::SimLicense;
use crate::market::{InstanceStatus, Marketplace, SimInstance};
use crate::oauth::{SimOAuthClient, SimOAuthUser};
use crate::server::{
    ADMIN_INSTANCES_PATH, ADMIN_LICENSES_PATH, ADMIN_OAUTH_CLIENTS_PATH, ADMIN_OAUTH_USERS_PATH, ADMIN_ORDERS_PATH,
    ADMIN_USAGE_RECORDS_PATH,
};
use crate::usage_rules::UsageRecordView;

/// Where registrations go.
#[derive(Debug, Clone)]
pub enum Registry {
    /// A simulator in this process.
    Local(Marketplace),
    /// A simulator in another process, through its APIG-signed registration API.
    Remote(RemoteSimulator),
    /// Nowhere: scenarios use the mock order IDs.
    Off,
}

impl Registry {
    /// Whether registrations go nowhere.
    pub fn is_off(&self) -> bool {
        matches!(self, Self::Off)
    }

    /// Registers an order.
    ///
    /// # Errors
    /// [`SimError::Registration`] when a remote simulator refuses or cannot be reached.
    pub async fn order(&self, order: &OrderInfo) -> Result<(), SimError> {
        match self {
            Self::Local(market) => market.register_order(order.clone()),
            Self::Remote(remote) => remote.post(ADMIN_ORDERS_PATH, order).await?,
            Self::Off => {}
        }
        Ok(())
    }

    /// Registers an instance.
    ///
    /// # Errors
    /// As [`Registry::order`].
    pub async fn instance(&self, instance: &SimInstance) -> Result<(), SimError> {
        match self {
            Self::Local(market) => market.register_instance(instance.clone()),
            Self::Remote(remote) => remote.post(ADMIN_INSTANCES_PATH, instance).await?,
            Self::Off => {}
        }
        Ok(())
    }

    /// Changes a registered instance's status.
    ///
    /// # Errors
    /// As [`Registry::order`].
    pub async fn instance_status(&self, instance_id: &str, status: InstanceStatus) -> Result<(), SimError> {
        match self {
            Self::Local(market) => {
                market.set_instance_status(instance_id, status);
            }
            Self::Remote(remote) => {
                let path =
                    format!("{ADMIN_INSTANCES_PATH}/{}/status", koofill_signing::percent::encode_rfc3986(instance_id));
                remote.post(&path, &status).await?;
            }
            Self::Off => {}
        }
        Ok(())
    }

    /// Issues (or updates) a license code.
    ///
    /// # Errors
    /// As [`Registry::order`].
    pub async fn license(&self, license: &SimLicense) -> Result<(), SimError> {
        match self {
            Self::Local(market) => market.register_license(license.clone()),
            Self::Remote(remote) => remote.post(ADMIN_LICENSES_PATH, license).await?,
            Self::Off => {}
        }
        Ok(())
    }

    /// The usage records the marketplace received for an instance, in order of arrival, with
    /// their results; none when registrations go nowhere.
    ///
    /// # Errors
    /// As [`Registry::order`], and [`SimError::Registration`] for an answer that is not a list.
    pub async fn usage_records(&self, instance_id: &str) -> Result<Vec<UsageRecordView>, SimError> {
        match self {
            Self::Local(market) => Ok(market.usage_views(Some(instance_id))),
            Self::Remote(remote) => {
                let query = format!("instance_id={}", koofill_signing::percent::encode_rfc3986(instance_id));
                let body = remote.get(ADMIN_USAGE_RECORDS_PATH, &query).await?;
                serde_json::from_slice(&body).map_err(|_| remote.refused(200))
            }
            Self::Off => Ok(Vec::new()),
        }
    }

    /// Registers a tenant's OAuth client of an app (the 联营 login, spec §6).
    ///
    /// # Errors
    /// As [`Registry::order`].
    pub async fn oauth_client(&self, client: &SimOAuthClient) -> Result<(), SimError> {
        match self {
            Self::Local(market) => market.register_oauth_client(client.clone()),
            Self::Remote(remote) => remote.post(ADMIN_OAUTH_CLIENTS_PATH, client).await?,
            Self::Off => {}
        }
        Ok(())
    }

    /// Lets a user sign in to an app of a tenant.
    ///
    /// # Errors
    /// As [`Registry::order`].
    pub async fn oauth_user(&self, user: &SimOAuthUser) -> Result<(), SimError> {
        match self {
            Self::Local(market) => market.register_oauth_user(user.clone()),
            Self::Remote(remote) => remote.post(ADMIN_OAUTH_USERS_PATH, user).await?,
            Self::Off => {}
        }
        Ok(())
    }
}

/// A simulator in another process, reached with the seller's AK/SK.
#[derive(Debug, Clone)]
pub struct RemoteSimulator {
    http: reqwest::Client,
    base: Url,
    access_key_id: String,
    secret_access_key: String,
}

impl RemoteSimulator {
    /// A client for the simulator at `base_url`.
    ///
    /// # Errors
    /// [`SimError::BadUrl`] or [`SimError::Client`].
    pub fn new(base_url: &str, access_key_id: &str, secret_access_key: &str) -> Result<Self, SimError> {
        check_url(base_url)?;
        let base =
            Url::parse(base_url).map_err(|e| SimError::BadUrl { url: base_url.to_owned(), why: e.to_string() })?;
        let http = reqwest::Client::builder()
            .timeout(crate::callback::KOOGALLERY_TIMEOUT)
            .build()
            .map_err(SimError::Client)?;
        Ok(Self {
            http,
            base,
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
        })
    }

    async fn post<T: Serialize + ?Sized>(&self, path: &str, value: &T) -> Result<(), SimError> {
        let body = serde_json::to_vec(value).map_err(|_| self.refused(0))?;
        self.send("POST", path, "", body).await.map(drop)
    }

    async fn get(&self, path: &str, query: &str) -> Result<Vec<u8>, SimError> {
        self.send("GET", path, query, Vec::new()).await
    }

    fn refused(&self, status: u16) -> SimError {
        SimError::Registration { url: self.base.to_string(), status }
    }

    /// Sends an APIG-signed request (`query` already encoded) and returns the answer's body.
    async fn send(&self, method: &'static str, path: &str, query: &str, body: Vec<u8>) -> Result<Vec<u8>, SimError> {
        let host = match (self.base.host_str(), self.base.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(self.refused(0)),
        };
        let full_path = format!("{}{path}", self.base.path().trim_end_matches('/'));
        let mut headers = vec![(apig::DATE_HEADER.to_owned(), apig::format_sdk_date(chrono::Utc::now().timestamp()))];
        if !body.is_empty() {
            headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
        }
        let request = apig::Request { method, host: &host, path: &full_path, query, headers: &headers, body: &body };
        let signed = apig::sign(&request, &self.access_key_id, self.secret_access_key.as_bytes())
            .map_err(|_| self.refused(0))?;
        let mut url = self.base.clone();
        url.set_path(&full_path);
        url.set_query((!query.is_empty()).then_some(query));
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| self.refused(0))?;
        let mut builder =
            self.http.request(method, url).header("Authorization", signed.authorization).header("Host", &host);
        for (name, value) in &headers {
            builder = builder.header(name, value);
        }
        let response = builder.body(body).send().await.map_err(|_| self.refused(0))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.refused(status.as_u16()));
        }
        response.bytes().await.map(|b| b.to_vec()).map_err(|_| self.refused(status.as_u16()))
    }
}
