//! String newtypes for the identifiers KooGallery sends, so that an order ID cannot be passed where an
//! instance ID is expected.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        // Inline, so that each field's maximum length can sit next to `"type": "string"`.
        #[schemars(transparent, inline)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value as received; parsing validates lengths, this does not.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The identifier as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Unwraps the identifier.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

string_id!(
    /// A KooGallery order ID, e.g. `CS2211181819B4LVS` (String(64)).
    OrderId
);
string_id!(
    /// An order line ID, e.g. `CS2211181819B4LVS-000001` (String(64)).
    OrderLineId
);
string_id!(
    /// The ID of a SaaS instance, as koofill answered newInstance with it (String(64)).
    InstanceId
);
string_id!(
    /// The per-request `businessId` of newInstance. It differs on every request, retries included, so it is
    /// never a deduplication key.
    BusinessId
);
string_id!(
    /// A KooGallery product ID; it differs per period type under the same SKU.
    ProductId
);
string_id!(
    /// A KooGallery SKU (spec) code; stable across period-type changes.
    SkuCode
);
string_id!(
    /// A joint-operation (联营) tenant, i.e. the enterprise's domain ID.
    TenantId
);
string_id!(
    /// The app ID of a joint-operation application credential.
    AppId
);
string_id!(
    /// A License 2.0 license code (授权码), e.g. `PLXXXXXX`.
    LicenseCode
);
string_id!(
    /// A tenant-defined department code, unique within the tenant.
    OrgCode
);

/// The namespace of the UUIDv5 instance IDs koofill hands out.
///
/// Changing it changes the instanceId answered for every order line, which breaks idempotency for orders
/// already answered: it is fixed forever.
pub const INSTANCE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x22089ab0_3646_45e9_bd9c_b0ea6a3c3412);

impl InstanceId {
    /// The instance ID for an order line: UUIDv5 under [`INSTANCE_ID_NAMESPACE`] of `"{orderId}:{orderLineId}"`,
    /// hyphenated lower case.
    ///
    /// KooGallery resends newInstance and expects the same instanceId each time (spec §1.3). Deriving it from
    /// the order line makes every ingress replica give the same answer without shared state, across restarts.
    pub fn for_order_line(order_id: &OrderId, order_line_id: &OrderLineId) -> InstanceId {
        let name = format!("{order_id}:{order_line_id}");
        let uuid = Uuid::new_v5(&INSTANCE_ID_NAMESPACE, name.as_bytes());
        InstanceId(uuid.hyphenated().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(order: &str, line: &str) -> InstanceId {
        InstanceId::for_order_line(&OrderId::from(order), &OrderLineId::from(line))
    }

    #[test]
    fn instance_id_is_deterministic_and_pinned() {
        let a = line("CS2211181819B4LVS", "CS2211181819B4LVS-000001");
        assert_eq!(a, line("CS2211181819B4LVS", "CS2211181819B4LVS-000001"));
        // Pinned: a change here means every answered order line gets a new instanceId.
        assert_eq!(a.as_str(), "6f98b1d5-7756-5f64-8a2f-54443b538221");
        assert_eq!(a.as_str().len(), 36);
        assert_eq!(a.as_str(), a.as_str().to_lowercase());
    }

    #[test]
    fn instance_id_differs_per_order_line() {
        let a = line("CS2211181819B4LVS", "CS2211181819B4LVS-000001");
        assert_ne!(a, line("CS2211181819B4LVS", "CS2211181819B4LVS-000002"));
        assert_ne!(a, line("CS2211181819B4LVT", "CS2211181819B4LVS-000001"));
    }

    #[test]
    fn ids_serialise_transparently() {
        let id = OrderId::from("CS1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"CS1\"");
        assert_eq!(serde_json::from_str::<OrderId>("\"CS1\"").unwrap(), id);
        assert_eq!(id.to_string(), "CS1");
        assert_eq!(format!("{id:?}"), "OrderId(\"CS1\")");
    }
}
