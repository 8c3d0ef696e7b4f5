//! The dead-letter producer: writes a record the ingress gave up on to
//! `ingress.dead-letter.topic` with its original key, value, timestamp and headers plus
//! `ingress.error`, `ingress.source.topic`, `ingress.source.partition`,
//! `ingress.source.offset` and `ingress.subscription.id`.
//!
//! Producing goes through rskafka (built with the subscription's TLS/SASL settings). The
//! target partition is murmur2(key) like the Java client's default partitioner, so one key's
//! dead letters stay together; records without a key keep their source partition number
//! (modulo the dead-letter topic's partition count).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kafka_proto::partitioner::default_partition;
use kafka_proto::record::Record;
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::Client;
use tokio::sync::Mutex;

use crate::kafka::rskafka_client::rskafka_client_builder;
use crate::options::ConsumerSettings;

/// Why a dead letter could not be written (the caller retries with backoff).
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    /// Building the client failed (e.g. unreadable certificate).
    #[error("cannot set up the dead-letter producer: {0}")]
    Setup(String),
    /// Talking to the cluster failed.
    #[error("producing to dead-letter topic {topic:?} failed: {reason}")]
    Produce {
        /// The dead-letter topic.
        topic: String,
        /// Why.
        reason: String,
    },
    /// The topic does not exist (and was not auto-created).
    #[error("dead-letter topic {0:?} does not exist; create it")]
    UnknownTopic(String),
}

/// Where a dead-lettered record came from and why it was given up on.
#[derive(Debug, Clone, Copy)]
pub struct DeadLetterContext<'a> {
    /// The subscription id.
    pub subscription_id: &'a str,
    /// Source topic.
    pub topic: &'a str,
    /// Source partition.
    pub partition: i32,
    /// The last error.
    pub error: &'a str,
}

/// A lazily connected producer to dead-letter topics, shared by a subscription's partitions.
#[derive(Debug)]
pub struct DeadLetterProducer {
    settings: ConsumerSettings,
    state: Mutex<ProducerState>,
}

#[derive(Default)]
struct ProducerState {
    client: Option<Arc<Client>>,
    partitions: HashMap<(String, i32), Arc<PartitionClient>>,
    partition_counts: HashMap<String, i32>,
}

impl std::fmt::Debug for ProducerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerState")
            .field("connected", &self.client.is_some())
            .field("partition_counts", &self.partition_counts)
            .finish()
    }
}

impl DeadLetterProducer {
    /// A producer for the cluster `settings` describe; connects on first use.
    pub fn new(settings: ConsumerSettings) -> Self {
        DeadLetterProducer {
            settings,
            state: Mutex::new(ProducerState::default()),
        }
    }

    /// Produces `record` to `topic` and returns the dead letter's offset.
    pub async fn send(
        &self,
        topic: &str,
        record: &Record,
        ctx: DeadLetterContext<'_>,
    ) -> Result<i64, DeadLetterError> {
        let partition_client = self.partition_client(topic, record, ctx.partition).await?;
        let produced = partition_client
            .produce(vec![dead_letter(record, ctx)], Compression::NoCompression)
            .await;
        match produced {
            Ok(offsets) => Ok(offsets.first().copied().unwrap_or(-1)),
            Err(e) => {
                // Forget the connection state so the next attempt rediscovers the leader.
                let mut state = self.state.lock().await;
                state.partitions.clear();
                state.partition_counts.remove(topic);
                Err(DeadLetterError::Produce {
                    topic: topic.to_owned(),
                    reason: e.to_string(),
                })
            }
        }
    }

