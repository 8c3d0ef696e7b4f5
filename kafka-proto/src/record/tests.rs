//! Tests of record batch decoding, encoding and read_committed filtering.

use bytes::{BufMut, Bytes, BytesMut};

use super::*;
use crate::error::DecodeError;

const TS: i64 = 1_700_000_000_000;

fn rec(offset: i64, value: &str) -> Record {
    Record {
        offset,
        timestamp: TS + offset,
        key: Some(Bytes::from(format!("key-{offset}"))),
        value: Some(Bytes::copy_from_slice(value.as_bytes())),
        headers: vec![],
    }
}

fn sample_batch(base: i64, n: i64, compression: Compression) -> RecordBatch {
    let records = (base..base + n)
        .map(|o| Record {
            offset: o,
            timestamp: TS + (o % 7) * 1000,
            key: (o % 3 != 0).then(|| Bytes::from(format!("k{o}"))),
            value: (o % 5 != 4).then(|| Bytes::from("v".repeat((o % 50) as usize))),
            headers: (0..o % 3)
                .map(|i| RecordHeader {
                    key: format!("h{i}"),
                    value: (i != 1).then(|| Bytes::from(format!("hv{o}"))),
                })
                .collect(),
        })
        .collect();
    RecordBatch {
        compression,
        producer_id: 42,
        producer_epoch: 3,
        base_sequence: 17,
        partition_leader_epoch: 9,
        ..RecordBatch::new(base, records)
    }
}

fn encode_all(batches: &[RecordBatch]) -> Bytes {
    let mut out = BytesMut::new();
    for b in batches {
        b.encode_into(&mut out).unwrap();
    }
    out.freeze()
}

/// Bitwise CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), independent of the crate.
fn crc32c_bitwise(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn hand_written_batch_matches_encoder_and_decodes() {
    #[rustfmt::skip]
    let mut expected: Vec<u8> = vec![
        0, 0, 0, 0, 0, 0, 0, 5,             // base offset 5
        0, 0, 0, 62,                        // batch length: 74 - 12
        0xff, 0xff, 0xff, 0xff,             // partition leader epoch -1
        2,                                  // magic
        0, 0, 0, 0,                         // crc, filled below
        0, 0,                               // attributes
        0, 0, 0, 0,                         // last offset delta
        0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // base timestamp 1_700_000_000_000
        0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // max timestamp
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // producer id -1
        0xff, 0xff,                         // producer epoch -1
        0xff, 0xff, 0xff, 0xff,             // base sequence -1
        0, 0, 0, 1,                         // record count
        24,                                 // record length 12 (zig-zag)
        0,                                  // record attributes
        0,                                  // timestamp delta 0
        0,                                  // offset delta 0
        2, b'k',                            // key "k"
        2, b'v',                            // value "v"
        2,                                  // 1 header
        2, b'h', 2, b'x',                   // "h" => "x"
    ];
    assert_eq!(expected.len(), 74);
    let crc = crc32c_bitwise(&expected[21..]);
    assert_eq!(crc, crc32c::crc32c(&expected[21..]));
    expected[17..21].copy_from_slice(&crc.to_be_bytes());

    let record = Record {
        offset: 5,
        timestamp: TS,
        key: Some(Bytes::from_static(b"k")),
        value: Some(Bytes::from_static(b"v")),
        headers: vec![RecordHeader {
            key: "h".into(),
            value: Some(Bytes::from_static(b"x")),
        }],
    };
    let batch = RecordBatch::new(5, vec![record]);
    let encoded = batch.encode().unwrap();
    assert_eq!(encoded.as_ref(), expected.as_slice());

    let set = decode_record_batches(Bytes::from(expected)).unwrap();
    assert!(!set.truncated);
    assert_eq!(set.batches, vec![batch]);
    assert_eq!(set.next_offset(), Some(6));
}

#[test]
fn every_codec_round_trips_several_batches() {
    for codec in Compression::ALL {
        let batches = vec![
            sample_batch(0, 10, codec),
            sample_batch(10, 1, codec),
            sample_batch(11, 300, codec),
        ];
        let wire = encode_all(&batches);
        let set = decode_record_batches(wire).unwrap();
        assert!(!set.truncated, "{codec}");
        assert_eq!(set.batches, batches, "{codec}");
        assert_eq!(set.record_count(), 311);
        assert_eq!(set.next_offset(), Some(311));
        assert_eq!(set.records().nth(12).map(|r| r.offset), Some(12));
        assert_eq!(set.records_from(300).count(), 11);
    }
}

#[test]
fn compressed_batches_are_smaller() {
    let plain = sample_batch(0, 500, Compression::None).encode().unwrap();
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let packed = sample_batch(0, 500, codec).encode().unwrap();
        assert!(packed.len() < plain.len() / 2, "{codec}: {}", packed.len());
        assert_eq!(
            i16::from_be_bytes([packed[21], packed[22]]) & 7,
            i16::from(codec.id())
        );
    }
}

