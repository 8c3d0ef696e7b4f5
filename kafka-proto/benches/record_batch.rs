//! Record batch decode throughput per codec, and CRC-32C cost.

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kafka_proto::record::{decode_record_batches, Compression, Record, RecordBatch, RecordHeader};

const RECORDS_PER_BATCH: i64 = 1000;
const BATCHES: i64 = 4;
const VALUE_SIZE: usize = 100;

/// A fetch `records` blob of `BATCHES` batches of 100-byte, semi-random JSON-ish values.
fn fetch_blob(compression: Compression) -> Bytes {
    let mut out = BytesMut::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for b in 0..BATCHES {
        let base = b * RECORDS_PER_BATCH;
        let records = (base..base + RECORDS_PER_BATCH)
            .map(|o| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let mut v = format!(
                    "{{\"id\":{o},\"user\":\"u{}\",\"amount\":{},\"note\":\"",
                    seed % 10_000,
                    seed % 99_999
                );
                while v.len() < VALUE_SIZE - 2 {
                    v.push(char::from(b'a' + (seed as u8 % 26)));
                    seed = seed.rotate_left(5);
                }
                v.push_str("\"}");
                Record {
                    offset: o,
                    timestamp: 1_700_000_000_000 + o,
                    key: Some(Bytes::from(format!("key-{}", o % 100))),
                    value: Some(Bytes::from(v)),
                    headers: vec![RecordHeader {
                        key: "trace".into(),
                        value: Some(Bytes::from_static(b"abc123")),
                    }],
                }
            })
            .collect();
        let batch = RecordBatch {
            compression,
            ..RecordBatch::new(base, records)
        };
        if let Err(e) = batch.encode_into(&mut out) {
            panic!("encode: {e}");
        }
    }
    out.freeze()
}

fn decode(c: &mut Criterion) {
    let total_records = (RECORDS_PER_BATCH * BATCHES) as u64;
    let uncompressed_len = fetch_blob(Compression::None).len() as u64;
    for codec in Compression::ALL {
        let blob = fetch_blob(codec);
        let mut group = c.benchmark_group(format!("decode/{codec}"));
        group.throughput(Throughput::Elements(total_records));
        group.bench_function(BenchmarkId::new("records", blob.len()), |b| {
            b.iter(|| decode_record_batches(black_box(blob.clone())))
        });
        // Bytes throughput counts the uncompressed (logical) size for every codec.
        group.throughput(Throughput::Bytes(uncompressed_len));
        group.bench_function(BenchmarkId::new("bytes", blob.len()), |b| {
            b.iter(|| decode_record_batches(black_box(blob.clone())))
        });
        group.finish();
    }
}

fn crc(c: &mut Criterion) {
    let data: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut group = c.benchmark_group("crc32c");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("1MiB", |b| b.iter(|| crc32c::crc32c(black_box(&data))));
    group.finish();
}

criterion_group!(benches, decode, crc);
criterion_main!(benches);
