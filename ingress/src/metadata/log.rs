//! The metadata topic: created if missing (one partition, `cleanup.policy=compact`), checked
//! at start-up, appended to with acks=all, and tailed from offset 0.
//!
//! Producing and fetching go through rskafka (the same TLS/SASL settings as the consumer);
//! CreateTopics with topic configs and DescribeConfigs go through our own client, since
//! rskafka's admin API has neither.

use std::sync::Arc;
use std::time::Duration;

use kafka_proto::messages::create_topics::{
    CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
};
use kafka_proto::messages::describe_configs::{
    DescribeConfigsRequest, DescribeConfigsResource, RESOURCE_TYPE_TOPIC,
};
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};

use crate::config::KafkaStoreConfig;
use crate::kafka::cluster::{Cluster, ClusterSettings};
use crate::kafka::error::ClientError;
use crate::kafka::rskafka_client::rskafka_client_builder;
use crate::kafka::tls::connector_for;
use crate::options::ConsumerSettings;

use super::record::MetadataRecord;

/// Kafka's TOPIC_ALREADY_EXISTS (a concurrent process created it first).
const TOPIC_ALREADY_EXISTS: i16 = 36;
/// How long the broker may take to create the topic.
const CREATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Fetches are capped at this many bytes (metadata records are small).
const FETCH_MAX_BYTES: i32 = 4 * 1024 * 1024;
/// How long one append, offset lookup or read (beyond its long poll) may take: rskafka
/// retries an unreachable broker forever, and a write must fail visibly instead.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long start-up waits for the cluster to answer at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the metadata topic cannot be used; every message names the topic and the fix.
#[derive(Debug, thiserror::Error)]
pub enum MetadataLogError {
    /// The cluster cannot be reached or answered with an error.
    #[error("metadata topic {topic}: {reason}")]
    Kafka {
        /// The topic.
        topic: String,
        /// What failed.
        reason: String,
    },
    /// The topic could not be created.
    #[error("metadata topic {topic}: cannot create it: {reason}; create it by hand with 1 partition and cleanup.policy=compact")]
    Create {
        /// The topic.
        topic: String,
        /// The broker's answer.
        reason: String,
    },
    /// The topic has more than one partition, so there is no single log order.
    #[error(
        "metadata topic {topic} has {partitions} partitions; it must have exactly 1 (one log \
         order for every process): delete it or configure another \
         [ingress.metadata-store] topic"
    )]
    Partitions {
        /// The topic.
        topic: String,
        /// Its partition count.
        partitions: usize,
    },
    /// The topic is not compacted, so Kafka would delete metadata by age.
    #[error(
        "metadata topic {topic} has cleanup.policy={policy}; it must be compact (otherwise \
         retention deletes subscriptions): run kafka-configs.sh --alter --entity-type topics \
         --entity-name {topic} --add-config cleanup.policy=compact"
    )]
    NotCompacted {
        /// The topic.
        topic: String,
        /// Its cleanup policy.
        policy: String,
    },
}

/// The metadata topic of one ingress cluster.
#[derive(Debug)]
pub struct MetadataLog {
    topic: String,
    partition: PartitionClient,
}

