//! Throughput benchmark of our consumer (used by `scripts/bench-consume.sh`).
//!
//!     cargo run --release -p ingress --example bench_consume -- <bootstrap> <topic> <records>
//!
//! Joins a fresh group with `auto.offset.reset=earliest`, marks every record done as it
//! arrives (like an engine whose handlers finish at once) and exits when it has seen
//! `<records>` records. Prints one line: `records=N bytes=B secs=S` (time from start to the
//! last record, excluding the process start-up).

#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed step should panic

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ingress::config::ClusterConfig;
use ingress::kafka::consumer::{Consumer, ConsumerEvent};
use ingress::kafka::TcpConnector;
use ingress::options::resolve;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, bootstrap, topic, records] = args.as_slice() else {
        eprintln!("usage: bench_consume <bootstrap> <topic> <records>");
        std::process::exit(2);
    };
    let want: u64 = records.parse().expect("<records> must be a number");
    let group = format!("bench-{}-{}", std::process::id(), rand::random::<u32>());
    let cluster = ClusterConfig {
        name: "bench".into(),
        brokers: vec![bootstrap.clone()],
        options: BTreeMap::new(),
    };
    let opts: BTreeMap<String, String> = BTreeMap::from([
        ("group.id".to_owned(), group.clone()),
        ("auto.offset.reset".to_owned(), "earliest".to_owned()),
    ]);
    let settings = resolve(&cluster, &opts, &group)
        .expect("valid options")
        .settings;

    let start = Instant::now();
    let (consumer, mut events) = Consumer::start(
        &settings,
        vec![topic.clone()],
        Arc::new(TcpConnector {
            connect_timeout: Duration::from_secs(5),
        }),
    );
    let consumer = Arc::new(consumer);
    let mut seen: u64 = 0;
    let mut bytes: u64 = 0;
    let mut first: Option<Instant> = None;
    while seen < want {
        let Some(ev) = events.recv().await else {
            panic!("event channel closed after {seen} records");
        };
        match ev {
            ConsumerEvent::Assigned(_) => {}
            ConsumerEvent::Revoked { done, .. } => {
                let _ = done.send(());
            }
            ConsumerEvent::Records(batch) => {
                if first.is_none() && !batch.records.is_empty() {
                    first = Some(Instant::now());
                }
                seen += batch.records.len() as u64;
                for r in &batch.records {
                    bytes += r.value.as_ref().map_or(0, |v| v.len() as u64)
                        + r.key.as_ref().map_or(0, |k| k.len() as u64);
                }
                consumer.mark_done(&batch.partition, batch.next_offset);
            }
            ConsumerEvent::PartitionFailed { partition, reason } => {
                panic!("{partition:?} failed: {reason}")
            }
            ConsumerEvent::Fatal(e) => panic!("consumer failed: {e}"),
        }
    }
    let elapsed = start.elapsed();
    let to_first = first.map_or(Duration::ZERO, |f| f - start);
    println!(
        "records={seen} bytes={bytes} secs={:.3} first_record_after={:.3}",
        elapsed.as_secs_f64(),
        to_first.as_secs_f64()
    );
    // Leave the group politely; drain events meanwhile so close() can finish.
    let closer = {
        let consumer = consumer.clone();
        tokio::spawn(async move { consumer.close().await })
    };
    let drain = async {
        while let Some(ev) = events.recv().await {
            if let ConsumerEvent::Revoked { done, .. } = ev {
                let _ = done.send(());
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::select! {
            _ = closer => {}
            _ = drain => {}
        }
    })
    .await;
}
