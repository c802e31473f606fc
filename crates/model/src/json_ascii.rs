//! JSON with every non-ASCII character written as a `\uXXXX` escape.
//!
//! KooGallery asks for Chinese text in `memo` as Unicode escapes (spec §1.4). koofill applies that to the
//! whole answer body, which is still the same JSON value, and keeps the bytes that are signed (`Body-Sign`)
//! plain ASCII.

use serde::Serialize;

/// Serialises `value` as compact JSON with non-ASCII characters escaped; characters outside the Basic
/// Multilingual Plane become a surrogate pair (`\ud83d\ude00`).
///
/// # Errors
/// When `value` cannot be serialised as JSON (e.g. a map with non-string keys).
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let json = serde_json::to_string(value)?;
    Ok(escape_non_ascii(&json).into_bytes())
}

/// Rewrites every non-ASCII character of a JSON text as `\uXXXX`.
///
/// Valid JSON has non-ASCII characters only inside strings, where the escape means the same character, so
/// the result is the same JSON value.
pub fn escape_non_ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut units = [0u16; 2];
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn escapes_bmp_and_astral_characters() {
        let value = json!({"memo": "请使用 é 😀", "n": 1});
        let bytes = to_vec(&value).unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert_eq!(text, r#"{"memo":"\u8bf7\u4f7f\u7528 \u00e9 \ud83d\ude00","n":1}"#);
        assert!(bytes.is_ascii());
        assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), value);
    }

    #[test]
    fn leaves_ascii_and_existing_escapes_alone() {
        let value = json!({"a": "x\"y\\z\n"});
        let plain = serde_json::to_string(&value).unwrap();
        assert_eq!(escape_non_ascii(&plain), plain);
    }
}