#[test]
fn crc_mismatch_names_the_base_offset() {
    let mut wire = BytesMut::from(encode_all(&[sample_batch(77, 3, Compression::None)]).as_ref());
    let last = wire.len() - 1;
    wire[last] ^= 0x01;
    let err = decode_record_batches(wire.clone().freeze()).unwrap_err();
    assert!(
        matches!(err, DecodeError::CrcMismatch { base_offset: 77, stored, computed } if stored != computed),
        "{err:?}"
    );
    assert!(err.to_string().contains("77"));
    // The partition leader epoch is not covered by the CRC.
    let mut wire = BytesMut::from(encode_all(&[sample_batch(77, 3, Compression::None)]).as_ref());
    wire[12..16].copy_from_slice(&123i32.to_be_bytes());
    let set = decode_record_batches(wire.clone().freeze()).unwrap();
    assert_eq!(set.batches[0].partition_leader_epoch, 123);
    // And CRC checking can be turned off.
    let last = wire.len() - 1;
    wire[last] ^= 0x01;
    let opts = DecodeOptions {
        verify_crc: false,
        ..DecodeOptions::default()
    };
    assert!(decode_record_batches_with(wire.freeze(), &opts).is_ok());
}

#[test]
fn partial_trailing_batch_is_reported_not_an_error() {
    for codec in [Compression::None, Compression::Zstd] {
        let batches = vec![sample_batch(0, 5, codec), sample_batch(5, 20, codec)];
        let first_len = batches[0].encode().unwrap().len();
        let wire = encode_all(&batches);
        for cut in 0..wire.len() {
            let set = decode_record_batches(wire.slice(..cut)).unwrap();
            let complete = usize::from(cut >= first_len);
            assert_eq!(set.batches.len(), complete, "cut {cut}");
            assert_eq!(set.truncated, cut != 0 && cut != first_len, "cut {cut}");
        }
        let set = decode_record_batches(wire).unwrap();
        assert_eq!((set.batches.len(), set.truncated), (2, false));
    }
}

#[test]
fn every_prefix_of_a_single_batch_fails_to_decode_as_a_batch() {
    let wire = sample_batch(0, 20, Compression::None)
        .encode()
        .unwrap()
        .freeze();
    for cut in 0..wire.len() {
        assert!(RecordBatch::decode(wire.slice(..cut)).is_err(), "cut {cut}");
    }
    assert!(RecordBatch::decode(wire).is_ok());
}

#[test]
fn duplicate_header_keys_keep_their_order() {
    let headers: Vec<RecordHeader> = [("a", "1"), ("b", "2"), ("a", "3"), ("a", "")]
        .iter()
        .map(|(k, v)| RecordHeader {
            key: (*k).to_owned(),
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
        })
        .chain(std::iter::once(RecordHeader {
            key: "a".into(),
            value: None,
        }))
        .collect();
    let record = Record {
        headers: headers.clone(),
        ..rec(0, "x")
    };
    let wire = RecordBatch::new(0, vec![record]).encode().unwrap().freeze();
    let set = decode_record_batches(wire).unwrap();
    let got = &set.batches[0].records[0].headers;
    assert_eq!(got, &headers);
    let a_values: Vec<Option<&[u8]>> = got
        .iter()
        .filter(|h| h.key == "a")
        .map(|h| h.value.as_deref())
        .collect();
    assert_eq!(
        a_values,
        vec![Some(&b"1"[..]), Some(&b"3"[..]), Some(&b""[..]), None]
    );
}

fn within(part: &[u8], whole: &[u8]) -> bool {
    let (p, w) = (part.as_ptr() as usize, whole.as_ptr() as usize);
    p >= w && p + part.len() <= w + whole.len()
}

