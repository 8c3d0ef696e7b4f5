//! The cluster metadata cache: brokers (node id -> address, rack) and topics (name -> topic id,
//! partitions -> leader and leader epoch), built from Metadata responses. Pure data, no I/O:
//! [`super::cluster::Cluster`] decides when to ask a broker and feeds the answers in here.
//!
//! Staleness: an entry is refreshed when a caller invalidated it (a partition error that means
//! "your metadata is old"), when it is older than `metadata.max.age.ms`, or — for entries that
//! carry an error (unknown topic, leaderless partition) — when it is older than the short
//! error-refresh interval, so a topic being created or a leader being elected is noticed
//! quickly without hammering the broker.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_proto::error_code::ErrorCode;
use kafka_proto::messages::metadata::{
    MetadataResponse, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_proto::primitives::Uuid;

use super::error::ClientError;

/// A broker's node id as Kafka assigns it. Negative ids (`-1 - index`) name bootstrap
/// addresses whose real node id is not known yet, as in librdkafka.
pub type NodeId = i32;

/// The "no leader" value of a partition's leader id.
pub const NO_LEADER: NodeId = -1;

/// Partition errors after which the caller's view of leadership is out of date: report them
/// to [`super::cluster::Cluster::invalidate_on`] to have the topic's metadata refreshed.
pub const STALE_METADATA_ERRORS: [ErrorCode; 6] = [
    ErrorCode::NotLeaderOrFollower,
    ErrorCode::UnknownTopicOrPartition,
    ErrorCode::FencedLeaderEpoch,
    ErrorCode::UnknownLeaderEpoch,
    ErrorCode::LeaderNotAvailable,
    ErrorCode::UnknownTopicId,
];

/// Whether `code` on a partition means the metadata (leader, epoch, topic id) is stale.
pub fn is_stale_metadata_error(code: ErrorCode) -> bool {
    STALE_METADATA_ERRORS.contains(&code)
}

/// A broker of the cluster, as listed in metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// The broker's node id.
    pub node_id: NodeId,
    /// Advertised host name or IP address.
    pub host: String,
    /// Advertised port.
    pub port: u16,
    /// The broker's rack (`broker.rack`), if configured.
    pub rack: Option<String>,
}

/// A partition's leader as of the last metadata refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionLeader {
    /// The leader's node id.
    pub node_id: NodeId,
    /// The leader epoch (-1 when the broker does not report one); sent in Fetch and
    /// ListOffsets so a stale leader is detected by the broker.
    pub leader_epoch: i32,
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// The partition index.
    pub partition: i32,
    /// The leader's node id, [`NO_LEADER`] when there is none.
    pub leader_id: NodeId,
    /// The leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// The partition's error in the metadata response ([`ErrorCode::None`] when healthy).
    pub error: ErrorCode,
    /// All replicas.
    pub replicas: Vec<NodeId>,
    /// The in-sync replicas.
    pub isr: Vec<NodeId>,
}

impl PartitionMetadata {
    fn from_wire(p: &MetadataResponsePartition) -> Self {
        PartitionMetadata {
            partition: p.partition_index,
            leader_id: p.leader_id,
            leader_epoch: p.leader_epoch,
            error: ErrorCode::from_code(p.error_code),
            replicas: p.replica_nodes.clone(),
            isr: p.isr_nodes.clone(),
        }
    }

    /// Whether the partition has a usable leader. `REPLICA_NOT_AVAILABLE` and
    /// `LISTENER_NOT_FOUND` on a partition with a leader do not stop a consumer (only
    /// followers are affected), so only the leader id decides, plus leader-level errors.
    fn leader_error(&self) -> Option<ErrorCode> {
        match self.error {
            ErrorCode::None | ErrorCode::ReplicaNotAvailable if self.leader_id >= 0 => None,
            ErrorCode::None | ErrorCode::ReplicaNotAvailable => Some(ErrorCode::LeaderNotAvailable),
            other => Some(other),
        }
    }
}

/// A topic and its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// The topic name.
    pub name: String,
    /// The topic id (all zeros from brokers older than Metadata v10).
    pub topic_id: Uuid,
    /// Whether the topic is internal (`__consumer_offsets`, ...).
    pub is_internal: bool,
    /// The partitions, sorted by index.
    pub partitions: Vec<PartitionMetadata>,
}

impl TopicMetadata {
    /// The number of partitions.
    pub fn partition_count(&self) -> usize {
        self.partitions.len()
    }

