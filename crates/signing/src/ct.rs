//! Constant-time comparisons.

use subtle::ConstantTimeEq;

/// Compares two byte strings in constant time (for equal lengths; a length difference returns
/// early, which leaks only the length, and signature lengths are public).
pub fn eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Compares a hex signature we computed with one we received, ignoring ASCII case, in constant time.
///
/// KooGallery sends upper-case hex while the demo compares case-insensitively, so both cases pass.
pub fn eq_hex_ignore_case(expected: &str, received: &str) -> bool {
    if expected.len() != received.len() {
        return false;
    }
    let lower = |s: &str| -> Vec<u8> { s.bytes().map(|b| b.to_ascii_lowercase()).collect() };
    eq(&lower(expected), &lower(received))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_compare_ignores_case_only() {
        assert!(eq_hex_ignore_case("abcdef01", "ABCDEF01"));
        assert!(eq_hex_ignore_case("abcdef01", "aBcDeF01"));
        assert!(!eq_hex_ignore_case("abcdef01", "abcdef02"));
        assert!(!eq_hex_ignore_case("abcdef01", "abcdef0"));
        assert!(!eq_hex_ignore_case("", "a"));
    }
}
