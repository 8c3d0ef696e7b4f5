//! Interop and robustness of the consumer against the real Apache Kafka broker:
//! - librdkafka (Python confluent-kafka) and our consumer in one group, with `range` and
//!   `cooperative-sticky`, own each partition exactly once;
//! - Kafka's Java console consumer and ours in one `RangeAssignor` group read every record
//!   exactly once between them;
//! - a member that dies without LeaveGroup (a SIGKILLed librdkafka process, a dropped
//!   `Consumer`) is rebalanced away after `session.timeout.ms`, not before;
//! - transactions written by librdkafka: read_committed delivers only committed records, in
//!   order, read_uncommitted all data records, never control records, and the committed
//!   offset moves past the transaction markers to the partition end.
//!
//! Under `KAFKA_BROKER=tansu` these tests start a private Apache Kafka broker: they are about
//! other clients, not about broker compatibility.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use ingress::config::ClusterConfig;
use ingress::kafka::assignor::TopicPartition;
use ingress::kafka::consumer::{Consumer, ConsumerEvent};
use ingress::kafka::TcpConnector;
use ingress::options::{resolve, ConsumerSettings};
use testkit::interop::produce_transactions;
use testkit::{
    BrokerKind, JavaConsoleConsumer, KafkaCluster, PrivateBroker, RdkafkaMember, TestClient,
    TestRecord,
};
use tokio::sync::mpsc;

/// The Apache Kafka broker these tests use: the shared one, or under `KAFKA_BROKER=tansu` a
/// private Apache Kafka (stopped by its watchdog when this test process exits).
fn bootstrap() -> String {
    static PRIVATE: OnceLock<PrivateBroker> = OnceLock::new();
    match BrokerKind::from_env().expect("KAFKA_BROKER") {
        BrokerKind::Kafka => KafkaCluster::shared()
            .expect("broker")
            .bootstrap()
            .to_owned(),
        BrokerKind::Tansu => PRIVATE
            .get_or_init(|| PrivateBroker::start(BrokerKind::Kafka).expect("private Apache Kafka"))
            .bootstrap()
            .to_owned(),
    }
}

fn settings(bootstrap: &str, group: &str, extra: &[(&str, &str)]) -> ConsumerSettings {
    let cluster = ClusterConfig {
        name: "test".into(),
        brokers: vec![bootstrap.to_owned()],
        options: BTreeMap::new(),
    };
    let mut opts: BTreeMap<String, String> = BTreeMap::from([
        ("group.id".to_owned(), group.to_owned()),
        ("auto.offset.reset".to_owned(), "earliest".to_owned()),
        ("auto.commit.interval.ms".to_owned(), "200".to_owned()),
        ("session.timeout.ms".to_owned(), "6000".to_owned()),
        ("heartbeat.interval.ms".to_owned(), "500".to_owned()),
        ("fetch.wait.max.ms".to_owned(), "100".to_owned()),
    ]);
    for (k, v) in extra {
        opts.insert((*k).to_owned(), (*v).to_owned());
    }
    resolve(&cluster, &opts, group)
        .expect("valid options")
        .settings
}

fn start(settings: &ConsumerSettings, topic: &str) -> (Arc<Consumer>, Arc<Mutex<Seen>>) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let (consumer, events) = Consumer::start(
        settings,
        vec![topic.to_owned()],
        Arc::new(TcpConnector {
            connect_timeout: Duration::from_secs(5),
        }),
    );
    let consumer = Arc::new(consumer);
    let seen = drive(Arc::downgrade(&consumer), events);
    (consumer, seen)
}

/// What one of our consumers saw, shared with the test body.
#[derive(Debug, Default)]
struct Seen {
    owned: BTreeSet<TopicPartition>,
    /// Start offsets of the latest assignment of each partition.
    starts: HashMap<i32, i64>,
    /// (offset, value) per partition, in delivery order.
    values: HashMap<i32, Vec<(i64, String)>>,
    /// The fetch position after the latest batch, per partition.
    next: HashMap<i32, i64>,
}

impl Seen {
    fn partitions(&self) -> BTreeSet<i32> {
        self.owned.iter().map(|tp| tp.partition).collect()
    }

    fn count(&self) -> usize {
        self.values.values().map(Vec::len).sum()
    }
}

