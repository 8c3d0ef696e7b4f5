//! The kafka-ingress engine: configuration and the librdkafka option translator, and the
//! pure-Rust Kafka consumer client.

pub mod config;
pub mod engine;
pub mod kafka;
pub mod options;
mod sync;