    /// The partition with index `partition`.
    pub fn partition(&self, partition: i32) -> Option<&PartitionMetadata> {
        self.partitions
            .binary_search_by_key(&partition, |p| p.partition)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }

    /// The current leader of `partition`, or a typed error: no such partition, or the
    /// partition's error (`LEADER_NOT_AVAILABLE` when it has no leader).
    pub fn leader(&self, partition: i32) -> Result<PartitionLeader, ClientError> {
        let p = self
            .partition(partition)
            .ok_or_else(|| ClientError::UnknownPartition {
                topic: self.name.clone(),
                partition,
                partition_count: self.partitions.len(),
            })?;
        match p.leader_error() {
            None => Ok(PartitionLeader {
                node_id: p.leader_id,
                leader_epoch: p.leader_epoch,
            }),
            Some(code) => Err(ClientError::Partition {
                topic: self.name.clone(),
                partition,
                code,
            }),
        }
    }

    fn has_errors(&self) -> bool {
        self.partitions.iter().any(|p| p.leader_error().is_some())
    }
}

/// What the cache knows about a topic.
#[derive(Debug, Clone)]
enum TopicState {
    /// The broker described it.
    Known(Arc<TopicMetadata>),
    /// The broker answered with a topic-level error.
    Failed(ErrorCode),
}

#[derive(Debug, Clone)]
struct TopicEntry {
    state: TopicState,
    fetched_at: Instant,
    invalidated: bool,
}

/// How long cache entries stay fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataFreshness {
    /// `metadata.max.age.ms`: healthy entries are refreshed after this long.
    pub max_age: Duration,
    /// Entries carrying an error are refreshed after this long.
    pub error_refresh_interval: Duration,
}

/// The cached brokers and topics.
#[derive(Debug, Clone)]
pub struct MetadataCache {
    freshness: MetadataFreshness,
    brokers: HashMap<NodeId, BrokerInfo>,
    topics: HashMap<String, TopicEntry>,
    topic_names_by_id: HashMap<Uuid, String>,
    cluster_id: Option<String>,
}

impl MetadataCache {
    /// An empty cache.
    pub fn new(freshness: MetadataFreshness) -> Self {
        MetadataCache {
            freshness,
            brokers: HashMap::new(),
            topics: HashMap::new(),
            topic_names_by_id: HashMap::new(),
            cluster_id: None,
        }
    }

    /// The known brokers, sorted by node id.
    pub fn brokers(&self) -> Vec<BrokerInfo> {
        let mut brokers: Vec<_> = self.brokers.values().cloned().collect();
        brokers.sort_by_key(|b| b.node_id);
        brokers
    }

    /// The broker with node id `node_id`.
    pub fn broker(&self, node_id: NodeId) -> Option<&BrokerInfo> {
        self.brokers.get(&node_id)
    }

    /// The cluster id from the last response that carried one.
    pub fn cluster_id(&self) -> Option<&str> {
        self.cluster_id.as_deref()
    }

    /// The cached metadata of `topic`: `None` when never fetched, otherwise the topic or the
    /// topic-level error (`UNKNOWN_TOPIC_OR_PARTITION` as [`ClientError::UnknownTopic`]).
    /// Ignores freshness.
    pub fn topic(&self, topic: &str) -> Option<Result<Arc<TopicMetadata>, ClientError>> {
        self.topics.get(topic).map(|e| match &e.state {
            TopicState::Known(t) => Ok(t.clone()),
            TopicState::Failed(code) => Err(topic_error(topic, *code)),
        })
    }

    /// The cached topic with id `topic_id` (Fetch v13+ names topics by id only).
    pub fn topic_by_id(&self, topic_id: &Uuid) -> Option<Arc<TopicMetadata>> {
        let name = self.topic_names_by_id.get(topic_id)?;
        match &self.topics.get(name)?.state {
            TopicState::Known(t) => Some(t.clone()),
            TopicState::Failed(_) => None,
        }
    }

    /// Whether `topic` must be fetched again before it is used at `now`.
    pub fn needs_refresh(&self, topic: &str, now: Instant) -> bool {
        let Some(entry) = self.topics.get(topic) else {
            return true;
        };
        let age = now.saturating_duration_since(entry.fetched_at);
        let has_errors = match &entry.state {
            TopicState::Known(t) => t.has_errors(),
            TopicState::Failed(_) => true,
        };
        entry.invalidated
            || age >= self.freshness.max_age
            || (has_errors && age >= self.freshness.error_refresh_interval)
    }

