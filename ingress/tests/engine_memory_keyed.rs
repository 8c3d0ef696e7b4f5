//! Bounded memory with a stuck key (SPEC §6: under the default policy a failing record is
//! retried forever and only its key waits; memory stays bounded whatever the backlog): the
//! stuck key's waiting records must cost their own size, not the fetch responses they came
//! in. Alone in its test binary so the process RSS is this test's.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use ingress::config::ClusterConfig;
use ingress::engine::invocation::HandlerTarget;
use ingress::engine::invoker::HttpVersion;
use ingress::engine::{DispatchMode, SubscriptionConfig, SubscriptionRuntime};
use ingress::options::resolve;
use support::{bootstrap, init_tracing, padded_json, proc_status_mib};
use testkit::{TestClient, TestRecord};

/// Records in the one partition: ~200 MB of values.
const RECORDS: usize = 50_000;
const VALUE_SIZE: usize = 4_000;
/// Records per produce request (~0.8 MB, under the broker's default `message.max.bytes`),
/// so a fetch response (<= 1 MiB per partition on Kafka) carries one batch.
const PRODUCE_BATCH: usize = 200;
/// Every `STUCK_EVERY`th record (the first of each batch) has the key the handler rejects:
/// every fetch response contains one.
const STUCK_EVERY: usize = PRODUCE_BATCH;
const STUCK: &str = "stuck";
/// Allowed RSS growth. The stuck key's waiting records are ~250 x 4 KB = 1 MB; add the other
/// keys' records buffered up to the budget (1 000 x 4 KB), a few fetch responses in flight
/// (~1 MiB each on Kafka, ~5 MiB on tansu), ~100 keep-alive connections to the handler (both
/// ends are in this process) and allocator slack: measured ~20 MiB against Kafka, ~45 MiB
/// against tansu. When each waiting record pinned the response it was fetched in, the ~250
/// responses (~200 MB) stayed resident: 260 MiB of growth, and rising with every response.
const RSS_GROWTH_LIMIT_MIB: f64 = 100.0;

/// A JSON value of exactly `VALUE_SIZE` bytes.
fn value(i: usize) -> Vec<u8> {
    padded_json(i, VALUE_SIZE)
}

/// Answers 503 for the stuck key and 200 at once for every other key; only counts the 200s
/// (recording requests would grow this process and blur the measurement).
async fn handler() -> (String, Arc<AtomicUsize>) {
    let delivered = Arc::new(AtomicUsize::new(0));
    let counter = delivered.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let counter = counter.clone();
        async move {
            if req.uri().path() == format!("/Counter/{STUCK}/add") {
                return (StatusCode::SERVICE_UNAVAILABLE, "{}");
            }
            let _ = axum::body::to_bytes(req.into_body(), usize::MAX).await;
            counter.fetch_add(1, Ordering::Relaxed);
            (StatusCode::OK, "{}")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), delivered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_keys_waiting_records_do_not_pin_the_fetch_responses_they_came_in() {
    init_tracing();
    let kafka = TestClient::connect(&bootstrap()).await.unwrap();
    let topic = kafka.create_topic("eng-memory-keyed", 1).await.unwrap();
    let produce_started = Instant::now();
    let mut first_stuck = None;
    for start in (0..RECORDS).step_by(PRODUCE_BATCH) {
        let batch = (start..start + PRODUCE_BATCH)
            .map(|i| {
                let key = if i % STUCK_EVERY == 0 {
                    STUCK.to_owned()
                } else {
                    format!("k{}", i % 97)
                };
                TestRecord {
                    key: Some(key.into_bytes()),
                    value: Some(value(i)),
                    headers: BTreeMap::new(),
                }
            })
            .collect();
        let offsets = kafka.produce_to(&topic, 0, batch).await.unwrap();
        first_stuck.get_or_insert(offsets[0]);
    }
    let first_stuck = first_stuck.unwrap();
    let produce_secs = produce_started.elapsed().as_secs_f64();
    let stuck_records = RECORDS / STUCK_EVERY;
    let others = RECORDS - stuck_records;

    let (url, delivered) = handler().await;
    let cluster = ClusterConfig {
        name: "test".into(),
        brokers: vec![bootstrap()],
        options: BTreeMap::new(),
    };
    let opts: BTreeMap<String, String> = [
        ("auto.offset.reset", "earliest"),
        ("auto.commit.interval.ms", "200"),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
        ("ingress.retry.initial-interval-ms", "10"),
        ("ingress.retry.max-interval-ms", "200"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let id = format!(
        "sub_{}",
        testkit::client::unique_topic_name("memkeyed").replace('-', "")
    );
    let settings = resolve(&cluster, &opts, &id)
        .expect("valid options")
        .settings;
    let rss_before = proc_status_mib("VmRSS");
    let started = Instant::now();
    let rt = SubscriptionRuntime::start(SubscriptionConfig {
        id,
        topic,
        settings,
        target: HandlerTarget {
            base_uri: url,
            service: "Counter".into(),
            handler: "add".into(),
            keyed: true,
            input_content_type: "application/json".into(),
            additional_headers: Vec::new(),
        },
        mode: DispatchMode::PerKey,
        http_version: HttpVersion::Http1,
        tls: ingress::http_client::HandlerTls::system().expect("system trust store"),
        paused: false,
    })
    .unwrap();
    // Every other key's records go through while the stuck key's wait behind its head.
    let mut samples = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while delivered.load(Ordering::Relaxed) < others {
        assert!(
            Instant::now() < deadline,
            "{} of {others} records delivered; status {:#?}",
            delivered.load(Ordering::Relaxed),
            rt.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        samples.push(proc_status_mib("VmRSS"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    // A few more samples with everything but the stuck key done.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        samples.push(proc_status_mib("VmRSS"));
    }
    let status = rt.status();
    let p = &status.partitions[0];
    let peak = samples.iter().copied().fold(rss_before, f64::max);
    let growth = peak - rss_before;
    eprintln!(
        "memory (stuck key): {RECORDS} records x {VALUE_SIZE} B in one partition (produced in \
         {produce_secs:.1}s), {stuck_records} of them of the stuck key; {others} delivered in \
         {elapsed:.1}s; RSS before {rss_before:.1} MiB, peak {peak:.1} MiB (growth \
         {growth:.1} MiB), last {:.1} MiB; buffered {} in flight {} committed {:?}",
        samples.last().copied().unwrap_or(rss_before),
        p.buffered,
        p.in_flight,
        p.committed
    );
    assert_eq!(
        p.buffered,
        stuck_records - 1,
        "the stuck key's records wait behind its head: {p:?}"
    );
    assert_eq!(p.in_flight, 1, "{p:?}");
    assert_eq!(p.stuck.as_ref().map(|s| s.offset), Some(first_stuck));
    assert!(
        growth < RSS_GROWTH_LIMIT_MIB,
        "RSS grew by {growth:.1} MiB (limit {RSS_GROWTH_LIMIT_MIB} MiB) for {} waiting \
         records of {VALUE_SIZE} B: {samples:?}",
        p.buffered
    );
    rt.stop().await;
}
