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
    /// No bootstrap broker could be reached.
    #[error("no bootstrap broker reachable ({tried}): {last}")]
    NoBroker {
        /// The addresses tried.
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
            ClientError::Connection(_) | ClientError::NoBroker { .. } => true,
            ClientError::Broker { code, .. } => code.is_retriable(),
            _ => false,
        }
    }
}
