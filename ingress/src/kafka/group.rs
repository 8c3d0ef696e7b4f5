//! Classic consumer-group membership (JoinGroup / SyncGroup / Heartbeat / LeaveGroup) for one
//! member, as an explicit state machine over a coordinator connection.
//!
//! This module owns the protocol steps and the wire mapping of subscriptions and assignments;
//! the driver that runs them on a timer, finds the coordinator and hands assignments to the
//! engine sits on top (`consumer`). Leaders compute the assignment with the `assignor`
//! module, so a group mixing us, librdkafka and the Java client agrees on who owns what.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_proto::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicPartition as WirePartitions,
    CONSUMER_PROTOCOL_MAX_VERSION,
};
use kafka_proto::error_code::ErrorCode;
use kafka_proto::messages::find_coordinator::FindCoordinatorRequest;
use kafka_proto::messages::heartbeat::HeartbeatRequest;
use kafka_proto::messages::join_group::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafka_proto::messages::leave_group::LeaveGroupRequest;
use kafka_proto::messages::sync_group::{SyncGroupRequest, SyncGroupRequestAssignment};

use super::assignor::{assignor_by_name, MemberSubscription, RebalanceProtocol, TopicPartition};
use super::broker::Broker;
use super::duration_ms_i32;
use super::error::ClientError;

/// The protocol type every Kafka consumer group uses.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// Where a group's coordinator lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinatorAddress {
    /// The coordinator's node id.
    pub node_id: i32,
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// Asks `broker` which node coordinates `group_id`.
pub async fn find_coordinator(
    broker: &Broker,
    group_id: &str,
) -> Result<CoordinatorAddress, ClientError> {
    let version = broker.version_for::<FindCoordinatorRequest>()?;
    let resp = broker
        .request_at(&FindCoordinatorRequest::single(0, group_id), version)
        .await?;
    let result = resp
        .results(version, group_id)
        .into_iter()
        .find(|c| c.key == group_id)
        .ok_or_else(|| ClientError::Protocol {
            addr: broker.addr().to_owned(),
            api: "FindCoordinator",
            reason: format!("no coordinator listed for group {group_id:?}"),
        })?;
    let code = ErrorCode::from_code(result.error_code);
    if !code.is_ok() {
        return Err(ClientError::Broker {
            addr: broker.addr().to_owned(),
            api: "FindCoordinator",
            code,
            message: result.error_message.clone(),
        });
    }
    let port = u16::try_from(result.port).map_err(|_| ClientError::Protocol {
        addr: broker.addr().to_owned(),
        api: "FindCoordinator",
        reason: format!("invalid coordinator port {}", result.port),
    })?;
    Ok(CoordinatorAddress {
        node_id: result.node_id,
        host: result.host.clone(),
        port,
    })
}

/// The static settings of one member.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    /// `group.id`.
    pub group_id: String,
    /// `group.instance.id` (static membership).
    pub group_instance_id: Option<String>,
    /// `session.timeout.ms`.
    pub session_timeout: Duration,
    /// `max.poll.interval.ms`: how long the coordinator waits for members to rejoin.
    pub rebalance_timeout: Duration,
    /// `partition.assignment.strategy`, in preference order (protocol names).
    pub assignment_strategies: Vec<String>,
    /// Topics this member subscribes to.
    pub topics: Vec<String>,
    /// `client.rack`.
    pub rack_id: Option<String>,
}

/// Where a member is in the join/sync cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberState {
    /// Not in the group: must (re)join.
    Unjoined,
    /// Joined generation `generation`; waiting for SyncGroup to deliver the assignment.
    AwaitingSync {
        /// The generation joined.
        generation: i32,
        /// The protocol (assignor) the coordinator chose.
        protocol: String,
    },
    /// Member of a stable generation with an assignment.
    Stable {
        /// The generation.
        generation: i32,
        /// The protocol (assignor) in use.
        protocol: String,
    },
}

