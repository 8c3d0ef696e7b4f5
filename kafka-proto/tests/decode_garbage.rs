//! Decoders must return errors, never panic, on arbitrary bytes: random inputs and random
//! corruptions of valid encodings, at every version of every message.

use bytes::{Bytes, BytesMut};
use kafka_proto::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicPartition,
};
use kafka_proto::messages::api_versions::{ApiVersion, ApiVersionsRequest, ApiVersionsResponse};
use kafka_proto::messages::consumer_group_heartbeat::{
    Assignment, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, TopicPartitions,
};
use kafka_proto::messages::create_topics::{
    CreatableTopic, CreatableTopicConfig, CreatableTopicConfigs, CreatableTopicResult,
    CreateTopicsRequest, CreateTopicsResponse,
};
use kafka_proto::messages::describe_configs::{
    DescribeConfigsRequest, DescribeConfigsResource, DescribeConfigsResourceResult,
    DescribeConfigsResponse, DescribeConfigsResult, DescribeConfigsSynonym, RESOURCE_TYPE_TOPIC,
};
use kafka_proto::messages::describe_groups::{
    DescribeGroupsRequest, DescribeGroupsResponse, DescribedGroup, DescribedGroupMember,
};
use kafka_proto::messages::find_coordinator::{
    Coordinator, FindCoordinatorRequest, FindCoordinatorResponse,
};
use kafka_proto::messages::join_group::{
    JoinGroupRequest, JoinGroupRequestProtocol, JoinGroupResponse, JoinGroupResponseMember,
};
use kafka_proto::messages::leave_group::{
    LeaveGroupRequest, LeaveGroupResponse, MemberIdentity, MemberResponse,
};
use kafka_proto::messages::metadata::{
    MetadataRequest, MetadataRequestTopic, MetadataResponse, MetadataResponseBroker,
    MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_proto::messages::sync_group::{
    SyncGroupRequest, SyncGroupRequestAssignment, SyncGroupResponse,
};
use kafka_proto::Message;

/// A small deterministic xorshift generator (no dependency needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn hammer<M: Message>(sample: &M, rng: &mut Rng) {
    for version in M::MIN_VERSION..=M::MAX_VERSION {
        for _ in 0..300 {
            let len = rng.below(80);
            let mut b = Bytes::from(rng.bytes(len));
            let _ = M::read(&mut b, version);
        }
        let mut buf = BytesMut::new();
        if sample.write(&mut buf, version).is_err() {
            continue;
        }
        let valid = buf.to_vec();
        for _ in 0..300 {
            let mut v = valid.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(v.len().max(1));
                if let Some(b) = v.get_mut(i) {
                    *b = match rng.below(4) {
                        0 => 0xff,
                        1 => 0x7f,
                        2 => 0,
                        _ => rng.next() as u8,
                    };
                }
            }
            let _ = M::read(&mut Bytes::from(v), version);
        }
    }
}

fn s(x: &str) -> String {
    x.to_owned()
}

