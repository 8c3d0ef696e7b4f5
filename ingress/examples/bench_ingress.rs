//! End-to-end benchmark of the engine (used by `scripts/bench-ingress.sh`): Kafka -> engine ->
//! a no-op HTTP handler, for a service sink or a virtual-object sink.
//!
//!     bench_ingress produce <bootstrap> <topic> <records> <partitions> <keys>
//!     bench_ingress run <bootstrap> <topic> <records> <partitions> <keys> <service|vo|service-h2c|vo-h2c> \
//!         <latency-records> <latency-rate>
//!
//! `produce` creates `<topic>` and fills it with `<records>` JSON values of 100 bytes, keyed
//! `key-<i % keys>` and partitioned like the Java client (murmur2), or without keys
//! (round-robin) when `<keys>` is 0. It runs as its own process so that its memory does not
//! count in `run`'s peak RSS.
//!
//! `run` starts a keep-alive handler (HTTP/1.1, and h2c for the `-h2c` sinks, which the engine
//! then speaks with prior knowledge) in this process that answers 200 at once and
//! only counts (no recording), then a subscription on `<topic>` from the earliest offset.
//! Phase 1 (throughput): the backlog of `<records>` records is drained; the time is measured
//! from the first to the last request the handler receives (group join excluded, reported
//! separately). Phase 2 (latency): with the engine now idle at the head of the topic, this
//! process produces `<latency-records>` more records at `<latency-rate>` records/s (every
//! 10 ms a batch per partition, stamped with the produce time); the handler measures
//! receive time minus the record's `kafka.timestamp` header (ms resolution). Prints one line:
//! `records=N secs=S eps=E join_secs=J latency_records=L p50_ms=.. p90_ms=.. p99_ms=..
//! max_ms=.. peak_rss_mib=.. handled=.. delivered=.. retried=..` (peak RSS = VmHWM of this
//! process: engine + handler + the small latency producer).
//!
//! Environment: `BENCH_OPTIONS=name=value,...` adds subscription options (defaults
//! otherwise); `BENCH_LATENCY_DUMP=<file>` writes the raw latency samples (ms into the phase,
//! latency ms, partition).

#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed step should panic

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::HeaderMap;
use ingress::config::ClusterConfig;
use ingress::engine::invocation::HandlerTarget;
use ingress::engine::invoker::HttpVersion;
use ingress::engine::{DispatchMode, SubscriptionConfig, SubscriptionRuntime};
use ingress::options::resolve;
use kafka_proto::partitioner::default_partition;
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;

const VALUE_SIZE: usize = 100;
const PRODUCE_BATCH: usize = 5_000;
const TICK: Duration = Duration::from_millis(10);

fn usage() -> ! {
    eprintln!(
        "usage: bench_ingress produce <bootstrap> <topic> <records> <partitions> <keys>\n       \
         bench_ingress run <bootstrap> <topic> <records> <partitions> <keys> <service|vo|service-h2c|vo-h2c> \
         <latency-records> <latency-rate>"
    );
    std::process::exit(2)
}

fn num(s: &str, what: &str) -> usize {
    s.parse()
        .unwrap_or_else(|_| panic!("{what} must be a number, got {s:?}"))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("produce") => {
            let [_, _, bootstrap, topic, records, partitions, keys] = args.as_slice() else {
                usage()
            };
            produce_backlog(
                bootstrap,
                topic,
                num(records, "<records>"),
                i32::try_from(num(partitions, "<partitions>")).unwrap(),
                num(keys, "<keys>"),
            )
            .await;
        }
        Some("run") => {
            let [_, _, bootstrap, topic, records, partitions, keys, sink, lat_records, lat_rate] =
                args.as_slice()
            else {
                usage()
            };
            let (keyed, version) = match sink.as_str() {
                "service" => (false, HttpVersion::Http1),
                "vo" => (true, HttpVersion::Http1),
                "service-h2c" => (false, HttpVersion::Http2),
                "vo-h2c" => (true, HttpVersion::Http2),
                _ => usage(),
            };
            run(
                bootstrap,
                topic,
                num(records, "<records>"),
                i32::try_from(num(partitions, "<partitions>")).unwrap(),
                num(keys, "<keys>"),
                keyed,
                version,
                num(lat_records, "<latency-records>"),
                num(lat_rate, "<latency-rate>"),
            )
            .await;
        }
        _ => usage(),
    }
}