impl MetadataLog {
    /// Connects, creates the topic if it does not exist, and checks it has one partition and
    /// is compacted.
    pub async fn open(
        settings: &ConsumerSettings,
        config: &KafkaStoreConfig,
    ) -> Result<MetadataLog, MetadataLogError> {
        let topic = config.topic.clone();
        let kafka = |reason: String| MetadataLogError::Kafka {
            topic: topic.clone(),
            reason,
        };
        let connector = connector_for(&settings.security, settings.socket_timeout)
            .map_err(|e| kafka(e.to_string()))?;
        let cluster = Cluster::new(ClusterSettings::from_consumer_settings(settings), connector);
        let metadata = match cluster.topic(&topic).await {
            Ok(metadata) => metadata,
            Err(ClientError::UnknownTopic { .. }) => {
                create_topic(&cluster, config).await?;
                cluster.invalidate(&topic);
                wait_for_topic(&cluster, &topic).await.map_err(kafka)?
            }
            Err(e) => return Err(kafka(e.to_string())),
        };
        if metadata.partitions.len() != 1 {
            return Err(MetadataLogError::Partitions {
                topic,
                partitions: metadata.partitions.len(),
            });
        }
        check_compacted(&cluster, &topic).await?;
        let builder = rskafka_client_builder(settings).map_err(|e| kafka(e.to_string()))?;
        let connect = async {
            let client = builder.build().await.map_err(|e| kafka(e.to_string()))?;
            client
                .partition_client(topic.clone(), 0, UnknownTopicHandling::Retry)
                .await
                .map_err(|e| kafka(e.to_string()))
        };
        let partition = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| {
                kafka(format!(
                    "no answer from the cluster within {}s",
                    CONNECT_TIMEOUT.as_secs()
                ))
            })??;
        Ok(MetadataLog { topic, partition })
    }

    /// The topic name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Appends `record` (acks=all) and returns its offset.
    pub async fn append(&self, record: &MetadataRecord) -> Result<i64, MetadataLogError> {
        let (key, value) = record.encode();
        let produce = self.partition.produce(
            vec![rskafka::record::Record {
                key: Some(key),
                value,
                headers: Default::default(),
                timestamp: chrono::Utc::now(),
            }],
            Compression::NoCompression,
        );
        let offsets = tokio::time::timeout(REQUEST_TIMEOUT, produce)
            .await
            .map_err(|_| self.timed_out("append"))?
            .map_err(|e| self.error(format!("cannot append: {e}")))?;
        offsets
            .first()
            .copied()
            .ok_or_else(|| self.error("the broker returned no offset for an append".to_owned()))
    }

    /// The offset the next record will get (the high watermark).
    pub async fn end_offset(&self) -> Result<i64, MetadataLogError> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.partition.get_offset(OffsetAt::Latest))
            .await
            .map_err(|_| self.timed_out("read the end offset"))?
            .map_err(|e| self.error(format!("cannot read the end offset: {e}")))
    }

    /// The offset of the first record still in the log (0 unless records were deleted, e.g.
    /// with DeleteRecords; compaction keeps it).
    pub async fn start_offset(&self) -> Result<i64, MetadataLogError> {
        tokio::time::timeout(
            REQUEST_TIMEOUT,
            self.partition.get_offset(OffsetAt::Earliest),
        )
        .await
        .map_err(|_| self.timed_out("read the start offset"))?
        .map_err(|e| self.error(format!("cannot read the start offset: {e}")))
    }

    /// The records from `offset` on (waiting up to `max_wait` for new ones) as
    /// `(offset, key, value)`, and the high watermark.
    pub async fn read(
        &self,
        offset: i64,
        max_wait: Duration,
    ) -> Result<(Vec<RawRecord>, i64), MetadataLogError> {
        let wait_ms = i32::try_from(max_wait.as_millis()).unwrap_or(i32::MAX);
        let fetch = self
            .partition
            .fetch_records(offset, 1..FETCH_MAX_BYTES, wait_ms);
        let (records, high_watermark) = tokio::time::timeout(max_wait + REQUEST_TIMEOUT, fetch)
            .await
            .map_err(|_| self.timed_out("read"))?
            .map_err(|e| self.error(format!("cannot read from offset {offset}: {e}")))?;
        let records = records
            .into_iter()
            .filter(|r| r.offset >= offset)
            .map(|r| RawRecord {
                offset: r.offset,
                key: r.record.key,
                value: r.record.value,
            })
            .collect();
        Ok((records, high_watermark))
    }

    fn timed_out(&self, what: &str) -> MetadataLogError {
        self.error(format!(
            "cannot {what}: no answer from the cluster within {}s",
            REQUEST_TIMEOUT.as_secs()
        ))
    }

    fn error(&self, reason: String) -> MetadataLogError {
        MetadataLogError::Kafka {
            topic: self.topic.clone(),
            reason,
        }
    }
}

/// One record of the metadata topic, undecoded.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// Its offset.
    pub offset: i64,
    /// Its key.
    pub key: Option<Vec<u8>>,
    /// Its value (`None` = tombstone).
    pub value: Option<Vec<u8>>,
}

