//! The envelope every bus message carries (architecture §4), and the data of an inbound callback.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::basic::BasicRequest;
use crate::event::DomainEvent;
use crate::family::Family;
use crate::identity::RequestIdentity;
use crate::ids::InstanceId;
use crate::kit::{KitInterface, KitRequest};
use crate::validation::ValidationError;

/// The envelope version written by this crate; readers accept it and anything older they know.
pub const ENVELOPE_VERSION: u32 = 1;

/// The `source` of every callback the ingress publishes.
pub const INGRESS_SOURCE: &str = "ingress";

/// A bus message: metadata plus `data`. The trace context travels in NATS headers, not here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Envelope<T> {
    /// The deduplication key, also sent as `Nats-Msg-Id`: built from business fields (never the
    /// `businessId`), qualified with the request's timestamp and nonce where one request must not
    /// stand for another ([`BasicRequest::message_id`], [`KitRequest::message_id`]).
    pub id: String,
    /// What `data` is, e.g. `inbound.newInstance` or `instance.active`.
    #[serde(rename = "type")]
    pub r#type: String,
    /// Envelope and payload version ([`ENVELOPE_VERSION`]).
    pub version: u32,
    /// When the thing happened (for callbacks: when the ingress received it).
    pub occurred_at: DateTime<Utc>,
    /// For callbacks: when KooGallery signed the request (the verified `timestamp` / `x-timestamp`).
    /// Absent on other messages and on callbacks published before the field existed; read it
    /// through [`Envelope::request_time`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
    /// The service that published it, e.g. `ingress`.
    pub source: String,
    /// A debug (`testFlag`) message: never touches real resources.
    pub test: bool,
    /// The payload.
    pub data: T,
}

impl<T> Envelope<T> {
    /// An envelope of the current version.
    pub fn new(
        id: impl Into<String>,
        r#type: impl Into<String>,
        source: impl Into<String>,
        occurred_at: DateTime<Utc>,
        test: bool,
        data: T,
    ) -> Self {
        Self {
            id: id.into(),
            r#type: r#type.into(),
            version: ENVELOPE_VERSION,
            occurred_at,
            requested_at: None,
            source: source.into(),
            test,
            data,
        }
    }

    /// The time that orders this message among others about the same thing: when KooGallery
    /// signed the request if known, else `occurred_at`. KooGallery's own clock orders its calls;
    /// the time one of several ingress replicas received them does not (a request delayed on the
    /// network, or answered slowly, can arrive after a later one).
    pub fn request_time(&self) -> DateTime<Utc> {
        self.requested_at.unwrap_or(self.occurred_at)
    }
}

impl Envelope<InboundCallback> {
    /// The message the ingress publishes for a verified basic callback, complete: its id is
    /// [`BasicRequest::message_id`], `requested_at` the signed timestamp, `source` [`INGRESS_SOURCE`].
    /// `None` for the activities that are answered synchronously and not published.
    pub fn basic_callback(
        request: &BasicRequest,
        body: Value,
        identity: &RequestIdentity,
        received_at: DateTime<Utc>,
    ) -> Option<Self> {
        let id = request.message_id(identity)?;
        let data = InboundCallback::basic(request, body, received_at);
        let env = Self::new(id, data.event_type(), INGRESS_SOURCE, received_at, request.is_test(), data);
        Some(env.requested(identity))
    }

    /// The message the ingress publishes for a verified Kit callback, complete as
    /// [`Envelope::basic_callback`], with the id [`KitRequest::message_id`].
    pub fn kit_callback(
        request: &KitRequest,
        body: Value,
        identity: &RequestIdentity,
        received_at: DateTime<Utc>,
    ) -> Self {
        let data = InboundCallback::kit(request, body, received_at);
        let id = request.message_id(identity);
        Self::new(id, data.event_type(), INGRESS_SOURCE, received_at, request.is_test(), data).requested(identity)
    }

    fn requested(mut self, identity: &RequestIdentity) -> Self {
        self.requested_at = identity.requested_at();
        self
    }

