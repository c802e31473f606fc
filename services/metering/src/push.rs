//! Where records go: KooGallery's usage push, or anything a test puts in its place.

use std::{future::Future, pin::Pin};

use koofill_marketplace::{MarketplaceError, UsagePushClient, UsageRecord};

/// The future a [`Pusher`] returns.
pub type PushFuture<'a> = Pin<Box<dyn Future<Output = Result<(), MarketplaceError>> + Send + 'a>>;

/// Sends one call's records (at most 1000); `Ok` once KooGallery answered `MKT.0000`.
pub trait Pusher: Send + Sync + std::fmt::Debug + 'static {
    /// Pushes `records`.
    fn push<'a>(&'a self, records: &'a [UsageRecord]) -> PushFuture<'a>;
}

impl Pusher for UsagePushClient {
    fn push<'a>(&'a self, records: &'a [UsageRecord]) -> PushFuture<'a> {
        Box::pin(UsagePushClient::push(self, records))
    }
}
