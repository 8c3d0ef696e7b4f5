//! The pure-Rust Kafka consumer client: broker connections, metadata, consumer groups,
//! offsets and the multi-partition fetcher, on top of `kafka-proto`.

pub mod assignor;
pub mod broker;
pub mod connection;
pub mod error;
pub mod sasl;
pub mod tls;

pub use broker::{Broker, ConnectionSettings, Connector, TcpConnector};
pub use connection::{BrokerConnection, ConnectionError};
pub use error::ClientError;
pub use tls::{connector_for, TlsConnector};
