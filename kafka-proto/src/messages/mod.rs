//! One module per Kafka API: each holds the request and response structs of that API.

pub mod heartbeat;
