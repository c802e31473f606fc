//! Integration tests of koofill-model: the spec's examples, validation errors, tolerances, answers, the
//! bus envelope, and parsers that never panic.

mod basic_examples;
mod basic_validation;
mod common;
mod envelope;
mod identity;
mod kit_examples;
mod kit_validation;
mod never_panics;
mod responses;
