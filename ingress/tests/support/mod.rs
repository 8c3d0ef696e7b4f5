//! Helpers shared by the engine suites (`engine.rs`, `engine_failures.rs`, the memory
//! suites): a subscription config with test-friendly defaults, handlers, status polling,
//! delivery bookkeeping, this process's memory.

// Each suite is its own crate and uses a different subset.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use ingress::config::ClusterConfig;
use ingress::engine::invocation::HandlerTarget;
use ingress::engine::invoker::HttpVersion;
use ingress::engine::status::SubscriptionStatus;
use ingress::engine::{DispatchMode, SubscriptionConfig, SubscriptionRuntime};
use ingress::options::resolve;
use testkit::{KafkaCluster, RecordedRequest, RecordingHandler};

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

pub fn bootstrap() -> String {
    KafkaCluster::shared()
        .expect("broker")
        .bootstrap()
        .to_owned()
}

/// A `/proc/self/status` memory field of this process in MiB (`VmRSS`, or `VmHWM` for the
/// peak).
pub fn proc_status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    kib / 1024.0
}

/// A JSON value of exactly `size` bytes carrying `i`.
pub fn padded_json(i: usize, size: usize) -> Vec<u8> {
    let mut v = format!(r#"{{"i":{i},"pad":""#).into_bytes();
    v.resize(size - 2, b'x');
    v.extend_from_slice(b"\"}");
    v
}

pub fn unique_id(prefix: &str) -> String {
    format!(
        "sub_{}",
        testkit::client::unique_topic_name(prefix).replace('-', "")
    )
}

/// Which handler the subscription calls.
pub struct Sink<'a> {
    pub handler: &'a RecordingHandler,
    pub service: &'a str,
    pub method: &'a str,
    pub keyed: bool,
    pub mode: DispatchMode,
    pub headers: Vec<(String, String)>,
}

pub fn vo<'a>(handler: &'a RecordingHandler) -> Sink<'a> {
    Sink {
        handler,
        service: "Counter",
        method: "add",
        keyed: true,
        mode: DispatchMode::PerKey,
        headers: Vec::new(),
    }
}

pub fn service<'a>(handler: &'a RecordingHandler) -> Sink<'a> {
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
pub fn config(
    id: &str,
    topic: &str,
    sink: &Sink<'_>,
    extra: &[(&str, &str)],
) -> SubscriptionConfig {
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
    if opts.get("group.protocol").map(String::as_str) == Some("consumer") {
        // KIP-848: the broker owns the session and the heartbeat interval.
        opts.remove("session.timeout.ms");
        opts.remove("heartbeat.interval.ms");
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
        tls: ingress::http_client::HandlerTls::system().expect("system trust store"),
        paused: false,
    }
}

pub async fn handler(service: &str, ty: &str, method: &str) -> RecordingHandler {
    RecordingHandler::start(RecordingHandler::manifest(service, ty, &[method]))
        .await
        .expect("handler")
}

/// Waits until `check` holds on the status, or panics with the last status.
pub async fn wait_status(
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
pub fn delivered(reqs: &[RecordedRequest]) -> BTreeMap<(i32, i64), usize> {
    let mut out = BTreeMap::new();
    for r in reqs.iter().filter(|r| (200..300).contains(&r.status)) {
        *out.entry(partition_offset(r)).or_insert(0) += 1;
    }
    out
}

pub fn partition_offset(r: &RecordedRequest) -> (i32, i64) {
    (
        r.header("kafka.partition").unwrap().parse().unwrap(),
        r.header("kafka.offset").unwrap().parse().unwrap(),
    )
}

/// Checks per-key order: per key, requests by arrival have non-decreasing offsets; a repeat
/// is only of the record before it (a retry of the one in flight), and the next offset
/// starts only after the previous one succeeded.
pub fn assert_per_key_order(reqs: &[RecordedRequest]) {
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

/// A plain connection to the broker at `host:port` (no SASL, no TLS).
pub async fn connect(host: &str, port: u16) -> ingress::kafka::Broker {
    ingress::kafka::Broker::connect(
        &ingress::kafka::TcpConnector {
            connect_timeout: Duration::from_secs(5),
        },
        host,
        port,
        &ingress::kafka::ConnectionSettings {
            client_id: "kafka-ingress-test".into(),
            request_timeout: Duration::from_secs(10),
            max_response_bytes: 100 << 20,
            sasl: None,
        },
    )
    .await
    .expect("connect")
}

/// `None` when the test broker serves KIP-848 members, else why not (for the skip line).
pub async fn kip848_unavailable() -> Option<String> {
    let bootstrap = bootstrap();
    let (host, port) = bootstrap.rsplit_once(':').expect("host:port");
    let broker = connect(host, port.parse().expect("port")).await;
    ingress::kafka::consumer_group::consumer_protocol_unavailable(&broker)
        .await
        .expect("probe")
        .map(|why| {
            format!(
                "{why} ({})",
                std::env::var("KAFKA_BROKER").unwrap_or_else(|_| "kafka".into())
            )
        })
}