async fn create_topic(
    cluster: &Cluster,
    config: &KafkaStoreConfig,
) -> Result<(), MetadataLogError> {
    let topic = &config.topic;
    let create = |reason: String| MetadataLogError::Create {
        topic: topic.clone(),
        reason,
    };
    let mut configs = vec![CreatableTopicConfig {
        name: "cleanup.policy".to_owned(),
        value: Some("compact".to_owned()),
        ..Default::default()
    }];
    if let Some(min_isr) = config.min_insync_replicas {
        configs.push(CreatableTopicConfig {
            name: "min.insync.replicas".to_owned(),
            value: Some(min_isr.to_string()),
            ..Default::default()
        });
    }
    let request = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: topic.clone(),
            num_partitions: 1,
            replication_factor: config.replication_factor.unwrap_or(-1),
            configs,
            ..Default::default()
        }],
        timeout_ms: i32::try_from(CREATE_TIMEOUT.as_millis()).unwrap_or(i32::MAX),
        validate_only: false,
        ..Default::default()
    };
    let broker = cluster
        .any_broker()
        .await
        .map_err(|e| create(e.to_string()))?;
    let response = broker
        .request_with_timeout(&request, CREATE_TIMEOUT + Duration::from_secs(5))
        .await
        .map_err(|e| create(e.to_string()))?;
    let result = response
        .topics
        .iter()
        .find(|t| &t.name == topic)
        .ok_or_else(|| create("the broker's answer does not mention the topic".to_owned()))?;
    match result.error_code {
        0 => {
            tracing::info!(topic = %topic, replication_factor = result.replication_factor,
                "created the metadata topic (1 partition, cleanup.policy=compact)");
            Ok(())
        }
        TOPIC_ALREADY_EXISTS => Ok(()),
        code => Err(create(format!(
            "error {} ({code}){}",
            kafka_proto::error_code::ErrorCode::from(code),
            result
                .error_message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ))),
    }
}

/// A just-created topic may take a moment to appear in every broker's metadata.
async fn wait_for_topic(
    cluster: &Cluster,
    topic: &str,
) -> Result<Arc<crate::kafka::metadata::TopicMetadata>, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match cluster.topic(topic).await {
            Ok(m) if !m.partitions.is_empty() => return Ok(m),
            Ok(_) | Err(ClientError::UnknownTopic { .. }) | Err(ClientError::Topic { .. })
                if tokio::time::Instant::now() < deadline =>
            {
                cluster.invalidate(topic);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(_) => return Err("the created topic has no partitions".to_owned()),
            Err(e) => return Err(e.to_string()),
        }
    }
}

async fn check_compacted(cluster: &Cluster, topic: &str) -> Result<(), MetadataLogError> {
    let kafka = |reason: String| MetadataLogError::Kafka {
        topic: topic.to_owned(),
        reason,
    };
    let broker = cluster
        .any_broker()
        .await
        .map_err(|e| kafka(e.to_string()))?;
    if !broker.versions().supports::<DescribeConfigsRequest>() {
        tracing::warn!(topic = %topic, broker = %broker.addr(),
            "the broker does not support DescribeConfigs: cannot check that the metadata topic \
             is compacted; make sure it has cleanup.policy=compact");
        return Ok(());
    }
    let request = DescribeConfigsRequest {
        resources: vec![DescribeConfigsResource {
            resource_type: RESOURCE_TYPE_TOPIC,
            resource_name: topic.to_owned(),
            configuration_keys: Some(vec!["cleanup.policy".to_owned()]),
            ..Default::default()
        }],
        ..Default::default()
    };
    let response = match broker.request(&request).await {
        Ok(response) => response,
        // Some brokers list DescribeConfigs but drop the connection when asked (tansu 0.6):
        // asked again on a new connection, the same answer means they do not implement it.
        Err(ClientError::Connection(first)) => {
            let again = cluster
                .any_broker()
                .await
                .map_err(|e| kafka(e.to_string()))?;
            match again.request(&request).await {
                Ok(response) => response,
                Err(ClientError::Connection(_)) => {
                    tracing::warn!(topic = %topic, broker = %again.addr(), error = %first,
                        "the broker drops DescribeConfigs requests: cannot check that the \
                         metadata topic is compacted; make sure it has cleanup.policy=compact");
                    return Ok(());
                }
                Err(e) => return Err(kafka(format!("cannot describe its configs: {e}"))),
            }
        }
        Err(e) => return Err(kafka(format!("cannot describe its configs: {e}"))),
    };
    let result = response
        .results
        .iter()
        .find(|r| r.resource_name == topic)
        .ok_or_else(|| kafka("DescribeConfigs did not answer for the topic".to_owned()))?;
    if result.error_code != 0 {
        return Err(kafka(format!(
            "cannot describe its configs: error {}{}",
            kafka_proto::error_code::ErrorCode::from(result.error_code),
            result
                .error_message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )));
    }
    let policy = result
        .configs
        .iter()
        .find(|c| c.name == "cleanup.policy")
        .and_then(|c| c.value.clone())
        .unwrap_or_else(|| "delete".to_owned());
    if policy.split(',').any(|p| p.trim() == "compact") {
        Ok(())
    } else {
        Err(MetadataLogError::NotCompacted {
            topic: topic.to_owned(),
            policy,
        })
    }
}
