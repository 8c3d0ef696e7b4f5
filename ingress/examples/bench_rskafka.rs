//! Throughput baseline: rskafka's per-partition fetch (used by `scripts/bench-consume.sh`).
//!
//!     cargo run --release -p ingress --example bench_rskafka -- <bootstrap> <topic> <partitions>
//!
//! One `PartitionClient` per partition, all fetching concurrently in a loop from offset 0
//! up to the partition's end offset (read once at start). No group, no commits. Prints one
//! line: `records=N bytes=B secs=S`.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed step should panic

use std::time::Instant;

use rskafka::client::partition::{OffsetAt, UnknownTopicHandling};
use rskafka::client::ClientBuilder;

/// Bytes asked per fetch (like `max.partition.fetch.bytes` of the other clients).
const FETCH_MAX_BYTES: i32 = 1_048_576;
/// How long the broker may hold a fetch that has no data yet.
const FETCH_MAX_WAIT_MS: i32 = 500;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, bootstrap, topic, partitions] = args.as_slice() else {
        eprintln!("usage: bench_rskafka <bootstrap> <topic> <partitions>");
        std::process::exit(2);
    };
    let partitions: i32 = partitions.parse().expect("<partitions> must be a number");
    let start = Instant::now();
    let client = ClientBuilder::new(vec![bootstrap.clone()])
        .client_id("bench-rskafka")
        .build()
        .await
        .expect("connect");
    let mut tasks = Vec::new();
    for p in 0..partitions {
        let pc = client
            .partition_client(topic.clone(), p, UnknownTopicHandling::Error)
            .await
            .expect("partition client");
        tasks.push(tokio::spawn(async move {
            let end = pc.get_offset(OffsetAt::Latest).await.expect("end offset");
            let mut next = pc.get_offset(OffsetAt::Earliest).await.expect("start");
            let (mut records, mut bytes) = (0u64, 0u64);
            while next < end {
                let (batch, _hw) = pc
                    .fetch_records(next, 1..FETCH_MAX_BYTES, FETCH_MAX_WAIT_MS)
                    .await
                    .expect("fetch");
                for r in &batch {
                    next = r.offset + 1;
                    records += 1;
                    bytes += r.record.value.as_ref().map_or(0, |v| v.len() as u64)
                        + r.record.key.as_ref().map_or(0, |k| k.len() as u64);
                }
            }
            (records, bytes)
        }));
    }
    let (mut records, mut bytes) = (0u64, 0u64);
    for t in tasks {
        let (r, b) = t.await.expect("fetch task");
        records += r;
        bytes += b;
    }
    println!(
        "records={records} bytes={bytes} secs={:.3}",
        start.elapsed().as_secs_f64()
    );
}
