//! Kafka record batches (message format v2): decoding the `records` blob of a Fetch
//! response, encoding batches, compression codecs and `read_committed` filtering.
//!
//! Entry point for consumers: [`decode_record_batches`] on a partition's `records` bytes,
//! then optionally [`read_committed_records`] with the partition's aborted transactions.

pub mod batch;
pub mod compression;
pub mod isolation;

pub use batch::{
    decode_record_batches, decode_record_batches_with, ControlRecord, ControlRecordType,
    DecodeOptions, Record, RecordBatch, RecordBatches, RecordHeader, RecordSet, TimestampType,
    DEFAULT_MAX_DECOMPRESSED_SIZE,
};
pub use compression::{CodecError, Compression};
pub use isolation::{
    read_committed_batches, read_committed_records, retain_read_committed, AbortedTransaction,
    ReadCommitted,
};

#[cfg(test)]
mod tests;
