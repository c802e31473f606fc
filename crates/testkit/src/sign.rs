//! Requests signed the way KooGallery signs them: the V2 basic URL signature (spec §2.1), the
//! Kit header signature (§2.2) and the V1 `authToken` (§2.3).

use std::borrow::Cow;

use chrono::DateTime;
use koofill_signing::{basic, canonical::java_string_cmp, kit, percent::encode_rfc3986, v1};
use serde_json::Value;

/// Random bytes in a nonce; hex-encoded they give the 64 upper-case characters of the spec's
/// examples.
const NONCE_BYTES: usize = 32;

/// The current Unix time in milliseconds, the unit of `timestamp` and `x-timestamp`.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A fresh nonce: 64 upper-case hex characters, like those in the spec's examples.
pub fn random_nonce() -> String {
    hex::encode_upper(rand::random::<[u8; NONCE_BYTES]>())
}

/// A V1 `timeStamp`: `yyyyMMddHHmmssSSS` in UTC.
pub fn v1_time_stamp(now_ms: i64) -> String {
    DateTime::from_timestamp_millis(now_ms).unwrap_or_default().format("%Y%m%d%H%M%S%3f").to_string()
}

/// Serialises a body as KooGallery sends it: compact JSON, top-level keys sorted (in Java
/// `String` order, as its `TreeMap` does). Nested values are written as they are held.
pub fn wire_json(value: &Value) -> Vec<u8> {
    let Value::Object(map) = value else {
        return serde_json::to_vec(value).unwrap_or_default();
    };
    let mut members: Vec<(&String, &Value)> = map.iter().collect();
    // Sorted here rather than relying on serde_json's map order, which `preserve_order`
    // (enabled by any crate in the build) would turn into insertion order.
    members.sort_by(|(a, _), (b, _)| java_string_cmp(a, b));
    let mut out = vec![b'{'];
    for (i, (name, member)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend(serde_json::to_vec(name).unwrap_or_default());
        out.push(b':');
        out.extend(serde_json::to_vec(member).unwrap_or_default());
    }
    out.push(b'}');
    out
}

/// A request body: JSON values are serialised with [`wire_json`], bytes and text are sent as
/// they are.
pub trait WireBody {
    /// The exact bytes sent.
    fn wire_bytes(&self) -> Cow<'_, [u8]>;
}

impl WireBody for Value {
    fn wire_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Owned(wire_json(self))
    }
}

impl WireBody for [u8] {
    fn wire_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl WireBody for Vec<u8> {
    fn wire_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl WireBody for str {
    fn wire_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl WireBody for String {
    fn wire_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

/// The URL signature of a basic-interface call (spec §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicSignature {
    /// `signature`: upper-case hex.
    pub signature: String,
    /// `timestamp`: Unix milliseconds, as a decimal string.
    pub timestamp: String,
    /// `nonce`: 64 upper-case hex characters, fresh for each call.
    pub nonce: String,
    /// `signature=…&timestamp=…&nonce=…`, ready to append after `?` (every value is URL-safe).
    pub query_string: String,
}

/// Signs a basic-interface body as KooGallery does, at `now_ms`, with a fresh nonce.
///
/// A body that is not a JSON object has no canonical payload; it is then signed over its raw
/// bytes, which verifiers accept as a tolerance. That lets tests send malformed bodies that
/// still carry a valid signature.
pub fn sign_basic<B: WireBody + ?Sized>(key: &[u8], body: &B, now_ms: i64) -> BasicSignature {
    let bytes = body.wire_bytes();
    let nonce = random_nonce();
    let timestamp = now_ms.to_string();
    let signature = basic::sign_body(key, &nonce, &timestamp, &bytes)
        .unwrap_or_else(|_| basic::sign_payload(key, &nonce, &timestamp, &bytes));
    let query_string = format!("signature={signature}&timestamp={timestamp}&nonce={nonce}");
    BasicSignature { signature, timestamp, nonce, query_string }
}

/// A complete signed basic-interface request: what to POST, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBasic {
    /// The production address with the signature query, e.g.
    /// `http://127.0.0.1:8080/kg/produce?signature=…&timestamp=…&nonce=…`.
    pub url: String,
    /// The exact body bytes that were signed.
    pub body: Vec<u8>,
    /// The query alone (`signature=…&timestamp=…&nonce=…`).
    pub query: String,
}

impl SignedBasic {
    /// Serialises and signs `body` for `base_url` (the production address, without a query).
    pub fn new<B: WireBody + ?Sized>(base_url: &str, key: &[u8], body: &B, now_ms: i64) -> Self {
        let body = body.wire_bytes().into_owned();
        let query = sign_basic(key, &body, now_ms).query_string;
        SignedBasic { url: format!("{base_url}?{query}"), body, query }
    }
}

/// The header signature of a Kit (联营) call (spec §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KitHeaders {
    /// `x-sign`: upper-case hex.
    pub x_sign: String,
    /// `x-timestamp`: Unix milliseconds, as a decimal string.
    pub x_timestamp: String,
    /// `x-nonce`: 64 upper-case hex characters, fresh for each call.
    pub x_nonce: String,
}

impl KitHeaders {
    /// The headers as `(name, value)` pairs, in the order of the spec's example.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [("x-sign", &self.x_sign), ("x-timestamp", &self.x_timestamp), ("x-nonce", &self.x_nonce)]
    }
}

