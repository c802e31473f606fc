//! A small, forgiving JSON reader for the non-strict JSON KooGallery embeds in strings.
//!
//! The spec's allOrgSync example (§5.6) sends `orgInfoList` as
//! `"[{orgCode:\"00000001\", orgName:\"产品部\", parentCode:\"265789314\" },...]"`: keys without quotes. On top
//! of JSON this reader accepts
//! - object keys that are bare identifiers (`[A-Za-z0-9_$-]+`),
//! - strings in single quotes as well as double quotes,
//! - a trailing comma before `]` or `}`.
//!
//! It works on untrusted input: it never panics, never recurses deeper than [`MAX_DEPTH`] and reports the
//! byte offset of the first thing it cannot read.

use serde_json::{Map, Number, Value};

/// The deepest nesting of arrays and objects accepted; the org and user lists need two levels.
pub const MAX_DEPTH: usize = 32;

/// Where and why lenient parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} at byte {offset}")]
pub struct LenientError {
    /// Byte offset into the input.
    pub offset: usize,
    /// What the reader was looking for.
    pub expected: &'static str,
}

/// Parses `text` as lenient JSON (see the module docs).
///
/// # Errors
/// [`LenientError`] at the first byte that cannot be read, or when nesting exceeds [`MAX_DEPTH`].
pub fn parse(text: &str) -> Result<Value, LenientError> {
    let mut reader = Reader { text, pos: 0 };
    reader.skip_ws();
    let value = reader.value(0)?;
    reader.skip_ws();
    if reader.pos < text.len() {
        return reader.fail("end of input");
    }
    Ok(value)
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn fail<T>(&self, expected: &'static str) -> Result<T, LenientError> {
        Err(LenientError { offset: self.pos, expected })
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, LenientError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(quote @ (b'"' | b'\'')) => self.string(quote).map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => match self.identifier() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                "null" => Ok(Value::Null),
                _ => self.fail("a value"),
            },
            None => self.fail("a value"),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), LenientError> {
        if depth > MAX_DEPTH { self.fail("less deeply nested arrays and objects") } else { Ok(()) }
    }

    fn array(&mut self, depth: usize) -> Result<Value, LenientError> {
        self.check_depth(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b']') {
                return Ok(Value::Array(items));
            }
            items.push(self.value(depth)?);
            self.skip_ws();
            if self.eat(b',') {
                continue; // a trailing comma is handled by the `]` check above
            }
            if self.eat(b']') {
                return Ok(Value::Array(items));
            }
            return self.fail("',' or ']'");
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, LenientError> {
        self.check_depth(depth)?;
        self.pos += 1; // '{'
        let mut map = Map::new();
        loop {
            self.skip_ws();
            if self.eat(b'}') {
                return Ok(Value::Object(map));
            }
            let key = match self.peek() {
                Some(quote @ (b'"' | b'\'')) => self.string(quote)?,
                _ => {
                    let key = self.identifier();
                    if key.is_empty() {
                        return self.fail("a key");
                    }
                    key.to_owned()
                }
            };
            self.skip_ws();
            if !self.eat(b':') {
                return self.fail("':'");
            }
            self.skip_ws();
            let value = self.value(depth)?;
            map.insert(key, value);
            self.skip_ws();
            if self.eat(b',') {
                continue;
            }
            if self.eat(b'}') {
                return Ok(Value::Object(map));
            }
            return self.fail("',' or '}'");
        }
    }

    fn identifier(&mut self) -> &'a str {
        let start = self.pos;
        while matches!(self.peek(), Some(b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'$' | b'-')) {
            self.pos += 1;
        }
        // Only ASCII bytes were consumed, so both ends are character boundaries.
        let text: &'a str = self.text;
        text.get(start..self.pos).unwrap_or_default()
    }

    fn number(&mut self) -> Result<Value, LenientError> {
        let start = self.pos;
        while matches!(self.peek(), Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')) {
            self.pos += 1;
        }
        // serde_json applies JSON's number grammar and keeps big integers exact.
        match self.text.get(start..self.pos).and_then(|s| s.parse::<Number>().ok()) {
            Some(n) => Ok(Value::Number(n)),
            None => {
                self.pos = start;
                self.fail("a number")
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<String, LenientError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let Some(byte) = self.peek() else {
                return self.fail("a closing quote");
            };
            if byte == quote {
                self.pos += 1;
                return Ok(out);
            }
            if byte == b'\\' {
                self.pos += 1;
                self.escape(&mut out)?;
                continue;
            }
            // Copy one whole character, so multi-byte UTF-8 stays intact.
            match self.text.get(self.pos..).and_then(|rest| rest.chars().next()) {
                Some(c) => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
                None => return self.fail("a character"),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), LenientError> {
        let Some(byte) = self.peek() else {
            return self.fail("an escape sequence");
        };
        self.pos += 1;
        let c = match byte {
            b'"' => '"',
            b'\'' => '\'',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.unicode_escape()?,
            _ => {
                self.pos -= 1;
                return self.fail("an escape sequence");
            }
        };
        out.push(c);
        Ok(())
    }

    /// The character of `\uXXXX` (the `\u` already read), combining a surrogate pair; a lone surrogate becomes
    /// U+FFFD rather than an error.
    fn unicode_escape(&mut self) -> Result<char, LenientError> {
        let high = self.hex4()?;
        if !(0xD800..0xDC00).contains(&high) {
            return Ok(char::from_u32(high).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        let rest = self.text.as_bytes().get(self.pos..self.pos + 2);
        if rest != Some(b"\\u".as_slice()) {
            return Ok(char::REPLACEMENT_CHARACTER);
        }
        let save = self.pos;
        self.pos += 2;
        let low = self.hex4()?;
        if (0xDC00..0xE000).contains(&low) {
            let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
            Ok(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER))
        } else {
            // Not a low surrogate: leave it to be read as its own escape.
            self.pos = save;
            Ok(char::REPLACEMENT_CHARACTER)
        }
    }

    fn hex4(&mut self) -> Result<u32, LenientError> {
        let digits = self.text.get(self.pos..self.pos + 4).filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        match digits.and_then(|d| u32::from_str_radix(d, 16).ok()) {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => self.fail("four hex digits"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_the_spec_all_org_sync_example() {
        let text = "[{orgCode:\"00000001\", orgName:\"产品部\", parentCode:\"265789314\" },{orgCode:\"00000002\", orgName:\"测试部\", parentCode:\"265789314\" }]";
        assert_eq!(
            parse(text).unwrap(),
            json!([
                {"orgCode": "00000001", "orgName": "产品部", "parentCode": "265789314"},
                {"orgCode": "00000002", "orgName": "测试部", "parentCode": "265789314"}
            ])
        );
    }

    #[test]
    fn reads_strict_json_the_same_as_serde_json() {
        let text = r#"{"a":[1,-2.5,3e2,true,false,null,"x\"y\u00e9\ud83d\ude00"],"b":{}}"#;
        assert_eq!(parse(text).unwrap(), serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn accepts_single_quotes_and_trailing_commas() {
        assert_eq!(parse("{ 'a' : 'it\\'s', b: [1, 2,], }").unwrap(), json!({"a": "it's", "b": [1, 2]}));
        assert_eq!(parse("  [ ]  ").unwrap(), json!([]));
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(parse(r#""\ud83d""#).unwrap(), json!("\u{fffd}"));
        assert_eq!(parse(r#""\ud83d\u0041""#).unwrap(), json!("\u{fffd}A"));
    }

    #[test]
    fn reports_where_it_stopped() {
        assert_eq!(parse("[1 2]"), Err(LenientError { offset: 3, expected: "',' or ']'" }));
        assert_eq!(parse("{a 1}"), Err(LenientError { offset: 3, expected: "':'" }));
        assert_eq!(parse("[\"abc"), Err(LenientError { offset: 5, expected: "a closing quote" }));
        assert!(parse("").is_err());
        assert!(parse("[1] x").is_err());
        assert!(parse("[,]").is_err());
        assert!(parse("{:1}").is_err());
        assert!(parse("[--1]").is_err());
        assert!(parse("\"\\x\"").is_err());
        assert!(parse("\"\\u12\"").is_err());
        assert!(parse("[nul]").is_err());
    }

    #[test]
    fn refuses_deep_nesting_without_recursing_into_it() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep = "[".repeat(100_000);
        assert_eq!(parse(&deep).unwrap_err().expected, "less deeply nested arrays and objects");
    }
}
