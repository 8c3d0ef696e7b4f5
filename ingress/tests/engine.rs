//! The ingress engine end to end on a real broker and a real HTTP handler: per-key order
//! under faults, bounded service concurrency, byte-exact requests. Terminal failures (dead
//! letter, stuck status) and crash safety are in `engine_failures.rs`, bounded memory on a
//! large backlog in `engine_memory.rs`.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use base64::Engine;
use ingress::config::ClusterConfig;
use ingress::engine::invocation::HandlerTarget;
use ingress::engine::invoker::HttpVersion;
use ingress::engine::status::{RuntimeState, SubscriptionStatus};
use ingress::engine::{DispatchMode, SubscriptionConfig, SubscriptionRuntime};
use ingress::options::resolve;
use testkit::{Behaviour, KafkaCluster, RecordedRequest, RecordingHandler, TestClient, TestRecord};

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn bootstrap() -> String {
    KafkaCluster::shared()
        .expect("broker")
        .bootstrap()
        .to_owned()
}

fn unique_id(prefix: &str) -> String {
    format!(
        "sub_{}",
        testkit::client::unique_topic_name(prefix).replace('-', "")
    )
}

/// Which handler the subscription calls.
struct Sink<'a> {
    handler: &'a RecordingHandler,
    service: &'a str,
    method: &'a str,
    keyed: bool,
    mode: DispatchMode,
    headers: Vec<(String, String)>,
}

fn vo<'a>(handler: &'a RecordingHandler) -> Sink<'a> {
    Sink {
        handler,
        service: "Counter",
        method: "add",
        keyed: true,
        mode: DispatchMode::PerKey,
        headers: Vec::new(),
    }
}

fn service<'a>(handler: &'a RecordingHandler) -> Sink<'a> {
    Sink {
        handler,
        service: "Greeter",
        method: "greet",
        keyed: false,
        mode: DispatchMode::Parallel,
        headers: Vec::new(),
    }
}