/// What the leader must assign after a join (empty for followers).
#[derive(Debug, Clone, Default)]
pub struct JoinOutcome {
    /// Whether this member leads the generation.
    pub is_leader: bool,
    /// The members' subscriptions (leader only).
    pub members: Vec<MemberSubscription>,
}

/// What a heartbeat found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeartbeatOutcome {
    /// All well.
    Alive,
    /// The group is rebalancing: rejoin (keeping owned partitions if cooperative).
    RejoinNeeded,
    /// The coordinator forgot this member (session expired or generation moved on): drop the
    /// member id and the assignment, then rejoin.
    MemberReset(ErrorCode),
    /// The coordinator moved: find it again.
    CoordinatorMoved,
}

/// One member of a classic consumer group.
#[derive(Debug, Clone)]
pub struct GroupMember {
    config: MemberConfig,
    member_id: String,
    state: MemberState,
    owned: Vec<TopicPartition>,
    /// Generation in which `owned` was assigned (for cooperative-sticky conflict resolution).
    owned_generation: i32,
    /// The last stable generation while it is still the group's: from a successful SyncGroup
    /// until this member's next JoinGroup answer (or a reset). Offsets are committed with it
    /// during a rebalance, before rejoining, which the coordinator accepts while the group is
    /// preparing the rebalance.
    commit_generation: i32,
}

/// How many times JoinGroup is retried for MEMBER_ID_REQUIRED in one `join` call.
const MAX_MEMBER_ID_ROUND_TRIPS: usize = 2;

impl GroupMember {
    /// A member that has not joined yet.
    pub fn new(config: MemberConfig) -> Self {
        GroupMember {
            config,
            member_id: String::new(),
            state: MemberState::Unjoined,
            owned: Vec::new(),
            owned_generation: -1,
            commit_generation: -1,
        }
    }

    /// The member id the coordinator assigned ("" before the first join).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The current state.
    pub fn state(&self) -> &MemberState {
        &self.state
    }

    /// The member's settings.
    pub fn config(&self) -> &MemberConfig {
        &self.config
    }

    /// The partitions this member owns now.
    pub fn owned(&self) -> &[TopicPartition] {
        &self.owned
    }

    /// The generation of a stable member (for OffsetCommit), -1 otherwise.
    pub fn generation(&self) -> i32 {
        match &self.state {
            MemberState::Stable { generation, .. } => *generation,
            _ => -1,
        }
    }

    /// The generation to commit offsets with: the current one while stable, and the last
    /// stable one after a rebalance began until this member joined again; -1 when there is
    /// none (never joined, reset, or joined and waiting for SyncGroup).
    pub fn commit_generation(&self) -> i32 {
        match &self.state {
            MemberState::Stable { generation, .. } => *generation,
            MemberState::Unjoined => self.commit_generation,
            MemberState::AwaitingSync { .. } => -1,
        }
    }

    /// The rebalance protocol of the preferred strategy: cooperative only when every
    /// configured strategy is cooperative (the option translator forbids mixing).
    pub fn rebalance_protocol(&self) -> RebalanceProtocol {
        let all_cooperative = !self.config.assignment_strategies.is_empty()
            && self.config.assignment_strategies.iter().all(|s| {
                assignor_by_name(s).is_some_and(|a| a.protocol() == RebalanceProtocol::Cooperative)
            });
        if all_cooperative {
            RebalanceProtocol::Cooperative
        } else {
            RebalanceProtocol::Eager
        }
    }

    /// Forgets every owned partition (eager rebalance, or after losing membership).
    pub fn revoke_all(&mut self) {
        self.owned.clear();
    }

    /// Forgets the member id too: the coordinator no longer knows us.
    pub fn reset(&mut self) {
        self.member_id.clear();
        self.state = MemberState::Unjoined;
        self.owned.clear();
        self.owned_generation = -1;
        self.commit_generation = -1;
    }

    /// Marks the member as needing to rejoin, keeping its member id and owned partitions.
    pub fn request_rejoin(&mut self) {
        self.state = MemberState::Unjoined;
    }