    /// A message for a basic callback that did not come through the ingress (a benchmark, a
    /// re-publication under a known id): its id is the business key alone
    /// ([`BasicRequest::dedup_id`]) and it has no `requested_at`. What the ingress publishes, and
    /// what a test stands in for it with, is [`Envelope::basic_callback`].
    pub fn inbound_basic(
        request: &BasicRequest,
        body: Value,
        received_at: DateTime<Utc>,
        source: impl Into<String>,
    ) -> Option<Self> {
        let id = request.dedup_id()?;
        let data = InboundCallback::basic(request, body, received_at);
        Some(Self::new(id, data.event_type(), source, received_at, request.is_test(), data))
    }

    /// A message for a Kit callback that did not come through the ingress, as
    /// [`Envelope::inbound_basic`]; the ingress publishes [`Envelope::kit_callback`].
    pub fn inbound_kit(
        request: &KitRequest,
        body: Value,
        received_at: DateTime<Utc>,
        source: impl Into<String>,
    ) -> Self {
        let data = InboundCallback::kit(request, body, received_at);
        Self::new(request.dedup_id(), data.event_type(), source, received_at, request.is_test(), data)
    }
}

impl Envelope<DomainEvent> {
    /// The message for a domain event; its type is the event's subject suffix, e.g. `instance.active`.
    pub fn event(
        id: impl Into<String>,
        source: impl Into<String>,
        occurred_at: DateTime<Utc>,
        test: bool,
        event: DomainEvent,
    ) -> Self {
        Self::new(id, event.subject_suffix(), source, occurred_at, test, event)
    }
}

/// The data of a message on `KOOFILL_INBOUND`: one verified KooGallery callback, as received.
///
/// Consumers re-validate `body` with [`InboundCallback::basic_request`] or [`InboundCallback::kit_request`];
/// keeping the body as received makes the stream an audit log that can be replayed after a model change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InboundCallback {
    /// The basic `activity` (`newInstance`...) or, for Kit, the interface path name (`tenantSync`...).
    pub activity: String,
    /// The subject family.
    pub family: Family,
    /// When the ingress received the call.
    pub received_at: DateTime<Utc>,
    /// The JSON body as received.
    pub body: Value,
    /// For Kit callbacks: the interface (from the path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kit_interface: Option<KitInterface>,
    /// For newInstance: the instance ID the ingress answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<InstanceId>,
}

impl InboundCallback {
    /// The data for a basic callback; for newInstance `instance_id` is the one answered
    /// ([`crate::basic::NewInstance::instance_id`]).
    pub fn basic(request: &BasicRequest, body: Value, received_at: DateTime<Utc>) -> Self {
        let instance_id = match request {
            BasicRequest::NewInstance(r) => Some(r.instance_id()),
            _ => None,
        };
        Self {
            activity: request.activity().as_str().to_owned(),
            family: request.family(),
            received_at,
            body,
            kit_interface: None,
            instance_id,
        }
    }

    /// The data for a Kit callback.
    pub fn kit(request: &KitRequest, body: Value, received_at: DateTime<Utc>) -> Self {
        let interface = request.interface();
        Self {
            activity: interface.path_name().to_owned(),
            family: request.family(),
            received_at,
            body,
            kit_interface: Some(interface),
            instance_id: None,
        }
    }

    /// The envelope type, `inbound.{activity}`.
    pub fn event_type(&self) -> String {
        format!("inbound.{}", self.activity)
    }

    /// The subject after the prefix and `inbound.`: `{family}.{activity}`, e.g. `saas.newInstance`.
    pub fn subject_suffix(&self) -> String {
        format!("{}.{}", self.family, self.activity)
    }

    /// Re-validates the body as a basic request.
    ///
    /// # Errors
    /// As [`BasicRequest::from_value`]; also for a Kit callback, whose body has no `activity`.
    pub fn basic_request(&self) -> Result<BasicRequest, ValidationError> {
        BasicRequest::from_value(&self.body)
    }

    /// Re-validates the body as a Kit request; `None` for a basic callback.
    pub fn kit_request(&self) -> Option<Result<KitRequest, ValidationError>> {
        self.kit_interface.map(|interface| KitRequest::from_value(interface, &self.body))
    }
}