/// Drives a consumer's events like a trivial engine: every record is done at once. Holds
/// the consumer weakly, so dropping the test's `Arc` drops the consumer (a hard stop).
fn drive(consumer: Weak<Consumer>, mut events: mpsc::Receiver<ConsumerEvent>) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let out = seen.clone();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            match ev {
                ConsumerEvent::Assigned(parts) => {
                    let mut s = seen.lock().unwrap();
                    for (tp, start) in parts {
                        s.starts.insert(tp.partition, start);
                        assert!(s.owned.insert(tp), "assigned twice");
                    }
                }
                ConsumerEvent::Revoked { partitions, done } => {
                    let mut s = seen.lock().unwrap();
                    for tp in &partitions {
                        s.owned.remove(tp);
                    }
                    let _ = done.send(());
                }
                ConsumerEvent::Records(batch) => {
                    {
                        let mut s = seen.lock().unwrap();
                        assert!(
                            s.owned.contains(&batch.partition),
                            "records of a partition we own"
                        );
                        let vals = s.values.entry(batch.partition.partition).or_default();
                        for r in &batch.records {
                            let v = r.value.clone().map(|v| v.to_vec()).unwrap_or_default();
                            vals.push((r.offset, String::from_utf8(v).unwrap()));
                        }
                        s.next.insert(batch.partition.partition, batch.next_offset);
                    }
                    if let Some(c) = consumer.upgrade() {
                        c.mark_done(&batch.partition, batch.next_offset);
                    }
                }
                ConsumerEvent::PartitionFailed { partition, reason } => {
                    panic!("{partition:?} failed: {reason}")
                }
                ConsumerEvent::Fatal(e) => panic!("consumer failed: {e}"),
            }
        }
    });
    out
}

/// Polls `cond` every 50 ms until it holds; panics with `what` (and `detail()`) after `secs`.
async fn wait_for(
    what: &str,
    secs: u64,
    mut cond: impl FnMut() -> bool,
    detail: impl Fn() -> String,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}\n{}",
            detail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn rd_partitions(member: &RdkafkaMember, topic: &str) -> BTreeSet<i32> {
    member
        .assignment()
        .into_iter()
        .filter(|(t, _)| t == topic)
        .map(|(_, p)| p)
        .collect()
}

fn rd_detail(member: &RdkafkaMember) -> String {
    format!(
        "librdkafka stdout:\n{}\nlibrdkafka stderr:\n{}",
        member.stdout().tail(10),
        member.stderr().tail(20)
    )
}

