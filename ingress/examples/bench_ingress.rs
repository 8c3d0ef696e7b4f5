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
//!     bench_ingress handler
//!     bench_ingress run-process <kafka-ingress binary> <bootstrap> <topic> <records> <partitions> \
//!         <keys> <service|vo|service-h2c|vo-h2c> <latency-records> <latency-rate>
//!
//! `run-process` is `run` with the ingress and the handler each in its own process: the real
//! `kafka-ingress` binary (admin API on a free port, its own base dir, a deployment with an
//! inline manifest and a subscription created over HTTP, as a user would) and `handler` (this
//! example: the same no-op handler alone, printing its URL; `GET /__bench/stats` and
//! `POST /__bench/latency-from/<ms>` are its control routes). Its line adds the ingress
//! process's CPU time per backlog event (`cpu_us_per_event`: utime + stime from
//! /proc/<pid>/stat, from just before the subscription is created until the handler has the
//! whole backlog), the handler's (`handler_cpu_us_per_event`), and `peak_rss_mib` is the
//! VmHWM of the ingress process alone. `run` reports `cpu_us_per_event` of its one process
//! (engine + handler).
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
         <latency-records> <latency-rate>\n       \
         bench_ingress handler\n       \
         bench_ingress run-process <kafka-ingress binary> <the arguments of run>"
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
        Some("run") => run(&RunArgs::parse(&args[2..])).await,
        Some("handler") => serve_handler().await,
        Some("run-process") => {
            let Some(binary) = args.get(2) else { usage() };
            run_process(binary, &RunArgs::parse(&args[3..])).await;
        }
        _ => usage(),
    }
}

/// The arguments `run` and `run-process` share: `<bootstrap> <topic> <records> <partitions>
/// <keys> <service|vo|service-h2c|vo-h2c> <latency-records> <latency-rate>`.
struct RunArgs {
    bootstrap: String,
    topic: String,
    records: usize,
    partitions: i32,
    keys: usize,
    keyed: bool,
    version: HttpVersion,
    latency_records: usize,
    latency_rate: usize,
}

impl RunArgs {
    fn parse(args: &[String]) -> RunArgs {
        let [bootstrap, topic, records, partitions, keys, sink, lat_records, lat_rate] = args
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
        RunArgs {
            bootstrap: bootstrap.clone(),
            topic: topic.clone(),
            records: num(records, "<records>"),
            partitions: i32::try_from(num(partitions, "<partitions>")).unwrap(),
            keys: num(keys, "<keys>"),
            keyed,
            version,
            latency_records: num(lat_records, "<latency-records>"),
            latency_rate: num(lat_rate, "<latency-rate>"),
        }
    }
}

