//! The pure-Rust Kafka consumer client: broker connections, metadata, consumer groups,
//! offsets and the multi-partition fetcher, on top of `kafka-proto`.

pub mod assignor;
pub mod broker;
pub mod cluster;
pub mod connection;
pub mod consumer;
pub mod consumer_group;
pub mod error;
pub mod fetch_session;
pub mod fetcher;
pub mod group;
pub mod group_overview;
pub mod metadata;
pub mod oauthbearer;
pub mod offsets;
pub mod rskafka_client;
pub mod sasl;
pub mod tls;

pub use broker::{Broker, ConnectionSettings, Connector, TcpConnector};
pub use cluster::{Cluster, ClusterSettings, ConnectionPurpose};
pub use connection::{BrokerConnection, ConnectionError};
pub use error::ClientError;
pub use metadata::{BrokerInfo, NodeId, PartitionLeader, PartitionMetadata, TopicMetadata};
pub use tls::{connector_for, TlsConnector};

/// A duration as the int32 milliseconds of Kafka's wire fields, saturating at `i32::MAX`.
pub(crate) fn duration_ms_i32(d: std::time::Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