    fn subscription_bytes(&self) -> Result<Bytes, ClientError> {
        let sub = ConsumerProtocolSubscription {
            topics: self.config.topics.clone(),
            user_data: None,
            owned_partitions: to_wire(&self.owned),
            generation_id: self.owned_generation,
            rack_id: self.config.rack_id.clone(),
        };
        let mut buf = BytesMut::new();
        sub.write(&mut buf, CONSUMER_PROTOCOL_MAX_VERSION)
            .map_err(|e| ClientError::Protocol {
                addr: String::new(),
                api: "JoinGroup",
                reason: format!("cannot encode subscription: {e}"),
            })?;
        Ok(buf.freeze())
    }

    /// Joins (or rejoins) the group through `coordinator`. Handles the MEMBER_ID_REQUIRED
    /// round trip; other errors are returned for the driver to classify.
    pub async fn join(&mut self, coordinator: &Broker) -> Result<JoinOutcome, ClientError> {
        let metadata = self.subscription_bytes()?;
        let protocols: Vec<JoinGroupRequestProtocol> = self
            .config
            .assignment_strategies
            .iter()
            .map(|name| JoinGroupRequestProtocol {
                name: name.clone(),
                metadata: metadata.clone(),
                unknown_tagged_fields: Vec::new(),
            })
            .collect();
        // The coordinator holds JoinGroup until every member rejoined or the rebalance
        // timeout passed, so the request may take that long.
        let timeout = self.config.rebalance_timeout + Duration::from_secs(5);
        for _ in 0..=MAX_MEMBER_ID_ROUND_TRIPS {
            let req = JoinGroupRequest {
                group_id: self.config.group_id.clone(),
                session_timeout_ms: duration_ms_i32(self.config.session_timeout),
                rebalance_timeout_ms: duration_ms_i32(self.config.rebalance_timeout),
                member_id: self.member_id.clone(),
                group_instance_id: self.config.group_instance_id.clone(),
                protocol_type: CONSUMER_PROTOCOL_TYPE.to_owned(),
                protocols: protocols.clone(),
                reason: None,
                unknown_tagged_fields: Vec::new(),
            };
            let resp = coordinator.request_with_timeout(&req, timeout).await?;
            let code = ErrorCode::from_code(resp.error_code);
            if code == ErrorCode::MemberIdRequired {
                // KIP-394: the coordinator hands out the id first and expects it back.
                self.member_id = resp.member_id;
                continue;
            }
            if !code.is_ok() {
                if matches!(
                    code,
                    ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration
                ) {
                    self.reset();
                }
                return Err(broker_error(coordinator, "JoinGroup", code));
            }
            self.member_id = resp.member_id.clone();
            self.commit_generation = -1;
            let protocol = resp.protocol_name.clone().unwrap_or_default();
            self.state = MemberState::AwaitingSync {
                generation: resp.generation_id,
                protocol,
            };
            let is_leader = resp.leader == resp.member_id;
            let mut members = Vec::new();
            if is_leader {
                for m in &resp.members {
                    let sub = ConsumerProtocolSubscription::read(&mut m.metadata.clone()).map_err(
                        |e| ClientError::Protocol {
                            addr: coordinator.addr().to_owned(),
                            api: "JoinGroup",
                            reason: format!("member {}: bad subscription: {e}", m.member_id),
                        },
                    )?;
                    members.push(MemberSubscription {
                        member_id: m.member_id.clone(),
                        group_instance_id: m.group_instance_id.clone(),
                        topics: sub.topics,
                        owned_partitions: from_wire(&sub.owned_partitions),
                        generation: (sub.generation_id >= 0).then_some(sub.generation_id),
                        rack_id: sub.rack_id,
                    });
                }
            }
            return Ok(JoinOutcome { is_leader, members });
        }
        Err(ClientError::Protocol {
            addr: coordinator.addr().to_owned(),
            api: "JoinGroup",
            reason: "coordinator kept asking for a member id".to_owned(),
        })
    }

