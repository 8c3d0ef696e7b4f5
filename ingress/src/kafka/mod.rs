//! The pure-Rust Kafka consumer client: broker connections, metadata, consumer groups,
//! offsets and the multi-partition fetcher, on top of `kafka-proto`.

pub mod assignor;
pub mod connection;
