//! The provisioning worker (being written).
