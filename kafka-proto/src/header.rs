//! Request header v1/v2 and response header v0/v1.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::primitives::{RawTaggedField, ReadExt, WriteExt};

/// The header in front of every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    /// The API key.
    pub api_key: i16,
    /// The API version of the body.
    pub api_version: i16,
    /// Echoed back in the response header.
    pub correlation_id: i32,
    /// The client id (a classic nullable string even in header v2).
    pub client_id: Option<String>,
    /// Unknown tagged fields (header v2).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl RequestHeader {
    /// Writes the header at header version 1 or 2.
    pub fn write(&self, buf: &mut BytesMut, header_version: i16) -> Result<(), EncodeError> {
        buf.put_i16(self.api_key);
        buf.put_i16(self.api_version);
        buf.put_i32(self.correlation_id);
        buf.write_nullable_string(self.client_id.as_deref(), false, "client_id")?;
        if header_version >= 2 {
            buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        }
        Ok(())
    }

    /// Reads the header at header version 1 or 2.
    pub fn read(buf: &mut Bytes, header_version: i16) -> Result<Self, DecodeError> {
        let api_key = buf.read_i16("api_key")?;
        let api_version = buf.read_i16("api_version")?;
        let correlation_id = buf.read_i32("correlation_id")?;
        let client_id = buf.read_nullable_string(false, "client_id")?;
        let unknown_tagged_fields = if header_version >= 2 {
            buf.read_unknown_tagged_fields()?
        } else {
            Vec::new()
        };
        Ok(Self {
            api_key,
            api_version,
            correlation_id,
            client_id,
            unknown_tagged_fields,
        })
    }
}

/// The header in front of every response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeader {
    /// The request's correlation id.
    pub correlation_id: i32,
    /// Unknown tagged fields (header v1).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl ResponseHeader {
    /// Writes the header at header version 0 or 1.
    pub fn write(&self, buf: &mut BytesMut, header_version: i16) {
        buf.put_i32(self.correlation_id);
        if header_version >= 1 {
            buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        }
    }

    /// Reads the header at header version 0 or 1.
    pub fn read(buf: &mut Bytes, header_version: i16) -> Result<Self, DecodeError> {
        let correlation_id = buf.read_i32("correlation_id")?;
        let unknown_tagged_fields = if header_version >= 1 {
            buf.read_unknown_tagged_fields()?
        } else {
            Vec::new()
        };
        Ok(Self {
            correlation_id,
            unknown_tagged_fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        for hv in [1, 2] {
            let h = RequestHeader {
                api_key: 3,
                api_version: 12,
                correlation_id: 42,
                client_id: Some("kafka-ingress".into()),
                unknown_tagged_fields: vec![],
            };
            let mut b = BytesMut::new();
            h.write(&mut b, hv).unwrap();
            let mut r = b.freeze();
            assert_eq!(RequestHeader::read(&mut r, hv).unwrap(), h);
            assert!(r.is_empty());
        }
        for hv in [0, 1] {
            let h = ResponseHeader {
                correlation_id: -7,
                unknown_tagged_fields: vec![],
            };
            let mut b = BytesMut::new();
            h.write(&mut b, hv);
            let mut r = b.freeze();
            assert_eq!(ResponseHeader::read(&mut r, hv).unwrap(), h);
            assert!(r.is_empty());
        }
    }
}