/// A JSON value of exactly `VALUE_SIZE` bytes.
fn value(i: usize) -> Vec<u8> {
    let mut v = format!(r#"{{"i":{i},"pad":""#).into_bytes();
    v.resize(VALUE_SIZE - 2, b'x');
    v.extend_from_slice(b"\"}");
    v
}

fn key(i: usize, keys: usize) -> Option<Vec<u8>> {
    (keys > 0).then(|| format!("key-{}", i % keys).into_bytes())
}

/// The partition of record `i`: murmur2 of its key, or round-robin without keys.
fn partition_of(i: usize, keys: usize, partitions: i32) -> i32 {
    match key(i, keys) {
        Some(k) => default_partition(&k, partitions),
        None => i32::try_from(i % partitions as usize).unwrap(),
    }
}

async fn client(bootstrap: &str) -> Client {
    ClientBuilder::new(vec![bootstrap.to_owned()])
        .client_id("bench-ingress")
        .build()
        .await
        .expect("connect")
}

async fn partition_clients(client: &Client, topic: &str, partitions: i32) -> Vec<PartitionClient> {
    let mut out = Vec::new();
    for p in 0..partitions {
        out.push(
            client
                .partition_client(topic, p, UnknownTopicHandling::Retry)
                .await
                .expect("partition client"),
        );
    }
    out
}

async fn produce_backlog(
    bootstrap: &str,
    topic: &str,
    records: usize,
    partitions: i32,
    keys: usize,
) {
    let started = Instant::now();
    let client = client(bootstrap).await;
    client
        .controller_client()
        .expect("controller")
        .create_topic(topic, partitions, 1, 10_000)
        .await
        .expect("create topic");
    let pcs = partition_clients(&client, topic, partitions).await;
    // One task per partition, batches built as they go so memory stays small.
    let mut tasks = tokio::task::JoinSet::new();
    for (p, pc) in pcs.into_iter().enumerate() {
        let p = i32::try_from(p).unwrap();
        tasks.spawn(async move {
            let mine = (0..records).filter(|i| partition_of(*i, keys, partitions) == p);
            let mut batch = Vec::with_capacity(PRODUCE_BATCH);
            let mut produced = 0;
            for i in mine {
                batch.push(Record {
                    key: key(i, keys),
                    value: Some(value(i)),
                    headers: BTreeMap::new(),
                    timestamp: chrono::Utc::now(),
                });
                if batch.len() == PRODUCE_BATCH {
                    produced += batch.len();
                    pc.produce(std::mem::take(&mut batch), Compression::NoCompression)
                        .await
                        .expect("produce");
                }
            }
            if !batch.is_empty() {
                produced += batch.len();
                pc.produce(batch, Compression::NoCompression)
                    .await
                    .expect("produce");
            }
            produced
        });
    }
    let mut total = 0;
    while let Some(n) = tasks.join_next().await {
        total += n.unwrap();
    }
    assert_eq!(total, records);
    println!(
        "produced={total} secs={:.3}",
        started.elapsed().as_secs_f64()
    );
}

/// What the no-op handler tracks.
#[derive(Debug, Default)]
struct Seen {
    count: AtomicUsize,
    /// Microseconds since `epoch` of the first and the latest request.
    first_us: AtomicU64,
    last_us: AtomicU64,
    /// Records stamped at or after this (ms since the Unix epoch) are latency samples.
    latency_from_ms: AtomicU64,
    /// (ms since `latency_from_ms`, latency ms, partition) per latency sample.
    latencies_ms: Mutex<Vec<(f64, f64, u64)>>,
}

struct HandlerState {
    seen: Arc<Seen>,
    epoch: Instant,
}

async fn noop(
    State(state): State<Arc<HandlerState>>,
    headers: HeaderMap,
    _body: axum::body::Bytes,
) -> &'static str {
    let now_us = u64::try_from(state.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
    let seen = &state.seen;
    let from = seen.latency_from_ms.load(Ordering::Acquire);
    if from > 0 {
        let header = |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.parse().ok() };
        if let Some(ts) = header("kafka.timestamp").filter(|ts| *ts >= from) {
            let wall_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
                * 1e3;
            let partition = header("kafka.partition").unwrap_or(0);
            seen.latencies_ms.lock().unwrap().push((
                wall_ms - from as f64,
                wall_ms - ts as f64,
                partition,
            ));
        }
    }
    // Counted last, so that once the count reaches N every sample above is in.
    if seen.count.fetch_add(1, Ordering::AcqRel) == 0 {
        seen.first_us.store(now_us, Ordering::Relaxed);
    }
    seen.last_us.fetch_max(now_us, Ordering::Relaxed);
    "{}"
}

