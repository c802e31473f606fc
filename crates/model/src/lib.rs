//! The wire model of koofill: every KooGallery callback and answer as typed, validated Rust values, the
//! result codes, the domain identifiers, the bus envelope and the domain events. No IO, no async.
//!
//! | Module | Holds | Used by |
//! |---|---|---|
//! | [`basic`] | [`BasicRequest`] for every `activity` (SaaS V2, orderNotify, License 2.0), [`CallbackResponse`] | ingress parses and answers; simulator builds and reads |
//! | [`kit`] | [`KitRequest`] for the five joint-operation sync interfaces | ingress, provisioning |
//! | [`result_code`] | [`ResultCode`] (`000000`...) | every answer |
//! | [`validation`] | [`ValidationError`]: which field, what is wrong; the `000002` message | ingress |
//! | [`ids`] | `OrderId`, `InstanceId` (with the deterministic [`InstanceId::for_order_line`]) ... | everyone |
//! | [`time`] | KooGallery's compact times (14/17 digits, UTC or UTC+8) and the open-API format | parsing, metering |
//! | [`order`] | The query-order answer ([`QueryOrderResponse`]) | marketplace client, provisioning, simulator |
//! | [`envelope`] | [`Envelope`] and [`InboundCallback`], the data on `KOOFILL_INBOUND` | bus, ingress, workers |
//! | [`identity`] | [`RequestIdentity`]: a request's signed timestamp and nonce, for ids and request order | ingress, testkit |
//! | [`event`] | [`DomainEvent`] on `KOOFILL_EVENTS` | workers, notification |
//! | [`schemas`](mod@schemas) | JSON Schemas of the above, checked in under `proto/` | `tests/schemas.rs` |
//! | [`family`] | [`Family`]: saas, order, license, kit; the inbound subject family | ingress, bus |
//! | [`wire`] | Values that keep their wire shape (JSON or a string holding JSON, quoted numbers) | the request types |
//! | [`lenient_json`] | The forgiving reader for the non-strict JSON KooGallery embeds in strings | Kit parsing |
//! | [`v1`] | The retired V1 calls (`authToken`) rewritten as their V2 twins | ingress |
//! | [`json_ascii`] | JSON with non-ASCII escaped as `\uXXXX`, as KooGallery wants answers | [`CallbackResponse`] |
//!
//! The path of a callback through this crate:
//! 1. the ingress verifies the signature over the raw bytes (koofill-signing), then calls
//!    [`BasicRequest::parse`] or [`KitRequest::parse`]; a [`ValidationError`] becomes
//!    [`CallbackResponse::invalid`] (`000002`, the message names the field);
//! 2. it wraps the request with [`Envelope::basic_callback`] / [`Envelope::kit_callback`], given the
//!    verified [`RequestIdentity`] (timestamp and nonce): the `id` is the request's `message_id()`
//!    (its `dedup_id()`, `test:`-prefixed for debug calls, qualified with the request identity where
//!    one request must not stand for another) and `requested_at` the signed timestamp; it publishes
//!    it under `{family}.{activity}` ([`InboundCallback::subject_suffix`]; a `newInstance` with its
//!    instance id as a last token), the workers' inbox keyed on that `id`. Tests stand in for the
//!    ingress through the same functions (`koofill_testkit::inbound`);
//! 3. it answers with a [`CallbackResponse`] serialised by [`CallbackResponse::to_bytes`] (non-ASCII
//!    escaped), the exact bytes that are signed;
//! 4. a worker decodes the envelope, re-validates the body with [`InboundCallback::basic_request`] or
//!    [`InboundCallback::kit_request`], and emits [`DomainEvent`]s in [`Envelope`]s of their own.
//!
//! Parsing is strict about what the spec fixes (mandatory fields, lengths, enumerations, times) and
//! tolerant where the spec says KooGallery varies: unknown fields, 14- or 17-digit times, `userList` /
//! `orgInfoList` / `productInfo` as JSON or as strings holding (lenient) JSON, numbers sent as strings.
//! Values keep the shape they arrived in, so a parsed request serialises back to an equivalent body.
//!
//! ```
//! use koofill_model::{BasicRequest, CallbackResponse};
//!
//! let body = br#"{"activity":"newInstance","businessId":"b-1","orderId":"CS1","orderLineId":"CS1-000001","testFlag":"1"}"#;
//! let answer = match BasicRequest::parse(body) {
//!     Ok(BasicRequest::NewInstance(new)) => {
//!         assert_eq!(new.dedup_id(), "test:newInstance:CS1:CS1-000001");
//!         CallbackResponse::new_instance(new.instance_id())
//!     }
//!     Ok(_) => CallbackResponse::success(),
//!     Err(invalid) => CallbackResponse::invalid(&invalid),
//! };
//! assert!(answer.result_code.is_success());
//! let bytes = answer.to_bytes(); // sign and send exactly these
//! assert!(bytes.is_ascii());
//! ```
#![warn(missing_docs)]

pub mod basic;
pub mod change_check_rpc;
pub mod envelope;
pub mod event;
pub mod family;
mod fields;
pub mod identity;
pub mod ids;
pub mod json_ascii;
pub mod kit;
pub mod lenient_json;
pub mod license_rpc;
pub mod order;
pub mod result_code;
pub mod schemas;
pub mod state;
pub mod time;
pub mod usage;
pub mod v1;
pub mod validation;
pub mod wire;

pub use basic::response::{AppInfo, CallbackResponse, EncryptType, InstanceInfo, UsageInfo};
pub use basic::{Activity, BasicRequest};
pub use change_check_rpc::{ChangeCheckReply, ChangeCheckRequest};
pub use envelope::{Envelope, InboundCallback};
pub use event::DomainEvent;
pub use family::Family;
pub use identity::RequestIdentity;
pub use ids::{
    AppId, BusinessId, InstanceId, LicenseCode, OrderId, OrderLineId, OrgCode, ProductId, SkuCode, TenantId,
};
pub use kit::{KitInterface, KitRequest};
pub use order::QueryOrderResponse;
pub use result_code::ResultCode;
pub use schemas::schemas;
pub use state::{DirectoryState, InstanceState, UnknownState};
pub use validation::{Problem, ValidationError};
