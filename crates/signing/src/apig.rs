//! Huawei API Gateway `SDK-HMAC-SHA256` AK/SK request signing (spec §2.6), used for every open API
//! koofill calls (query order, license activate/heartbeat, file upload).
//!
//! ```text
//! CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n hex(sha256(body))
//! StringToSign     = "SDK-HMAC-SHA256" \n X-Sdk-Date \n hex(sha256(CanonicalRequest))
//! Authorization    = SDK-HMAC-SHA256 Access=AK, SignedHeaders=…, Signature=hex(HMAC_SHA256(SK, StringToSign))
//! ```

use sha2::{Digest, Sha256};

use crate::{SignatureError, ct, hmac_util::hmac_sha256, percent};

/// The algorithm name, first word of the `Authorization` header.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// The request-time header, `yyyyMMdd'T'HHmmss'Z'` in UTC.
pub const DATE_HEADER: &str = "X-Sdk-Date";

/// The parts of an HTTP request that take part in the signature.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, … (upper case).
    pub method: &'a str,
    /// The `Host` (`mkt.myhuaweicloud.com`, with `:port` when not the default).
    pub host: &'a str,
    /// The URL path, not encoded (`/api/mkp-openapi-public/global/v1/order/query`).
    pub path: &'a str,
    /// The raw query string without `?` (percent-encoded as on the wire), or `""`.
    pub query: &'a str,
    /// Headers to sign, `X-Sdk-Date` included; `Host` is added from `host` when absent.
    pub headers: &'a [(String, String)],
    /// The exact body bytes.
    pub body: &'a [u8],
}

/// The result of signing: the `Authorization` value and its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The full `Authorization` header value.
    pub authorization: String,
    /// The `;`-joined lower-case names of the signed headers.
    pub signed_headers: String,
    /// The lower-case hex signature.
    pub signature: String,
}

/// A parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id (AK).
    pub access: String,
    /// Lower-case signed header names, in header order.
    pub signed_headers: Vec<String>,
    /// The hex signature.
    pub signature: String,
}

fn canonical_uri(path: &str) -> String {
    let mut uri = path.split('/').map(percent::encode_rfc3986).collect::<Vec<_>>().join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent::encode_rfc3986(&percent::decode(k, false)), percent::encode_rfc3986(&percent::decode(v, false)))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// Looks up a header (case-insensitively); `host` falls back to the request's host.
fn header_value<'a>(req: &Request<'a>, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .or_else(|| (name == "host").then_some(req.host))
}

/// The canonical request over the given lower-case signed header names (sorted by the caller).
pub fn canonical_request(req: &Request<'_>, signed: &[String]) -> String {
    let headers: String =
        signed.iter().map(|name| format!("{name}:{}\n", header_value(req, name).unwrap_or("").trim())).collect();
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri(req.path),
        canonical_query(req.query),
        headers,
        signed.join(";"),
        hex::encode(Sha256::digest(req.body))
    )
}

fn signature_over(req: &Request<'_>, signed: &[String], secret_key: &[u8]) -> Result<String, SignatureError> {
    let date = header_value(req, "x-sdk-date").ok_or(SignatureError::Missing(DATE_HEADER))?;
    let string_to_sign =
        format!("{ALGORITHM}\n{date}\n{}", hex::encode(Sha256::digest(canonical_request(req, signed).as_bytes())));
    Ok(hex::encode(hmac_sha256(secret_key, &[string_to_sign.as_bytes()])))
}

/// Signs a request with every given header plus `host`.
///
/// # Errors
/// [`SignatureError::Missing`] when the headers hold no `X-Sdk-Date`.
pub fn sign(req: &Request<'_>, access_key: &str, secret_key: &[u8]) -> Result<Signed, SignatureError> {
    let mut signed: Vec<String> = req.headers.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
    signed.push("host".to_owned());
    signed.sort();
    signed.dedup();
    let signature = signature_over(req, &signed, secret_key)?;
    let signed_headers = signed.join(";");
    Ok(Signed {
        authorization: format!(
            "{ALGORITHM} Access={access_key}, SignedHeaders={signed_headers}, Signature={signature}"
        ),
        signed_headers,
        signature,
    })
}

/// Parses an `Authorization` header of the `SDK-HMAC-SHA256` form.
///
/// # Errors
/// [`SignatureError::Malformed`] for any other form.
pub fn parse_authorization(header: &str) -> Result<Authorization, SignatureError> {
    let malformed = |why| SignatureError::Malformed { what: "Authorization", why };
    let rest = header.trim().strip_prefix(ALGORITHM).ok_or(malformed("not SDK-HMAC-SHA256"))?;
    let (mut access, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or(malformed("expected name=value parts"))?;
        match k.trim() {
            "Access" => access = Some(v.trim().to_owned()),
            "SignedHeaders" => signed = Some(v.trim().split(';').map(str::to_owned).collect::<Vec<_>>()),
            "Signature" => signature = Some(v.trim().to_owned()),
            _ => return Err(malformed("unknown part")),
        }
    }
    match (access, signed, signature) {
        (Some(access), Some(signed_headers), Some(signature))
            if !access.is_empty() && !signature.is_empty() && signed_headers.iter().all(|h| !h.is_empty()) =>
        {
            Ok(Authorization { access, signed_headers, signature })
        }
        _ => Err(malformed("Access, SignedHeaders and Signature are required")),
    }
}

