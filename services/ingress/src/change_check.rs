//! The request-reply contract of `changeInstanceCheck`, shared with provisioning through the model.

pub use koofill_model::{ChangeCheckReply, ChangeCheckRequest};
