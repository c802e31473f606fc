//! Errors of the open-API client. Callers decide with [`MarketplaceError::is_retryable`].

/// Why an open-API call failed.
#[derive(Debug, thiserror::Error)]
pub enum MarketplaceError {
    /// The client could not be built (bad base URL, TLS set-up).
    #[error("open-API client configuration: {0}")]
    Config(String),
    /// No answer: connection refused, DNS, TLS or timeout, on every host tried.
    #[error("KooGallery open API unreachable")]
    Unreachable(#[source] reqwest::Error),
    /// KooGallery answered with an `MKT.*` (or other) error code.
    #[error("KooGallery answered {code} ({message}) with HTTP {status}")]
    Api {
        /// HTTP status.
        status: u16,
        /// `resultCode` / `error_code`, e.g. `MKT.0100`.
        code: String,
        /// `resultMsg` / `error_msg`.
        message: String,
    },
    /// A License open API answered an error code (`9202000x`, spec §3.2).
    #[error("KooGallery license API answered {code} ({message}) with HTTP {status}")]
    License {
        /// HTTP status.
        status: u16,
        /// The typed `error_code`.
        code: crate::LicenseErrorCode,
        /// `error_msg`.
        message: String,
    },
    /// The answer is not the JSON the API documents.
    #[error("unexpected answer (HTTP {status})")]
    Malformed {
        /// HTTP status.
        status: u16,
        /// The decoding problem.
        #[source]
        source: serde_json::Error,
    },
    /// The request could not be signed.
    #[error("request signing failed: {0}")]
    Signing(#[from] koofill_signing::SignatureError),
}

impl MarketplaceError {
    /// Whether a later attempt may succeed: no answer at all, rate limiting (`MKT.0250`), KooGallery's
    /// internal errors (`MKT.0999`) and other 5xx. A 4xx error will fail the same way again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Api { status, code, .. } => *status >= 500 && code != "MKT.0100" || code == "MKT.0250",
            Self::Malformed { status, .. } => *status >= 500,
            Self::License { status, code, .. } => *code == crate::LicenseErrorCode::Internal || *status >= 500,
            Self::Config(_) | Self::Signing(_) => false,
        }
    }

    /// Whether KooGallery refused the credentials rather than the request: HTTP 401/403 or an
    /// `MKT.015x` code (illegal operation, no authority, illegal token — spec §8.1). That is a
    /// configuration error on the seller's side (an AK/SK rotated or from the wrong account),
    /// fixed by an operator, after which the same call succeeds.
    pub fn is_misconfigured(&self) -> bool {
        match self {
            Self::Api { status, code, .. } => matches!(status, 401 | 403) || code.starts_with("MKT.015"),
            Self::License { status, code, .. } => {
                matches!(status, 401 | 403) || matches!(code, crate::LicenseErrorCode::Other(c) if c == "CBC.0150")
            }
            _ => false,
        }
    }

    /// The `MKT.*` code, when KooGallery sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            Self::License { code, .. } => Some(code.as_str()),
            _ => None,
        }
    }
}
