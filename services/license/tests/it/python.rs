//! The README's Python snippet verifies a token koofill issued, with the `cryptography`
//! package, and refuses a tampered one — the promise that the seller's software can check
//! tokens offline in any language. Skipped where Python or `cryptography` is missing.

use std::{io::Write, process::Command};

use chrono::{Duration, Utc};
use koofill_license::token::{TokenSigner, generate_pem, parse_signing_key};
use koofill_model::license_rpc::LicenseStatus;

/// The ```python block of the README's Licenses section.
fn readme_snippet() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme.find("```python\n").expect("the README shows Python verification") + "```python\n".len();
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_owned()
}

fn python_with_cryptography() -> bool {
    Command::new("python3").args(["-c", "import cryptography"]).output().is_ok_and(|o| o.status.success())
}

/// Runs the snippet with `token` and `PUBLIC_KEY_PEM` defined; whether it succeeded.
fn python_accepts(token: &str, public_pem: &str) -> bool {
    let program = format!("token = {token:?}\nPUBLIC_KEY_PEM = {:?}.encode()\n{}", public_pem, readme_snippet());
    let mut child = Command::new("python3")
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(program.as_bytes()).unwrap();
    child.wait().unwrap().success()
}

#[test]
fn the_readme_python_snippet_verifies_a_token_and_refuses_a_tampered_one() {
    if !python_with_cryptography() {
        eprintln!("skipped: python3 with the cryptography package is not installed");
        return;
    }
    let (private_pem, public_pem) = generate_pem().unwrap();
    let signer = TokenSigner::new(parse_signing_key(&private_pem).unwrap(), None);
    let now = Utc::now();
    let token = signer.issue("LIC-PY-1", LicenseStatus::Active, now, now + Duration::hours(1), None);
    assert!(python_accepts(&token, &public_pem), "a valid token verifies in Python");

    let (prefix, rest) = token.split_once('.').unwrap();
    let (payload, sig) = rest.split_once('.').unwrap();
    let forged_payload = payload.replacen('e', "f", 1);
    assert!(!python_accepts(&format!("{prefix}.{forged_payload}.{sig}"), &public_pem), "a tampered token fails");
    let expired =
        signer.issue("LIC-PY-1", LicenseStatus::Active, now - Duration::hours(3), now - Duration::hours(2), None);
    assert!(!python_accepts(&expired, &public_pem), "an expired token fails closed");
}
