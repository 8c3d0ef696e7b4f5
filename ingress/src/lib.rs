//! The kafka-ingress engine: configuration and the librdkafka option translator, the
//! pure-Rust Kafka consumer client, the delivery engine, deployments, subscription specs and
//! the metadata store.

pub mod cluster_spec;
pub mod config;
pub mod deployments;
pub mod engine;
pub mod http_client;
pub mod ids;
pub mod kafka;
pub mod manager;
pub mod metadata;
pub mod options;
pub mod store;
pub mod subscription_spec;
mod sync;
