//! The kafka-ingress engine.
pub mod kafka;