    /// Runs the chosen assignor over the members (leader only).
    pub fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> Result<BTreeMap<String, Vec<TopicPartition>>, ClientError> {
        let protocol = match &self.state {
            MemberState::AwaitingSync { protocol, .. } => protocol.clone(),
            other => {
                return Err(ClientError::Protocol {
                    addr: String::new(),
                    api: "SyncGroup",
                    reason: format!("assign called in state {other:?}"),
                })
            }
        };
        let assignor = assignor_by_name(&protocol).ok_or_else(|| ClientError::Protocol {
            addr: String::new(),
            api: "JoinGroup",
            reason: format!("coordinator chose unknown assignor {protocol:?}"),
        })?;
        Ok(assignor.assign(members, partitions_per_topic))
    }

    /// Sends SyncGroup (with the assignments when leader) and stores the received
    /// assignment. Returns `(revoked, added)` relative to what the member owned before.
    pub async fn sync(
        &mut self,
        coordinator: &Broker,
        assignments: &BTreeMap<String, Vec<TopicPartition>>,
    ) -> Result<(Vec<TopicPartition>, Vec<TopicPartition>), ClientError> {
        let (generation, protocol) = match &self.state {
            MemberState::AwaitingSync {
                generation,
                protocol,
            } => (*generation, protocol.clone()),
            other => {
                return Err(ClientError::Protocol {
                    addr: coordinator.addr().to_owned(),
                    api: "SyncGroup",
                    reason: format!("sync called in state {other:?}"),
                })
            }
        };
        let mut wire = Vec::with_capacity(assignments.len());
        for (member_id, parts) in assignments {
            let mut buf = BytesMut::new();
            ConsumerProtocolAssignment {
                assigned_partitions: to_wire(parts),
                user_data: None,
            }
            .write(&mut buf, CONSUMER_PROTOCOL_MAX_VERSION)
            .map_err(|e| ClientError::Protocol {
                addr: coordinator.addr().to_owned(),
                api: "SyncGroup",
                reason: format!("cannot encode assignment: {e}"),
            })?;
            wire.push(SyncGroupRequestAssignment {
                member_id: member_id.clone(),
                assignment: buf.freeze(),
                unknown_tagged_fields: Vec::new(),
            });
        }
        let req = SyncGroupRequest {
            group_id: self.config.group_id.clone(),
            generation_id: generation,
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            protocol_type: Some(CONSUMER_PROTOCOL_TYPE.to_owned()),
            protocol_name: Some(protocol.clone()),
            assignments: wire,
            unknown_tagged_fields: Vec::new(),
        };
        let timeout = self.config.rebalance_timeout + Duration::from_secs(5);
        let resp = coordinator.request_with_timeout(&req, timeout).await?;
        let code = ErrorCode::from_code(resp.error_code);
        if !code.is_ok() {
            match code {
                ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration => self.reset(),
                _ => self.request_rejoin(),
            }
            return Err(broker_error(coordinator, "SyncGroup", code));
        }
        let assigned = if resp.assignment.is_empty() {
            Vec::new()
        } else {
            let a =
                ConsumerProtocolAssignment::read(&mut resp.assignment.clone()).map_err(|e| {
                    ClientError::Protocol {
                        addr: coordinator.addr().to_owned(),
                        api: "SyncGroup",
                        reason: format!("bad assignment: {e}"),
                    }
                })?;
            let mine: Vec<TopicPartition> = from_wire(&a.assigned_partitions)
                .into_iter()
                .filter(|tp| self.config.topics.contains(&tp.topic))
                .collect();
            mine
        };
        let (revoked, added) = super::assignor::diff(&self.owned, &assigned);
        self.owned = assigned;
        self.owned_generation = generation;
        self.commit_generation = generation;
        self.state = MemberState::Stable {
            generation,
            protocol,
        };
        Ok((revoked, added))
    }

