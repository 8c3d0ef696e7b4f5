//! Committed offsets (OffsetFetch / OffsetCommit at the group coordinator) and log offsets
//! (ListOffsets at a partition leader, for `auto.offset.reset`).
//!
//! Both OffsetFetch and OffsetCommit switched from topic names to topic ids in Kafka 4.1
//! (v10), so callers pass a [`TopicIds`] map from metadata; every request fills in name and
//! id, and the version decides which one goes on the wire.

use std::collections::{BTreeMap, HashMap};

use kafka_proto::error_code::ErrorCode;
use kafka_proto::messages::list_offsets::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use kafka_proto::messages::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_proto::messages::offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchResponseTopic,
};
use kafka_proto::primitives::Uuid;

use super::assignor::TopicPartition;
use super::broker::Broker;
use super::error::ClientError;

/// Topic name -> topic id, from metadata.
pub type TopicIds = HashMap<String, Uuid>;

/// The ListOffsets timestamp that asks for the log start offset.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// The ListOffsets timestamp that asks for the log end offset (high watermark).
pub const LATEST_TIMESTAMP: i64 = -1;

/// First OffsetFetch version with the per-group (batched) layout.
const OFFSET_FETCH_BATCHED_FROM: i16 = 8;

fn group_by_topic(parts: &[TopicPartition]) -> BTreeMap<&str, Vec<i32>> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in parts {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    by_topic
}

fn topic_id(ids: &TopicIds, topic: &str) -> Uuid {
    ids.get(topic).copied().unwrap_or([0; 16])
}

/// Reads the committed offsets of `partitions` for `group_id`. A partition without a committed
/// offset is absent from the result. `require_stable` waits out pending transactional
/// offset commits (KIP-447), as the Java consumer does under read_committed.
pub async fn fetch_committed(
    coordinator: &Broker,
    group_id: &str,
    partitions: &[TopicPartition],
    ids: &TopicIds,
    require_stable: bool,
) -> Result<BTreeMap<TopicPartition, i64>, ClientError> {
    let version = coordinator.version_for::<OffsetFetchRequest>()?;
    let topics: Vec<OffsetFetchRequestTopic> = group_by_topic(partitions)
        .into_iter()
        .map(|(name, partition_indexes)| OffsetFetchRequestTopic {
            name: name.to_owned(),
            topic_id: topic_id(ids, name),
            partition_indexes,
            unknown_tagged_fields: Vec::new(),
        })
        .collect();
    let req = if version >= OFFSET_FETCH_BATCHED_FROM {
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: group_id.to_owned(),
                topics: Some(topics),
                ..Default::default()
            }],
            require_stable,
            ..Default::default()
        }
    } else {
        OffsetFetchRequest {
            group_id: group_id.to_owned(),
            topics: Some(topics),
            require_stable,
            ..Default::default()
        }
    };
    let resp = coordinator.request_at(&req, version).await?;
    let (code, topics): (i16, &[OffsetFetchResponseTopic]) = if version >= OFFSET_FETCH_BATCHED_FROM
    {
        let g = resp
            .groups
            .iter()
            .find(|g| g.group_id == group_id)
            .ok_or_else(|| ClientError::Protocol {
                addr: coordinator.addr().to_owned(),
                api: "OffsetFetch",
                reason: format!("group {group_id:?} missing from the response"),
            })?;
        (g.error_code, &g.topics)
    } else {
        (resp.error_code, &resp.topics)
    };
    check(coordinator, "OffsetFetch", code)?;
    let by_id: HashMap<Uuid, &str> = ids.iter().map(|(n, id)| (*id, n.as_str())).collect();
    let mut out = BTreeMap::new();
    for t in topics {
        let name = if t.name.is_empty() {
            by_id.get(&t.topic_id).copied().unwrap_or_default()
        } else {
            t.name.as_str()
        };
        for p in &t.partitions {
            check(coordinator, "OffsetFetch", p.error_code)?;
            if p.committed_offset >= 0 {
                out.insert(
                    TopicPartition::new(name, p.partition_index),
                    p.committed_offset,
                );
            }
        }
    }
    Ok(out)
}

