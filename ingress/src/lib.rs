//! The kafka-ingress engine.

pub mod config;
pub mod options;
