//! Record batch v2 (magic 2) decoding and encoding.
//!
//! Layout (all integers big-endian, varints zig-zag):
//!
//! ```text
//! baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 (=2)
//! crc uint32 (CRC-32C of everything from attributes to the end of the batch)
//! attributes int16 | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64
//! producerId int64 | producerEpoch int16 | baseSequence int32 | recordCount int32
//! records (compressed as one blob when attributes bits 0-2 name a codec):
//!   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint
//!   key (varint length, -1 = null) | value (likewise)
//!   headerCount varint | [headerKey (varint length string) | headerValue (nullable)]
//! ```
//!
//! Keys, values and header values are [`Bytes`] slices: of the input for uncompressed batches
//! (zero copy), of the single decompressed buffer for compressed ones.

use bytes::{BufMut, Bytes, BytesMut};

use super::compression::{self, Compression};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{ReadExt, WriteExt};

/// Default cap on one batch's decompressed size (64 MiB): far above Kafka's default
/// `max.message.bytes` (1 MiB) and any sane fetch size, yet small enough that a
/// decompression bomb cannot exhaust memory.
pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 64 * 1024 * 1024;

/// Size of baseOffset plus batchLength, the part of a batch its length does not count.
pub const LOG_OVERHEAD: usize = 12;
/// Size of a v2 batch header, i.e. of a batch without records.
pub const RECORD_BATCH_OVERHEAD: usize = 61;
/// The only batch format version this module decodes.
pub const MAGIC_V2: i8 = 2;

/// Smallest batch length Kafka accepts before looking at the magic (a v0 message).
const MIN_LEGACY_SIZE: i32 = 14;
/// Offset of the CRC field; the CRC covers everything after it.
const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;
/// Smallest possible encoded record: length, attributes, timestamp delta, offset delta,
/// key length, value length and header count, one byte each.
const MIN_RECORD_SIZE: usize = 7;
/// Smallest possible header: key length and value length, one byte each.
const MIN_HEADER_SIZE: usize = 2;
/// Most records (headers) reserved up front. Counts are already bounded by the bytes left,
/// but a `Record` is ~15x larger than its minimal encoding, so capacity beyond this grows
/// only as records actually parse.
const MAX_PREALLOC_RECORDS: usize = 4096;
const MAX_PREALLOC_HEADERS: usize = 64;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_FLAG: i16 = 0x08;
const TRANSACTIONAL_FLAG: i16 = 0x10;
const CONTROL_FLAG: i16 = 0x20;
const DELETE_HORIZON_FLAG: i16 = 0x40;

/// Meaning of a batch's timestamps (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Set by the producer.
    #[default]
    CreateTime,
    /// Set by the broker on append; every record's timestamp is the batch's max timestamp.
    LogAppendTime,
}

/// One record header. Duplicate keys are legal and kept in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    /// Header key.
    pub key: String,
    /// Header value, `None` when null on the wire.
    pub value: Option<Bytes>,
}

/// One record with its offset and timestamp made absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Absolute offset (batch base offset plus the record's offset delta).
    pub offset: i64,
    /// Absolute timestamp in ms (for log-append-time batches, the batch's max timestamp).
    pub timestamp: i64,
    /// Key, `None` when null.
    pub key: Option<Bytes>,
    /// Value, `None` when null (a tombstone).
    pub value: Option<Bytes>,
    /// Headers in wire order, duplicates kept.
    pub headers: Vec<RecordHeader>,
}

/// The type of a control record (the int16 after the version in its key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// Transaction abort marker (type 0).
    Abort,
    /// Transaction commit marker (type 1).
    Commit,
    /// Any other control type (KRaft leader change, snapshot markers, ...).
    Unknown(i16),
}

impl ControlRecordType {
    /// The type id on the wire.
    pub fn id(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
            ControlRecordType::Unknown(id) => id,
        }
    }

    /// The type for a wire id.
    pub fn from_id(id: i16) -> ControlRecordType {
        match id {
            0 => ControlRecordType::Abort,
            1 => ControlRecordType::Commit,
            other => ControlRecordType::Unknown(other),
        }
    }
}

