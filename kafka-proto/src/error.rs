//! Typed codec errors. Decoders return these on any malformed input; they never panic.

use thiserror::Error;

/// Why a byte sequence could not be decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before a field was complete.
    #[error("unexpected end of input reading {what}: need {needed} bytes, {remaining} remain")]
    UnexpectedEof {
        /// The field being read.
        what: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A length prefix was negative (and not the null marker) or larger than the input.
    #[error("invalid length {len} for {what}")]
    InvalidLength {
        /// The field being read.
        what: &'static str,
        /// The length found on the wire.
        len: i64,
    },
    /// A varint ran over its maximum width.
    #[error("varint too long reading {what}")]
    VarintOverflow {
        /// The field being read.
        what: &'static str,
    },
    /// A string was not valid UTF-8.
    #[error("string field {what} is not valid UTF-8")]
    InvalidUtf8 {
        /// The field being read.
        what: &'static str,
    },
    /// A non-nullable field was null on the wire.
    #[error("field {what} is null but must not be")]
    UnexpectedNull {
        /// The field being read.
        what: &'static str,
    },
    /// The message does not exist in the requested version.
    #[error("{api} does not support version {version}")]
    UnsupportedVersion {
        /// The API or message name.
        api: &'static str,
        /// The version asked for.
        version: i16,
    },
    /// A field held a value the protocol does not allow.
    #[error("invalid value for {what}: {reason}")]
    InvalidValue {
        /// The field being read.
        what: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// A record batch's CRC32C did not match its contents.
    #[error("CRC mismatch in record batch at base offset {base_offset}: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// The batch's first offset.
        base_offset: i64,
        /// The CRC stored in the batch.
        stored: u32,
        /// The CRC computed over the batch.
        computed: u32,
    },
    /// Decompressing a record batch failed.
    #[error("cannot decompress {codec} record batch at base offset {base_offset}: {reason}")]
    Decompression {
        /// The compression codec name.
        codec: &'static str,
        /// The batch's first offset.
        base_offset: i64,
        /// The underlying error.
        reason: String,
    },
    /// Bytes were left over after a message that must fill its frame.
    #[error("{remaining} trailing bytes after {what}")]
    TrailingBytes {
        /// The message read.
        what: &'static str,
        /// Bytes left unread.
        remaining: usize,
    },
}

/// Why a message could not be encoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// The message does not exist in the requested version.
    #[error("{api} does not support version {version}")]
    UnsupportedVersion {
        /// The API or message name.
        api: &'static str,
        /// The version asked for.
        version: i16,
    },
    /// A field's value cannot be represented in this version (e.g. null where not nullable).
    #[error("field {what} cannot be encoded in version {version}: {reason}")]
    InvalidField {
        /// The field.
        what: &'static str,
        /// The version asked for.
        version: i16,
        /// Why.
        reason: &'static str,
    },
    /// A length does not fit the wire type.
    #[error("{what} is too long to encode ({len})")]
    TooLong {
        /// The field.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// Compressing a record batch failed.
    #[error("cannot compress record batch with {codec}: {reason}")]
    Compression {
        /// The compression codec name.
        codec: &'static str,
        /// The underlying error.
        reason: String,
    },
}
