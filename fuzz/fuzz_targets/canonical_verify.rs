//! Arbitrary bytes through the JSON reader, the canonical payload, and V2 basic / Kit signing and
//! verification. Whatever signs must verify; a flipped byte must never verify through the
//! canonical path unless it leaves the canonical payload unchanged.
#![no_main]

use koofill_signing::{basic, canonical, json, kit};
use libfuzzer_sys::fuzz_target;

const KEY: &[u8] = b"fuzz-key";
const NONCE: &str = "0123456789ABCDEF";
const TS: &str = "1680508066618";

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = json::parse(data) {
        // Re-serialising is stable: parse(compact(v)) == v.
        let compact = v.to_compact_string();
        assert_eq!(json::parse(compact.as_bytes()).as_ref(), Ok(&v));
    }
    let Ok(payload) = canonical::canonical_payload(data) else {
        // Not canonicalisable: only the raw fallback can match.
        let sig = basic::sign_payload(KEY, NONCE, TS, data);
        assert_eq!(basic::verify(KEY, NONCE, TS, data, &sig), Ok(basic::Matched::RawBody));
        return;
    };
    assert_eq!(canonical::canonical_payload(payload.as_bytes()).as_deref(), Ok(payload.as_str()));
    let sig = basic::sign_body(KEY, NONCE, TS, data).expect("canonicalisable body signs");
    assert_eq!(basic::verify(KEY, NONCE, TS, data, &sig), Ok(basic::Matched::Canonical));
    let ksig = kit::sign_body(KEY, NONCE, TS, data).expect("canonicalisable body signs");
    assert_eq!(kit::verify(KEY, NONCE, TS, data, &ksig), Ok(basic::Matched::Canonical));
    if !data.is_empty() {
        let mut changed = data.to_vec();
        let i = data.len() / 2;
        changed[i] ^= 0x01;
        let same = canonical::canonical_payload(&changed).ok().as_deref() == Some(payload.as_str());
        if !same {
            assert!(basic::verify(KEY, NONCE, TS, &changed, &sig).is_err());
        }
    }
    assert!(basic::verify(b"other-key", NONCE, TS, data, &sig).is_err());
});
