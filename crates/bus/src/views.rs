//! The KV views shared by every ingress replica.
//!
//! - [`NonceCache`]: put-if-absent of the nonce of each request the ingress answers without
//!   publishing (`queryInstance`, `changeInstanceCheck`, an unknown instance), so a replay is
//!   refused by whichever replica receives it. Entries expire with the bucket's `max_age` (twice
//!   the clock window). Published callbacks claim their nonce in the publish itself
//!   ([`crate::Publisher::publish_once`]).
//! - [`InstanceViews`]: one entry per instance, written by provisioning after each commit, read by
//!   the ingress to answer `queryInstance` and to recognise unknown instances. Until provisioning
//!   has written an instance's entry, the stored `newInstance` callback stands in for it (an
//!   `accepted` view): the ingress answers `newInstance` only once JetStream has stored that
//!   callback, so an instance KooGallery was told about is always known, without a second write.
//!   Credentials inside are already encrypted in KooGallery's format, so the ingress never needs
//!   the plaintext.

use async_nats::jetstream::{self, kv};
use chrono::{DateTime, Utc};
use koofill_model::{AppInfo, BasicRequest, Envelope, InboundCallback, InstanceId, OrderId, OrderLineId, UsageInfo};
use serde::{Deserialize, Serialize};

use crate::{BusError, names};

pub use koofill_model::InstanceState;

/// One entry of the instance view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceView {
    /// The instance.
    pub instance_id: InstanceId,
    /// The order that created it.
    pub order_id: OrderId,
    /// The order line that created it.
    pub order_line_id: OrderLineId,
    /// Its state.
    pub state: InstanceState,
    /// Whether it belongs to a debug (`testFlag = "1"`) order.
    pub test: bool,
    /// Access information, with `userName`/`password` already encrypted for KooGallery
    /// (`encryptType` 1, AES-256, with the basic key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_info: Option<AppInfo>,
    /// Usage information for on-demand instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_info: Option<Vec<UsageInfo>>,
    /// When the view was written.
    pub updated_at: DateTime<Utc>,
}

/// The nonce replay cache.
///
/// Its bucket lives in memory on the server (see [`crate::topology`]), so a server restart empties
/// it and removes the bucket itself; a claim that finds the bucket gone recreates it, with the
/// configuration read when the cache was opened, and tries again.
#[derive(Debug, Clone)]
pub struct NonceCache {
    store: kv::Store,
    js: jetstream::Context,
    stream_config: jetstream::stream::Config,
}

impl NonceCache {
    /// Opens the prefix's nonce bucket (created by [`crate::topology::ensure`]).
    ///
    /// # Errors
    /// [`BusError::JetStream`] when the bucket cannot be opened.
    pub async fn open(js: &jetstream::Context, prefix: &str) -> Result<Self, BusError> {
        let bucket = names::nonces_bucket(prefix);
        let store = js.get_key_value(&bucket).await.map_err(|e| BusError::js(format!("open bucket {bucket}"), e))?;
        let stream = js
            .get_stream(format!("KV_{bucket}"))
            .await
            .map_err(|e| BusError::js(format!("open bucket {bucket}"), e))?;
        Ok(Self { store, js: js.clone(), stream_config: stream.cached_info().config.clone() })
    }

    /// Records `nonce` for `channel` (`basic`, `kit`, `v1`); returns `false` if it was seen before.
    ///
    /// Nonces are arbitrary strings, so the key is a hash (KV keys allow few characters). The
    /// value is a token of this claim: a first write that timed out while the connection was down
    /// stays in the client's outgoing buffer and can land after the connection is back, before
    /// the retry. The retry then finds the key taken — by this very request. Reading the token
    /// back tells the two apart, so a request is never refused as a replay of itself.
    ///
    /// # Errors
    /// [`BusError::JetStream`] when the bucket cannot be written.
    pub async fn claim(&self, channel: &str, nonce: &str) -> Result<bool, BusError> {
        let key = format!("{channel}.{}", crate::publisher::nonce_digest(nonce));
        let token = bytes::Bytes::from(hex::encode(rand::random::<[u8; 16]>()));
        match self.try_claim(&key, &token).await {
            Err(first) => {
                // Recreate the bucket if it vanished (memory storage after a server restart), then
                // try once more; if it was there all along the creation is a no-op.
                if self.js.get_or_create_stream(self.stream_config.clone()).await.is_err() {
                    return Err(first);
                }
                self.try_claim(&key, &token).await
            }
            ok => ok,
        }
    }