/// The decoded key of a control record: `version int16, type int16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlRecord {
    /// Key schema version (0 today; Kafka parses newer versions the same way).
    pub version: i16,
    /// What the marker means.
    pub kind: ControlRecordType,
}

impl ControlRecord {
    /// Parses a control record key; extra trailing bytes (newer versions) are ignored.
    pub fn parse(key: Option<&[u8]>) -> Result<ControlRecord, DecodeError> {
        let what = "control record key";
        let key = key.ok_or(DecodeError::UnexpectedNull { what })?;
        match key {
            [v0, v1, t0, t1, ..] => Ok(ControlRecord {
                version: i16::from_be_bytes([*v0, *v1]),
                kind: ControlRecordType::from_id(i16::from_be_bytes([*t0, *t1])),
            }),
            _ => Err(DecodeError::UnexpectedEof {
                what,
                needed: 4,
                remaining: key.len(),
            }),
        }
    }

    /// Encodes the key (4 bytes).
    pub fn to_key(self) -> Bytes {
        let mut b = BytesMut::with_capacity(4);
        b.put_i16(self.version);
        b.put_i16(self.kind.id());
        b.freeze()
    }
}

/// A decoded v2 record batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    /// Offset of the first record slot of the batch.
    pub base_offset: i64,
    /// Leader epoch stamped by the broker (not covered by the CRC).
    pub partition_leader_epoch: i32,
    /// Codec of the records section.
    pub compression: Compression,
    /// Meaning of the timestamps.
    pub timestamp_type: TimestampType,
    /// Whether the batch belongs to a transaction.
    pub is_transactional: bool,
    /// Whether the batch holds control records (transaction markers).
    pub is_control: bool,
    /// Attribute bit 6: `base_timestamp` holds the delete horizon set by the log cleaner.
    pub has_delete_horizon: bool,
    /// Offset of the last record slot, relative to `base_offset` (survives compaction).
    pub last_offset_delta: i32,
    /// Timestamp the record timestamp deltas are relative to.
    pub base_timestamp: i64,
    /// Largest record timestamp (or the log-append time).
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id, -1 if none.
    pub producer_id: i64,
    /// Producer epoch, -1 if none.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 if none.
    pub base_sequence: i32,
    /// The records, offsets and timestamps absolute.
    pub records: Vec<Record>,
    /// For a non-empty control batch, its (first) record's decoded key. Ignored when encoding.
    pub control: Option<ControlRecord>,
}

/// Knobs for decoding record batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// A compressed batch that inflates beyond this many bytes is rejected.
    pub max_decompressed_size: usize,
    /// Whether to check each batch's CRC-32C (on by default; it costs ~0.1 ms per MiB).
    pub verify_crc: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_decompressed_size: DEFAULT_MAX_DECOMPRESSED_SIZE,
            verify_crc: true,
        }
    }
}

impl RecordBatch {
    /// A plain (non-transactional, uncompressed, create-time) batch holding `records`, with
    /// `last_offset_delta` and the timestamps derived from them and no producer id.
    pub fn new(base_offset: i64, records: Vec<Record>) -> RecordBatch {
        let last = records
            .iter()
            .map(|r| r.offset)
            .max()
            .unwrap_or(base_offset);
        let last_offset_delta = i32::try_from(last.wrapping_sub(base_offset)).unwrap_or(i32::MAX);
        RecordBatch {
            base_offset,
            partition_leader_epoch: -1,
            compression: Compression::None,
            timestamp_type: TimestampType::CreateTime,
            is_transactional: false,
            is_control: false,
            has_delete_horizon: false,
            last_offset_delta,
            base_timestamp: records.first().map_or(-1, |r| r.timestamp),
            max_timestamp: records.iter().map(|r| r.timestamp).max().unwrap_or(-1),
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            records,
            control: None,
        }
    }

