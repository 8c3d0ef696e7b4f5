//! SaslAuthenticate (API 36): carries the SASL tokens after a v1 SaslHandshake.
//! Schema: apache/kafka `SaslAuthenticateRequest.json` / `SaslAuthenticateResponse.json`.
//!
//! Versions 0..=2: both Kafka 3.9 and 4.x accept 0-2 (KIP-896 removed none). v1 adds
//! `session_lifetime_ms` (KIP-368); v2 is the first flexible version.

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{RawTaggedField, ReadExt, WriteExt};

/// SaslAuthenticate request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaslAuthenticateRequest {
    /// The SASL token from the client, as the mechanism defines it.
    pub auth_bytes: Bytes,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for SaslAuthenticateRequest {
    const NAME: &'static str = "SaslAuthenticateRequest";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 2;
    const FLEXIBLE_FROM: i16 = 2;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        buf.write_bytes(&self.auth_bytes, flex, "auth_bytes")?;
        if flex {
            buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let auth_bytes = buf.read_bytes(flex, "auth_bytes")?;
        let unknown_tagged_fields = if flex {
            buf.read_unknown_tagged_fields()?
        } else {
            Vec::new()
        };
        Ok(Self {
            auth_bytes,
            unknown_tagged_fields,
        })
    }
}

impl Request for SaslAuthenticateRequest {
    const API_KEY: ApiKey = ApiKey::SaslAuthenticate;
    type Response = SaslAuthenticateResponse;
}

/// SaslAuthenticate response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaslAuthenticateResponse {
    /// The error code, 0 for none.
    pub error_code: i16,
    /// The error message, if any.
    pub error_message: Option<String>,
    /// The SASL token from the server, as the mechanism defines it.
    pub auth_bytes: Bytes,
    /// Milliseconds after which only re-authentication is allowed on this connection, 0 for
    /// no limit (v1+).
    pub session_lifetime_ms: i64,
    /// Unknown tagged fields (v2+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for SaslAuthenticateResponse {
    const NAME: &'static str = "SaslAuthenticateResponse";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 2;
    const FLEXIBLE_FROM: i16 = 2;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        buf.put_i16(self.error_code);
        buf.write_nullable_string(self.error_message.as_deref(), flex, "error_message")?;
        buf.write_bytes(&self.auth_bytes, flex, "auth_bytes")?;
        if version >= 1 {
            buf.put_i64(self.session_lifetime_ms);
        }
        if flex {
            buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let error_code = buf.read_i16("error_code")?;
        let error_message = buf.read_nullable_string(flex, "error_message")?;
        let auth_bytes = buf.read_bytes(flex, "auth_bytes")?;
        let session_lifetime_ms = if version >= 1 {
            buf.read_i64("session_lifetime_ms")?
        } else {
            0
        };
        let unknown_tagged_fields = if flex {
            buf.read_unknown_tagged_fields()?
        } else {
            Vec::new()
        };
        Ok(Self {
            error_code,
            error_message,
            auth_bytes,
            session_lifetime_ms,
            unknown_tagged_fields,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_util::round_trip_all_versions;

    fn tags(v: i16) -> Vec<RawTaggedField> {
        if v >= 2 {
            vec![RawTaggedField {
                tag: 5,
                data: Bytes::from_static(b"\x01\x02"),
            }]
        } else {
            vec![]
        }
    }

    #[test]
    fn round_trips_every_version() {
        round_trip_all_versions(|v| SaslAuthenticateRequest {
            auth_bytes: Bytes::from_static(b"\0user\0pass"),
            unknown_tagged_fields: tags(v),
        });
        round_trip_all_versions(|v| SaslAuthenticateResponse {
            error_code: 58,
            error_message: Some("bad credentials".into()),
            auth_bytes: Bytes::from_static(b"server-final"),
            session_lifetime_ms: if v >= 1 { 3_600_000 } else { 0 },
            unknown_tagged_fields: tags(v),
        });
        round_trip_all_versions(|_| SaslAuthenticateResponse::default());
    }

    #[test]
    fn auth_bytes_are_zero_copy() {
        let mut b = BytesMut::new();
        SaslAuthenticateResponse {
            auth_bytes: Bytes::from_static(b"token"),
            ..Default::default()
        }
        .write(&mut b, 2)
        .unwrap();
        let input = b.freeze();
        let resp = SaslAuthenticateResponse::read(&mut input.clone(), 2).unwrap();
        let range = input.as_ptr() as usize..input.as_ptr() as usize + input.len();
        assert!(range.contains(&(resp.auth_bytes.as_ptr() as usize)));
    }
}