/// Waits until our consumer and the librdkafka member own 3 of the 6 partitions each, with
/// no overlap, and still do a second later.
async fn wait_split(seen: &Mutex<Seen>, member: &RdkafkaMember, topic: &str, what: &str) {
    for _ in 0..2 {
        wait_for(
            what,
            45,
            || {
                let ours = seen.lock().unwrap().partitions();
                let theirs = rd_partitions(member, topic);
                ours.len() == 3 && theirs.len() == 3 && ours.is_disjoint(&theirs)
            },
            || {
                format!(
                    "ours: {:?}\n{}",
                    seen.lock().unwrap().partitions(),
                    rd_detail(member)
                )
            },
        )
        .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let ours = seen.lock().unwrap().partitions();
    let theirs = rd_partitions(member, topic);
    assert!(
        ours.is_disjoint(&theirs),
        "{what}: overlap {ours:?} {theirs:?}"
    );
    let union: BTreeSet<i32> = ours.union(&theirs).copied().collect();
    assert_eq!(
        union,
        (0..6).collect(),
        "{what}: every partition owned once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_and_our_consumer_own_each_partition_exactly_once() {
    let bootstrap = bootstrap();
    let client = TestClient::connect(&bootstrap).await.expect("client");
    for strategy in ["range", "cooperative-sticky"] {
        let started = Instant::now();
        let topic = client.create_topic("rdk", 6).await.expect("topic");
        let group = format!("g-{topic}");
        let member =
            RdkafkaMember::start(&bootstrap, &group, &topic, strategy, 6000).expect("librdkafka");
        let s = settings(
            &bootstrap,
            &group,
            &[("partition.assignment.strategy", strategy)],
        );
        let (consumer, seen) = start(&s, &topic);
        wait_split(&seen, &member, &topic, &format!("{strategy}: 3 + 3")).await;
        eprintln!("{strategy}: split 3 + 3 after {:?}", started.elapsed());

        // librdkafka leaves (LeaveGroup): ours takes over everything at once.
        let left = Instant::now();
        member.close().await.expect("librdkafka closes");
        wait_for(
            &format!("{strategy}: ours owns all 6 after librdkafka left"),
            20,
            || seen.lock().unwrap().owned.len() == 6,
            String::new,
        )
        .await;
        eprintln!(
            "{strategy}: hand-over after LeaveGroup took {:?}",
            left.elapsed()
        );
        consumer.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_java_consumer_and_ours_read_every_record_exactly_once() {
    let bootstrap = bootstrap();
    let client = TestClient::connect(&bootstrap).await.expect("client");
    let topic = client.create_topic("java", 6).await.expect("topic");
    let group = format!("g-{topic}");
    let started = Instant::now();
    let java = JavaConsoleConsumer::start(
        &bootstrap,
        &group,
        &topic,
        "org.apache.kafka.clients.consumer.RangeAssignor",
        6000,
    )
    .expect("java consumer");
    let s = settings(
        &bootstrap,
        &group,
        &[("partition.assignment.strategy", "range")],
    );
    let (consumer, seen) = start(&s, &topic);
    let detail = || {
        format!(
            "ours: {:?}\njava stdout:\n{}\njava stderr:\n{}",
            seen.lock().unwrap().partitions(),
            java.stdout().tail(10),
            java.stderr().tail(20)
        )
    };
    // Ours owning exactly half means the Java member joined and holds the other half.
    wait_for(
        "the group to settle on 3 + 3",
        45,
        || seen.lock().unwrap().owned.len() == 3,
        detail,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(seen.lock().unwrap().owned.len(), 3, "settled: {}", detail());
    eprintln!("java + ours settled after {:?}", started.elapsed());

    const PER_PARTITION: usize = 20;
    for p in 0..6 {
        let records = (0..PER_PARTITION)
            .map(|i| TestRecord::keyed("k", format!("p{p}-{i}")))
            .collect();
        client
            .produce_to(&topic, p, records)
            .await
            .expect("produce");
    }
    let total = || seen.lock().unwrap().count() + java.records().len();
    wait_for(
        "all 120 records",
        30,
        || total() >= 6 * PER_PARTITION,
        detail,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut all: BTreeMap<(i32, i64), String> = BTreeMap::new();
    let (our_values, our_partitions) = {
        let s = seen.lock().unwrap();
        (s.values.clone(), s.partitions())
    };
    for (p, vals) in &our_values {
        for (o, v) in vals {
            assert!(
                all.insert((*p, *o), v.clone()).is_none(),
                "ours twice: {p}/{o}"
            );
        }
    }
    let java_records = java.records();
    let java_partitions: BTreeSet<i32> = java_records.iter().map(|(p, _, _)| *p).collect();
    assert!(
        java_partitions.is_disjoint(&our_partitions),
        "no partition read by both: java {java_partitions:?}, ours {our_partitions:?}"
    );
    for (p, o, v) in java_records {
        assert!(all.insert((p, o), v).is_none(), "read twice: {p}/{o}");
    }
    assert_eq!(all.len(), 6 * PER_PARTITION, "every record exactly once");
    for ((p, o), v) in &all {
        assert_eq!(v, &format!("p{p}-{o}"), "the record at {p}/{o}");
    }
    eprintln!("java interop done after {:?}", started.elapsed());
    consumer.close().await;
    java.stop().await.expect("stop java");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_dies_without_leaving_is_rebalanced_away_after_the_session_timeout() {
    let bootstrap = bootstrap();
    let client = TestClient::connect(&bootstrap).await.expect("client");
    let session = Duration::from_secs(6);

    // A librdkafka member killed with SIGKILL: ours gets its partitions.
    let topic = client.create_topic("kill", 6).await.expect("topic");
    let group = format!("g-{topic}");
    let mut member =
        RdkafkaMember::start(&bootstrap, &group, &topic, "range", 6000).expect("librdkafka");
    let s = settings(
        &bootstrap,
        &group,
        &[("partition.assignment.strategy", "range")],
    );
    let (consumer, seen) = start(&s, &topic);
    wait_split(&seen, &member, &topic, "3 + 3").await;
    let killed = Instant::now();
    member.kill().await.expect("kill librdkafka");
    wait_for(
        "ours owns all 6 after the librdkafka member was killed",
        30,
        || seen.lock().unwrap().owned.len() == 6,
        String::new,
    )
    .await;
    let took = killed.elapsed();
    eprintln!("killed librdkafka member rebalanced away after {took:?}");
    assert!(
        took > session * 2 / 3 && took < Duration::from_secs(15),
        "rebalanced after the {session:?} session timeout, not at once nor much later: {took:?}"
    );
    consumer.close().await;

    // Our consumer dropped (driver aborted, no LeaveGroup): librdkafka gets its partitions.
    let topic = client.create_topic("drop", 6).await.expect("topic");
    let group = format!("g-{topic}");
    let member =
        RdkafkaMember::start(&bootstrap, &group, &topic, "range", 6000).expect("librdkafka");
    let s = settings(
        &bootstrap,
        &group,
        &[("partition.assignment.strategy", "range")],
    );
    let (consumer, seen) = start(&s, &topic);
    wait_split(&seen, &member, &topic, "3 + 3").await;
    let dropped = Instant::now();
    drop(consumer);
    wait_for(
        "librdkafka owns all 6 after our consumer was dropped",
        30,
        || rd_partitions(&member, &topic).len() == 6,
        || rd_detail(&member),
    )
    .await;
    let took = dropped.elapsed();
    eprintln!("dropped consumer rebalanced away after {took:?}");
    assert!(
        took > session * 2 / 3 && took < Duration::from_secs(15),
        "rebalanced after the {session:?} session timeout, not at once nor much later: {took:?}"
    );
    member.close().await.expect("librdkafka closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_transactions_are_skipped_under_read_committed() {
    let bootstrap = bootstrap();
    let client = TestClient::connect(&bootstrap).await.expect("client");
    let topic = client.create_topic("txn", 1).await.expect("topic");
    let (n, m, k) = (5, 3, 4);
    produce_transactions(&bootstrap, &topic, 0, &format!("tx-{topic}"), (n, m, k))
        .await
        .expect("transactions");
    let end = client.end_offset(&topic, 0).await.expect("end offset");
    // n + m + k data records and three markers (commit, abort, commit).
    assert_eq!(end, i64::from(n + m + k + 3), "log layout");

    let committed: Vec<String> = (0..n + k).map(|i| format!("committed-{i}")).collect();
    let uncommitted: Vec<String> = (0..n)
        .map(|i| format!("committed-{i}"))
        .chain((0..m).map(|j| format!("aborted-{j}")))
        .chain((n..n + k).map(|i| format!("committed-{i}")))
        .collect();
    for (level, expected) in [
        ("read_committed", committed),
        ("read_uncommitted", uncommitted),
    ] {
        let group = format!("g-{topic}-{level}");
        let s = settings(&bootstrap, &group, &[("isolation.level", level)]);
        let (consumer, seen) = start(&s, &topic);
        wait_for(
            &format!("{level}: the position at the partition end ({end})"),
            30,
            || seen.lock().unwrap().next.get(&0) == Some(&end),
            || format!("{:?}", seen.lock().unwrap()),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        {
            let s = seen.lock().unwrap();
            let got: Vec<String> = s.values[&0].iter().map(|(_, v)| v.clone()).collect();
            assert_eq!(got, expected, "{level}: exactly these records, in order");
            let offsets: Vec<i64> = s.values[&0].iter().map(|(o, _)| *o).collect();
            assert!(
                offsets.windows(2).all(|w| w[0] < w[1]),
                "{level}: increasing offsets {offsets:?}"
            );
        }
        consumer.close().await;

        // The commit went past the markers: a restart starts at the end and reads nothing.
        let (consumer, seen) = start(&s, &topic);
        wait_for(
            &format!("{level}: the restarted consumer's assignment"),
            30,
            || seen.lock().unwrap().owned.len() == 1,
            String::new,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        {
            let s = seen.lock().unwrap();
            assert_eq!(
                s.starts[&0], end,
                "{level}: committed offset = partition end"
            );
            assert_eq!(s.count(), 0, "{level}: nothing redelivered");
        }
        consumer.close().await;
    }
}