    /// A transaction marker batch (one control record) for `producer_id` at `offset`.
    pub fn control_batch(
        offset: i64,
        timestamp: i64,
        producer_id: i64,
        producer_epoch: i16,
        kind: ControlRecordType,
        coordinator_epoch: i32,
    ) -> RecordBatch {
        let control = ControlRecord { version: 0, kind };
        let mut value = BytesMut::with_capacity(6);
        value.put_i16(0); // EndTransactionMarker version
        value.put_i32(coordinator_epoch);
        let record = Record {
            offset,
            timestamp,
            key: Some(control.to_key()),
            value: Some(value.freeze()),
            headers: Vec::new(),
        };
        RecordBatch {
            is_transactional: true,
            is_control: true,
            producer_id,
            producer_epoch,
            control: Some(control),
            ..RecordBatch::new(offset, vec![record])
        }
    }

    /// Absolute offset of the batch's last record slot.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// The offset to fetch from after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// The delete horizon set by the log cleaner, if attribute bit 6 is set.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        self.has_delete_horizon.then_some(self.base_timestamp)
    }

    /// The attributes field as encoded.
    pub fn attributes(&self) -> i16 {
        let mut a = i16::from(self.compression.id());
        if self.timestamp_type == TimestampType::LogAppendTime {
            a |= TIMESTAMP_TYPE_FLAG;
        }
        if self.is_transactional {
            a |= TRANSACTIONAL_FLAG;
        }
        if self.is_control {
            a |= CONTROL_FLAG;
        }
        if self.has_delete_horizon {
            a |= DELETE_HORIZON_FLAG;
        }
        a
    }

    /// Decodes exactly one complete batch (`buf` must hold the whole batch and nothing more).
    pub fn decode(buf: Bytes) -> Result<RecordBatch, DecodeError> {
        Self::decode_with(buf, &DecodeOptions::default())
    }

    /// Like [`RecordBatch::decode`] with explicit options.
    pub fn decode_with(buf: Bytes, opts: &DecodeOptions) -> Result<RecordBatch, DecodeError> {
        let full = buf.clone();
        let mut b = buf;
        let base_offset = b.read_i64("batch base offset")?;
        let batch_length = b.read_i32("batch length")?;
        if i64::from(batch_length) != b.len() as i64 {
            return Err(DecodeError::InvalidLength {
                what: "batch length",
                len: i64::from(batch_length),
            });
        }
        let partition_leader_epoch = b.read_i32("partition leader epoch")?;
        let magic = b.read_i8("batch magic")?;
        if magic != MAGIC_V2 {
            return Err(DecodeError::InvalidValue {
                what: "record batch magic",
                reason: format!(
                    "unsupported magic {magic} at offset {base_offset}: only v2 record batches \
                     are supported (v0/v1 are legacy message sets)"
                ),
            });
        }
        if full.len() < RECORD_BATCH_OVERHEAD {
            return Err(DecodeError::InvalidLength {
                what: "batch length",
                len: i64::from(batch_length),
            });
        }
        let stored = b.read_u32("batch crc")?;
        if opts.verify_crc {
            let computed = crc32c::crc32c(&full[ATTRIBUTES_OFFSET..]);
            if computed != stored {
                return Err(DecodeError::CrcMismatch {
                    base_offset,
                    stored,
                    computed,
                });
            }
        }
        let attributes = b.read_i16("batch attributes")?;
        let codec_id = (attributes & COMPRESSION_MASK) as u8;
        let compression =
            Compression::from_id(codec_id).ok_or_else(|| DecodeError::InvalidValue {
                what: "batch compression",
                reason: format!("unknown codec id {codec_id} at offset {base_offset}"),
            })?;
        let timestamp_type = if attributes & TIMESTAMP_TYPE_FLAG != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        };
        let last_offset_delta = b.read_i32("last offset delta")?;
        let base_timestamp = b.read_i64("base timestamp")?;
        let max_timestamp = b.read_i64("max timestamp")?;
        let producer_id = b.read_i64("producer id")?;
        let producer_epoch = b.read_i16("producer epoch")?;
        let base_sequence = b.read_i32("base sequence")?;
        let count = b.read_i32("record count")?;
        let count = usize::try_from(count).map_err(|_| DecodeError::InvalidLength {
            what: "record count",
            len: i64::from(count),
        })?;

        let mut batch = RecordBatch {
            base_offset,
            partition_leader_epoch,
            compression,
            timestamp_type,
            is_transactional: attributes & TRANSACTIONAL_FLAG != 0,
            is_control: attributes & CONTROL_FLAG != 0,
            has_delete_horizon: attributes & DELETE_HORIZON_FLAG != 0,
            last_offset_delta,
            base_timestamp,
            max_timestamp,
            producer_id,
            producer_epoch,
            base_sequence,
            records: Vec::new(),
            control: None,
        };
        // Like Kafka, an empty batch (e.g. emptied by compaction) has no records to read.
        if count == 0 {
            return Ok(batch);
        }
        let mut data = match compression {
            Compression::None => b,
            codec => compression::decompress(codec, &b, opts.max_decompressed_size)
                .map(Bytes::from)
                .map_err(|e| DecodeError::Decompression {
                    codec: codec.name(),
                    base_offset,
                    reason: e.reason,
                })?,
        };
        if count > data.len() / MIN_RECORD_SIZE {
            return Err(DecodeError::InvalidLength {
                what: "record count",
                len: count as i64,
            });
        }
        let log_append_time =
            (timestamp_type == TimestampType::LogAppendTime).then_some(max_timestamp);
        let mut records = Vec::with_capacity(count.min(MAX_PREALLOC_RECORDS));
        for _ in 0..count {
            records.push(decode_record(
                &mut data,
                base_offset,
                base_timestamp,
                log_append_time,
            )?);
        }
        if !data.is_empty() {
            return Err(DecodeError::TrailingBytes {
                what: "record batch records",
                remaining: data.len(),
            });
        }
        if batch.is_control {
            if let Some(first) = records.first() {
                batch.control = Some(ControlRecord::parse(first.key.as_deref())?);
            }
        }
        batch.records = records;
        Ok(batch)
    }

    /// Encodes the batch (compressing with `self.compression`) into a new buffer.
    pub fn encode(&self) -> Result<BytesMut, EncodeError> {
        let mut out = BytesMut::with_capacity(RECORD_BATCH_OVERHEAD + self.records.len() * 32);
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Appends the encoded batch, with its length and CRC-32C filled in, to `out`.
    ///
    /// Record offsets and timestamps are written relative to `base_offset` and
    /// `base_timestamp`; `control` is ignored (control records carry their own keys).
    pub fn encode_into(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let start = out.len();
        out.put_i64(self.base_offset);
        out.put_i32(0); // batch length, patched below
        out.put_i32(self.partition_leader_epoch);
        out.put_i8(MAGIC_V2);
        out.put_u32(0); // crc, patched below
        out.put_i16(self.attributes());
        out.put_i32(self.last_offset_delta);
        out.put_i64(self.base_timestamp);
        out.put_i64(self.max_timestamp);
        out.put_i64(self.producer_id);
        out.put_i16(self.producer_epoch);
        out.put_i32(self.base_sequence);
        let count = i32::try_from(self.records.len()).map_err(|_| EncodeError::TooLong {
            what: "record count",
            len: self.records.len(),
        })?;
        out.put_i32(count);
        let mut scratch = BytesMut::new();
        if self.compression == Compression::None {
            for r in &self.records {
                self.encode_record(r, out, &mut scratch)?;
            }
        } else {
            let mut raw = BytesMut::with_capacity(self.records.len() * 32);
            for r in &self.records {
                self.encode_record(r, &mut raw, &mut scratch)?;
            }
            let packed = compression::compress(self.compression, &raw).map_err(|e| {
                EncodeError::Compression {
                    codec: self.compression.name(),
                    reason: e.reason,
                }
            })?;
            out.put_slice(&packed);
        }
        let batch_len = out.len() - start - LOG_OVERHEAD;
        let batch_len = i32::try_from(batch_len).map_err(|_| EncodeError::TooLong {
            what: "record batch",
            len: batch_len,
        })?;
        out[start + 8..start + LOG_OVERHEAD].copy_from_slice(&batch_len.to_be_bytes());
        let crc = crc32c::crc32c(&out[start + ATTRIBUTES_OFFSET..]);
        out[start + CRC_OFFSET..start + ATTRIBUTES_OFFSET].copy_from_slice(&crc.to_be_bytes());
        Ok(())
    }

    fn encode_record(
        &self,
        r: &Record,
        out: &mut BytesMut,
        body: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        let offset_delta = r
            .offset
            .checked_sub(self.base_offset)
            .and_then(|d| i32::try_from(d).ok())
            .ok_or(EncodeError::InvalidField {
                what: "record offset",
                version: 2,
                reason: "offset delta from the batch base offset does not fit an int32",
            })?;
        body.clear();
        body.put_i8(0); // record attributes, unused
        body.write_varlong(r.timestamp.wrapping_sub(self.base_timestamp));
        body.write_varint(offset_delta);
        write_varint_bytes(body, r.key.as_deref(), "record key")?;
        write_varint_bytes(body, r.value.as_deref(), "record value")?;
        let n = i32::try_from(r.headers.len()).map_err(|_| EncodeError::TooLong {
            what: "record headers",
            len: r.headers.len(),
        })?;
        body.write_varint(n);
        for h in &r.headers {
            write_varint_bytes(body, Some(h.key.as_bytes()), "record header key")?;
            write_varint_bytes(body, h.value.as_deref(), "record header value")?;
        }
        let len = i32::try_from(body.len()).map_err(|_| EncodeError::TooLong {
            what: "record",
            len: body.len(),
        })?;
        out.write_varint(len);
        out.put_slice(body);
        Ok(())
    }
}

