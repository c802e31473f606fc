//! Percent-encoding and decoding, just as much as the signature algorithms need.

/// Encodes every byte except RFC 3986 unreserved characters (`A-Z a-z 0-9 - _ . ~`) as `%XX`
/// (upper-case hex), as Huawei's APIG SDK does for path segments and query parameters.
pub fn encode_rfc3986(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`), replacing invalid UTF-8 with
/// U+FFFD. Malformed escapes are kept literally, as servlet containers do.
pub fn decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a raw query string (`a=1&b=2`, no leading `?`) into decoded `(name, value)` pairs, in
/// order. `+` decodes to a space, as in HTML form encoding.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k, true), decode(v, true)),
            None => (decode(pair, true), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_unreserved_only() {
        assert_eq!(encode_rfc3986("a-Z_0.~ /+=中"), "a-Z_0.~%20%2F%2B%3D%E4%B8%AD");
    }

    #[test]
    fn decodes_escapes_and_keeps_malformed_ones() {
        assert_eq!(decode("a%2Bb+c%zz%4", true), "a+b c%zz%4");
        assert_eq!(decode("a+b", false), "a+b");
        assert_eq!(decode("%E4%B8%AD%", false), "中%");
    }

    #[test]
    fn parses_queries() {
        assert_eq!(
            parse_query("a=1&&b=x%3Dy&c"),
            vec![("a".into(), "1".into()), ("b".into(), "x=y".into()), ("c".into(), String::new())]
        );
    }
}