/// Extra subscription options from `BENCH_OPTIONS=name=value,name=value` (e.g.
/// `ingress.max-in-flight=20`), on top of `auto.offset.reset=earliest`.
fn bench_options() -> BTreeMap<String, String> {
    let mut opts = BTreeMap::from([("auto.offset.reset".to_owned(), "earliest".to_owned())]);
    for pair in std::env::var("BENCH_OPTIONS")
        .unwrap_or_default()
        .split(',')
    {
        if let Some((k, v)) = pair.split_once('=') {
            opts.insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    opts
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

async fn run(args: &RunArgs) {
    let &RunArgs {
        ref bootstrap,
        ref topic,
        records,
        partitions,
        keys,
        keyed,
        version,
        latency_records,
        latency_rate,
    } = args;
    let epoch = Instant::now();
    let seen = Arc::new(Seen::default());
    let url = start_handler(seen.clone(), epoch).await;
    let id = format!("sub_bench{}x{}", std::process::id(), rand::random::<u32>());
    let cluster = ClusterConfig {
        name: "bench".into(),
        brokers: vec![bootstrap.to_owned()],
        options: BTreeMap::new(),
    };
    let settings = resolve(&cluster, &bench_options(), &id)
        .expect("valid options")
        .settings;
    let (service, handler, mode) = if keyed {
        ("Counter", "add", DispatchMode::PerKey)
    } else {
        ("Greeter", "greet", DispatchMode::Parallel)
    };
    let cpu0 = cpu_secs("self");
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
    let cpu = cpu_secs("self") - cpu0;
    let first = Duration::from_micros(seen.first_us.load(Ordering::Relaxed));
    let last = Duration::from_micros(seen.last_us.load(Ordering::Relaxed));
    let secs = (last - first).as_secs_f64().max(1e-6);

    // Phase 2: records produced at a fixed rate while the engine runs.
    seen.latency_from_ms.store(now_ms(), Ordering::Release);
    produce_at_rate(
        bootstrap,
        topic,
        records,
        partitions,
        keys,
        latency_records,
        latency_rate,
    )
    .await;
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
    let peak = peak_rss_of("self");
    let metrics = rt.metrics().snapshot();
    rt.stop().await;
    println!(
        "records={records} secs={secs:.3} eps={:.0} join_secs={:.3} latency_records={} \
         p50_ms={:.1} p90_ms={:.1} p99_ms={:.1} max_ms={:.1} peak_rss_mib={peak:.1} \
         cpu_us_per_event={:.1} handled={} delivered={} retried={}",
        records as f64 / secs,
        first.as_secs_f64(),
        lat.len(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.90),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0),
        cpu * 1e6 / records as f64,
        seen.count.load(Ordering::Acquire),
        metrics.delivered,
        metrics.retried,
    );
}

fn now_ms() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    u64::try_from(ms).unwrap()
}

/// Produces records `first..first + latency_records` at `latency_rate` records/s (a batch
/// per partition every `TICK`, stamped with the produce time).
async fn produce_at_rate(
    bootstrap: &str,
    topic: &str,
    first: usize,
    partitions: i32,
    keys: usize,
    latency_records: usize,
    latency_rate: usize,
) {
    let records = first;
    let client = client(bootstrap).await;
    let pcs = Arc::new(partition_clients(&client, topic, partitions).await);
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
}

/// CPU time (user + system) of process `pid` ("self" for this one), from /proc/<pid>/stat.
fn cpu_secs(pid: &str) -> f64 {
    let (user, sys) = cpu_split(pid);
    user + sys
}

/// (user, system) CPU seconds of a process.
fn cpu_split(pid: &str) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; USER_HZ is
    // 100 on Linux.
    (ticks(11) / 100.0, ticks(12) / 100.0)
}

/// VmHWM of process `pid`, MiB.
fn peak_rss_of(pid: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// The no-op handler alone (for `run-process`): prints its URL, serves until killed.
async fn serve_handler() {
    let epoch = Instant::now();
    let seen = Arc::new(Seen::default());
    let state = Arc::new(HandlerState {
        seen: seen.clone(),
        epoch,
    });
    let stats = {
        let seen = seen.clone();
        move || {
            let seen = seen.clone();
            async move {
                format!(
                    "{} {} {}",
                    seen.count.load(Ordering::Acquire),
                    seen.first_us.load(Ordering::Relaxed),
                    seen.last_us.load(Ordering::Relaxed)
                )
            }
        }
    };
    let latency_from = {
        let seen = seen.clone();
        move |axum::extract::Path(ms): axum::extract::Path<u64>| {
            let seen = seen.clone();
            async move {
                seen.latency_from_ms.store(ms, Ordering::Release);
                "ok"
            }
        }
    };
    let latencies = {
        let seen = seen.clone();
        move || {
            let seen = seen.clone();
            async move {
                let mut lat: Vec<f64> = seen
                    .latencies_ms
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|(_, l, _)| *l)
                    .collect();
                lat.sort_by(f64::total_cmp);
                format!(
                    "{} {:.1} {:.1} {:.1} {:.1}",
                    lat.len(),
                    percentile(&lat, 0.50),
                    percentile(&lat, 0.90),
                    percentile(&lat, 0.99),
                    percentile(&lat, 1.0)
                )
            }
        }
    };
    let app = axum::Router::new()
        .route("/__bench/stats", axum::routing::get(stats))
        .route("/__bench/latencies", axum::routing::get(latencies))
        .route(
            "/__bench/latency-from/{ms}",
            axum::routing::post(latency_from),
        )
        .fallback(noop)
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    println!("http://{addr}");
    use std::io::Write as _;
    std::io::stdout().flush().unwrap();
    axum::serve(listener, app).await.unwrap();
}

