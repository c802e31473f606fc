//! The one error type of the signing crate.

/// Why a signature could not be produced or did not verify.
///
/// Callers map these to KooGallery result codes themselves (the ingress answers `000001` for
/// [`SignatureError::Mismatch`] and the timestamp errors, `000002` for missing parameters); the
/// messages never contain key material or the expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A value that should be Base64 or hex is not.
    #[error("{what} is not valid {encoding}")]
    BadEncoding {
        /// Which input was malformed (for example `"clientSecret"`).
        what: &'static str,
        /// The encoding expected (`"Base64"`, `"hex"`).
        encoding: &'static str,
    },
    /// The body is not JSON of the shape the algorithm needs.
    #[error("body is not canonicalisable JSON: {0}")]
    Json(#[from] crate::json::JsonError),
    /// The computed signature differs from the one received.
    #[error("signature does not match")]
    Mismatch,
    /// A header or parameter the algorithm needs is absent or empty.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// A header value is not in the documented form.
    #[error("{what} is malformed: {why}")]
    Malformed {
        /// Which header or parameter.
        what: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A timestamp is not a decimal integer.
    #[error("timestamp {0:?} is not a number")]
    TimestampNotNumeric(String),
    /// A timestamp lies further in the past than the window allows.
    #[error("timestamp is {skew_ms} ms old, beyond the {window_ms} ms window")]
    TimestampStale {
        /// How far in the past, in milliseconds.
        skew_ms: i64,
        /// The window, in milliseconds.
        window_ms: i64,
    },
    /// A timestamp lies further in the future than the window allows.
    #[error("timestamp is {skew_ms} ms in the future, beyond the {window_ms} ms window")]
    TimestampFuture {
        /// How far in the future, in milliseconds.
        skew_ms: i64,
        /// The window, in milliseconds.
        window_ms: i64,
    },
    /// Decryption failed with every variant tried (wrong key, corrupt ciphertext, bad padding).
    #[error("{0} could not be decrypted")]
    Decrypt(&'static str),
    /// A key could not be parsed or is of an unusable size.
    #[error("key is unusable: {0}")]
    BadKey(String),
}

impl SignatureError {
    /// Whether the failure is about time (stale, future or non-numeric timestamp).
    pub fn is_timestamp(&self) -> bool {
        matches!(self, Self::TimestampNotNumeric(_) | Self::TimestampStale { .. } | Self::TimestampFuture { .. })
    }
}
