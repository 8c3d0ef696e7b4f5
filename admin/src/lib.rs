//! The library half of the `kafka-ingress` binary: the admin API router, shared by the
//! server (`serve`) and the integration tests (`tests/api.rs`), which cannot reach a binary's
//! modules.

// The OpenAPI schemas are one large `serde_json::json!` literal.
#![recursion_limit = "256"]

pub mod api;
