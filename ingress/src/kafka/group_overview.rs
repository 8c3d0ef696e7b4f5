//! A consumer group as Kafka sees it, for the cluster-wide status of a subscription: its
//! members and what each owns (DescribeGroups; ConsumerGroupDescribe for KIP-848 groups), the
//! committed offsets (OffsetFetch) and the
//! high watermarks (ListOffsets) of the topic's partitions.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use kafka_proto::consumer_protocol::ConsumerProtocolAssignment;
use kafka_proto::error_code::ErrorCode;
use kafka_proto::messages::consumer_group_describe::ConsumerGroupDescribeRequest;
use kafka_proto::messages::describe_groups::DescribeGroupsRequest;
use serde::{Deserialize, Serialize};

use super::assignor::TopicPartition;
use super::broker::Broker;
use super::cluster::{Cluster, ConnectionPurpose};
use super::error::ClientError;
use super::group::{find_coordinator, CONSUMER_PROTOCOL_TYPE};
use super::offsets::{fetch_committed, list_offsets, LATEST_TIMESTAMP};

/// One member of the group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMemberView {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// Its `group.instance.id` (static members).
    pub instance_id: Option<String>,
    /// Its `client.id`.
    pub client_id: String,
    /// Where it connects from.
    pub client_host: String,
    /// The partitions of the topic it owns.
    pub partitions: Vec<i32>,
}

/// One partition of the topic, as Kafka records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOverview {
    /// The partition.
    pub partition: i32,
    /// The owning member's instance id (its member id if it has none), if owned.
    pub owner: Option<String>,
    /// The group's committed offset.
    pub committed: Option<i64>,
    /// The partition's high watermark.
    pub high_watermark: Option<i64>,
    /// `high_watermark - committed` (everything, when nothing is committed yet).
    pub lag: Option<i64>,
}

/// The group and the topic's partitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupOverview {
    /// The group id.
    pub group: String,
    /// The coordinator's name for the group state (`Stable`, `PreparingRebalance`, ...).
    pub state: String,
    /// Its members.
    pub members: Vec<GroupMemberView>,
    /// Every partition of the topic.
    pub partitions: Vec<PartitionOverview>,
}

/// The cluster-wide part of a subscription's status: what Kafka says, or why it could not
/// be asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupStatus {
    /// The group, its members and the topic's partitions.
    #[serde(flatten)]
    pub overview: Option<GroupOverview>,
    /// Why Kafka could not be asked (e.g. the coordinator is unreachable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Asks Kafka about `group` consuming `topic`.
pub async fn describe_group(
    cluster: &Cluster,
    group: &str,
    topic: &str,
) -> Result<GroupOverview, ClientError> {
    let metadata = cluster.topic(topic).await?;
    let partitions: Vec<TopicPartition> = metadata
        .partitions
        .iter()
        .map(|p| TopicPartition::new(topic.to_owned(), p.partition))
        .collect();
    let any = cluster.any_broker().await?;
    let coordinator = find_coordinator(&any, group).await?;
    let coordinator = cluster
        .broker(coordinator.node_id, ConnectionPurpose::Control)
        .await?;
    let (state, mut members) = match classic_members(&coordinator, group, topic).await {
        // A KIP-848 group: DescribeGroups answers GROUP_ID_NOT_FOUND ("not a classic group").
        Err(ClientError::Broker {
            code: ErrorCode::GroupIdNotFound,
            ..
        }) if coordinator
            .versions()
            .supports::<ConsumerGroupDescribeRequest>() =>
        {
            consumer_group_members(&coordinator, group, topic).await?
        }
        other => other?,
    };
    let mut owners: HashMap<i32, String> = HashMap::new();
    for m in &members {
        let name = m.instance_id.clone().unwrap_or_else(|| m.member_id.clone());
        for p in &m.partitions {
            owners.insert(*p, name.clone());
        }
    }
    members.sort_by(|a, b| {
        a.instance_id
            .cmp(&b.instance_id)
            .then(a.member_id.cmp(&b.member_id))
    });
    let ids = HashMap::from([(topic.to_owned(), metadata.topic_id)]);
    let committed = fetch_committed(&coordinator, group, &partitions, &ids, false).await?;
    let mut high_watermarks: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    let mut by_leader: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
    for tp in &partitions {
        if let Ok(leader) = metadata.leader(tp.partition) {
            by_leader
                .entry(leader.node_id)
                .or_default()
                .push(tp.clone());
        }
    }
    for (node, tps) in by_leader {
        // A leader that cannot be asked leaves its partitions without a high watermark.
        if let Ok(leader) = cluster.broker(node, ConnectionPurpose::Control).await {
            if let Ok(found) = list_offsets(&leader, &tps, LATEST_TIMESTAMP, 0).await {
                high_watermarks.extend(found);
            }
        }
    }
    let partitions = partitions
        .iter()
        .map(|tp| {
            let committed = committed.get(tp).copied();
            let high_watermark = high_watermarks.get(tp).copied();
            PartitionOverview {
                partition: tp.partition,
                owner: owners.get(&tp.partition).cloned(),
                committed,
                high_watermark,
                lag: high_watermark.map(|hw| (hw - committed.unwrap_or(0)).max(0)),
            }
        })
        .collect();
    Ok(GroupOverview {
        group: group.to_owned(),
        state,
        members,
        partitions,
    })
}