#[test]
fn uncompressed_values_are_zero_copy_slices_of_the_input() {
    let wire = encode_all(&[sample_batch(0, 50, Compression::None)]);
    let set = decode_record_batches(wire.clone()).unwrap();
    let mut checked = 0;
    for r in set.records() {
        for part in [&r.key, &r.value]
            .into_iter()
            .flatten()
            .chain(r.headers.iter().filter_map(|h| h.value.as_ref()))
            .filter(|b| !b.is_empty())
        {
            assert!(within(part, &wire));
            checked += 1;
        }
    }
    assert!(checked > 50);
}

#[test]
fn compressed_values_share_one_decompressed_buffer() {
    let wire = encode_all(&[sample_batch(0, 50, Compression::Lz4)]);
    let set = decode_record_batches(wire.clone()).unwrap();
    let values: Vec<&Bytes> = set
        .records()
        .filter_map(|r| r.value.as_ref())
        .filter(|v| !v.is_empty())
        .collect();
    let lo = values.iter().map(|v| v.as_ptr() as usize).min().unwrap();
    let hi = values
        .iter()
        .map(|v| v.as_ptr() as usize + v.len())
        .max()
        .unwrap();
    assert!(!within(values[0], &wire));
    // All values lie in one span no larger than the decompressed records section.
    assert!(hi - lo < 50 * 120);
}

#[test]
fn decompression_bombs_are_rejected() {
    // 8 MiB of zeros in one value, compressed to a few KiB.
    let big = Record {
        value: Some(Bytes::from(vec![0u8; 8 << 20])),
        ..rec(0, "")
    };
    let opts = DecodeOptions {
        max_decompressed_size: 1 << 20,
        ..DecodeOptions::default()
    };
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let batch = RecordBatch {
            compression: codec,
            ..RecordBatch::new(0, vec![big.clone()])
        };
        let wire = batch.encode().unwrap().freeze();
        assert!(wire.len() < 1 << 20, "{codec} bomb is {} bytes", wire.len());
        let err = decode_record_batches_with(wire.clone(), &opts).unwrap_err();
        assert!(
            matches!(&err, DecodeError::Decompression { reason, .. } if reason.contains("limit")),
            "{codec}: {err}"
        );
        // Within the (default 64 MiB) limit it decodes.
        assert_eq!(decode_record_batches(wire).unwrap().record_count(), 1);
    }
}

#[test]
fn snappy_block_declaring_a_huge_length_is_rejected_before_allocating() {
    // A raw snappy block whose varint preamble claims 2 GiB of output.
    let mut batch = RecordBatch {
        compression: Compression::Snappy,
        ..RecordBatch::new(0, vec![rec(0, "x")])
    }
    .encode()
    .unwrap();
    batch.truncate(61);
    batch.put_slice(&[0x80, 0x80, 0x80, 0x80, 0x08, 0x00]);
    let len = (batch.len() - 12) as i32;
    batch[8..12].copy_from_slice(&len.to_be_bytes());
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    let err = decode_record_batches(batch.freeze()).unwrap_err();
    assert!(matches!(err, DecodeError::Decompression { .. }), "{err}");
}

/// Rewrites the record count of a single encoded batch and fixes the CRC.
fn with_record_count(batch: &RecordBatch, count: i32) -> Bytes {
    let mut wire = batch.encode().unwrap();
    wire[57..61].copy_from_slice(&count.to_be_bytes());
    let crc = crc32c::crc32c(&wire[21..]);
    wire[17..21].copy_from_slice(&crc.to_be_bytes());
    wire.freeze()
}

#[test]
fn forged_record_counts_are_errors_without_huge_allocations() {
    let batch = sample_batch(0, 3, Compression::None);
    for count in [i32::MAX, 1_000_000, 4, -1] {
        let err = decode_record_batches(with_record_count(&batch, count)).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::InvalidLength { .. } | DecodeError::UnexpectedEof { .. }
            ),
            "{count}: {err}"
        );
    }
    // Fewer records than present leaves trailing bytes.
    let err = decode_record_batches(with_record_count(&batch, 2)).unwrap_err();
    assert!(matches!(err, DecodeError::TrailingBytes { .. }), "{err}");
}