fn write_varint_bytes(
    out: &mut BytesMut,
    v: Option<&[u8]>,
    what: &'static str,
) -> Result<(), EncodeError> {
    match v {
        None => out.write_varint(-1),
        Some(b) => {
            let len =
                i32::try_from(b.len()).map_err(|_| EncodeError::TooLong { what, len: b.len() })?;
            out.write_varint(len);
            out.put_slice(b);
        }
    }
    Ok(())
}

fn read_varint_bytes(buf: &mut Bytes, what: &'static str) -> Result<Option<Bytes>, DecodeError> {
    match buf.read_varint(what)? {
        -1 => Ok(None),
        n if n < 0 => Err(DecodeError::InvalidLength {
            what,
            len: i64::from(n),
        }),
        n => buf.read_slice(n as usize, what).map(Some),
    }
}

fn decode_record(
    buf: &mut Bytes,
    base_offset: i64,
    base_timestamp: i64,
    log_append_time: Option<i64>,
) -> Result<Record, DecodeError> {
    let len = buf.read_varint("record length")?;
    let len = usize::try_from(len).map_err(|_| DecodeError::InvalidLength {
        what: "record length",
        len: i64::from(len),
    })?;
    let mut body = buf.read_slice(len, "record")?;
    let _attributes = body.read_i8("record attributes")?;
    let timestamp_delta = body.read_varlong("record timestamp delta")?;
    let offset_delta = body.read_varint("record offset delta")?;
    let key = read_varint_bytes(&mut body, "record key")?;
    let value = read_varint_bytes(&mut body, "record value")?;
    let header_count = body.read_varint("record header count")?;
    let header_count = usize::try_from(header_count)
        .ok()
        .filter(|&n| n <= body.len() / MIN_HEADER_SIZE)
        .ok_or(DecodeError::InvalidLength {
            what: "record header count",
            len: i64::from(header_count),
        })?;
    let mut headers = Vec::with_capacity(header_count.min(MAX_PREALLOC_HEADERS));
    for _ in 0..header_count {
        let what = "record header key";
        let raw =
            read_varint_bytes(&mut body, what)?.ok_or(DecodeError::UnexpectedNull { what })?;
        let key = std::str::from_utf8(&raw)
            .map_err(|_| DecodeError::InvalidUtf8 { what })?
            .to_owned();
        let value = read_varint_bytes(&mut body, "record header value")?;
        headers.push(RecordHeader { key, value });
    }
    if !body.is_empty() {
        return Err(DecodeError::TrailingBytes {
            what: "record",
            remaining: body.len(),
        });
    }
    Ok(Record {
        offset: base_offset.wrapping_add(i64::from(offset_delta)),
        timestamp: log_append_time.unwrap_or(base_timestamp.wrapping_add(timestamp_delta)),
        key,
        value,
        headers,
    })
}