    /// The cached topics that need a refresh at `now`.
    pub fn stale_topics(&self, now: Instant) -> Vec<String> {
        let mut stale: Vec<String> = self
            .topics
            .keys()
            .filter(|t| self.needs_refresh(t, now))
            .cloned()
            .collect();
        stale.sort();
        stale
    }

    /// Marks `topic` for refresh on its next use. Returns whether it was cached.
    pub fn invalidate(&mut self, topic: &str) -> bool {
        match self.topics.get_mut(topic) {
            Some(entry) => {
                entry.invalidated = true;
                true
            }
            None => false,
        }
    }

    /// Forgets `topic` (no longer used, so no longer refreshed).
    pub fn remove(&mut self, topic: &str) {
        if let Some(entry) = self.topics.remove(topic) {
            if let TopicState::Known(t) = entry.state {
                self.topic_names_by_id.remove(&t.topic_id);
            }
        }
    }

    /// Merges a Metadata response that answered a request for `requested` topics, received at
    /// `now`. Returns the brokers that are no longer part of the cluster.
    pub fn apply(
        &mut self,
        response: &MetadataResponse,
        requested: &[String],
        now: Instant,
    ) -> Vec<NodeId> {
        let mut removed = Vec::new();
        // Every response lists all live brokers; an empty list would be a broker bug, and
        // forgetting every broker would strand us on the bootstrap list, so keep the old one.
        if !response.brokers.is_empty() {
            let mut brokers = HashMap::with_capacity(response.brokers.len());
            for b in &response.brokers {
                let Ok(port) = u16::try_from(b.port) else {
                    tracing::warn!(
                        node_id = b.node_id,
                        port = b.port,
                        "broker with invalid port ignored"
                    );
                    continue;
                };
                brokers.insert(
                    b.node_id,
                    BrokerInfo {
                        node_id: b.node_id,
                        host: b.host.clone(),
                        port,
                        rack: b.rack.clone(),
                    },
                );
            }
            removed = self
                .brokers
                .keys()
                .filter(|id| !brokers.contains_key(id))
                .copied()
                .collect();
            self.brokers = brokers;
        }
        if response.cluster_id.is_some() {
            self.cluster_id.clone_from(&response.cluster_id);
        }
        for t in &response.topics {
            // A null name only answers a request by topic id, which this cache never makes.
            let Some(name) = t.name.as_deref() else {
                continue;
            };
            let state = self.merge_topic(name, t);
            self.set_topic(name, state, now);
        }
        // A broker answers every topic it was asked about; one it left out is treated as
        // unknown rather than kept fresh with old data.
        for name in requested {
            if !response
                .topics
                .iter()
                .any(|t| t.name.as_deref() == Some(name))
            {
                self.set_topic(
                    name,
                    TopicState::Failed(ErrorCode::UnknownTopicOrPartition),
                    now,
                );
            }
        }
        removed
    }

    fn set_topic(&mut self, name: &str, state: TopicState, now: Instant) {
        if let Some(old) = self.topics.get(name) {
            if let TopicState::Known(t) = &old.state {
                self.topic_names_by_id.remove(&t.topic_id);
            }
        }
        if let TopicState::Known(t) = &state {
            if t.topic_id != [0; 16] {
                self.topic_names_by_id.insert(t.topic_id, name.to_owned());
            }
        }
        self.topics.insert(
            name.to_owned(),
            TopicEntry {
                state,
                fetched_at: now,
                invalidated: false,
            },
        );
    }

    /// Builds the new state of `name`. A partition whose new leader epoch is lower than the
    /// cached one comes from a broker that has not caught up yet; the cached partition is
    /// kept (the Java client does the same) unless the topic itself was recreated.
    fn merge_topic(&self, name: &str, t: &MetadataResponseTopic) -> TopicState {
        let code = ErrorCode::from_code(t.error_code);
        if code != ErrorCode::None {
            return TopicState::Failed(code);
        }
        let old = match self.topics.get(name).map(|e| &e.state) {
            Some(TopicState::Known(old)) if old.topic_id == t.topic_id => Some(old),
            _ => None,
        };
        let mut partitions: Vec<PartitionMetadata> = t
            .partitions
            .iter()
            .map(|p| {
                let new = PartitionMetadata::from_wire(p);
                match old.and_then(|o| o.partition(new.partition)) {
                    Some(cached)
                        if cached.leader_epoch > new.leader_epoch && new.leader_epoch >= 0 =>
                    {
                        tracing::debug!(
                            topic = name,
                            partition = new.partition,
                            cached_epoch = cached.leader_epoch,
                            new_epoch = new.leader_epoch,
                            "ignoring stale partition metadata"
                        );
                        cached.clone()
                    }
                    _ => new,
                }
            })
            .collect();
        partitions.sort_by_key(|p| p.partition);
        partitions.dedup_by_key(|p| p.partition);
        TopicState::Known(Arc::new(TopicMetadata {
            name: name.to_owned(),
            topic_id: t.topic_id,
            is_internal: t.is_internal,
            partitions,
        }))
    }
}

