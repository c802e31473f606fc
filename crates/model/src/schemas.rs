//! The JSON Schemas of the wire contracts, generated from the Rust types and checked in under `proto/`.
//!
//! `tests/schemas.rs` fails when a checked-in file differs from what [`schemas`] generates; run it with
//! `KOOFILL_BLESS=1` to rewrite them.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};

use crate::basic::BasicRequest;
use crate::basic::response::CallbackResponse;
use crate::change_check_rpc::{ChangeCheckReply, ChangeCheckRequest};
use crate::envelope::{Envelope, InboundCallback};
use crate::event::DomainEvent;
use crate::kit::KitRequest;
use crate::license_rpc::{LicenseProxyReply, LicenseProxyRequest};
use crate::order::QueryOrderResponse;

fn schema_of<T: JsonSchema>() -> Schema {
    SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<T>()
}

/// Every contract's schema, with its path relative to `proto/`.
pub fn schemas() -> Vec<(&'static str, Schema)> {
    vec![
        ("callbacks/basic-request.schema.json", schema_of::<BasicRequest>()),
        ("callbacks/kit-request.schema.json", schema_of::<KitRequest>()),
        ("callbacks/callback-response.schema.json", schema_of::<CallbackResponse>()),
        ("bus/envelope-inbound.schema.json", schema_of::<Envelope<InboundCallback>>()),
        ("bus/events.schema.json", schema_of::<Envelope<DomainEvent>>()),
        ("bus/change-check-request.schema.json", schema_of::<ChangeCheckRequest>()),
        ("bus/change-check-reply.schema.json", schema_of::<ChangeCheckReply>()),
        ("bus/license-proxy-request.schema.json", schema_of::<LicenseProxyRequest>()),
        ("bus/license-proxy-reply.schema.json", schema_of::<LicenseProxyReply>()),
        ("bus/usage-batch.schema.json", schema_of::<crate::usage::UsageBatch>()),
        ("open-api/query-order-response.schema.json", schema_of::<QueryOrderResponse>()),
    ]
}

/// The file text of a schema: pretty-printed JSON with a trailing newline.
///
/// # Errors
/// When the schema cannot be serialised (it always can: it is a JSON value).
pub fn render(schema: &Schema) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(schema).map(|text| text + "\n")
}
