//! Sans-IO codec for the Kafka consumer path.
//!
//! Each Kafka API lives in its own module under [`messages`]: plain structs with
//! `read(version)`/`write(version)` via the [`Message`] trait. Decoders return
//! [`DecodeError`] on any malformed bytes and never panic. No sockets, no async: the
//! `ingress` crate owns I/O.

pub mod api;
pub mod consumer_protocol;
pub mod error;
pub mod error_code;
pub mod header;
pub mod messages;
pub mod negotiate;
pub mod partitioner;
pub mod primitives;
pub mod record;

#[cfg(test)]
pub(crate) mod test_util;

pub use api::{decode_response, encode_request, ApiKey, Message, Request};
pub use error::{DecodeError, EncodeError};
pub use header::{RequestHeader, ResponseHeader};