/// Signs a Kit body with the Kit key, as KooGallery does, at `now_ms`, with a fresh nonce.
///
/// As with [`sign_basic`], a body that is not a JSON object is signed over its raw bytes.
pub fn sign_kit<B: WireBody + ?Sized>(key: &[u8], body: &B, now_ms: i64) -> KitHeaders {
    let bytes = body.wire_bytes();
    let x_nonce = random_nonce();
    let x_timestamp = now_ms.to_string();
    let x_sign = kit::sign_body(key, &x_nonce, &x_timestamp, &bytes)
        .unwrap_or_else(|_| kit::sign_payload(key, &x_nonce, &x_timestamp, &bytes));
    KitHeaders { x_sign, x_timestamp, x_nonce }
}

/// A V1 query string (spec §2.3): `params` in the order given, then `authToken`, every name and
/// value percent-encoded.
///
/// When `params` has no `timeStamp`, the current time ([`v1_time_stamp`]) is appended before
/// signing, since the token's key depends on it.
pub fn sign_v1(key: &[u8], params: &[(&str, &str)]) -> String {
    let mut owned: Vec<(String, String)> = params.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect();
    if !owned.iter().any(|(k, _)| k == v1::TIME_STAMP) {
        owned.push((v1::TIME_STAMP.to_owned(), v1_time_stamp(now_ms())));
    }
    let token = v1::auth_token(key, &owned).unwrap_or_default();
    owned.push((v1::AUTH_TOKEN.to_owned(), token));
    owned.iter().map(|(k, v)| format!("{}={}", encode_rfc3986(k), encode_rfc3986(v))).collect::<Vec<_>>().join("&")
}

