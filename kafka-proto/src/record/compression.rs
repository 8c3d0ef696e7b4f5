//! Record batch compression codecs: gzip, snappy, lz4 and zstd, all pure Rust.
//!
//! Decompression is always bounded: every decoder stops after `max_len` output bytes and
//! reports an error instead of growing further, so a small "zip bomb" batch cannot exhaust
//! memory. Kafka-specific framings are handled here:
//!
//! * **snappy**: the Java client writes the xerial `SnappyOutputStream` framing (magic
//!   `0x82 "SNAPPY" 0x00`, two big-endian version ints, then blocks of an int32 length and a
//!   raw snappy block); librdkafka may write a single raw snappy block. Both decode.
//! * **lz4**: the LZ4 frame format. Kafka before 0.10 (message format v0) computed the frame
//!   header checksum over the magic number too; such a header is repaired before decoding.
//! * **zstd**: one or more concatenated zstd frames (decoded with `ruzstd`).

use std::fmt;
use std::io::{self, Read, Write};

/// The compression codec of a record batch (attribute bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression.
    #[default]
    None,
    /// gzip (RFC 1952).
    Gzip,
    /// snappy, xerial-framed or raw.
    Snappy,
    /// LZ4 frame format.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// Every codec, in attribute-id order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec for attribute bits 0-2, or `None` for the unused ids 5-7.
    pub fn from_id(id: u8) -> Option<Compression> {
        match id {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            4 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The codec's id as stored in attribute bits 0-2.
    pub fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec's lower-case name, as in Kafka's `compression.type`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a codec failed; the record batch decoder wraps it in a `DecodeError::Decompression`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    /// The codec that failed.
    pub codec: Compression,
    /// What went wrong.
    pub reason: String,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.codec, self.reason)
    }
}

impl std::error::Error for CodecError {}

fn err(codec: Compression, reason: impl Into<String>) -> CodecError {
    CodecError {
        codec,
        reason: reason.into(),
    }
}

fn too_large(codec: Compression, max_len: usize) -> CodecError {
    err(
        codec,
        format!("decompressed size exceeds the limit of {max_len} bytes"),
    )
}

/// Decompresses `input` with `codec`, failing once the output would exceed `max_len` bytes.
/// [`Compression::None`] returns a copy of the input (subject to the same limit).
pub fn decompress(codec: Compression, input: &[u8], max_len: usize) -> Result<Vec<u8>, CodecError> {
    match codec {
        Compression::None => {
            if input.len() > max_len {
                return Err(too_large(codec, max_len));
            }
            Ok(input.to_vec())
        }
        Compression::Gzip => {
            let dec = flate2::read::MultiGzDecoder::new(input);
            read_bounded(codec, dec, max_len)
        }
        Compression::Snappy => decompress_snappy(input, max_len),
        Compression::Lz4 => decompress_lz4(input, max_len),
        Compression::Zstd => decompress_zstd(input, max_len),
    }
}

/// Reads `reader` to the end, failing if it yields more than `max_len` bytes.
fn read_bounded<R: Read>(
    codec: Compression,
    reader: R,
    max_len: usize,
) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    read_bounded_into(codec, reader, max_len, &mut out)?;
    Ok(out)
}

/// Appends everything `reader` yields to `out`, failing if `out` would exceed `max_len` bytes.
fn read_bounded_into<R: Read>(
    codec: Compression,
    reader: R,
    max_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let budget = max_len.saturating_sub(out.len()) as u64;
    reader
        .take(budget.saturating_add(1))
        .read_to_end(out)
        .map_err(|e| err(codec, e.to_string()))?;
    if out.len() > max_len {
        return Err(too_large(codec, max_len));
    }
    Ok(())
}

/// The xerial snappy-java stream header magic.
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Magic plus the two version ints.
const XERIAL_HEADER_LEN: usize = 16;

fn decompress_snappy(input: &[u8], max_len: usize) -> Result<Vec<u8>, CodecError> {
    let codec = Compression::Snappy;
    if !input.starts_with(&XERIAL_MAGIC) {
        return snappy_raw_append(input, max_len, Vec::new());
    }
    if input.len() < XERIAL_HEADER_LEN {
        return Err(err(codec, "truncated xerial header"));
    }
    let mut rest = &input[XERIAL_HEADER_LEN..];
    let mut out = Vec::new();
    while !rest.is_empty() {
        let Some((len_bytes, tail)) = rest.split_first_chunk::<4>() else {
            return Err(err(codec, "truncated xerial block length"));
        };
        let len = i32::from_be_bytes(*len_bytes);
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= tail.len())
            .ok_or_else(|| {
                err(
                    codec,
                    format!(
                        "xerial block length {len} invalid with {} bytes left",
                        tail.len()
                    ),
                )
            })?;
        let (block, after) = tail.split_at(len);
        out = snappy_raw_append(block, max_len, out)?;
        rest = after;
    }
    Ok(out)
}