/// The typed error for a topic-level metadata error.
fn topic_error(topic: &str, code: ErrorCode) -> ClientError {
    match code {
        ErrorCode::UnknownTopicOrPartition | ErrorCode::UnknownTopicId => {
            ClientError::UnknownTopic {
                topic: topic.to_owned(),
            }
        }
        code => ClientError::Topic {
            topic: topic.to_owned(),
            code,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_proto::messages::metadata::MetadataResponseBroker;

    const ID: Uuid = [7; 16];

    fn fresh() -> MetadataFreshness {
        MetadataFreshness {
            max_age: Duration::from_secs(60),
            error_refresh_interval: Duration::from_millis(100),
        }
    }

    fn partition(
        index: i32,
        leader: i32,
        epoch: i32,
        error: ErrorCode,
    ) -> MetadataResponsePartition {
        MetadataResponsePartition {
            error_code: error.code(),
            partition_index: index,
            leader_id: leader,
            leader_epoch: epoch,
            replica_nodes: vec![leader],
            isr_nodes: vec![leader],
            ..MetadataResponsePartition::default()
        }
    }

    fn response(topics: Vec<MetadataResponseTopic>) -> MetadataResponse {
        MetadataResponse {
            brokers: vec![
                MetadataResponseBroker {
                    node_id: 1,
                    host: "b1".into(),
                    port: 9092,
                    rack: Some("r1".into()),
                    ..MetadataResponseBroker::default()
                },
                MetadataResponseBroker {
                    node_id: 2,
                    host: "b2".into(),
                    port: 9093,
                    ..MetadataResponseBroker::default()
                },
            ],
            cluster_id: Some("c".into()),
            topics,
            ..MetadataResponse::default()
        }
    }

    fn topic(name: &str, partitions: Vec<MetadataResponsePartition>) -> MetadataResponseTopic {
        MetadataResponseTopic {
            name: Some(name.into()),
            topic_id: ID,
            partitions,
            ..MetadataResponseTopic::default()
        }
    }

    #[test]
    fn applies_brokers_topics_and_leaders() {
        let mut cache = MetadataCache::new(fresh());
        let now = Instant::now();
        let resp = response(vec![topic(
            "t",
            vec![
                partition(1, 2, 5, ErrorCode::None),
                partition(0, 1, 4, ErrorCode::None),
            ],
        )]);
        assert!(cache.apply(&resp, &["t".into()], now).is_empty());
        assert_eq!(cache.brokers().len(), 2);
        assert_eq!(cache.broker(1).map(|b| b.rack.as_deref()), Some(Some("r1")));
        assert_eq!(cache.cluster_id(), Some("c"));
        let t = cache.topic("t").unwrap().unwrap();
        assert_eq!(t.partition_count(), 2);
        assert_eq!(
            t.leader(1).unwrap(),
            PartitionLeader {
                node_id: 2,
                leader_epoch: 5
            }
        );
        assert_eq!(cache.topic_by_id(&ID).unwrap().name, "t");
        assert!(!cache.needs_refresh("t", now));
        assert!(cache.needs_refresh("t", now + Duration::from_secs(60)));
        assert!(cache.needs_refresh("other", now));
    }

    #[test]
    fn partition_errors_are_typed() {
        let mut cache = MetadataCache::new(fresh());
        let now = Instant::now();
        let resp = response(vec![topic(
            "t",
            vec![
                partition(0, -1, 3, ErrorCode::LeaderNotAvailable),
                partition(1, -1, 3, ErrorCode::None),
                partition(2, 1, 3, ErrorCode::ReplicaNotAvailable),
            ],
        )]);
        cache.apply(&resp, &["t".into()], now);
        let t = cache.topic("t").unwrap().unwrap();
        for p in [0, 1] {
            let err = t.leader(p).unwrap_err();
            assert!(
                matches!(
                    err,
                    ClientError::Partition {
                        code: ErrorCode::LeaderNotAvailable,
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err.is_retriable());
        }
        assert_eq!(t.leader(2).unwrap().node_id, 1);
        let err = t.leader(3).unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::UnknownPartition {
                    partition_count: 3,
                    ..
                }
            ),
            "{err}"
        );
        // Entries with errors refresh on the short interval.
        assert!(!cache.needs_refresh("t", now));
        assert!(cache.needs_refresh("t", now + Duration::from_millis(100)));
    }

    #[test]
    fn unknown_topic_is_a_clear_error_and_refreshes_soon() {
        let mut cache = MetadataCache::new(fresh());
        let now = Instant::now();
        let mut missing = topic("nope", vec![]);
        missing.error_code = ErrorCode::UnknownTopicOrPartition.code();
        cache.apply(
            &response(vec![missing]),
            &["nope".into(), "absent".into()],
            now,
        );
        for name in ["nope", "absent"] {
            let err = cache.topic(name).unwrap().unwrap_err();
            assert!(matches!(err, ClientError::UnknownTopic { .. }), "{err}");
            assert!(err.to_string().contains(name), "{err}");
        }
        assert!(cache.needs_refresh("nope", now + Duration::from_millis(100)));
        let mut denied = topic("secret", vec![]);
        denied.error_code = ErrorCode::TopicAuthorizationFailed.code();
        cache.apply(&response(vec![denied]), &["secret".into()], now);
        let err = cache.topic("secret").unwrap().unwrap_err();
        assert!(matches!(
            err,
            ClientError::Topic {
                code: ErrorCode::TopicAuthorizationFailed,
                ..
            }
        ));
        assert!(!err.is_retriable());
    }

    #[test]
    fn invalidate_forces_a_refresh() {
        let mut cache = MetadataCache::new(fresh());
        let now = Instant::now();
        cache.apply(
            &response(vec![topic("t", vec![partition(0, 1, 0, ErrorCode::None)])]),
            &["t".into()],
            now,
        );
        assert!(!cache.invalidate("other"));
        assert!(cache.invalidate("t"));
        assert!(cache.needs_refresh("t", now));
        assert_eq!(cache.stale_topics(now), vec!["t".to_owned()]);
        cache.remove("t");
        assert!(cache.topic("t").is_none());
        assert!(cache.topic_by_id(&ID).is_none());
    }

    #[test]
    fn stale_leader_epochs_are_ignored_unless_the_topic_was_recreated() {
        let mut cache = MetadataCache::new(fresh());
        let now = Instant::now();
        let t = |leader, epoch| topic("t", vec![partition(0, leader, epoch, ErrorCode::None)]);
        cache.apply(&response(vec![t(1, 7)]), &[], now);
        cache.apply(&response(vec![t(2, 6)]), &[], now);
        let leader = cache.topic("t").unwrap().unwrap().leader(0).unwrap();
        assert_eq!((leader.node_id, leader.leader_epoch), (1, 7));
        cache.apply(&response(vec![t(2, 8)]), &[], now);
        let leader = cache.topic("t").unwrap().unwrap().leader(0).unwrap();
        assert_eq!((leader.node_id, leader.leader_epoch), (2, 8));
        let mut recreated = t(1, 0);
        recreated.topic_id = [9; 16];
        cache.apply(&response(vec![recreated]), &[], now);
        let topic = cache.topic("t").unwrap().unwrap();
        assert_eq!(topic.leader(0).unwrap().leader_epoch, 0);
        assert!(cache.topic_by_id(&ID).is_none());
        assert!(cache.topic_by_id(&[9; 16]).is_some());
    }

    #[test]
    fn removed_brokers_are_reported() {
        let mut cache = MetadataCache::new(fresh());
        let now = Instant::now();
        cache.apply(&response(vec![]), &[], now);
        let mut smaller = response(vec![]);
        smaller.brokers.truncate(1);
        assert_eq!(cache.apply(&smaller, &[], now), vec![2]);
        // An empty broker list keeps the known brokers.
        let mut empty = response(vec![]);
        empty.brokers.clear();
        assert!(cache.apply(&empty, &[], now).is_empty());
        assert_eq!(cache.brokers().len(), 1);
    }

    #[test]
    fn stale_metadata_errors() {
        assert!(is_stale_metadata_error(ErrorCode::NotLeaderOrFollower));
        assert!(is_stale_metadata_error(ErrorCode::FencedLeaderEpoch));
        assert!(!is_stale_metadata_error(ErrorCode::OffsetOutOfRange));
    }
}
