//! Errors of the consumer client.

use kafka_proto::error_code::ErrorCode;
use kafka_proto::negotiate::NegotiationError;

use super::connection::ConnectionError;

/// Why a consumer-client operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The connection failed, closed or timed out.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The broker and this client share no version of an API.
    #[error("broker {addr}: {source}")]
    Negotiation {
        /// The broker address.
        addr: String,
        /// Which API and ranges.
        source: NegotiationError,
    },
    /// The broker answered with an error code.
    #[error("{api} failed on broker {addr}: {code}{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Broker {
        /// The broker address.
        addr: String,
        /// The API name.
        api: &'static str,
        /// The error code.
        code: ErrorCode,
        /// The broker's error message, when it sent one.
        message: Option<String>,
    },
    /// SASL authentication failed.
    #[error("SASL authentication with broker {addr} failed: {reason}")]
    Authentication {
        /// The broker address.
        addr: String,
        /// The broker's message or the local reason.
        reason: String,
    },
    /// No broker (known from metadata or on the bootstrap list) could be reached.
    #[error("no broker reachable (tried {tried}): {last}")]
    NoBroker {
        /// The addresses tried, in order.
        tried: String,
        /// The last error.
        last: String,
    },
    /// The broker's answer does not fit the request (e.g. a partition it was not asked for).
    #[error("unexpected {api} response from broker {addr}: {reason}")]
    Protocol {
        /// The broker address.
        addr: String,
        /// The API name.
        api: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The broker lacks a feature the configuration asks for (e.g. `group.protocol=consumer`
    /// on Kafka 3.9).
    #[error("broker {addr}: {reason}")]
    Unsupported {
        /// The broker address.
        addr: String,
        /// What is missing, naming the option and the broker's version.
        reason: String,
    },
    /// The topic does not exist (or this client may not see it).
    #[error("topic {topic:?} does not exist")]
    UnknownTopic {
        /// The topic name.
        topic: String,
    },
    /// Metadata reported an error for a whole topic (e.g. TOPIC_AUTHORIZATION_FAILED).
    #[error("metadata for topic {topic:?} failed: {code}")]
    Topic {
        /// The topic name.
        topic: String,
        /// The topic's error code.
        code: ErrorCode,
    },
    /// The topic has no partition with this index (as of the last metadata refresh).
    #[error("topic {topic:?} has no partition {partition} (it has {partition_count})")]
    UnknownPartition {
        /// The topic name.
        topic: String,
        /// The partition asked for.
        partition: i32,
        /// How many partitions the topic has.
        partition_count: usize,
    },
    /// Metadata reported an error for one partition (LEADER_NOT_AVAILABLE when it has no
    /// leader).
    #[error("partition {partition} of topic {topic:?} is unavailable: {code}")]
    Partition {
        /// The topic name.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The partition's error code.
        code: ErrorCode,
    },
    /// A node id that the cluster metadata does not list (the broker left the cluster).
    #[error("broker {node_id} is not in the cluster metadata")]
    UnknownNode {
        /// The node id.
        node_id: i32,
    },
    /// The TLS settings cannot be used (unreadable CA/certificate/key, bad PEM, wrong key
    /// password).
    #[error("TLS configuration error: {reason}")]
    TlsConfig {
        /// What is wrong.
        reason: String,
    },
}

impl ClientError {
    /// Whether retrying the operation (possibly after a metadata refresh or reconnect) can help.
    pub fn is_retriable(&self) -> bool {
        match self {
            // A topic that does not exist may be being created (Kafka also classifies
            // UNKNOWN_TOPIC_OR_PARTITION as retriable); a missing partition or node may show
            // up after a metadata refresh.
            ClientError::Connection(_)
            | ClientError::NoBroker { .. }
            | ClientError::UnknownTopic { .. }
            | ClientError::UnknownPartition { .. }
            | ClientError::UnknownNode { .. } => true,
            ClientError::Broker { code, .. }
            | ClientError::Topic { code, .. }
            | ClientError::Partition { code, .. } => code.is_retriable(),
            _ => false,
        }
    }
}
