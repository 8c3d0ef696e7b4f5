//! The testkit against a real broker: topics, keyed produce with headers, read back in order;
//! the recording handler; and a dead broker failing fast instead of hanging.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

use std::collections::HashMap;
use std::time::{Duration, Instant};

use testkit::{BrokerKind, KafkaCluster, PrivateBroker, RecordingHandler, TestClient, TestRecord};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_keyed_records_with_headers_come_back_in_partition_order() {
    let cluster = KafkaCluster::shared().expect("broker");
    let client = TestClient::connect(cluster.bootstrap())
        .await
        .expect("connect");
    let topic = client
        .create_topic("roundtrip", 4)
        .await
        .expect("create topic");

    let records: Vec<TestRecord> = (0..10_000)
        .map(|i| {
            TestRecord::keyed(&format!("key-{}", i % 97), format!("{{\"n\":{i}}}"))
                .header("seq", i.to_string())
                .header("traceparent", format!("00-{i:032x}-{i:016x}-01"))
        })
        .collect();
    let placed = client
        .produce_keyed(&topic, 4, records.clone(), 500)
        .await
        .expect("produce");

    let mut read = Vec::new();
    for p in 0..4 {
        let part = client.read_all(&topic, p).await.expect("read back");
        // Offsets in a partition are dense and strictly increasing from 0.
        for (i, r) in part.iter().enumerate() {
            assert_eq!(r.offset, i as i64, "partition {p} offsets");
        }
        read.extend(part);
    }
    assert_eq!(read.len(), 10_000, "every record read back");
    let by_place: HashMap<(i32, i64), &testkit::ReadRecord> =
        read.iter().map(|r| ((r.partition, r.offset), r)).collect();
    let mut seq_per_key: HashMap<Vec<u8>, i64> = HashMap::new();
    for (i, (sent, place)) in records.iter().zip(&placed).enumerate() {
        let got = by_place.get(place).expect("record at its produced place");
        assert_eq!(&got.record, sent, "record {i} at {place:?}");
        // Per key, produce order is kept: the seq header grows with the offset.
        let key = sent.key.clone().expect("keyed");
        let prev = seq_per_key.insert(key, place.1);
        assert!(
            prev.is_none_or(|o| o < place.1),
            "record {i} out of order for its key"
        );
    }
    let partitions_used: std::collections::BTreeSet<i32> = placed.iter().map(|p| p.0).collect();
    assert_eq!(
        partitions_used.len(),
        4,
        "97 keys spread over all 4 partitions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_handler_serves_the_manifest_and_injects_faults() {
    let handler = RecordingHandler::start(RecordingHandler::manifest(
        "Counter",
        "VIRTUAL_OBJECT",
        &["add"],
    ))
    .await
    .expect("handler");
    let url = handler.url();
    let discovered = http_request(&url, "GET", "/discover", "").await;
    assert!(
        discovered.0 == 200 && discovered.1.contains("\"VIRTUAL_OBJECT\""),
        "{discovered:?}"
    );

    handler.fail_key("k 1", 503, Some(2));
    handler.delay_key("slow", Duration::from_millis(200));
    let a = http_request(&url, "POST", "/Counter/k%201/add", "{}").await;
    let b = http_request(&url, "POST", "/Counter/k%201/add", "{}").await;
    let c = http_request(&url, "POST", "/Counter/k%201/add", "{}").await;
    assert_eq!(
        (a.0, b.0, c.0),
        (503, 503, 200),
        "fails twice, then succeeds"
    );
    let started = Instant::now();
    let d = http_request(&url, "POST", "/Counter/slow/add", "{\"x\":1}").await;
    assert_eq!(d.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(200), "delayed");

    let reqs = handler.requests();
    assert_eq!(reqs.len(), 4, "discover is not recorded, invocations are");
    assert_eq!(reqs[0].path_key().as_deref(), Some("k 1"));
    assert_eq!(reqs[3].body.as_ref(), b"{\"x\":1}");
    assert_eq!(
        reqs.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![503, 503, 200, 200]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_broker_fails_the_operation_with_a_clear_error_instead_of_hanging() {
    let broker =
        PrivateBroker::start(BrokerKind::from_env().expect("kind")).expect("private broker");
    let client = TestClient::connect(broker.bootstrap())
        .await
        .expect("connect");
    let topic = client.create_topic("doomed", 1).await.expect("create");
    client
        .produce_to(&topic, 0, vec![TestRecord::keyed("a", "1")])
        .await
        .expect("produce while alive");

    broker.kill().expect("kill -9 the broker");
    let started = Instant::now();
    let err = client
        .produce_to(&topic, 0, vec![TestRecord::keyed("a", "2")])
        .await
        .expect_err("produce to a dead broker must fail");
    let elapsed = started.elapsed();
    let msg = err.to_string();
    assert!(
        elapsed < Duration::from_secs(35),
        "failed only after {elapsed:?}: {msg}"
    );
    assert!(
        msg.contains(broker.bootstrap()),
        "error names the broker: {msg}"
    );
    eprintln!("dead broker error after {elapsed:?}: {msg}");
}

/// A minimal HTTP/1.1 request over a raw TCP stream (keeps testkit's own dependencies small).
async fn http_request(base: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect handler");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    (status, out)
}
