//! Every name koofill uses on the bus, derived from the prefix (architecture §4).
//!
//! Subjects are lower case (`koofill.inbound.saas.newInstance`), stream names upper case
//! (`KOOFILL_INBOUND`), bucket names lower case with an underscore (`koofill_instances`).

use koofill_model::Family;

/// Stream of every verified KooGallery callback, as received.
pub const INBOUND: &str = "INBOUND";
/// Stream of domain events emitted by workers.
pub const EVENTS: &str = "EVENTS";
/// Work-queue stream of usage batches.
pub const USAGE: &str = "USAGE";
/// Stream of dead letters.
pub const DLQ: &str = "DLQ";

/// The stream name for `kind` (one of [`INBOUND`], [`EVENTS`], [`USAGE`], [`DLQ`]).
pub fn stream(prefix: &str, kind: &str) -> String {
    format!("{}_{kind}", prefix.to_ascii_uppercase())
}

/// The subject of an inbound callback: `<prefix>.inbound.<family>.<activity>`.
pub fn inbound(prefix: &str, family: Family, activity: &str) -> String {
    format!("{prefix}.inbound.{}.{activity}", family.as_str())
}

/// The subject of a `newInstance` callback: [`inbound`] with the instance it opens as a last
/// token, so that the callback itself answers "is this instance known?" until provisioning has
/// written the instance's view ([`crate::views::InstanceViews::get`]).
pub fn inbound_new_instance(prefix: &str, instance_id: &str) -> String {
    format!("{}.{instance_id}", inbound(prefix, Family::Saas, "newInstance"))
}

/// The filter of one family's inbound callbacks: `<prefix>.inbound.<family>.>`.
pub fn inbound_family(prefix: &str, family: Family) -> String {
    format!("{prefix}.inbound.{}.>", family.as_str())
}

/// The subject of a domain event: `<prefix>.event.<aggregate>.<what>` from a suffix such as
/// `instance.active`.
pub fn event(prefix: &str, suffix: &str) -> String {
    format!("{prefix}.event.{suffix}")
}

/// The subject of a usage batch for a partition.
pub fn usage(prefix: &str, partition: &str) -> String {
    format!("{prefix}.usage.{partition}")
}

/// The dead-letter subject of a consumer: `<prefix>.dlq.<consumer>`.
pub fn dlq(prefix: &str, consumer: &str) -> String {
    format!("{prefix}.dlq.{consumer}")
}

/// The request-reply subject provisioning answers `changeInstanceCheck` on.
pub fn rpc_change_check(prefix: &str) -> String {
    format!("{prefix}.rpc.provisioning.change_check")
}

/// The request-reply subject the license worker answers `what` on:
/// `<prefix>.rpc.license.<what>` (`activate`, `status`).
pub fn rpc_license(prefix: &str, what: &str) -> String {
    format!("{prefix}.rpc.license.{what}")
}

/// The license proxy's activation subject, `<prefix>.rpc.license.activate`.
pub const LICENSE_ACTIVATE: &str = "activate";
/// The license proxy's status subject, `<prefix>.rpc.license.status`.
pub const LICENSE_STATUS: &str = "status";

/// The KV bucket of the instance view.
pub fn instances_bucket(prefix: &str) -> String {
    format!("{prefix}_instances")
}

/// The KV bucket of the nonce replay cache.
pub fn nonces_bucket(prefix: &str) -> String {
    format!("{prefix}_nonces")
}

/// Whether `s` is a valid single subject token (non-empty, no whitespace, no `.`, `*` or `>`).
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(|b| b.is_ascii_whitespace() || matches!(b, b'.' | b'*' | b'>'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prefix() {
        assert_eq!(stream("koofill", INBOUND), "KOOFILL_INBOUND");
        assert_eq!(inbound("t1", Family::Saas, "newInstance"), "t1.inbound.saas.newInstance");
        assert_eq!(inbound_family("koofill", Family::Kit), "koofill.inbound.kit.>");
        assert_eq!(inbound_new_instance("t1", "i-1"), "t1.inbound.saas.newInstance.i-1");
        assert_eq!(event("koofill", "instance.active"), "koofill.event.instance.active");
        assert_eq!(dlq("koofill", "provisioning-saas"), "koofill.dlq.provisioning-saas");
        assert_eq!(instances_bucket("koofill"), "koofill_instances");
        assert_eq!(rpc_license("koofill", LICENSE_ACTIVATE), "koofill.rpc.license.activate");
        assert!(is_token("newInstance") && !is_token("a.b") && !is_token("") && !is_token("a b"));
    }
}