#[test]
fn legacy_message_sets_are_a_typed_error_naming_the_magic() {
    for magic in [0u8, 1] {
        // offset, size 14+, crc, magic, attributes, [timestamp], key -1, value -1
        let mut m = BytesMut::new();
        m.put_i64(3);
        let body_len: i32 = if magic == 0 { 14 } else { 22 };
        m.put_i32(body_len);
        m.put_u32(0);
        m.put_u8(magic);
        m.put_u8(0);
        if magic == 1 {
            m.put_i64(TS);
        }
        m.put_i32(-1);
        m.put_i32(-1);
        let err = decode_record_batches(m.freeze()).unwrap_err();
        match err {
            DecodeError::InvalidValue { what, reason } => {
                assert_eq!(what, "record batch magic");
                assert!(reason.contains(&format!("magic {magic}")), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn control_batches_decode_their_marker() {
    for kind in [ControlRecordType::Abort, ControlRecordType::Commit] {
        let batch = RecordBatch::control_batch(100, TS, 7, 2, kind, 5);
        let set = decode_record_batches(batch.encode().unwrap().freeze()).unwrap();
        let got = &set.batches[0];
        assert!(got.is_control && got.is_transactional);
        assert_eq!(got.control, Some(ControlRecord { version: 0, kind }));
        assert_eq!(got, &batch);
    }
    assert_eq!(ControlRecordType::from_id(4), ControlRecordType::Unknown(4));
    assert!(ControlRecord::parse(Some(&[0, 0, 0])).is_err());
    assert!(ControlRecord::parse(None).is_err());
}

#[test]
fn log_append_time_batches_use_the_max_timestamp() {
    let batch = RecordBatch {
        timestamp_type: TimestampType::LogAppendTime,
        max_timestamp: TS + 999_999,
        ..sample_batch(0, 5, Compression::None)
    };
    let set = decode_record_batches(batch.encode().unwrap().freeze()).unwrap();
    assert!(set.records().all(|r| r.timestamp == TS + 999_999));
    assert_eq!(set.batches[0].timestamp_type, TimestampType::LogAppendTime);
}

#[test]
fn attributes_round_trip() {
    let batch = RecordBatch {
        is_transactional: true,
        has_delete_horizon: true,
        compression: Compression::Gzip,
        ..sample_batch(0, 2, Compression::None)
    };
    assert_eq!(batch.attributes(), 0x51);
    let set = decode_record_batches(batch.encode().unwrap().freeze()).unwrap();
    assert_eq!(set.batches[0], batch);
    assert_eq!(
        set.batches[0].delete_horizon_ms(),
        Some(batch.base_timestamp)
    );
}

#[test]
fn empty_batches_decode_without_records() {
    let batch = RecordBatch {
        last_offset_delta: 9,
        ..RecordBatch::new(30, vec![])
    };
    let set = decode_record_batches(batch.encode().unwrap().freeze()).unwrap();
    assert_eq!(set.batches, vec![batch]);
    assert_eq!(set.next_offset(), Some(40));
}

#[test]
fn the_iterator_yields_batches_before_an_error() {
    let mut wire = BytesMut::from(
        encode_all(&[
            sample_batch(0, 3, Compression::None),
            sample_batch(3, 3, Compression::None),
        ])
        .as_ref(),
    );
    let last = wire.len() - 1;
    wire[last] ^= 0xff;
    let results: Vec<_> = RecordBatches::new(wire.freeze()).collect();
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    assert!(matches!(
        results[1],
        Err(DecodeError::CrcMismatch { base_offset: 3, .. })
    ));
}

#[test]
fn corrupted_bytes_never_panic() {
    // A cheap deterministic fuzz over every codec: flip bytes, fix the CRC, decode.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for codec in Compression::ALL {
        let wire = sample_batch(0, 30, codec).encode().unwrap();
        for _ in 0..300 {
            let mut w = wire.clone();
            for _ in 0..1 + next() % 4 {
                let i = 21 + (next() as usize) % (w.len() - 21);
                w[i] = next() as u8;
            }
            let crc = crc32c::crc32c(&w[21..]);
            w[17..21].copy_from_slice(&crc.to_be_bytes());
            let _ = decode_record_batches(w.freeze());
        }
    }
}

// ---- read_committed ----

fn txn_batch(offset: i64, producer_id: i64, value: &str) -> RecordBatch {
    RecordBatch {
        is_transactional: true,
        producer_id,
        producer_epoch: 0,
        base_sequence: 0,
        ..RecordBatch::new(offset, vec![rec(offset, value)])
    }
}

fn marker(offset: i64, producer_id: i64, kind: ControlRecordType) -> RecordBatch {
    RecordBatch::control_batch(offset, TS, producer_id, 0, kind, 1)
}

fn visible(batches: &[RecordBatch], aborted: &[AbortedTransaction]) -> Vec<String> {
    read_committed_records(batches, aborted)
        .map(|r| String::from_utf8(r.value.as_ref().unwrap().to_vec()).unwrap())
        .collect()
}

/// Runs batches through an encode/decode cycle so control keys are parsed by the decoder.
fn via_wire(batches: Vec<RecordBatch>) -> Vec<RecordBatch> {
    decode_record_batches(encode_all(&batches)).unwrap().batches
}

#[test]
fn read_committed_drops_aborted_transactions_of_interleaved_producers() {
    use ControlRecordType::{Abort, Commit};
    let batches = via_wire(vec![
        txn_batch(0, 1, "p1-aborted-a"),
        txn_batch(1, 2, "p2-committed-a"),
        txn_batch(2, 1, "p1-aborted-b"),
        marker(3, 1, Abort),
        txn_batch(4, 2, "p2-committed-b"),
        RecordBatch::new(5, vec![rec(5, "plain")]),
        txn_batch(6, 1, "p1-committed"),
        txn_batch(7, 2, "p2-aborted"),
        marker(8, 2, Abort),
        marker(9, 1, Commit),
        marker(10, 2, Commit),
    ]);
    // p1's first transaction (from offset 0) and p2's second one (from offset 7) were
    // aborted; committed transactions have no entry.
    let aborted = [
        AbortedTransaction {
            producer_id: 2,
            first_offset: 7,
        },
        AbortedTransaction {
            producer_id: 1,
            first_offset: 0,
        },
    ];
    assert_eq!(
        visible(&batches, &aborted),
        vec!["p2-committed-a", "p2-committed-b", "plain", "p1-committed"]
    );
    // read_uncommitted equivalent: with no aborted transactions only markers are dropped.
    assert_eq!(visible(&batches, &[]).len(), 7);
    // The in-place variant agrees.
    let mut owned = batches.clone();
    retain_read_committed(&mut owned, &aborted);
    assert_eq!(owned.len(), 4);
    assert!(owned.iter().all(|b| !b.is_control));
}

#[test]
fn read_committed_with_an_aborted_transaction_spanning_past_the_fetch() {
    // The abort marker is beyond this response: everything of producer 1 from 10 on is hidden.
    let batches = via_wire(vec![
        RecordBatch::new(8, vec![rec(8, "before")]),
        txn_batch(10, 1, "p1-x"),
        txn_batch(11, 3, "p3-x"),
        txn_batch(12, 1, "p1-y"),
    ]);
    let aborted = [AbortedTransaction {
        producer_id: 1,
        first_offset: 10,
    }];
    assert_eq!(visible(&batches, &aborted), vec!["before", "p3-x"]);
}

#[test]
fn read_committed_keeps_non_transactional_batches_of_an_aborting_producer() {
    // Kafka only drops transactional batches of an aborted producer.
    let mut idempotent = RecordBatch::new(1, vec![rec(1, "idempotent")]);
    idempotent.producer_id = 5;
    let batches = via_wire(vec![txn_batch(0, 5, "txn"), idempotent]);
    let aborted = [AbortedTransaction {
        producer_id: 5,
        first_offset: 0,
    }];
    assert_eq!(visible(&batches, &aborted), vec!["idempotent"]);
}

#[test]
fn read_committed_handles_a_producer_aborting_twice() {
    use ControlRecordType::{Abort, Commit};
    let batches = via_wire(vec![
        txn_batch(0, 1, "a"),
        marker(1, 1, Abort),
        txn_batch(2, 1, "b"),
        marker(3, 1, Commit),
        txn_batch(4, 1, "c"),
        marker(5, 1, Abort),
        txn_batch(6, 1, "d"),
    ]);
    let aborted = [
        AbortedTransaction {
            producer_id: 1,
            first_offset: 4,
        },
        AbortedTransaction {
            producer_id: 1,
            first_offset: 0,
        },
    ];
    assert_eq!(visible(&batches, &aborted), vec!["b", "d"]);
}