/// A subscription config for `topic` with test-friendly defaults plus `extra` options.
fn config(id: &str, topic: &str, sink: &Sink<'_>, extra: &[(&str, &str)]) -> SubscriptionConfig {
    let cluster = ClusterConfig {
        name: "test".into(),
        brokers: vec![bootstrap()],
        options: BTreeMap::new(),
    };
    let mut opts: BTreeMap<String, String> = [
        ("auto.offset.reset", "earliest"),
        ("auto.commit.interval.ms", "200"),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
        ("fetch.wait.max.ms", "100"),
        ("ingress.retry.initial-interval-ms", "10"),
        ("ingress.retry.max-interval-ms", "200"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        opts.insert((*k).to_owned(), (*v).to_owned());
    }
    let resolved = resolve(&cluster, &opts, id).expect("valid options");
    SubscriptionConfig {
        id: id.to_owned(),
        topic: topic.to_owned(),
        settings: resolved.settings,
        target: HandlerTarget {
            base_uri: sink.handler.url(),
            service: sink.service.to_owned(),
            handler: sink.method.to_owned(),
            keyed: sink.keyed,
            input_content_type: "application/json".into(),
            additional_headers: sink.headers.clone(),
        },
        mode: sink.mode,
        http_version: HttpVersion::Http1,
        paused: false,
    }
}

async fn handler(service: &str, ty: &str, method: &str) -> RecordingHandler {
    RecordingHandler::start(RecordingHandler::manifest(service, ty, &[method]))
        .await
        .expect("handler")
}

/// Waits until `check` holds on the status, or panics with the last status.
async fn wait_status(
    rt: &SubscriptionRuntime,
    timeout: Duration,
    what: &str,
    check: impl Fn(&SubscriptionStatus) -> bool,
) -> SubscriptionStatus {
    let deadline = Instant::now() + timeout;
    loop {
        let s = rt.status();
        if check(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; status: {s:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Successful (2xx) requests, keyed by `kafka.partition`/`kafka.offset`.
fn delivered(reqs: &[RecordedRequest]) -> BTreeMap<(i32, i64), usize> {
    let mut out = BTreeMap::new();
    for r in reqs.iter().filter(|r| (200..300).contains(&r.status)) {
        *out.entry(partition_offset(r)).or_insert(0) += 1;
    }
    out
}

fn partition_offset(r: &RecordedRequest) -> (i32, i64) {
    (
        r.header("kafka.partition").unwrap().parse().unwrap(),
        r.header("kafka.offset").unwrap().parse().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_carry_the_record_byte_for_byte_and_a_tombstone_is_an_empty_body() {
    init_tracing();
    let kafka = TestClient::connect(&bootstrap()).await.unwrap();
    let topic = kafka.create_topic("eng-bytes", 1).await.unwrap();
    let h = handler("Counter", "VIRTUAL_OBJECT", "add").await;
    let value = br#"{"n": 1, "s": "\u00e9 caf\u00e9"}"#.to_vec();
    let offsets = kafka
        .produce_to(
            &topic,
            0,
            vec![
                TestRecord::keyed("user/1 ü", value.clone())
                    .header(
                        "traceparent",
                        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                    )
                    .header("x-custom", "abc")
                    .header("kafka.offset", "forged")
                    .header("bad header name", "dropped"),
                TestRecord {
                    key: Some(b"user/1 \xc3\xbc".to_vec()),
                    value: None,
                    headers: BTreeMap::new(),
                },
            ],
        )
        .await
        .unwrap();
    let id = unique_id("bytes");
    let mut sink = vo(&h);
    sink.headers = vec![("x-deployment".into(), "dep-value".into())];
    let rt = SubscriptionRuntime::start(config(&id, &topic, &sink, &[])).unwrap();
    h.wait_for(2, Duration::from_secs(30)).await.unwrap();
    let mut reqs = h.requests();
    reqs.sort_by_key(|r| r.arrived);
    let first = &reqs[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/Counter/user%2F1%20%C3%BC/add");
    assert_eq!(first.body.as_ref(), value.as_slice(), "body byte for byte");
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(
        first.header("idempotency-key").unwrap(),
        format!("{id}-0-{}", offsets[0])
    );
    assert_eq!(first.header("restate.subscription.id"), Some(id.as_str()));
    assert_eq!(first.header("kafka.topic"), Some(topic.as_str()));
    assert_eq!(first.header("kafka.partition"), Some("0"));
    assert_eq!(
        first.header("kafka.offset").unwrap(),
        offsets[0].to_string()
    );
    let ts: i64 = first.header("kafka.timestamp").unwrap().parse().unwrap();
    assert!((ts - chrono::Utc::now().timestamp_millis()).abs() < 600_000);
    assert_eq!(
        first.header("kafka.key").unwrap(),
        base64::engine::general_purpose::URL_SAFE.encode("user/1 ü")
    );
    assert_eq!(
        first.header("traceparent"),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    );
    assert_eq!(first.header("x-custom"), Some("abc"));
    assert_eq!(first.header("x-deployment"), Some("dep-value"));
    assert!(first.headers.get("bad header name").is_none());
    let tomb = &reqs[1];
    assert_eq!(tomb.path, "/Counter/user%2F1%20%C3%BC/add");
    assert!(tomb.body.is_empty(), "a tombstone is an empty body");
    assert_eq!(tomb.header("kafka.offset").unwrap(), offsets[1].to_string());
    // Everything is committed: the watermark reaches the end of the partition.
    wait_status(&rt, Duration::from_secs(20), "commit", |s| {
        s.partitions.first().and_then(|p| p.committed) == Some(offsets[1] + 1)
    })
    .await;
    rt.stop().await;
    assert_eq!(rt.status().state, RuntimeState::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_run_in_parallel_up_to_max_in_flight() {
    init_tracing();
    let kafka = TestClient::connect(&bootstrap()).await.unwrap();
    let topic = kafka.create_topic("eng-svc", 1).await.unwrap();
    let h = handler("Greeter", "SERVICE", "greet").await;
    h.set_default(Behaviour {
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(10),
        ..Behaviour::default()
    });
    let records = (0..600)
        .map(|i| TestRecord::keyed("same-key", format!("{i}")))
        .collect();
    kafka.produce_to(&topic, 0, records).await.unwrap();
    let id = unique_id("svc");
    let rt = SubscriptionRuntime::start(config(
        &id,
        &topic,
        &service(&h),
        &[("ingress.max-in-flight", "8")],
    ))
    .unwrap();
    h.wait_for(600, Duration::from_secs(60)).await.unwrap();
    let max = h.max_concurrency();
    assert!(max > 1, "services run in parallel (observed {max})");
    assert!(max <= 8, "at most ingress.max-in-flight=8 (observed {max})");
    assert_eq!(delivered(&h.requests()).len(), 600);
    rt.stop().await;
}

/// Checks per-key order: per key, requests by arrival have non-decreasing offsets; a repeat
/// is only of the record before it (a retry of the one in flight), and the next offset
/// starts only after the previous one succeeded.
fn assert_per_key_order(reqs: &[RecordedRequest]) {
    let mut by_key: HashMap<String, Vec<&RecordedRequest>> = HashMap::new();
    for r in reqs {
        by_key
            .entry(r.path_key().expect("keyed path"))
            .or_default()
            .push(r);
    }
    for (key, mut list) in by_key {
        list.sort_by_key(|r| r.arrived);
        for pair in list.windows(2) {
            let (a, b) = (partition_offset(pair[0]), partition_offset(pair[1]));
            assert_eq!(a.0, b.0, "key {key} stays in one partition");
            if a.1 == b.1 {
                assert!(
                    !(200..300).contains(&pair[0].status),
                    "key {key}: offset {} redelivered after it succeeded",
                    a.1
                );
            } else {
                assert!(b.1 > a.1, "key {key}: offset {} after {}", b.1, a.1);
                assert!(
                    (200..300).contains(&pair[0].status),
                    "key {key}: offset {} started before {} succeeded",
                    b.1,
                    a.1
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_order_holds_under_latency_and_injected_503s() {
    init_tracing();
    const RECORDS: usize = 200_000;
    const KEYS: usize = 1_000;
    const PARTITIONS: i32 = 8;
    let kafka = TestClient::connect(&bootstrap()).await.unwrap();
    let topic = kafka.create_topic("eng-order", PARTITIONS).await.unwrap();
    let h = handler("Counter", "VIRTUAL_OBJECT", "add").await;
    h.set_default(Behaviour {
        delay: Duration::ZERO,
        jitter: Duration::from_millis(20),
        fault_probability: 0.10,
        fault_status: 503,
    });
    let records: Vec<TestRecord> = (0..RECORDS)
        .map(|i| TestRecord::keyed(&format!("key-{}", i % KEYS), format!("{i}")))
        .collect();
    let placed = kafka
        .produce_keyed(&topic, PARTITIONS, records, 5_000)
        .await
        .unwrap();
    let id = unique_id("order");
    let started = Instant::now();
    let rt = SubscriptionRuntime::start(config(&id, &topic, &vo(&h), &[])).unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        // Cheap count first: copying every recorded request is not.
        if h.count() >= RECORDS && delivered(&h.requests()).len() >= RECORDS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} requests for {RECORDS} records; status {:#?}",
            h.count(),
            rt.status()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let elapsed = started.elapsed();
    let reqs = h.requests();
    let done = delivered(&reqs);
    for (p, o) in &placed {
        assert!(done.contains_key(&(*p, *o)), "record {p}/{o} missing");
    }
    assert_per_key_order(&reqs);
    let failures = reqs.iter().filter(|r| r.status == 503).count();
    let max = h.max_concurrency();
    assert!(max > 1, "keys run in parallel (observed {max})");
    eprintln!(
        "ordering: {RECORDS} records, {KEYS} keys, {} requests ({failures} injected 503s) in \
         {elapsed:?}; max concurrency {max}",
        reqs.len()
    );
    let metrics = rt.metrics().snapshot();
    assert_eq!(metrics.delivered as usize, reqs.len() - failures);
    assert_eq!(metrics.retried as usize, failures);
    rt.stop().await;
}
