//! Decodes response frames captured from a real Apache Kafka 4.1.1 broker
//! (see `tests/vectors/README.md`).

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

use std::path::PathBuf;

use bytes::Bytes;
use kafka_proto::error_code::ErrorCode;
use kafka_proto::messages::api_versions::ApiVersionsRequest;
use kafka_proto::messages::fetch::{FetchRequest, FetchResponse};
use kafka_proto::messages::metadata::MetadataRequest;
use kafka_proto::record::{decode_record_batches, Compression};
use kafka_proto::{decode_response, ApiKey, Request};

struct Vector {
    name: String,
    api: String,
    version: i16,
    frame: Bytes,
}

fn vectors() -> Vec<Vector> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let index = std::fs::read_to_string(dir.join("INDEX")).expect("INDEX");
    index
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.splitn(4, ' ');
            let name = parts.next().unwrap().to_owned();
            let api = parts.next().unwrap().to_owned();
            let version = parts.next().unwrap().parse().unwrap();
            let frame = Bytes::from(std::fs::read(dir.join(format!("{name}.bin"))).unwrap());
            Vector {
                name,
                api,
                version,
                frame,
            }
        })
        .collect()
}

fn vector(name: &str) -> Vector {
    vectors()
        .into_iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("vector {name}"))
}

fn decode<R: Request>(v: &Vector) -> R::Response {
    let (_header, body) = decode_response::<R>(v.frame.clone(), v.version)
        .unwrap_or_else(|e| panic!("{}: {e}", v.name));
    body
}

#[test]
fn every_captured_frame_decodes_and_every_prefix_fails_cleanly() {
    let all = vectors();
    assert!(all.len() >= 7, "vectors present");
    for v in &all {
        let ok = match v.api.as_str() {
            "ApiVersions" => {
                decode_response::<ApiVersionsRequest>(v.frame.clone(), v.version).is_ok()
            }
            "Metadata" => decode_response::<MetadataRequest>(v.frame.clone(), v.version).is_ok(),
            "Fetch" => decode_response::<FetchRequest>(v.frame.clone(), v.version).is_ok(),
            other => panic!("unknown api {other}"),
        };
        assert!(ok, "{} decodes", v.name);
        for cut in 0..v.frame.len() {
            let prefix = v.frame.slice(..cut);
            let failed = match v.api.as_str() {
                "ApiVersions" => decode_response::<ApiVersionsRequest>(prefix, v.version).is_err(),
                "Metadata" => decode_response::<MetadataRequest>(prefix, v.version).is_err(),
                _ => decode_response::<FetchRequest>(prefix, v.version).is_err(),
            };
            assert!(failed, "{}: {cut}-byte prefix decoded", v.name);
        }
    }
}

#[test]
fn api_versions_lists_every_consumer_api() {
    let v = vector("api_versions");
    let resp = decode::<ApiVersionsRequest>(&v);
    assert_eq!(ErrorCode::from_code(resp.error_code), ErrorCode::None);
    for key in [
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
        ApiKey::SaslHandshake,
        ApiKey::ApiVersions,
        ApiKey::SaslAuthenticate,
        ApiKey::ConsumerGroupHeartbeat,
    ] {
        assert!(
            resp.api_keys.iter().any(|k| k.api_key == key.code()),
            "{} listed",
            key.name()
        );
    }
    assert!(
        !resp.finalized_features.is_empty(),
        "KRaft broker reports finalized features"
    );
}

#[test]
fn metadata_names_the_topic_its_partitions_and_the_broker() {
    let resp = decode::<MetadataRequest>(&vector("metadata"));
    assert_eq!(resp.brokers.len(), 1);
    assert_eq!(resp.brokers[0].host, "127.0.0.1");
    let t = &resp.topics[0];
    assert_eq!(t.name.as_deref(), Some("vectors-plain"));
    assert_ne!(t.topic_id, [0u8; 16], "topic id present");
    assert_eq!(t.partitions.len(), 2);
    assert!(t
        .partitions
        .iter()
        .all(|p| p.leader_id == resp.brokers[0].node_id));
}

fn fetched_records(name: &str) -> (FetchResponse, kafka_proto::record::RecordSet) {
    let v = vector(name);
    let resp = decode::<FetchRequest>(&v);
    assert_eq!(ErrorCode::from_code(resp.error_code), ErrorCode::None);
    let p = &resp.responses[0].partitions[0];
    assert_eq!(
        ErrorCode::from_code(p.error_code),
        ErrorCode::None,
        "{name}"
    );
    let blob = p.records.clone().expect("records");
    // Zero copy: the records blob is a slice of the frame.
    let frame = v.frame.as_ptr() as usize..v.frame.as_ptr() as usize + v.frame.len();
    assert!(
        frame.contains(&(blob.as_ptr() as usize)),
        "{name}: records borrowed from the frame"
    );
    let set = decode_record_batches(blob).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(!set.truncated, "{name}: whole batches");
    (resp, set)
}

#[test]
fn uncompressed_fetch_has_three_batches_with_keys_values_and_headers() {
    let (resp, set) = fetched_records("fetch_plain");
    assert_eq!(resp.responses[0].partitions[0].high_watermark, 15);
    assert_eq!(set.batches.len(), 3);
    let records: Vec<_> = set.records().collect();
    assert_eq!(records.len(), 15);
    for (n, r) in records.iter().enumerate() {
        assert_eq!(r.offset, n as i64);
        assert_eq!(r.key.as_deref(), Some(format!("k{n}").as_bytes()));
        assert_eq!(r.value.as_deref(), Some(format!("value-{n}").as_bytes()));
        let headers: Vec<(&str, &[u8])> = r
            .headers
            .iter()
            .map(|h| (h.key.as_str(), h.value.as_deref().unwrap_or_default()))
            .collect();
        assert_eq!(
            headers,
            vec![
                ("h1", format!("a{}", n % 5).as_bytes()),
                ("h2", b"b".as_slice())
            ]
        );
    }
    assert!(set
        .batches
        .iter()
        .all(|b| b.compression == Compression::None));
}

#[test]
fn java_compressed_batches_decode_for_every_codec() {
    for (codec, compression) in [
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ] {
        let (_, set) = fetched_records(&format!("fetch_{codec}"));
        assert!(
            set.batches.iter().all(|b| b.compression == compression),
            "{codec}: batches are {codec}-compressed"
        );
        let records: Vec<_> = set.records().collect();
        assert_eq!(records.len(), 20, "{codec}");
        for (n, r) in records.iter().enumerate() {
            assert_eq!(r.offset, n as i64, "{codec}");
            assert_eq!(
                r.key.as_deref(),
                Some(format!("k{n}").as_bytes()),
                "{codec}"
            );
            assert_eq!(
                r.value.as_deref(),
                Some(format!("value-{n}-{codec}").as_bytes()),
                "{codec}"
            );
        }
    }
}
