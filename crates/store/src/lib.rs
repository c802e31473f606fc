//! koofill store (being written).