    /// Sends one heartbeat and classifies the answer.
    pub async fn heartbeat(
        &mut self,
        coordinator: &Broker,
    ) -> Result<HeartbeatOutcome, ClientError> {
        let generation = self.generation();
        let req = HeartbeatRequest {
            group_id: self.config.group_id.clone(),
            generation_id: generation,
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            unknown_tagged_fields: Vec::new(),
        };
        let resp = coordinator.request(&req).await?;
        let code = ErrorCode::from_code(resp.error_code);
        Ok(match code {
            ErrorCode::None => HeartbeatOutcome::Alive,
            ErrorCode::RebalanceInProgress => {
                self.request_rejoin();
                HeartbeatOutcome::RejoinNeeded
            }
            ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration => {
                self.reset();
                HeartbeatOutcome::MemberReset(code)
            }
            ErrorCode::NotCoordinator
            | ErrorCode::CoordinatorNotAvailable
            | ErrorCode::CoordinatorLoadInProgress => HeartbeatOutcome::CoordinatorMoved,
            other => return Err(broker_error(coordinator, "Heartbeat", other)),
        })
    }

    /// Leaves the group, so its partitions move at once. Static members leave too (by their
    /// `group.instance.id`, KIP-345): a graceful stop is not a restart, and a crash — which
    /// sends nothing — is what static membership protects from a rebalance.
    pub async fn leave(&mut self, coordinator: &Broker, reason: &str) -> Result<(), ClientError> {
        if self.member_id.is_empty() {
            self.reset();
            return Ok(());
        }
        let req = LeaveGroupRequest::single(
            self.config.group_id.clone(),
            self.member_id.clone(),
            self.config.group_instance_id.clone(),
            Some(reason.to_owned()),
        );
        let resp = coordinator.request(&req).await;
        self.reset();
        let resp = resp?;
        let code = ErrorCode::from_code(resp.error_code);
        if code.is_ok() || code == ErrorCode::UnknownMemberId {
            Ok(())
        } else {
            Err(broker_error(coordinator, "LeaveGroup", code))
        }
    }
}

fn broker_error(broker: &Broker, api: &'static str, code: ErrorCode) -> ClientError {
    ClientError::Broker {
        addr: broker.addr().to_owned(),
        api,
        code,
        message: None,
    }
}

/// Groups topic-partitions by topic for the consumer-protocol payloads.
fn to_wire(parts: &[TopicPartition]) -> Vec<WirePartitions> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in parts {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    by_topic
        .into_iter()
        .map(|(topic, mut partitions)| {
            partitions.sort_unstable();
            WirePartitions {
                topic: topic.to_owned(),
                partitions,
            }
        })
        .collect()
}

fn from_wire(parts: &[WirePartitions]) -> Vec<TopicPartition> {
    let mut out: Vec<TopicPartition> = parts
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| TopicPartition::new(t.topic.clone(), *p))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_mapping_groups_by_topic_and_round_trips() {
        let parts = vec![
            TopicPartition::new("b", 1),
            TopicPartition::new("a", 2),
            TopicPartition::new("a", 0),
        ];
        let wire = to_wire(&parts);
        assert_eq!(wire.len(), 2);
        assert_eq!(wire[0].topic, "a");
        assert_eq!(wire[0].partitions, vec![0, 2]);
        let mut sorted = parts.clone();
        sorted.sort();
        assert_eq!(from_wire(&wire), sorted);
    }

    #[test]
    fn cooperative_only_when_every_strategy_is() {
        let cfg = |s: &[&str]| MemberConfig {
            group_id: "g".into(),
            group_instance_id: None,
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(10),
            assignment_strategies: s.iter().map(|s| s.to_string()).collect(),
            topics: vec![],
            rack_id: None,
        };
        assert_eq!(
            GroupMember::new(cfg(&["cooperative-sticky"])).rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        assert_eq!(
            GroupMember::new(cfg(&["range", "roundrobin"])).rebalance_protocol(),
            RebalanceProtocol::Eager
        );
    }
}