/// Decompresses one raw snappy block onto the end of `out`, bounded by `max_len` total.
fn snappy_raw_append(
    block: &[u8],
    max_len: usize,
    mut out: Vec<u8>,
) -> Result<Vec<u8>, CodecError> {
    let codec = Compression::Snappy;
    let n = snap::raw::decompress_len(block).map_err(|e| err(codec, e.to_string()))?;
    if n > max_len.saturating_sub(out.len()) {
        return Err(too_large(codec, max_len));
    }
    let start = out.len();
    out.resize(start + n, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(|e| err(codec, e.to_string()))?;
    out.truncate(start + written);
    Ok(out)
}

/// LZ4 frame magic number (little-endian on the wire).
const LZ4_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];

fn decompress_lz4(input: &[u8], max_len: usize) -> Result<Vec<u8>, CodecError> {
    let codec = Compression::Lz4;
    match fix_legacy_lz4_header(input) {
        Some((header, rest)) => {
            let dec = lz4_flex::frame::FrameDecoder::new(header.as_slice().chain(rest));
            read_bounded(codec, dec, max_len)
        }
        None => read_bounded(codec, lz4_flex::frame::FrameDecoder::new(input), max_len),
    }
}

/// If `input` starts with an LZ4 frame header whose checksum was computed the broken way of
/// Kafka's old `KafkaLZ4BlockOutputStream` (over the magic number too), returns a repaired
/// copy of the header and the rest of the input.
fn fix_legacy_lz4_header(input: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    if !input.starts_with(&LZ4_MAGIC) || input.len() < 7 {
        return None;
    }
    let flg = input[4];
    let mut desc_end = 6; // magic, FLG, BD
    if flg & 0x08 != 0 {
        desc_end += 8; // content size
    }
    if flg & 0x01 != 0 {
        desc_end += 4; // dictionary id
    }
    let stored = *input.get(desc_end)?;
    let correct = (xxh32(&input[4..desc_end], 0) >> 8) as u8;
    if stored == correct {
        return None;
    }
    let broken = (xxh32(&input[..desc_end], 0) >> 8) as u8;
    if stored != broken {
        return None;
    }
    let mut header = input[..=desc_end].to_vec();
    header[desc_end] = correct;
    Some((header, &input[desc_end + 1..]))
}

/// xxHash32, used only to check and repair LZ4 frame header checksums.
fn xxh32(data: &[u8], seed: u32) -> u32 {
    const P1: u32 = 2_654_435_761;
    const P2: u32 = 2_246_822_519;
    const P3: u32 = 3_266_489_917;
    const P4: u32 = 668_265_263;
    const P5: u32 = 374_761_393;
    let lane = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let round = |acc: u32, v: u32| {
        acc.wrapping_add(v.wrapping_mul(P2))
            .rotate_left(13)
            .wrapping_mul(P1)
    };
    let mut rest = data;
    let mut h = if data.len() >= 16 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        while rest.len() >= 16 {
            for (i, acc) in v.iter_mut().enumerate() {
                *acc = round(*acc, lane(&rest[i * 4..]));
            }
            rest = &rest[16..];
        }
        v[0].rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18))
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(data.len() as u32);
    while rest.len() >= 4 {
        h = h
            .wrapping_add(lane(rest).wrapping_mul(P3))
            .rotate_left(17)
            .wrapping_mul(P4);
        rest = &rest[4..];
    }
    for &b in rest {
        h = h
            .wrapping_add(u32::from(b).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^= h >> 16;
    h
}

fn decompress_zstd(input: &[u8], max_len: usize) -> Result<Vec<u8>, CodecError> {
    let codec = Compression::Zstd;
    let mut rest = input;
    let mut out = Vec::new();
    // A batch normally holds one frame, but concatenated frames are valid zstd too.
    loop {
        let dec = ruzstd::decoding::StreamingDecoder::new(&mut rest)
            .map_err(|e| err(codec, e.to_string()))?;
        read_bounded_into(codec, dec, max_len, &mut out)?;
        if rest.is_empty() {
            return Ok(out);
        }
    }
}

/// Compresses `input` with `codec` in the framing Kafka's Java client writes (xerial snappy,
/// LZ4 frames with independent 64 KiB blocks, gzip, zstd at ruzstd's "fastest" level).
pub fn compress(codec: Compression, input: &[u8]) -> Result<Vec<u8>, CodecError> {
    let io_err = |e: io::Error| err(codec, e.to_string());
    match codec {
        Compression::None => Ok(input.to_vec()),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(input).map_err(io_err)?;
            enc.finish().map_err(io_err)
        }
        Compression::Snappy => compress_snappy_xerial(input),
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            enc.write_all(input).map_err(io_err)?;
            enc.finish().map_err(|e| err(codec, e.to_string()))
        }
        Compression::Zstd => Ok(ruzstd::encoding::compress_to_vec(
            input,
            ruzstd::encoding::CompressionLevel::Fastest,
        )),
    }
}

