//! Arbitrary bytes through every callback parser and the lenient org-list parser: no panics, and
//! whatever parses re-serialises into something that parses to the same request.
#![no_main]

use koofill_model::{BasicRequest, KitInterface, KitRequest, lenient_json};
use libfuzzer_sys::fuzz_target;

const INTERFACES: [KitInterface; 5] = [
    KitInterface::TenantSync,
    KitInterface::ApplicationSync,
    KitInterface::AuthSync,
    KitInterface::SingleOrgSync,
    KitInterface::AllOrgSync,
];

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = BasicRequest::parse(data) {
        let again = serde_json::to_vec(&request).expect("a parsed request serialises");
        let reparsed = BasicRequest::parse(&again).expect("its serialisation parses");
        assert_eq!(reparsed.activity(), request.activity());
        assert_eq!(reparsed.dedup_id(), request.dedup_id());
    }
    for interface in INTERFACES {
        if let Ok(request) = KitRequest::parse(interface, data) {
            assert_eq!(request.interface(), interface);
            let _ = request.dedup_id();
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = lenient_json::parse(text);
    }
});
