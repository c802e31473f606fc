//! Client for the KooGallery open APIs koofill calls (spec §8): every request APIG-signed with the
//! seller's AK/SK (spec §2.6), HTTPS with strict certificate checks (rustls with the Mozilla root
//! set; never disabled), per-attempt timeouts, retries on timeouts, connection failures and 5xx,
//! and the documented `.com` → `.cn` fallback when the primary host cannot be reached.
//!
//! ```no_run
//! # async fn demo() -> Result<(), koofill_marketplace::MarketplaceError> {
//! use koofill_marketplace::{MarketplaceClient, MarketplaceConfig};
//! let client = MarketplaceClient::new(MarketplaceConfig::new("https://mkt.myhuaweicloud.com", "AK", "SK"))?;
//! let order = client.query_order(&"MOCKPERIODYEARNEW".into(), None).await?;
//! println!("{:?}", order.order_type);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod client;
mod error;
mod license;
mod usage;

pub use client::{MarketplaceClient, MarketplaceConfig, QUERY_ORDER_PATH};
pub use error::MarketplaceError;
pub use license::{LICENSE_ACTIVATE_PATH, LICENSE_HEARTBEAT_PATH, LICENSE_OK_CODE, LicenseCodeInfo, LicenseErrorCode};
pub use usage::{USAGE_PUSH_MAX_RECORDS, USAGE_PUSH_PATH, UsagePushClient, UsagePushConfig, UsageRecord};
