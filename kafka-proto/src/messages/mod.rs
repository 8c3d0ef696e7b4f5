//! One module per Kafka API: each holds the request and response structs of that API.

pub mod fetch;
pub mod heartbeat;
pub mod list_offsets;
pub mod offset_commit;
pub mod offset_fetch;
pub mod sasl_authenticate;
pub mod sasl_handshake;