/// The identity an OffsetCommit is made under.
#[derive(Debug, Clone)]
pub struct CommitIdentity<'a> {
    /// `group.id`.
    pub group_id: &'a str,
    /// The member's generation (-1 for a commit outside the group protocol).
    pub generation: i32,
    /// The member id ("" outside the group protocol).
    pub member_id: &'a str,
    /// `group.instance.id`.
    pub group_instance_id: Option<&'a str>,
}

/// Commits `offsets` (the next offset to consume per partition). Fails on the first
/// partition-level error, naming it.
pub async fn commit(
    coordinator: &Broker,
    who: &CommitIdentity<'_>,
    offsets: &BTreeMap<TopicPartition, i64>,
    ids: &TopicIds,
) -> Result<(), ClientError> {
    if offsets.is_empty() {
        return Ok(());
    }
    let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, offset) in offsets {
        by_topic
            .entry(&tp.topic)
            .or_default()
            .push(OffsetCommitRequestPartition {
                partition_index: tp.partition,
                committed_offset: *offset,
                ..Default::default()
            });
    }
    let req = OffsetCommitRequest {
        group_id: who.group_id.to_owned(),
        generation_id_or_member_epoch: who.generation,
        member_id: who.member_id.to_owned(),
        group_instance_id: who.group_instance_id.map(str::to_owned),
        topics: by_topic
            .into_iter()
            .map(|(name, partitions)| OffsetCommitRequestTopic {
                name: name.to_owned(),
                topic_id: topic_id(ids, name),
                partitions,
                unknown_tagged_fields: Vec::new(),
            })
            .collect(),
        ..Default::default()
    };
    let resp = coordinator.request(&req).await?;
    for t in &resp.topics {
        for p in &t.partitions {
            let code = ErrorCode::from_code(p.error_code);
            if !code.is_ok() {
                return Err(ClientError::Broker {
                    addr: coordinator.addr().to_owned(),
                    api: "OffsetCommit",
                    code,
                    message: Some(format!("partition {}-{}", t.name, p.partition_index)),
                });
            }
        }
    }
    Ok(())
}

/// Asks a partition leader for the offset at `timestamp` ([`EARLIEST_TIMESTAMP`] or
/// [`LATEST_TIMESTAMP`]) of each partition. `isolation_level` 1 (read_committed) makes
/// "latest" the last stable offset.
pub async fn list_offsets(
    leader: &Broker,
    partitions: &[TopicPartition],
    timestamp: i64,
    isolation_level: i8,
) -> Result<BTreeMap<TopicPartition, i64>, ClientError> {
    let req = ListOffsetsRequest {
        isolation_level,
        topics: group_by_topic(partitions)
            .into_iter()
            .map(|(name, ps)| ListOffsetsTopic {
                name: name.to_owned(),
                partitions: ps
                    .into_iter()
                    .map(|p| ListOffsetsPartition {
                        partition_index: p,
                        current_leader_epoch: -1,
                        timestamp,
                        unknown_tagged_fields: Vec::new(),
                    })
                    .collect(),
                unknown_tagged_fields: Vec::new(),
            })
            .collect(),
        ..Default::default()
    };
    let resp = leader.request(&req).await?;
    let mut out = BTreeMap::new();
    for t in &resp.topics {
        for p in &t.partitions {
            let code = ErrorCode::from_code(p.error_code);
            if !code.is_ok() {
                return Err(ClientError::Broker {
                    addr: leader.addr().to_owned(),
                    api: "ListOffsets",
                    code,
                    message: Some(format!("partition {}-{}", t.name, p.partition_index)),
                });
            }
            out.insert(
                TopicPartition::new(t.name.clone(), p.partition_index),
                p.offset,
            );
        }
    }
    Ok(out)
}

fn check(broker: &Broker, api: &'static str, code: i16) -> Result<(), ClientError> {
    let code = ErrorCode::from_code(code);
    if code.is_ok() {
        Ok(())
    } else {
        Err(ClientError::Broker {
            addr: broker.addr().to_owned(),
            api,
            code,
            message: None,
        })
    }
}
