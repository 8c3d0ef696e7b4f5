//! Accounting of a fault run: a steady keyed producer, and every record in the topic checked
//! against what the handler saw (lost, redelivered, with the same idempotency key, per-key
//! order).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::{RecordedRequest, RecordingHandler, TestClient, TestRecord};

/// Records per second the producer writes.
pub const RATE: usize = 2000;
/// The producer writes `RATE / 20` records every 50 ms.
pub const TICK: Duration = Duration::from_millis(50);
/// Distinct record keys (spread over the partitions by Kafka's default partitioner).
pub const KEYS: usize = 48;

/// A background producer at [`RATE`]: keeps going through broker outages (reconnecting), so
/// the accounting reads what actually reached the log, not what it meant to write.
pub struct Producer {
    stop: Arc<AtomicBool>,
    /// When each successful produce was acknowledged.
    acks: Arc<Mutex<Vec<Instant>>>,
    task: tokio::task::JoinHandle<usize>,
}

impl Producer {
    pub fn start(bootstrap: &str, topic: &str, partitions: i32) -> Producer {
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(Mutex::new(Vec::new()));
        let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
        let (stop2, acks2) = (stop.clone(), acks.clone());
        let task = tokio::spawn(async move {
            let per_tick = RATE * TICK.as_millis() as usize / 1000;
            let mut client: Option<TestClient> = None;
            let mut n = 0usize;
            let mut next = tokio::time::Instant::now();
            while !stop2.load(Ordering::Relaxed) {
                next = (next + TICK).max(tokio::time::Instant::now());
                if client.is_none() {
                    client = tokio::time::timeout(
                        Duration::from_secs(1),
                        TestClient::connect(&bootstrap),
                    )
                    .await
                    .ok()
                    .and_then(Result::ok);
                }
                if let Some(c) = &client {
                    let records: Vec<TestRecord> = (n..n + per_tick)
                        .map(|i| {
                            let key = format!("k{}", i % KEYS);
                            TestRecord::keyed(&key, json!({"n": i, "k": key}).to_string())
                        })
                        .collect();
                    let sent = tokio::time::timeout(
                        Duration::from_secs(1),
                        c.produce_keyed(&topic, partitions, records, per_tick),
                    )
                    .await;
                    match sent {
                        Ok(Ok(_)) => {
                            n += per_tick;
                            acks2.lock().unwrap().push(Instant::now());
                        }
                        _ => client = None,
                    }
                }
                tokio::time::sleep_until(next).await;
            }
            n
        });
        Producer { stop, acks, task }
    }

    /// The first acknowledgement after `t`.
    pub fn first_ack_after(&self, t: Instant) -> Option<Instant> {
        self.acks.lock().unwrap().iter().copied().find(|a| *a > t)
    }

    /// Stops producing; returns how many records were acknowledged.
    pub async fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

/// One successful delivery the handler saw.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub idempotency_key: String,
    pub arrived: Instant,
}

pub fn deliveries(reqs: &[RecordedRequest]) -> Vec<Delivery> {
    let mut out: Vec<Delivery> = reqs
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            Delivery {
                partition: r.header("kafka.partition").unwrap().parse().unwrap(),
                offset: r.header("kafka.offset").unwrap().parse().unwrap(),
                key: body["k"].as_str().unwrap().to_owned(),
                idempotency_key: r.header("idempotency-key").unwrap().to_owned(),
                arrived: r.arrived,
            }
        })
        .collect();
    out.sort_by_key(|d| d.arrived);
    out
}

/// The account of a run: every record in the topic against what the handler saw.
#[derive(Debug)]
pub struct Account {
    pub records: usize,
    pub deliveries: usize,
    pub redelivered: usize,
    /// Records delivered with more than one idempotency key.
    pub changed_keys: usize,
    /// First deliveries that overtook an earlier record of the same key.
    pub order_violations: usize,
}

/// Waits until every record of `topic` was delivered at least once (failing with the logs if
/// not within 90 s), then accounts for them. `produced` is what the producer had acknowledged:
/// tansu under-reports a partition's end offset (the last batch's base offset + 1), so the
/// records expected are at least those, and every partition's delivered offsets must be
/// contiguous from 0 up to (at least) its reported end.
pub async fn account(
    client: &TestClient,
    topic: &str,
    partitions: i32,
    produced: usize,
    h: &RecordingHandler,
    logs: &[&Path],
) -> Account {
    let mut ends = Vec::new();
    for p in 0..partitions {
        ends.push(client.end_offset(topic, p).await.unwrap());
    }
    let expected = usize::try_from(ends.iter().sum::<i64>())
        .unwrap()
        .max(produced);
    let deadline = Instant::now() + Duration::from_secs(90);
    let all = loop {
        let all = deliveries(&h.requests());
        let distinct: BTreeSet<(i32, i64)> = all.iter().map(|d| (d.partition, d.offset)).collect();
        if distinct.len() >= expected {
            break all;
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = logs
                .iter()
                .map(|l| std::fs::read_to_string(l).unwrap_or_default())
                .collect();
            panic!(
                "lost records: {} of {expected} delivered\n{}",
                distinct.len(),
                logs.join("\n----\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut per_partition: BTreeMap<i32, BTreeSet<i64>> = BTreeMap::new();
    for d in &all {
        per_partition
            .entry(d.partition)
            .or_default()
            .insert(d.offset);
    }
    for (p, end) in ends.iter().enumerate() {
        let offsets = per_partition.remove(&(p as i32)).unwrap_or_default();
        let max = offsets.last().map_or(-1, |o| *o);
        assert!(
            max + 1 >= *end,
            "partition {p}: offsets up to {end} exist, delivered up to {max}"
        );
        assert_eq!(
            offsets.len() as i64,
            max + 1,
            "partition {p}: an offset below {max} was never delivered"
        );
    }
    assert!(
        per_partition.is_empty(),
        "deliveries from partitions that do not exist"
    );
    let mut keys: BTreeMap<(i32, i64), BTreeSet<&str>> = BTreeMap::new();
    let mut seen: BTreeSet<(i32, i64)> = BTreeSet::new();
    let mut last_per_key: BTreeMap<&str, i64> = BTreeMap::new();
    let mut order_violations = 0;
    for d in &all {
        keys.entry((d.partition, d.offset))
            .or_default()
            .insert(&d.idempotency_key);
        if seen.insert((d.partition, d.offset)) {
            let last = last_per_key.entry(&d.key).or_insert(-1);
            if d.offset < *last {
                order_violations += 1;
            }
            *last = (*last).max(d.offset);
        }
    }
    Account {
        records: keys.len(),
        deliveries: all.len(),
        redelivered: all.len() - keys.len(),
        changed_keys: keys.values().filter(|k| k.len() > 1).count(),
        order_violations,
    }
}
