//! One module per Kafka API: each holds the request and response structs of that API.

pub mod heartbeat;
pub mod list_offsets;
pub mod sasl_authenticate;
pub mod sasl_handshake;
