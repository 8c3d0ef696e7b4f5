//! SaslHandshake (API 17): picks the SASL mechanism before authenticating.
//! Schema: apache/kafka `SaslHandshakeRequest.json` / `SaslHandshakeResponse.json`.
//!
//! Versions 0..=1: both Kafka 3.9 and 4.x accept 0-1 (KIP-896 removed none). Version 1 means
//! the SASL tokens that follow travel in SaslAuthenticate requests. Never flexible.

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{read_required_array, write_array, ReadExt, WriteExt};

/// SaslHandshake request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaslHandshakeRequest {
    /// The SASL mechanism the client chose, e.g. `PLAIN` or `SCRAM-SHA-512`.
    pub mechanism: String,
}

impl Message for SaslHandshakeRequest {
    const NAME: &'static str = "SaslHandshakeRequest";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 1;
    const FLEXIBLE_FROM: i16 = i16::MAX;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        buf.write_string(&self.mechanism, false, "mechanism")
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let mechanism = buf.read_string(false, "mechanism")?;
        Ok(Self { mechanism })
    }
}

impl Request for SaslHandshakeRequest {
    const API_KEY: ApiKey = ApiKey::SaslHandshake;
    type Response = SaslHandshakeResponse;
}

/// SaslHandshake response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaslHandshakeResponse {
    /// The error code, 0 for none.
    pub error_code: i16,
    /// The mechanisms the broker has enabled.
    pub mechanisms: Vec<String>,
}

impl Message for SaslHandshakeResponse {
    const NAME: &'static str = "SaslHandshakeResponse";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 1;
    const FLEXIBLE_FROM: i16 = i16::MAX;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        buf.put_i16(self.error_code);
        write_array(buf, &self.mechanisms, false, "mechanisms", |b, m| {
            b.write_string(m, false, "mechanism")
        })
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let error_code = buf.read_i16("error_code")?;
        let mechanisms = read_required_array(buf, false, 2, "mechanisms", |b| {
            b.read_string(false, "mechanism")
        })?;
        Ok(Self {
            error_code,
            mechanisms,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_util::round_trip_all_versions;

    #[test]
    fn round_trips_every_version() {
        round_trip_all_versions(|_| SaslHandshakeRequest {
            mechanism: "SCRAM-SHA-512".into(),
        });
        round_trip_all_versions(|_| SaslHandshakeResponse {
            error_code: 33,
            mechanisms: vec!["PLAIN".into(), "SCRAM-SHA-256".into(), String::new()],
        });
    }

    #[test]
    fn wire_layout_v1() {
        let mut b = BytesMut::new();
        SaslHandshakeResponse {
            error_code: 0,
            mechanisms: vec!["PLAIN".into()],
        }
        .write(&mut b, 1)
        .unwrap();
        assert_eq!(
            b.as_ref(),
            &[0, 0, 0, 0, 0, 1, 0, 5, b'P', b'L', b'A', b'I', b'N']
        );
    }
}