#[test]
fn decoders_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    hammer(
        &ApiVersionsRequest {
            client_software_name: s("a"),
            client_software_version: s("1"),
            unknown_tagged_fields: vec![],
        },
        &mut rng,
    );
    hammer(
        &ApiVersionsResponse {
            api_keys: vec![ApiVersion {
                api_key: 3,
                min_version: 0,
                max_version: 12,
                unknown_tagged_fields: vec![],
            }],
            finalized_features_epoch: 3,
            zk_migration_ready: true,
            ..ApiVersionsResponse::default()
        },
        &mut rng,
    );
    hammer(
        &MetadataRequest {
            topics: Some(vec![MetadataRequestTopic::named("t")]),
            ..MetadataRequest::default()
        },
        &mut rng,
    );
    hammer(
        &MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: s("h"),
                port: 1,
                rack: Some(s("r")),
                unknown_tagged_fields: vec![],
            }],
            topics: vec![MetadataResponseTopic {
                name: Some(s("t")),
                partitions: vec![MetadataResponsePartition {
                    replica_nodes: vec![1, 2],
                    isr_nodes: vec![1],
                    offline_replicas: vec![2],
                    ..MetadataResponsePartition::default()
                }],
                ..MetadataResponseTopic::default()
            }],
            ..MetadataResponse::default()
        },
        &mut rng,
    );
    hammer(&FindCoordinatorRequest::single(0, "g"), &mut rng);
    hammer(
        &FindCoordinatorResponse {
            host: s("h"),
            coordinators: vec![Coordinator {
                key: s("g"),
                host: s("h"),
                ..Coordinator::default()
            }],
            ..FindCoordinatorResponse::default()
        },
        &mut rng,
    );
    hammer(
        &JoinGroupRequest {
            group_id: s("g"),
            protocol_type: s("consumer"),
            protocols: vec![JoinGroupRequestProtocol {
                name: s("range"),
                metadata: Bytes::from_static(b"\x00\x00"),
                unknown_tagged_fields: vec![],
            }],
            ..JoinGroupRequest::default()
        },
        &mut rng,
    );
    hammer(
        &JoinGroupResponse {
            protocol_name: Some(s("range")),
            members: vec![JoinGroupResponseMember {
                member_id: s("m"),
                ..JoinGroupResponseMember::default()
            }],
            ..JoinGroupResponse::default()
        },
        &mut rng,
    );
    hammer(
        &SyncGroupRequest {
            assignments: vec![SyncGroupRequestAssignment {
                member_id: s("m"),
                assignment: Bytes::from_static(b"\x00"),
                unknown_tagged_fields: vec![],
            }],
            ..SyncGroupRequest::default()
        },
        &mut rng,
    );
    hammer(
        &SyncGroupResponse {
            assignment: Bytes::from_static(b"\x00\x01"),
            ..SyncGroupResponse::default()
        },
        &mut rng,
    );
    hammer(
        &CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: s("t"),
                configs: vec![CreatableTopicConfig {
                    name: s("cleanup.policy"),
                    value: Some(s("compact")),
                    unknown_tagged_fields: vec![],
                }],
                ..CreatableTopic::default()
            }],
            ..CreateTopicsRequest::default()
        },
        &mut rng,
    );
    hammer(
        &CreateTopicsResponse {
            topics: vec![CreatableTopicResult {
                name: s("t"),
                configs: Some(vec![CreatableTopicConfigs::default()]),
                ..CreatableTopicResult::default()
            }],
            ..CreateTopicsResponse::default()
        },
        &mut rng,
    );
    hammer(
        &DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: RESOURCE_TYPE_TOPIC,
                resource_name: s("t"),
                configuration_keys: Some(vec![s("cleanup.policy")]),
                unknown_tagged_fields: vec![],
            }],
            include_synonyms: true,
            ..DescribeConfigsRequest::default()
        },
        &mut rng,
    );
    hammer(
        &DescribeConfigsResponse {
            results: vec![DescribeConfigsResult {
                resource_name: s("t"),
                configs: vec![DescribeConfigsResourceResult {
                    name: s("cleanup.policy"),
                    value: Some(s("compact")),
                    synonyms: vec![DescribeConfigsSynonym::default()],
                    documentation: Some(s("d")),
                    ..DescribeConfigsResourceResult::default()
                }],
                ..DescribeConfigsResult::default()
            }],
            ..DescribeConfigsResponse::default()
        },
        &mut rng,
    );
    hammer(
        &DescribeGroupsRequest {
            groups: vec![s("g"), s("h")],
            include_authorized_operations: true,
            unknown_tagged_fields: vec![],
        },
        &mut rng,
    );
    hammer(
        &DescribeGroupsResponse {
            groups: vec![DescribedGroup {
                error_message: Some(s("e")),
                group_id: s("g"),
                group_state: s("Stable"),
                protocol_type: s("consumer"),
                protocol_data: s("range"),
                members: vec![DescribedGroupMember {
                    member_id: s("m"),
                    group_instance_id: Some(s("i")),
                    member_metadata: Bytes::from_static(b"\x00\x03"),
                    member_assignment: Bytes::from_static(b"\x00"),
                    ..DescribedGroupMember::default()
                }],
                ..DescribedGroup::default()
            }],
            ..DescribeGroupsResponse::default()
        },
        &mut rng,
    );
    hammer(
        &LeaveGroupRequest {
            members: vec![MemberIdentity::default()],
            ..LeaveGroupRequest::default()
        },
        &mut rng,
    );
    hammer(
        &LeaveGroupResponse {
            members: vec![MemberResponse::default()],
            ..LeaveGroupResponse::default()
        },
        &mut rng,
    );
    hammer(
        &ConsumerGroupHeartbeatRequest {
            subscribed_topic_names: Some(vec![s("t")]),
            topic_partitions: Some(vec![TopicPartitions {
                partitions: vec![1],
                ..TopicPartitions::default()
            }]),
            ..ConsumerGroupHeartbeatRequest::default()
        },
        &mut rng,
    );
    hammer(
        &ConsumerGroupHeartbeatResponse {
            assignment: Some(Assignment {
                topic_partitions: vec![TopicPartitions::default()],
                unknown_tagged_fields: vec![],
            }),
            ..ConsumerGroupHeartbeatResponse::default()
        },
        &mut rng,
    );
    hammer(
        &kafka_proto::messages::consumer_group_describe::ConsumerGroupDescribeResponse {
            groups: vec![
                kafka_proto::messages::consumer_group_describe::DescribedGroup {
                    members: vec![Default::default()],
                    ..Default::default()
                },
            ],
            ..Default::default()
        },
        &mut rng,
    );
}

#[test]
fn consumer_protocol_payloads_never_panic() {
    let mut rng = Rng(42);
    let sub = ConsumerProtocolSubscription {
        topics: vec![s("t")],
        owned_partitions: vec![TopicPartition {
            topic: s("t"),
            partitions: vec![0],
        }],
        ..ConsumerProtocolSubscription::default()
    };
    let asg = ConsumerProtocolAssignment {
        assigned_partitions: sub.owned_partitions.clone(),
        user_data: None,
    };
    for version in 0..=3 {
        for valid in [
            sub.to_bytes(version).map(|b| b.to_vec()),
            asg.to_bytes(version).map(|b| b.to_vec()),
        ] {
            let Ok(valid) = valid else { continue };
            for _ in 0..500 {
                let mut v = valid.clone();
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
                let _ = ConsumerProtocolSubscription::read(&mut Bytes::from(v.clone()));
                let _ = ConsumerProtocolAssignment::read(&mut Bytes::from(v));
            }
        }
    }
    for _ in 0..2000 {
        let len = rng.below(40);
        let v = rng.bytes(len);
        let _ = ConsumerProtocolSubscription::read(&mut Bytes::from(v.clone()));
        let _ = ConsumerProtocolAssignment::read(&mut Bytes::from(v));
    }
}