/// Verifies a request's signature as the gateway does, over the headers the client said it signed.
///
/// The caller looks up the secret key for `auth.access` and checks the `X-Sdk-Date` window with
/// [`parse_sdk_date`].
///
/// # Errors
/// [`SignatureError::Malformed`] when `host` or `x-sdk-date` were not signed,
/// [`SignatureError::Mismatch`] when the signature differs.
pub fn verify(req: &Request<'_>, auth: &Authorization, secret_key: &[u8]) -> Result<(), SignatureError> {
    let signed: Vec<String> = auth.signed_headers.iter().map(|h| h.to_ascii_lowercase()).collect();
    for required in ["host", "x-sdk-date"] {
        if !signed.iter().any(|h| h == required) {
            return Err(SignatureError::Malformed { what: "SignedHeaders", why: "host and x-sdk-date must be signed" });
        }
    }
    let expected = signature_over(req, &signed, secret_key)?;
    if ct::eq_hex_ignore_case(&expected, &auth.signature) { Ok(()) } else { Err(SignatureError::Mismatch) }
}

/// Why a received request failed [`verify_received`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization`, a malformed one, or a signature that does not match.
    BadSignature,
    /// The access key is not one the verifier knows.
    UnknownAccessKey,
}

/// Verifies a request as the gateway receives it: `headers` are all request headers (the
/// `Authorization` among them, `Host` taken from them), `secret_for` looks up the SK of an AK.
/// Returns the caller's AK. The `X-Sdk-Date` window is the caller's to check ([`parse_sdk_date`]).
///
/// # Errors
/// [`Refusal`] as documented on its variants.
pub fn verify_received(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
    secret_for: impl FnOnce(&str) -> Option<Vec<u8>>,
) -> Result<String, Refusal> {
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let auth = header("authorization").and_then(|v| parse_authorization(v).ok()).ok_or(Refusal::BadSignature)?;
    let secret = secret_for(&auth.access).ok_or(Refusal::UnknownAccessKey)?;
    let signed: Vec<(String, String)> =
        headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("authorization")).cloned().collect();
    let request = Request { method, host: header("host").unwrap_or_default(), path, query, headers: &signed, body };
    verify(&request, &auth, &secret).map_err(|_| Refusal::BadSignature)?;
    Ok(auth.access)
}

/// Formats Unix seconds as an `X-Sdk-Date` (`20240317T144237Z`).
pub fn format_sdk_date(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Parses an `X-Sdk-Date` into Unix seconds.
///
/// # Errors
/// [`SignatureError::Malformed`] when it is not `yyyyMMdd'T'HHmmss'Z'` with valid fields.
pub fn parse_sdk_date(s: &str) -> Result<i64, SignatureError> {
    let bad = SignatureError::Malformed { what: DATE_HEADER, why: "expected yyyyMMdd'T'HHmmss'Z'" };
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return Err(bad);
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) =
        (num(0..4), num(4..6), num(6..8), num(9..11), num(11..13), num(13..15))
    else {
        return Err(bad);
    };
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59 {
        return Err(bad);
    }
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-date algorithms: exact for the proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_uri_always_ends_with_slash_and_encodes_segments() {
        assert_eq!(canonical_uri("/api/v1/order/query"), "/api/v1/order/query/");
        assert_eq!(canonical_uri("/a b/c/"), "/a%20b/c/");
        assert_eq!(canonical_uri(""), "/");
    }

    #[test]
    fn canonical_query_sorts_and_reencodes() {
        assert_eq!(canonical_query("orderLineId=X-1&orderId=X"), "orderId=X&orderLineId=X-1");
        assert_eq!(canonical_query("a=%7e+b&b"), "a=~%2Bb&b=");
    }

    #[test]
    fn sdk_dates_roundtrip() {
        assert_eq!(format_sdk_date(1_710_686_557), "20240317T144237Z");
        assert_eq!(parse_sdk_date("20240317T144237Z").unwrap(), 1_710_686_557);
        assert_eq!(parse_sdk_date("20000229T000000Z").unwrap(), 951_782_400);
        for bad in ["20240317144237Z", "20240230T000000Z", "2024031xT144237Z", "20241317T000000Z", "20240317T246000Z"] {
            assert!(parse_sdk_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn authorization_parses_and_rejects_other_schemes() {
        let a = parse_authorization("SDK-HMAC-SHA256 Access=ak, SignedHeaders=host;x-sdk-date, Signature=ab").unwrap();
        assert_eq!(a.access, "ak");
        assert_eq!(a.signed_headers, vec!["host", "x-sdk-date"]);
        assert!(parse_authorization("Bearer x").is_err());
        assert!(parse_authorization("SDK-HMAC-SHA256 Access=ak").is_err());
    }
}