    async fn partition_client(
        &self,
        topic: &str,
        record: &Record,
        source_partition: i32,
    ) -> Result<Arc<PartitionClient>, DeadLetterError> {
        let mut state = self.state.lock().await;
        let client = match &state.client {
            Some(c) => c.clone(),
            None => {
                let builder = rskafka_client_builder(&self.settings)
                    .map_err(|e| DeadLetterError::Setup(e.to_string()))?;
                let client =
                    Arc::new(
                        builder
                            .build()
                            .await
                            .map_err(|e| DeadLetterError::Produce {
                                topic: topic.to_owned(),
                                reason: e.to_string(),
                            })?,
                    );
                state.client = Some(client.clone());
                client
            }
        };
        let count = match state.partition_counts.get(topic) {
            Some(n) => *n,
            None => {
                let topics = client
                    .list_topics()
                    .await
                    .map_err(|e| DeadLetterError::Produce {
                        topic: topic.to_owned(),
                        reason: e.to_string(),
                    })?;
                let n = topics
                    .iter()
                    .find(|t| t.name == topic)
                    .map(|t| i32::try_from(t.partitions.len()).unwrap_or(i32::MAX))
                    .filter(|n| *n > 0)
                    .ok_or_else(|| DeadLetterError::UnknownTopic(topic.to_owned()))?;
                state.partition_counts.insert(topic.to_owned(), n);
                n
            }
        };
        let partition = target_partition(record.key.as_deref(), source_partition, count);
        let key = (topic.to_owned(), partition);
        if let Some(pc) = state.partitions.get(&key) {
            return Ok(pc.clone());
        }
        let pc = Arc::new(
            client
                .partition_client(topic, partition, UnknownTopicHandling::Error)
                .await
                .map_err(|e| DeadLetterError::Produce {
                    topic: topic.to_owned(),
                    reason: e.to_string(),
                })?,
        );
        state.partitions.insert(key, pc.clone());
        Ok(pc)
    }
}

/// The dead letter for `record`.
fn dead_letter(record: &Record, ctx: DeadLetterContext<'_>) -> rskafka::record::Record {
    let mut headers: BTreeMap<String, Vec<u8>> = record
        .headers
        .iter()
        .map(|h| {
            (
                h.key.clone(),
                h.value.as_deref().unwrap_or_default().to_vec(),
            )
        })
        .collect();
    for (k, v) in [
        ("ingress.error", ctx.error.to_owned()),
        ("ingress.source.topic", ctx.topic.to_owned()),
        ("ingress.source.partition", ctx.partition.to_string()),
        ("ingress.source.offset", record.offset.to_string()),
        ("ingress.subscription.id", ctx.subscription_id.to_owned()),
    ] {
        headers.insert(k.to_owned(), v.into_bytes());
    }
    rskafka::record::Record {
        key: record.key.as_ref().map(|k| k.to_vec()),
        value: record.value.as_ref().map(|v| v.to_vec()),
        headers,
        timestamp: chrono::DateTime::from_timestamp_millis(record.timestamp)
            .unwrap_or_else(chrono::Utc::now),
    }
}

/// murmur2(key) like the Java client's default partitioner; keyless records keep their
/// source partition number.
fn target_partition(key: Option<&[u8]>, source_partition: i32, count: i32) -> i32 {
    match key {
        Some(k) => default_partition(k, count),
        None => source_partition.rem_euclid(count.max(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kafka_proto::record::RecordHeader;

    #[test]
    fn keyless_records_keep_their_partition_number() {
        assert_eq!(target_partition(None, 5, 3), 2);
        assert_eq!(target_partition(Some(b"21"), 0, 1), 0);
    }

    #[test]
    fn dead_letter_keeps_the_record_and_adds_the_source() {
        let record = Record {
            offset: 42,
            timestamp: 1_700_000_000_000,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"v")),
            headers: vec![RecordHeader {
                key: "traceparent".into(),
                value: Some(Bytes::from_static(b"00-abc")),
            }],
        };
        let dl = dead_letter(
            &record,
            DeadLetterContext {
                subscription_id: "sub_1",
                topic: "orders",
                partition: 3,
                error: "handler answered 400",
            },
        );
        assert_eq!(dl.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(dl.value.as_deref(), Some(&b"v"[..]));
        assert_eq!(dl.timestamp.timestamp_millis(), 1_700_000_000_000);
        let h = |k: &str| String::from_utf8(dl.headers[k].clone()).unwrap();
        assert_eq!(h("traceparent"), "00-abc");
        assert_eq!(h("ingress.error"), "handler answered 400");
        assert_eq!(h("ingress.source.topic"), "orders");
        assert_eq!(h("ingress.source.partition"), "3");
        assert_eq!(h("ingress.source.offset"), "42");
        assert_eq!(h("ingress.subscription.id"), "sub_1");
    }
}
