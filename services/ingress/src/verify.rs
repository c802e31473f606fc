//! Authentication of a callback: timestamp window and signature with the interface's keys. Both
//! need no IO. The nonce is claimed later, by the step that acts on the request
//! ([`crate::dispatch`]): a callback that is published claims it in the same write, as the
//! message's `Nats-Msg-Id` ([`Verified::replay_key`]); one answered without publishing claims it
//! in the shared nonce bucket ([`Verified::claim`]). Only verified requests claim anything, so
//! unauthenticated traffic cannot fill either.

use koofill_model::{RequestIdentity, v1 as v1_model};
use koofill_signing::{SignatureError, basic, kit, timestamp, v1};

use crate::{error::IngressError, state::AppState};

/// The signature parameters of a request, as received.
#[derive(Debug, Clone, Default)]
pub struct SignatureParams {
    /// `signature` / `x-sign`.
    pub signature: Option<String>,
    /// `timestamp` / `x-timestamp`.
    pub timestamp: Option<String>,
    /// `nonce` / `x-nonce`.
    pub nonce: Option<String>,
}

/// Which scheme and key ring to verify with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// V2 basic URL signature, basic key.
    Basic,
    /// V2 Kit header signature, Kit key.
    Kit,
}

impl Scheme {
    fn channel(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Kit => "kit",
        }
    }
}

/// A verified request: which key matched (so the answer is signed with the same one) and the
/// request's identity, which the published message's id and `requested_at` are built from.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Index of the key in the ring.
    pub key_index: usize,
    /// The signed timestamp and nonce as received (for V1, the token's replay key as nonce).
    pub identity: RequestIdentity,
    /// The scheme's channel (`basic`, `kit`): nonces of the two key rings never collide.
    pub channel: &'static str,
}

impl Verified {
    /// The `Nats-Msg-Id` that claims this request's nonce when it is published.
    pub fn replay_key(&self) -> String {
        koofill_bus::replay_key(self.channel, self.identity.nonce())
    }

    /// Claims the nonce of a request that is answered without publishing anything.
    ///
    /// # Errors
    /// [`IngressError::ReplayedNonce`] when the nonce was used before; [`IngressError::Bus`] when
    /// the bucket cannot be written.
    pub async fn claim(&self, state: &AppState) -> Result<(), IngressError> {
        if state.nonces.claim(self.channel, self.identity.nonce()).await.map_err(IngressError::Bus)? {
            Ok(())
        } else {
            Err(IngressError::ReplayedNonce)
        }
    }
}

/// Verifies a request; see the module docs for the order of checks.
///
/// Missing `timestamp` or `nonce` is a parameter error (`000002`); a missing signature, a stale or
/// future timestamp and a wrong signature or key are authentication failures (`000001`), as is a
/// replayed nonce once the request is acted on.
///
/// # Errors
/// [`IngressError`] as above.
pub fn verify(
    state: &AppState,
    scheme: Scheme,
    params: &SignatureParams,
    body: &[u8],
) -> Result<Verified, IngressError> {
    let (ts_name, nonce_name, sig_name) = match scheme {
        Scheme::Basic => ("timestamp", "nonce", "signature"),
        Scheme::Kit => ("x-timestamp", "x-nonce", "x-sign"),
    };
    let ts = params.timestamp.as_deref().filter(|s| !s.is_empty()).ok_or(IngressError::MissingParameter(ts_name))?;
    let nonce = params.nonce.as_deref().filter(|s| !s.is_empty()).ok_or(IngressError::MissingParameter(nonce_name))?;
    let sig = params
        .signature
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(IngressError::Signature(SignatureError::Missing(sig_name)))?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    timestamp::verify_window(ts, now_ms, state.settings.window_ms).map_err(IngressError::Signature)?;
    let ring = match scheme {
        Scheme::Basic => &state.basic_keys,
        Scheme::Kit => &state.kit_keys,
    };
    if ring.is_empty() {
        return Err(IngressError::KeyNotConfigured(scheme.channel()));
    }
    let keys = ring.as_slices();
    let (key_index, _matched) = match scheme {
        Scheme::Basic => basic::verify_any(&keys, nonce, ts, body, sig),
        Scheme::Kit => kit::verify_any(&keys, nonce, ts, body, sig),
    }
    .map_err(IngressError::Signature)?;
    Ok(Verified { key_index, identity: RequestIdentity::new(ts, nonce), channel: scheme.channel() })
}