    async fn try_claim(&self, key: &str, token: &bytes::Bytes) -> Result<bool, BusError> {
        match self.store.create(key, token.clone()).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                let holder = self.store.get(key).await.map_err(|e| BusError::js("read nonce claim", e))?;
                Ok(holder.as_ref() == Some(token))
            }
            Err(e) => Err(BusError::js("claim nonce", e)),
        }
    }
}

/// The instance view.
#[derive(Debug, Clone)]
pub struct InstanceViews {
    store: kv::Store,
    inbound: jetstream::stream::Stream<()>,
    prefix: String,
}

impl InstanceViews {
    /// Opens the prefix's instance bucket (created by [`crate::topology::ensure`]).
    ///
    /// # Errors
    /// [`BusError::JetStream`] when the bucket cannot be opened.
    pub async fn open(js: &jetstream::Context, prefix: &str) -> Result<Self, BusError> {
        let bucket = names::instances_bucket(prefix);
        let store = js.get_key_value(&bucket).await.map_err(|e| BusError::js(format!("open bucket {bucket}"), e))?;
        let stream = names::stream(prefix, names::INBOUND);
        let inbound =
            js.get_stream_no_info(&stream).await.map_err(|e| BusError::js(format!("open stream {stream}"), e))?;
        Ok(Self { store, inbound, prefix: prefix.to_owned() })
    }

    /// Whether `id` can be a key at all; ids that cannot were never written, so they are unknown.
    pub fn is_valid_key(id: &str) -> bool {
        !id.is_empty()
            && !id.starts_with('.')
            && !id.ends_with('.')
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'.' | b'/'))
    }

    /// Reads one instance: its entry, or, before provisioning has written one, the `accepted`
    /// view of its stored `newInstance` callback.
    ///
    /// # Errors
    /// [`BusError::JetStream`] when the bucket or the stream cannot be read; [`BusError::Decode`]
    /// for a corrupt entry.
    pub async fn get(&self, id: &str) -> Result<Option<InstanceView>, BusError> {
        if !Self::is_valid_key(id) {
            return Ok(None);
        }
        let Some(bytes) = self.store.get(id).await.map_err(|e| BusError::js("read instance view", e))? else {
            return self.accepted(id).await;
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|source| BusError::Decode {
            subject: names::instances_bucket("…"),
            expected: "InstanceView",
            source,
        })
    }

    /// The view of an instance whose `newInstance` callback is stored but not yet provisioned.
    async fn accepted(&self, id: &str) -> Result<Option<InstanceView>, BusError> {
        let subject = names::inbound_new_instance(&self.prefix, id);
        let message = match self.inbound.get_last_raw_message_by_subject(&subject).await {
            Ok(message) => message,
            Err(e) if e.kind() == jetstream::stream::LastRawMessageErrorKind::NoMessageFound => return Ok(None),
            Err(e) => return Err(BusError::js("read a stored newInstance", e)),
        };
        let decode = |source| BusError::Decode { subject: subject.clone(), expected: "newInstance envelope", source };
        let env: Envelope<InboundCallback> = serde_json::from_slice(&message.payload).map_err(decode)?;
        let Ok(BasicRequest::NewInstance(request)) = env.data.basic_request() else {
            return Ok(None);
        };
        Ok(Some(InstanceView {
            instance_id: request.instance_id(),
            order_id: request.order_id.clone(),
            order_line_id: request.order_line_id.clone(),
            state: InstanceState::Accepted,
            test: request.is_test(),
            app_info: None,
            usage_info: None,
            updated_at: env.occurred_at,
        }))
    }

    /// Writes `view`, replacing any entry.
    ///
    /// # Errors
    /// [`BusError::Encode`] or [`BusError::JetStream`].
    pub async fn put(&self, view: &InstanceView) -> Result<u64, BusError> {
        let value = serde_json::to_vec(view).map_err(|source| BusError::Encode { what: "instance view", source })?;
        self.store
            .put(view.instance_id.as_ref(), value.into())
            .await
            .map_err(|e| BusError::js("write instance view", e))
    }
}