/// xerial snappy-java's default block size.
const XERIAL_BLOCK_SIZE: usize = 32 * 1024;

fn compress_snappy_xerial(input: &[u8]) -> Result<Vec<u8>, CodecError> {
    let codec = Compression::Snappy;
    let mut out = Vec::with_capacity(XERIAL_HEADER_LEN + input.len() / 2 + 16);
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes()); // version
    out.extend_from_slice(&1i32.to_be_bytes()); // minimum compatible version
    let mut enc = snap::raw::Encoder::new();
    for chunk in input.chunks(XERIAL_BLOCK_SIZE) {
        let block = enc
            .compress_vec(chunk)
            .map_err(|e| err(codec, e.to_string()))?;
        let len = i32::try_from(block.len()).map_err(|_| err(codec, "block too large"))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&block);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..200_000u32)
            .flat_map(|i| format!("record-{} ", i % 977).into_bytes())
            .collect()
    }

    #[test]
    fn every_codec_round_trips() {
        let data = sample();
        for codec in Compression::ALL {
            let packed = compress(codec, &data).unwrap();
            if codec != Compression::None {
                assert!(packed.len() < data.len() / 2, "{codec} did not compress");
            }
            let back = decompress(codec, &packed, data.len()).unwrap();
            assert_eq!(back, data, "{codec}");
            let empty = compress(codec, b"").unwrap();
            assert_eq!(decompress(codec, &empty, 0).unwrap(), b"", "{codec} empty");
        }
    }

    #[test]
    fn output_limit_is_enforced_for_every_codec() {
        let data = vec![0u8; 1 << 20];
        for codec in Compression::ALL {
            let packed = compress(codec, &data).unwrap();
            let e = decompress(codec, &packed, data.len() - 1).unwrap_err();
            assert!(e.reason.contains("exceeds the limit"), "{codec}: {e}");
            assert_eq!(
                decompress(codec, &packed, data.len()).unwrap().len(),
                data.len()
            );
        }
    }

    #[test]
    fn raw_snappy_without_xerial_framing_decodes() {
        let data = sample();
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(
            decompress(Compression::Snappy, &raw, data.len()).unwrap(),
            data
        );
    }

    #[test]
    fn xerial_framing_is_what_kafka_writes() {
        let packed = compress(Compression::Snappy, b"hello hello hello").unwrap();
        assert_eq!(
            &packed[..16],
            &[0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1]
        );
        // Forged block lengths are errors, not panics.
        let mut bad = packed.clone();
        bad[16..20].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(decompress(Compression::Snappy, &bad, 1 << 20).is_err());
        bad[16..20].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(decompress(Compression::Snappy, &bad, 1 << 20).is_err());
    }

    #[test]
    fn xxh32_matches_reference_vectors() {
        assert_eq!(xxh32(b"", 0), 0x02CC_5D05);
        assert_eq!(xxh32(b"a", 0), 0x550D_7456);
        assert_eq!(xxh32(b"abc", 0), 0x32D1_53FF);
        assert_eq!(
            xxh32(b"Nobody inspects the spammish repetition", 0),
            0xE229_3B2F
        );
    }

    #[test]
    fn lz4_header_with_kafka_legacy_checksum_decodes() {
        let data = sample();
        let mut packed = compress(Compression::Lz4, &data).unwrap();
        // Our encoder writes no content size or dictionary id: the descriptor is FLG, BD.
        assert_eq!(packed[4] & 0x09, 0);
        assert_eq!(packed[6], (xxh32(&packed[4..6], 0) >> 8) as u8);
        packed[6] = (xxh32(&packed[..6], 0) >> 8) as u8;
        assert_eq!(
            decompress(Compression::Lz4, &packed, data.len()).unwrap(),
            data
        );
        // Any other wrong checksum is still rejected.
        packed[6] = packed[6].wrapping_add(1);
        if packed[6] != (xxh32(&packed[4..6], 0) >> 8) as u8 {
            assert!(decompress(Compression::Lz4, &packed, data.len()).is_err());
        }
    }

    #[test]
    fn concatenated_gzip_and_zstd_frames_decode() {
        for codec in [Compression::Gzip, Compression::Zstd] {
            let mut packed = compress(codec, b"first,").unwrap();
            packed.extend(compress(codec, b"second").unwrap());
            assert_eq!(decompress(codec, &packed, 100).unwrap(), b"first,second");
        }
    }

    #[test]
    fn garbage_is_an_error_for_every_codec() {
        let junk: Vec<u8> = (0..300u32).map(|i| (i * 7919 % 251) as u8).collect();
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            assert!(decompress(codec, &junk, 1 << 20).is_err(), "{codec}");
            let _ = decompress(codec, &[], 1 << 20);
        }
    }
}