/// Verifies a V1 call (spec §2.3): `authToken` present, `timeStamp` inside the window (UTC for the
/// basic calls, UTC+8 in Kit bodies), the token computed with one of the scheme's keys, and the
/// token not seen before. V1 has no nonce; the token, an HMAC over the timestamp and every
/// parameter, is the replay key ([`v1_model::request_nonce`]), claimed as V2 nonces are.
///
/// # Errors
/// As [`verify`]: a missing `timeStamp` is `000002`; a missing or wrong token and a timestamp
/// that is unreadable or outside the window are `000001`.
pub fn verify_v1(
    state: &AppState,
    scheme: Scheme,
    params: &[(String, String)],
    header_token: Option<&str>,
) -> Result<Verified, IngressError> {
    let token = header_token
        .or_else(|| params.iter().find(|(k, _)| k == v1::AUTH_TOKEN).map(|(_, v)| v.as_str()))
        .filter(|t| !t.trim().is_empty())
        .ok_or(IngressError::Signature(SignatureError::Missing(v1::AUTH_TOKEN)))?;
    let raw_ts = params
        .iter()
        .find(|(k, _)| k == v1::TIME_STAMP)
        .map(|(_, v)| v.as_str())
        .filter(|s| !s.is_empty())
        .ok_or(IngressError::MissingParameter(v1::TIME_STAMP))?;
    let signed_at = match scheme {
        Scheme::Basic => v1_model::basic_requested_at(params),
        Scheme::Kit => v1_model::kit_requested_at(params),
    }
    .map_err(|_| IngressError::Signature(SignatureError::TimestampNotNumeric(raw_ts.chars().take(32).collect())))?;
    let ts_ms = signed_at.timestamp_millis();
    timestamp::check_window(ts_ms, chrono::Utc::now().timestamp_millis(), state.settings.window_ms)
        .map_err(IngressError::Signature)?;
    let ring = match scheme {
        Scheme::Basic => &state.basic_keys,
        Scheme::Kit => &state.kit_keys,
    };
    if ring.is_empty() {
        return Err(IngressError::KeyNotConfigured(scheme.channel()));
    }
    let key_index = ring
        .as_slices()
        .iter()
        .position(|key| v1::verify(key, params, header_token).is_ok())
        .ok_or(IngressError::Signature(SignatureError::Mismatch))?;
    let nonce = v1_model::request_nonce(token);
    Ok(Verified { key_index, identity: RequestIdentity::new(ts_ms.to_string(), nonce), channel: scheme.channel() })
}

#[cfg(test)]
mod tests {
    use koofill_model::identity::parse_request_timestamp;
    use koofill_signing::timestamp::parse_millis;

    /// The model reads `requested_at` with its own copy of the window's parsing rule (it does not
    /// depend on koofill-signing): both must read every timestamp alike.
    #[test]
    fn requested_at_is_read_as_the_window_reads_it() {
        for raw in [
            "1680508066618",
            "1680508066",
            "0",
            "12345678901",
            " 1680508066618 ",
            "000001680508066",
            "999999999999999",
            "",
            " ",
            "-1",
            "+1",
            "1e3",
            "12a",
            "１２３",
            "1234567890123456789",
        ] {
            let window = parse_millis(raw).ok();
            let model = parse_request_timestamp(raw).ok().map(|t| t.timestamp_millis());
            assert_eq!(model, window, "{raw:?}");
        }
    }
}