/// A Kit V1 body (spec §5.1) and its `authToken` header: the body as [`wire_json`] writes it,
/// with `timeStamp` set to the current UTC+8 time when absent, and the token over its top-level
/// fields ([`v1::params_from_json_body`], the spec's recommendation for V1 POST).
pub fn sign_kit_v1(key: &[u8], body: &Value) -> (Vec<u8>, String) {
    let mut body = body.clone();
    if let Value::Object(map) = &mut body
        && !map.contains_key(v1::TIME_STAMP)
    {
        let beijing = now_ms() + 8 * 3_600_000;
        map.insert(v1::TIME_STAMP.to_owned(), Value::String(v1_time_stamp(beijing)));
    }
    let bytes = wire_json(&body);
    let params = v1::params_from_json_body(&bytes).unwrap_or_default();
    (bytes, v1::auth_token(key, &params).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use koofill_signing::percent::parse_query;
    use serde_json::json;

    use super::*;

    const KEY: &[u8] = b"test-access-key-123";

    fn query_value<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
        pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    #[test]
    fn wire_json_sorts_top_level_keys_compactly() {
        let body = json!({"testFlag": "1", "activity": "newInstance", "nested": {"b": 1, "a": [1, 2]}});
        let wire = String::from_utf8(wire_json(&body)).unwrap();
        assert!(wire.starts_with(r#"{"activity":"newInstance","nested":{"#), "{wire}");
        assert!(wire.ends_with(r#","testFlag":"1"}"#), "{wire}");
        assert!(!wire.contains(' '));
    }

    #[test]
    fn sign_basic_verifies_with_koofill_signing() {
        let body = json!({"activity": "newInstance", "orderId": "CS2211181819B4LVS", "testFlag": "1"});
        let sig = sign_basic(KEY, &body, 1_680_508_066_618);
        assert_eq!(sig.timestamp, "1680508066618");
        let wire = wire_json(&body);
        assert!(basic::verify(KEY, &sig.nonce, &sig.timestamp, &wire, &sig.signature).is_ok());
        assert!(basic::verify(b"another-key", &sig.nonce, &sig.timestamp, &wire, &sig.signature).is_err());

        let pairs = parse_query(&sig.query_string);
        assert_eq!(query_value(&pairs, "signature"), sig.signature);
        assert_eq!(query_value(&pairs, "timestamp"), sig.timestamp);
        assert_eq!(query_value(&pairs, "nonce"), sig.nonce);
    }

    #[test]
    fn sign_basic_accepts_raw_bytes_and_non_objects() {
        let raw = br#"{"activity":"queryInstance","instanceId":"x"}"#;
        let sig = sign_basic(KEY, &raw[..], now_ms());
        assert!(basic::verify(KEY, &sig.nonce, &sig.timestamp, raw, &sig.signature).is_ok());

        let not_json = "not json";
        let sig = sign_basic(KEY, not_json, now_ms());
        assert!(basic::verify(KEY, &sig.nonce, &sig.timestamp, not_json.as_bytes(), &sig.signature).is_ok());
    }

    #[test]
    fn signed_basic_carries_the_signed_bytes() {
        let body = json!({"activity": "orderNotify", "orderId": "CS1", "orderLineId": "CS1-000001"});
        let req = SignedBasic::new("http://127.0.0.1:1/kg/produce", KEY, &body, now_ms());
        assert_eq!(req.body, wire_json(&body));
        let (base, query) = req.url.split_once('?').unwrap();
        assert_eq!(base, "http://127.0.0.1:1/kg/produce");
        assert_eq!(query, req.query);
        let pairs = parse_query(query);
        let (nonce, ts, sig) =
            (query_value(&pairs, "nonce"), query_value(&pairs, "timestamp"), query_value(&pairs, "signature"));
        assert!(basic::verify(KEY, nonce, ts, &req.body, sig).is_ok());
    }

    #[test]
    fn sign_kit_verifies_with_koofill_signing() {
        let body = json!({"tenantId": "t1", "flag": 1, "testFlag": 0, "timeStamp": "20220413093539534"});
        let headers = sign_kit(KEY, &body, now_ms());
        let wire = wire_json(&body);
        assert!(kit::verify(KEY, &headers.x_nonce, &headers.x_timestamp, &wire, &headers.x_sign).is_ok());
        assert!(basic::verify(KEY, &headers.x_nonce, &headers.x_timestamp, &wire, &headers.x_sign).is_err());
        assert_eq!(headers.pairs()[0], ("x-sign", headers.x_sign.as_str()));
    }

    #[test]
    fn wire_json_reproduces_the_kit_vector() {
        // Spec §2.2: the computed vector's payload, built as a JSON value.
        let body = json!({
            "instanceId": "huaiweitest123456", "orderId": "CS1906666666ABCDE",
            "tenantId": "68cbc86abc2018ab880d92f36422fa0e", "tenantCode": "huawei", "name": "huaiweitest",
            "domainName": "https://example.tenantaccount.com", "flag": 1, "testFlag": 0,
            "timeStamp": "20220413093539534"
        });
        let nonce = "50D83FDECAED6CCD8EF597F2A577950527928BA287D04E6036E92B2806FD17DA";
        let sign = kit::sign_payload(KEY, nonce, "1680508066618", &wire_json(&body));
        assert_eq!(sign, "700A05BA14834724CEAB2BA9EF500BCB7E9F774FD223BB2CA70FAE6DB93A5825");
    }

    #[test]
    fn nonces_are_fresh_upper_hex() {
        let a = random_nonce();
        let b = random_nonce();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()), "{a}");

        let body = json!({"activity": "queryInstance"});
        assert_ne!(sign_basic(KEY, &body, 1).nonce, sign_basic(KEY, &body, 1).nonce);
        assert_ne!(sign_kit(KEY, &body, 1).x_nonce, sign_kit(KEY, &body, 1).x_nonce);
    }

    #[test]
    fn sign_v1_reproduces_the_published_vector() {
        let query = sign_v1(
            b"xxxxxxx",
            &[
                ("activity", "newInstance"),
                ("businessId", "61e834ba-7b97-4418-b8f7-e5345137278c"),
                ("customerId", "68cbc86abc2018ab880d92f36422fa0e"),
                ("expireTime", "20200727153156"),
                ("orderId", "CS1906666666ABCDE"),
                ("productId", "00301-666666-0--0"),
                ("testFlag", "1"),
                ("timeStamp", "20200727073711903"),
            ],
        );
        assert!(query.ends_with("&authToken=Gzbfjf9LHRBcI3bFVi%2B%2BsLinCNOBF6qa7is1fvjEgYQ%3D"), "{query}");
        assert!(v1::verify(b"xxxxxxx", &parse_query(&query), None).is_ok());
    }

    #[test]
    fn sign_v1_adds_a_time_stamp() {
        let query = sign_v1(KEY, &[("activity", "queryInstance"), ("instanceId", "i-1")]);
        let pairs = parse_query(&query);
        assert_eq!(query_value(&pairs, "timeStamp").len(), 17);
        assert!(v1::verify(KEY, &pairs, None).is_ok());
    }

    #[test]
    fn v1_time_stamp_is_utc_with_millis() {
        assert_eq!(v1_time_stamp(1_680_508_066_618), "20230403074746618");
    }
}