/// One HTTP/1.1 call with a JSON (or empty) body: (status, body).
async fn http(method: &str, url: &str, body: Option<serde_json::Value>) -> (u16, String) {
    use http_body_util::{BodyExt, Full};
    let client: hyper_util::client::legacy::Client<_, Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let mut req = http::Request::builder().method(method).uri(url);
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            Full::new(bytes::Bytes::from(v.to_string()))
        }
        None => Full::new(bytes::Bytes::new()),
    };
    match client.request(req.body(body).unwrap()).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
        Err(e) => (0, e.to_string()),
    }
}

/// A child process killed on drop.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn handler_stats(url: &str) -> (usize, u64, u64) {
    let (_, text) = http("GET", &format!("{url}/__bench/stats"), None).await;
    let v: Vec<u64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(v.len(), 3, "handler stats: {text}");
    (usize::try_from(v[0]).unwrap(), v[1], v[2])
}

async fn wait_handled(url: &str, n: usize, timeout: Duration, what: &str, log: &std::path::Path) {
    let deadline = Instant::now() + timeout;
    loop {
        let (count, _, _) = handler_stats(url).await;
        if count >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {count} of {n} requests after {timeout:?}; ingress log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn run_process(binary: &str, args: &RunArgs) {
    let &RunArgs {
        ref bootstrap,
        ref topic,
        records,
        partitions,
        keys,
        keyed,
        version,
        latency_records,
        latency_rate,
    } = args;
    use std::process::{Command, Stdio};
    let me = std::env::current_exe().unwrap();
    let mut handler = Command::new(me)
        .arg("handler")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    {
        use std::io::BufRead as _;
        let out = handler.stdout.take().unwrap();
        std::io::BufReader::new(out).read_line(&mut line).unwrap();
    }
    let handler = ChildGuard(handler);
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://"), "handler printed {line:?}");

    let dir = std::env::temp_dir().join(format!("bench-ingress-proc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("restate.toml");
    std::fs::write(
        &config,
        format!("[[ingress.kafka-clusters]]\nname = \"bench\"\nbrokers = [\"PLAINTEXT://{bootstrap}\"]\n"),
    )
    .unwrap();
    let admin_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.join("ingress.log");
    // BENCH_CALLGRIND=1: run the ingress under callgrind, collecting only over the backlog,
    // for an instruction count per event (stable on a noisy machine, unlike CPU time; this
    // VM has no hardware counters for perf). Events/s and latency are then meaningless.
    let callgrind = std::env::var("BENCH_CALLGRIND").is_ok_and(|v| v == "1");
    let callgrind_out = dir.join("callgrind.out");
    let mut command = if callgrind {
        let mut c = Command::new("valgrind");
        c.arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", callgrind_out.display()))
            .arg(binary)
            // The allocator settings the binary would re-exec itself for, set up front.
            .env("MIMALLOC_PURGE_DELAY", "0")
            .env("MIMALLOC_ARENA_EAGER_COMMIT", "0")
            .env("KAFKA_INGRESS_ALLOCATOR_TUNED", "1");
        c
    } else {
        Command::new(binary)
    };
    let ingress = command
        .arg("--config-file")
        .arg(&config)
        .arg("--base-dir")
        .arg(dir.join("data"))
        .arg("--admin-bind")
        .arg(format!("127.0.0.1:{admin_port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = ingress.id().to_string();
    let mut ingress = ChildGuard(ingress);
    let admin = format!("http://127.0.0.1:{admin_port}");
    let deadline = Instant::now() + Duration::from_secs(if callgrind { 300 } else { 30 });
    while http("GET", &format!("{admin}/health"), None).await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "kafka-ingress not healthy:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (service, handler_name, ty) = if keyed {
        ("Counter", "add", "VIRTUAL_OBJECT")
    } else {
        ("Greeter", "greet", "SERVICE")
    };
    let (status, body) = http(
        "POST",
        &format!("{admin}/deployments"),
        Some(serde_json::json!({
            "uri": url,
            "use_http_11": version == HttpVersion::Http1,
            "services": [{"name": service, "ty": ty, "handlers": [{"name": handler_name}]}],
        })),
    )
    .await;
    assert_eq!(status, 201, "register: {body}");
    let options = bench_options();
    let handler_pid = handler.0.id().to_string();
    let (cpu0, handler_cpu0) = (cpu_secs(&pid), cpu_secs(&handler_pid));
    let sys0 = cpu_split(&pid).1;
    let subscribed = Instant::now();
    let (status, body) = http(
        "POST",
        &format!("{admin}/subscriptions"),
        Some(serde_json::json!({
            "source": format!("kafka://bench/{topic}"),
            "sink": format!("service://{service}/{handler_name}"),
            "options": options,
        })),
    )
    .await;
    assert_eq!(status, 201, "subscribe: {body}");

    // Phase 1: the backlog (the group join: until the first request, 10 ms resolution).
    wait_handled(&url, 1, Duration::from_secs(120), "first request", &log).await;
    let join_secs = subscribed.elapsed().as_secs_f64();
    wait_handled(&url, records, Duration::from_secs(3600), "backlog", &log).await;
    let (cpu1, handler_cpu1) = (cpu_secs(&pid), cpu_secs(&handler_pid));
    let sys1 = cpu_split(&pid).1;
    let (_, first_us, last_us) = handler_stats(&url).await;
    if let Some(id) = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned))
    {
        let (_, status) = http("GET", &format!("{admin}/subscriptions/{id}/status"), None).await;
        let limits: Vec<String> = serde_json::from_str::<serde_json::Value>(&status)
            .ok()
            .and_then(|v| {
                v["partitions"].as_array().map(|ps| {
                    ps.iter()
                        .map(|p| p["in_flight_limit"].to_string())
                        .collect()
                })
            })
            .unwrap_or_default();
        eprintln!(
            "in-flight limits at the end of the backlog: {}",
            limits.join(" ")
        );
    }
    let secs = (Duration::from_micros(last_us) - Duration::from_micros(first_us))
        .as_secs_f64()
        .max(1e-6);

    // Phase 2: latency.
    let (status, body) = http(
        "POST",
        &format!("{url}/__bench/latency-from/{}", now_ms()),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    produce_at_rate(
        bootstrap,
        topic,
        records,
        partitions,
        keys,
        latency_records,
        latency_rate,
    )
    .await;
    wait_handled(
        &url,
        records + latency_records,
        Duration::from_secs(600),
        "latency phase",
        &log,
    )
    .await;
    let (_, lat) = http("GET", &format!("{url}/__bench/latencies"), None).await;
    let lat: Vec<&str> = lat.split_whitespace().collect();
    assert_eq!(lat.len(), 5, "latencies: {lat:?}");
    let peak = peak_rss_of(&pid);
    let (handled, _, _) = handler_stats(&url).await;
    let (_, metrics) = http("GET", &format!("{admin}/metrics"), None).await;
    let metric = |name: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    };
    println!(
        "records={records} secs={secs:.3} eps={:.0} join_secs={join_secs:.3} latency_records={} \
         p50_ms={} p90_ms={} p99_ms={} max_ms={} peak_rss_mib={peak:.1} \
         cpu_us_per_event={:.1} sys_us_per_event={:.1} handler_cpu_us_per_event={:.1} \
         handled={handled} delivered={} \
         retried={}",
        records as f64 / secs,
        lat[0],
        lat[1],
        lat[2],
        lat[3],
        lat[4],
        (cpu1 - cpu0) * 1e6 / records as f64,
        (sys1 - sys0) * 1e6 / records as f64,
        (handler_cpu1 - handler_cpu0) * 1e6 / records as f64,
        metric("kafka_ingress_records_delivered_total"),
        metric("kafka_ingress_retries_total"),
    );
    if callgrind {
        // A graceful stop, so callgrind writes its profile: the process's instructions from
        // start to stop (the script subtracts two runs of different sizes).
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let _ = ingress.0.wait();
        let text = std::fs::read_to_string(&callgrind_out).unwrap_or_default();
        let total = text
            .lines()
            .find_map(|l| l.strip_prefix("summary: "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        println!("instructions_total={total}");
        eprintln!(
            "callgrind profile: {} (callgrind_annotate)",
            callgrind_out.display()
        );
    }
    drop(ingress);
    drop(handler);
    if !callgrind {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
