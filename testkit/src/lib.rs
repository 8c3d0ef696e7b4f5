//! Test support for kafka-ingress: a real Kafka broker (or the one in `KAFKA_BOOTSTRAP`),
//! unique topics, a keyed producer, and a recording HTTP handler server with fault injection.

pub mod broker;
pub mod client;
pub mod handler;
pub mod interop;
pub mod tls;

pub use broker::{BrokerKind, KafkaCluster, PrivateBroker};
pub use client::{ReadRecord, TestClient, TestRecord};
pub use handler::{Behaviour, RecordedRequest, RecordingHandler};
pub use interop::{JavaConsoleConsumer, RdkafkaMember};
pub use tls::TestCa;

/// Why a testkit operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TestkitError {
    /// Starting or stopping a broker failed.
    #[error("broker: {0}")]
    Broker(String),
    /// A Kafka operation failed or timed out.
    #[error("kafka: {0}")]
    Kafka(String),
    /// The recording handler failed.
    #[error("handler: {0}")]
    Handler(String),
}

/// Locks `m`, recovering the data if a panicking test thread poisoned it, so the recorded
/// state stays readable by the other tests.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
