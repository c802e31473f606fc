//! Fixture loading and body editing shared by the tests.

use std::path::PathBuf;

use koofill_model::{Problem, ValidationError};
use serde_json::Value;

/// The bytes of `tests/fixtures/{name}`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The fixture as a JSON value.
pub fn json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

/// `body` with `key` removed.
pub fn without(body: &Value, key: &str) -> Value {
    let mut body = body.clone();
    body.as_object_mut().expect("a JSON object").remove(key);
    body
}

/// `body` with `key` set to `value`.
pub fn with(body: &Value, key: &str, value: Value) -> Value {
    let mut body = body.clone();
    body.as_object_mut().expect("a JSON object").insert(key.to_owned(), value);
    body
}

/// Asserts that `result` failed on `field` with `problem`.
#[track_caller]
pub fn assert_rejected<T: std::fmt::Debug>(result: Result<T, ValidationError>, field: &str, problem: Problem) {
    let error = result.expect_err("expected a validation error");
    assert_eq!(error.field, field, "wrong field in {error}");
    assert_eq!(error.problem, problem, "wrong problem in {error}");
}
