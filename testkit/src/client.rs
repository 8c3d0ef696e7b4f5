//! Topic creation and a keyed producer/reader for tests, built on rskafka.
//!
//! Every network call is bounded by a deadline so a dead broker fails the test with a clear
//! message instead of hanging it.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use rskafka::BackoffConfig;

use crate::TestkitError;

/// How long any single testkit operation against the broker may take.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);

/// One record to produce.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestRecord {
    /// The record key (`None` for a null key).
    pub key: Option<Vec<u8>>,
    /// The record value (`None` for a tombstone).
    pub value: Option<Vec<u8>>,
    /// Record headers (rskafka keeps one value per name).
    pub headers: BTreeMap<String, Vec<u8>>,
}

impl TestRecord {
    /// A record with a UTF-8 key and value and no headers.
    pub fn keyed(key: &str, value: impl Into<Vec<u8>>) -> Self {
        TestRecord {
            key: Some(key.as_bytes().to_vec()),
            value: Some(value.into()),
            headers: BTreeMap::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.insert(name.to_owned(), value.into());
        self
    }
}

/// A record read back, with its partition and offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    /// The partition it was read from.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// The record.
    pub record: TestRecord,
}

/// Runs `fut` with [`OPERATION_TIMEOUT`], naming `what` in the error.
pub async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    bootstrap: &str,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, TestkitError> {
    match tokio::time::timeout(OPERATION_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(TestkitError::Kafka(format!(
            "{what} against {bootstrap} failed: {e}"
        ))),
        Err(_) => Err(TestkitError::Kafka(format!(
            "{what} against {bootstrap} did not complete within {}s: is the broker down?",
            OPERATION_TIMEOUT.as_secs()
        ))),
    }
}

/// A client for topic admin, producing and reading back in tests.
#[derive(Debug)]
pub struct TestClient {
    bootstrap: String,
    client: Client,
}

static TOPIC_SEQ: AtomicU64 = AtomicU64::new(0);

/// A topic name no other test (in this or another run) uses.
pub fn unique_topic_name(prefix: &str) -> String {
    let n = TOPIC_SEQ.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}-{}-{n}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

impl TestClient {
    /// Connects to `bootstrap`.
    pub async fn connect(bootstrap: &str) -> Result<Self, TestkitError> {
        let backoff = BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
            deadline: Some(OPERATION_TIMEOUT),
        };
        let client = bounded(
            "connecting",
            bootstrap,
            ClientBuilder::new(vec![bootstrap.to_owned()])
                .client_id("kafka-ingress-testkit")
                .backoff_config(backoff)
                .build(),
        )
        .await?;
        Ok(TestClient {
            bootstrap: bootstrap.to_owned(),
            client,
        })
    }

    /// Creates a topic with a unique name and `partitions` partitions; returns its name.
    pub async fn create_topic(
        &self,
        prefix: &str,
        partitions: i32,
    ) -> Result<String, TestkitError> {
        let name = unique_topic_name(prefix);
        self.create_topic_named(&name, partitions).await?;
        Ok(name)
    }

    /// Creates the topic `name` with `partitions` partitions and waits until every partition
    /// has a leader.
    pub async fn create_topic_named(
        &self,
        name: &str,
        partitions: i32,
    ) -> Result<(), TestkitError> {
        let controller = self
            .client
            .controller_client()
            .map_err(|e| TestkitError::Kafka(format!("controller client: {e}")))?;
        bounded(
            &format!("creating topic {name}"),
            &self.bootstrap,
            controller.create_topic(name, partitions, 1, 10_000),
        )
        .await?;
        for p in 0..partitions {
            self.partition(name, p).await?;
        }
        Ok(())
    }

    async fn partition(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<PartitionClient, TestkitError> {
        bounded(
            &format!("looking up {topic}/{partition}"),
            &self.bootstrap,
            self.client
                .partition_client(topic, partition, UnknownTopicHandling::Retry),
        )
        .await
    }

    /// Produces `records` to `partition` in one batch; returns their offsets.
    pub async fn produce_to(
        &self,
        topic: &str,
        partition: i32,
        records: Vec<TestRecord>,
    ) -> Result<Vec<i64>, TestkitError> {
        let pc = self.partition(topic, partition).await?;
        let now = chrono::Utc::now();
        let records = records
            .into_iter()
            .map(|r| Record {
                key: r.key,
                value: r.value,
                headers: r.headers,
                timestamp: now,
            })
            .collect();
        bounded(
            &format!("producing to {topic}/{partition}"),
            &self.bootstrap,
            pc.produce(records, Compression::NoCompression),
        )
        .await
    }

    /// Produces keyed records, each to the partition Kafka's default partitioner picks for its
    /// key (murmur2), in batches of at most `batch` records; returns `(partition, offset)`.
    pub async fn produce_keyed(
        &self,
        topic: &str,
        partitions: i32,
        records: Vec<TestRecord>,
        batch: usize,
    ) -> Result<Vec<(i32, i64)>, TestkitError> {
        let mut per_partition: BTreeMap<i32, Vec<(usize, TestRecord)>> = BTreeMap::new();
        let total = records.len();
        for (i, r) in records.into_iter().enumerate() {
            let p = match &r.key {
                Some(k) => default_partition(k, partitions),
                None => (i as i32) % partitions,
            };
            per_partition.entry(p).or_default().push((i, r));
        }
        let mut out = vec![(0, 0); total];
        for (p, recs) in per_partition {
            for chunk in recs.chunks(batch.max(1)) {
                let idx: Vec<usize> = chunk.iter().map(|(i, _)| *i).collect();
                let offsets = self
                    .produce_to(topic, p, chunk.iter().map(|(_, r)| r.clone()).collect())
                    .await?;
                for (i, o) in idx.into_iter().zip(offsets) {
                    out[i] = (p, o);
                }
            }
        }
        Ok(out)
    }

    /// The next offset to be written in `partition` (its high watermark).
    pub async fn end_offset(&self, topic: &str, partition: i32) -> Result<i64, TestkitError> {
        let pc = self.partition(topic, partition).await?;
        bounded(
            &format!("listing offsets of {topic}/{partition}"),
            &self.bootstrap,
            pc.get_offset(OffsetAt::Latest),
        )
        .await
    }

    /// Reads `partition` from offset 0 up to its high watermark.
    pub async fn read_all(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Vec<ReadRecord>, TestkitError> {
        let pc = self.partition(topic, partition).await?;
        let end = self.end_offset(topic, partition).await?;
        let mut out = Vec::new();
        let mut next = 0;
        while next < end {
            let (records, _hw) = bounded(
                &format!("fetching {topic}/{partition} at {next}"),
                &self.bootstrap,
                pc.fetch_records(next, 1..4 * 1024 * 1024, 500),
            )
            .await?;
            if records.is_empty() {
                return Err(TestkitError::Kafka(format!(
                    "fetch of {topic}/{partition} at {next} returned nothing below end offset {end}"
                )));
            }
            for r in records {
                next = r.offset + 1;
                out.push(ReadRecord {
                    partition,
                    offset: r.offset,
                    record: TestRecord {
                        key: r.record.key,
                        value: r.record.value,
                        headers: r.record.headers,
                    },
                });
            }
        }
        Ok(out)
    }
}

pub use kafka_proto::partitioner::{default_partition, murmur2};