/// The batches decoded from one partition's `records` blob of a Fetch response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordSet {
    /// Complete batches, in order.
    pub batches: Vec<RecordBatch>,
    /// Whether the blob ended in a partial batch (normal: the broker cuts the response at the
    /// fetch size). With no complete batch at all, the caller must raise its fetch size.
    pub truncated: bool,
}

impl RecordSet {
    /// All records of all batches, in offset order.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.batches.iter().flat_map(|b| b.records.iter())
    }

    /// The records at or after `offset`: a compressed batch may start before the fetch
    /// offset, and Kafka consumers skip those records.
    pub fn records_from(&self, offset: i64) -> impl Iterator<Item = &Record> {
        self.records().filter(move |r| r.offset >= offset)
    }

    /// Number of records over all batches.
    pub fn record_count(&self) -> usize {
        self.batches.iter().map(|b| b.records.len()).sum()
    }

    /// The offset to fetch next: one past the last complete batch, if any.
    pub fn next_offset(&self) -> Option<i64> {
        self.batches.last().map(RecordBatch::next_offset)
    }
}

/// Decodes every complete batch of a Fetch partition's `records` blob with default options.
///
/// A partial batch at the end is not an error: it is dropped and reported through
/// [`RecordSet::truncated`]. Legacy message sets (magic 0/1) are an
/// [`DecodeError::InvalidValue`] naming the magic; a bad CRC is a [`DecodeError::CrcMismatch`].
pub fn decode_record_batches(buf: Bytes) -> Result<RecordSet, DecodeError> {
    decode_record_batches_with(buf, &DecodeOptions::default())
}

