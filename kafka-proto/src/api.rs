//! API keys, the message traits every request/response implements, and request framing.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::header::{RequestHeader, ResponseHeader};

/// The Kafka API keys this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i16)]
#[allow(missing_docs)]
pub enum ApiKey {
    Produce = 0,
    Fetch = 1,
    ListOffsets = 2,
    Metadata = 3,
    OffsetCommit = 8,
    OffsetFetch = 9,
    FindCoordinator = 10,
    JoinGroup = 11,
    Heartbeat = 12,
    LeaveGroup = 13,
    SyncGroup = 14,
    DescribeGroups = 15,
    SaslHandshake = 17,
    ApiVersions = 18,
    CreateTopics = 19,
    DescribeConfigs = 32,
    SaslAuthenticate = 36,
    ConsumerGroupHeartbeat = 68,
    ConsumerGroupDescribe = 69,
}

impl ApiKey {
    /// Every key this crate knows.
    pub const ALL: [ApiKey; 19] = [
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::ListOffsets,
        ApiKey::Metadata,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
        ApiKey::SyncGroup,
        ApiKey::DescribeGroups,
        ApiKey::SaslHandshake,
        ApiKey::ApiVersions,
        ApiKey::CreateTopics,
        ApiKey::DescribeConfigs,
        ApiKey::SaslAuthenticate,
        ApiKey::ConsumerGroupHeartbeat,
        ApiKey::ConsumerGroupDescribe,
    ];

    /// The key's wire value.
    pub fn code(self) -> i16 {
        self as i16
    }

    /// The key for a wire value, if this crate knows it.
    pub fn from_code(code: i16) -> Option<ApiKey> {
        ApiKey::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The API's name as Kafka spells it.
    pub fn name(self) -> &'static str {
        match self {
            ApiKey::Produce => "Produce",
            ApiKey::Fetch => "Fetch",
            ApiKey::ListOffsets => "ListOffsets",
            ApiKey::Metadata => "Metadata",
            ApiKey::OffsetCommit => "OffsetCommit",
            ApiKey::OffsetFetch => "OffsetFetch",
            ApiKey::FindCoordinator => "FindCoordinator",
            ApiKey::JoinGroup => "JoinGroup",
            ApiKey::Heartbeat => "Heartbeat",
            ApiKey::LeaveGroup => "LeaveGroup",
            ApiKey::SyncGroup => "SyncGroup",
            ApiKey::DescribeGroups => "DescribeGroups",
            ApiKey::SaslHandshake => "SaslHandshake",
            ApiKey::ApiVersions => "ApiVersions",
            ApiKey::CreateTopics => "CreateTopics",
            ApiKey::DescribeConfigs => "DescribeConfigs",
            ApiKey::SaslAuthenticate => "SaslAuthenticate",
            ApiKey::ConsumerGroupHeartbeat => "ConsumerGroupHeartbeat",
            ApiKey::ConsumerGroupDescribe => "ConsumerGroupDescribe",
        }
    }
}

/// A message body that can be written and read at a given version.
pub trait Message: Sized {
    /// Name used in errors.
    const NAME: &'static str;
    /// Lowest version this crate reads and writes.
    const MIN_VERSION: i16;
    /// Highest version this crate reads and writes.
    const MAX_VERSION: i16;
    /// First flexible (KIP-482) version; `i16::MAX` when the message has none.
    const FLEXIBLE_FROM: i16;

    /// Writes the body (no header, no size prefix) at `version`.
    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError>;
    /// Reads the body (no header, no size prefix) at `version`.
    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError>;

    /// Whether `version` uses the flexible encoding.
    fn is_flexible(version: i16) -> bool {
        version >= Self::FLEXIBLE_FROM
    }

    /// Fails with [`DecodeError::UnsupportedVersion`] outside `MIN_VERSION..=MAX_VERSION`.
    fn check_read_version(version: i16) -> Result<(), DecodeError> {
        if (Self::MIN_VERSION..=Self::MAX_VERSION).contains(&version) {
            Ok(())
        } else {
            Err(DecodeError::UnsupportedVersion {
                api: Self::NAME,
                version,
            })
        }
    }

    /// Fails with [`EncodeError::UnsupportedVersion`] outside `MIN_VERSION..=MAX_VERSION`.
    fn check_write_version(version: i16) -> Result<(), EncodeError> {
        if (Self::MIN_VERSION..=Self::MAX_VERSION).contains(&version) {
            Ok(())
        } else {
            Err(EncodeError::UnsupportedVersion {
                api: Self::NAME,
                version,
            })
        }
    }
}

/// A request body, tied to its API key and response type.
pub trait Request: Message {
    /// The API this request belongs to.
    const API_KEY: ApiKey;
    /// The response body type.
    type Response: Message;

    /// Request header version for `version`: v2 when flexible, else v1.
    fn request_header_version(version: i16) -> i16 {
        if Self::is_flexible(version) {
            2
        } else {
            1
        }
    }

    /// Response header version for `version`: v1 when flexible, else v0 (ApiVersions
    /// always answers with v0 so that a client can read it before negotiating).
    fn response_header_version(version: i16) -> i16 {
        if Self::API_KEY != ApiKey::ApiVersions && Self::is_flexible(version) {
            1
        } else {
            0
        }
    }
}

/// Encodes a complete request frame: 4-byte size, header, body.
pub fn encode_request<R: Request>(
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
) -> Result<BytesMut, EncodeError> {
    R::check_write_version(version)?;
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i32(0); // size, patched below
    let header = RequestHeader {
        api_key: R::API_KEY.code(),
        api_version: version,
        correlation_id,
        client_id: client_id.map(str::to_owned),
        unknown_tagged_fields: Vec::new(),
    };
    header.write(&mut buf, R::request_header_version(version))?;
    request.write(&mut buf, version)?;
    let size = i32::try_from(buf.len() - 4).map_err(|_| EncodeError::TooLong {
        what: "request frame",
        len: buf.len(),
    })?;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    Ok(buf)
}

/// Decodes a response frame body (size prefix already removed): header, then body. The body
/// must fill the frame exactly.
pub fn decode_response<R: Request>(
    mut frame: Bytes,
    version: i16,
) -> Result<(ResponseHeader, R::Response), DecodeError> {
    let header = ResponseHeader::read(&mut frame, R::response_header_version(version))?;
    let body = R::Response::read(&mut frame, version)?;
    if !frame.is_empty() {
        return Err(DecodeError::TrailingBytes {
            what: R::Response::NAME,
            remaining: frame.len(),
        });
    }
    Ok((header, body))
}