async fn start_handler(seen: Arc<Seen>, epoch: Instant) -> String {
    let app = axum::Router::new()
        .fallback(noop)
        .with_state(Arc::new(HandlerState { seen, epoch }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn wait_count(seen: &Seen, n: usize, timeout: Duration, what: &str) {
    let deadline = Instant::now() + timeout;
    while seen.count.load(Ordering::Acquire) < n {
        assert!(
            Instant::now() < deadline,
            "{what}: {} of {n} requests after {timeout:?}",
            seen.count.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    bootstrap: &str,
    topic: &str,
    records: usize,
    partitions: i32,
    keys: usize,
    keyed: bool,
    version: HttpVersion,
    latency_records: usize,
    latency_rate: usize,
) {
    let epoch = Instant::now();
    let seen = Arc::new(Seen::default());
    let url = start_handler(seen.clone(), epoch).await;
    let id = format!("sub_bench{}x{}", std::process::id(), rand::random::<u32>());
    let cluster = ClusterConfig {
        name: "bench".into(),
        brokers: vec![bootstrap.to_owned()],
        options: BTreeMap::new(),
    };
    let mut opts = BTreeMap::from([("auto.offset.reset".to_owned(), "earliest".to_owned())]);
    // Extra subscription options, `name=value,name=value` (e.g. ingress.max-in-flight=20).
    for pair in std::env::var("BENCH_OPTIONS")
        .unwrap_or_default()
        .split(',')
    {
        if let Some((k, v)) = pair.split_once('=') {
            opts.insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    let settings = resolve(&cluster, &opts, &id)
        .expect("valid options")
        .settings;
    let (service, handler, mode) = if keyed {
        ("Counter", "add", DispatchMode::PerKey)
    } else {
        ("Greeter", "greet", DispatchMode::Parallel)
    };
    let rt = SubscriptionRuntime::start(SubscriptionConfig {
        id,
        topic: topic.to_owned(),
        settings,
        target: HandlerTarget {
            base_uri: url,
            service: service.into(),
            handler: handler.into(),
            keyed,
            input_content_type: "application/json".into(),
            additional_headers: Vec::new(),
        },
        mode,
        http_version: version,
        tls: ingress::http_client::HandlerTls::system().expect("system trust store"),
        paused: false,
    })
    .expect("start");

    // Phase 1: the backlog.
    wait_count(&seen, records, Duration::from_secs(3600), "backlog").await;
    let first = Duration::from_micros(seen.first_us.load(Ordering::Relaxed));
    let last = Duration::from_micros(seen.last_us.load(Ordering::Relaxed));
    let secs = (last - first).as_secs_f64().max(1e-6);

    // Phase 2: records produced at a fixed rate while the engine runs.
    let client = client(bootstrap).await;
    let pcs = Arc::new(partition_clients(&client, topic, partitions).await);
    let start_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    seen.latency_from_ms
        .store(u64::try_from(start_ms).unwrap(), Ordering::Release);
    let per_tick = (latency_rate as f64 * TICK.as_secs_f64()).max(1.0);
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut produced = 0usize;
    let mut due = 0.0f64;
    let mut sends = tokio::task::JoinSet::new();
    while produced < latency_records {
        ticker.tick().await;
        due += per_tick;
        let n = (due as usize).min(latency_records - produced);
        due -= n as f64;
        let now = chrono::Utc::now();
        let mut by_partition: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
        for i in records + produced..records + produced + n {
            by_partition
                .entry(partition_of(i, keys, partitions))
                .or_default()
                .push(Record {
                    key: key(i, keys),
                    value: Some(value(i)),
                    headers: BTreeMap::new(),
                    timestamp: now,
                });
        }
        produced += n;
        for (p, batch) in by_partition {
            let pcs = pcs.clone();
            sends.spawn(async move {
                pcs[usize::try_from(p).unwrap()]
                    .produce(batch, Compression::NoCompression)
                    .await
                    .expect("produce")
            });
        }
        while let Some(done) = sends.try_join_next() {
            done.unwrap();
        }
    }
    while let Some(done) = sends.join_next().await {
        done.unwrap();
    }
    wait_count(
        &seen,
        records + latency_records,
        Duration::from_secs(600),
        "latency phase",
    )
    .await;
    let samples = std::mem::take(&mut *seen.latencies_ms.lock().unwrap());
    if let Ok(path) = std::env::var("BENCH_LATENCY_DUMP") {
        // Raw samples in arrival order (ms into the phase, latency ms, partition).
        let text: String = samples
            .iter()
            .map(|(at, l, p)| format!("{at:.1} {l:.1} {p}\n"))
            .collect();
        std::fs::write(path, text).expect("write the latency dump");
    }
    let mut lat: Vec<f64> = samples.iter().map(|(_, l, _)| *l).collect();
    lat.sort_by(f64::total_cmp);
    let peak = peak_rss_mib();
    let metrics = rt.metrics().snapshot();
    rt.stop().await;
    println!(
        "records={records} secs={secs:.3} eps={:.0} join_secs={:.3} latency_records={} \
         p50_ms={:.1} p90_ms={:.1} p99_ms={:.1} max_ms={:.1} peak_rss_mib={peak:.1} \
         handled={} delivered={} retried={}",
        records as f64 / secs,
        first.as_secs_f64(),
        lat.len(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.90),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0),
        seen.count.load(Ordering::Acquire),
        metrics.delivered,
        metrics.retried,
    );
}
