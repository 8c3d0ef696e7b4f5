//! The library half of the `kafka-ingress` binary: the admin API router, shared by the
//! server (`serve`) and the integration tests (`tests/api.rs`), which cannot reach a binary's
//! modules.

pub mod api;