/// The state and members of a classic group (DescribeGroups), with what each owns of `topic`.
async fn classic_members(
    coordinator: &Broker,
    group: &str,
    topic: &str,
) -> Result<(String, Vec<GroupMemberView>), ClientError> {
    let described = coordinator
        .request(&DescribeGroupsRequest {
            groups: vec![group.to_owned()],
            ..Default::default()
        })
        .await?;
    let found = answer_for(
        coordinator,
        "DescribeGroups",
        group,
        described.groups,
        |g| (&g.group_id, g.error_code, &g.error_message),
    )?;
    let mut members = Vec::new();
    for m in found.members {
        let mut owned = Vec::new();
        if found.protocol_type == CONSUMER_PROTOCOL_TYPE && !m.member_assignment.is_empty() {
            let mut bytes: Bytes = m.member_assignment.clone();
            // A member whose assignment does not decode is shown without partitions.
            if let Ok((_, assignment)) = ConsumerProtocolAssignment::read_versioned(&mut bytes) {
                for tp in assignment.assigned_partitions {
                    if tp.topic == topic {
                        owned.extend(tp.partitions);
                    }
                }
            }
        }
        owned.sort_unstable();
        members.push(GroupMemberView {
            member_id: m.member_id,
            instance_id: m.group_instance_id,
            client_id: m.client_id,
            client_host: m.client_host,
            partitions: owned,
        });
    }
    Ok((found.group_state, members))
}

/// The state and members of a KIP-848 group (ConsumerGroupDescribe), with what each owns of
/// `topic` now (its current, not its target, assignment).
async fn consumer_group_members(
    coordinator: &Broker,
    group: &str,
    topic: &str,
) -> Result<(String, Vec<GroupMemberView>), ClientError> {
    let described = coordinator
        .request(&ConsumerGroupDescribeRequest {
            group_ids: vec![group.to_owned()],
            ..Default::default()
        })
        .await?;
    let found = answer_for(
        coordinator,
        "ConsumerGroupDescribe",
        group,
        described.groups,
        |g| (&g.group_id, g.error_code, &g.error_message),
    )?;
    let members = found
        .members
        .into_iter()
        .map(|m| {
            let mut owned: Vec<i32> = m
                .assignment
                .topic_partitions
                .iter()
                .filter(|t| t.topic_name == topic)
                .flat_map(|t| t.partitions.iter().copied())
                .collect();
            owned.sort_unstable();
            GroupMemberView {
                member_id: m.member_id,
                instance_id: m.instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                partitions: owned,
            }
        })
        .collect();
    Ok((found.group_state, members))
}

/// The answer for `group` among `groups`, or the error the coordinator gave for it.
fn answer_for<G>(
    coordinator: &Broker,
    api: &'static str,
    group: &str,
    groups: Vec<G>,
    fields: impl Fn(&G) -> (&String, i16, &Option<String>),
) -> Result<G, ClientError> {
    let found = groups
        .into_iter()
        .find(|g| fields(g).0 == group)
        .ok_or_else(|| ClientError::Protocol {
            addr: coordinator.addr().to_owned(),
            api,
            reason: format!("no answer for group {group:?}"),
        })?;
    let (_, error_code, message) = fields(&found);
    let code = ErrorCode::from_code(error_code);
    if !code.is_ok() {
        return Err(ClientError::Broker {
            addr: coordinator.addr().to_owned(),
            api,
            code,
            message: message.clone(),
        });
    }
    Ok(found)
}
