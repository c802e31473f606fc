//! The canonical payload KooGallery's V2 signatures are computed over (spec §2.1, §2.2).
//!
//! The reference verifier binds the body to a `TreeMap`, drops `null` values and re-serialises it
//! with Jackson. So: top-level keys sorted in Java `String` order (UTF-16 code units), top-level
//! nulls dropped, a duplicate top-level key keeps its last value (as `Map.put` does), compact output
//! with Jackson's escaping, and everything nested kept exactly as received (member order, nested
//! nulls, number literals).

use std::{cmp::Ordering, collections::HashMap};

use crate::json::{self, JsonError, Value};

/// Compares two keys the way Java's `String.compareTo` does (UTF-16 code units), which differs from
/// Rust's byte order only for characters above U+FFFF versus U+E000–U+FFFF.
pub fn java_string_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Builds the canonical payload of a JSON object body.
///
/// # Errors
/// Fails when the body is not valid JSON or its top level is not an object; verifiers then fall
/// back to the raw body.
pub fn canonical_payload(body: &[u8]) -> Result<String, JsonError> {
    match json::parse(body)? {
        Value::Object(members) => Ok(canonicalise_members(members)),
        _ => Err(JsonError { what: "top level is not an object", offset: 0 }),
    }
}

fn canonicalise_members(members: Vec<(String, Value)>) -> String {
    // Last occurrence of a key wins, as in `Map.put`; then drop nulls, then sort. A hash map keeps
    // this linear: the body is canonicalised before its signature is known to be valid, so a
    // body with many keys must not cost quadratic time.
    let mut last: HashMap<String, Value> = HashMap::with_capacity(members.len());
    for (k, v) in members {
        last.insert(k, v);
    }
    let mut kept: Vec<(String, Value)> = last.into_iter().filter(|(_, v)| *v != Value::Null).collect();
    kept.sort_by(|(a, _), (b, _)| java_string_cmp(a, b));
    Value::Object(kept).to_compact_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        canonical_payload(s.as_bytes()).expect("canonicalises")
    }

    #[test]
    fn sorts_top_level_and_drops_top_level_nulls_only() {
        assert_eq!(
            canon(r#"{"z":"1","a":null,"m":{"y":null,"b":2,"a":1},"b":[3,null,{"d":1,"c":2}]}"#),
            r#"{"b":[3,null,{"d":1,"c":2}],"m":{"y":null,"b":2,"a":1},"z":"1"}"#
        );
    }

    #[test]
    fn keeps_non_ascii_raw_and_escapes_controls() {
        assert_eq!(
            canon("{\"name\":\"\\u5f20\\u4e09\",\"n\":\"a\\u0000b\\tc\"}"),
            "{\"n\":\"a\\u0000b\\tc\",\"name\":\"张三\"}"
        );
        assert_eq!(canon(r#"{"q":"say \"hi\" \\ /"}"#), r#"{"q":"say \"hi\" \\ /"}"#);
        assert_eq!(canon(r#"{"url":"https:\/\/x"}"#), r#"{"url":"https://x"}"#);
    }

    #[test]
    fn keeps_numbers_as_received() {
        assert_eq!(canon(r#"{"flag":1,"v":1.50,"e":1E3,"n":-0.0}"#), r#"{"e":1E3,"flag":1,"n":-0.0,"v":1.50}"#);
    }

    #[test]
    fn whitespace_is_irrelevant() {
        assert_eq!(canon("{ \"b\" : 1 ,\n \"a\" : [ 1 , 2 ] }"), r#"{"a":[1,2],"b":1}"#);
    }

    #[test]
    fn duplicate_key_keeps_last_value() {
        assert_eq!(canon(r#"{"a":"1","b":"x","a":"2"}"#), r#"{"a":"2","b":"x"}"#);
        assert_eq!(canon(r#"{"a":"1","a":null}"#), "{}");
    }

    #[test]
    fn key_order_is_java_utf16_order() {
        // U+FF21 (FULLWIDTH A) sorts after U+1F600 in UTF-8 byte order but before it in UTF-16.
        let body = "{\"\u{1F600}\":\"1\",\"\u{FF21}\":\"2\"}";
        assert_eq!(canon(body), "{\"\u{1F600}\":\"1\",\"\u{FF21}\":\"2\"}");
        assert_eq!(java_string_cmp("\u{FF21}", "\u{1F600}"), Ordering::Greater);
    }

    #[test]
    fn many_keys_cost_linear_time() {
        // 30,000 distinct keys: quadratic deduplication would take seconds, linear takes milliseconds.
        let body = format!("{{{}}}", (0..30_000).map(|i| format!("\"k{i}\":0")).collect::<Vec<_>>().join(","));
        let started = std::time::Instant::now();
        let payload = canonical_payload(body.as_bytes()).unwrap();
        assert!(payload.starts_with("{\"k0\":0,\"k1\":0,\"k10\":0"));
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn rejects_non_objects() {
        assert!(canonical_payload(b"[1]").is_err());
        assert!(canonical_payload(b"\"s\"").is_err());
        assert!(canonical_payload(b"{").is_err());
    }
}