/// Like [`decode_record_batches`] with explicit options.
pub fn decode_record_batches_with(
    buf: Bytes,
    opts: &DecodeOptions,
) -> Result<RecordSet, DecodeError> {
    let mut it = RecordBatches::with_options(buf, *opts);
    let mut batches = Vec::new();
    for batch in it.by_ref() {
        batches.push(batch?);
    }
    Ok(RecordSet {
        batches,
        truncated: it.truncated(),
    })
}

/// Iterator over the batches of a `records` blob, decoding one batch per step; stops after
/// the first error or at a partial trailing batch (see [`RecordBatches::truncated`]).
#[derive(Debug, Clone)]
pub struct RecordBatches {
    buf: Bytes,
    opts: DecodeOptions,
    truncated: bool,
    done: bool,
}

impl RecordBatches {
    /// Iterates over `buf` with default options.
    pub fn new(buf: Bytes) -> RecordBatches {
        Self::with_options(buf, DecodeOptions::default())
    }

    /// Iterates over `buf` with `opts`.
    pub fn with_options(buf: Bytes, opts: DecodeOptions) -> RecordBatches {
        RecordBatches {
            buf,
            opts,
            truncated: false,
            done: false,
        }
    }

    /// Whether iteration stopped at a partial batch at the end of the input.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The bytes not yet consumed (after a stop: the partial batch or the failing one's tail).
    pub fn remaining(&self) -> &Bytes {
        &self.buf
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, DecodeError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        if self.buf.len() < LOG_OVERHEAD {
            self.truncated = true;
            return Ok(None);
        }
        let len = i32::from_be_bytes([self.buf[8], self.buf[9], self.buf[10], self.buf[11]]);
        if len < MIN_LEGACY_SIZE {
            return Err(DecodeError::InvalidLength {
                what: "batch length",
                len: i64::from(len),
            });
        }
        let total = LOG_OVERHEAD + len as usize;
        if self.buf.len() < total {
            self.truncated = true;
            return Ok(None);
        }
        let batch = self.buf.split_to(total);
        RecordBatch::decode_with(batch, &self.opts).map(Some)
    }
}

impl Iterator for RecordBatches {
    type Item = Result<RecordBatch, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
