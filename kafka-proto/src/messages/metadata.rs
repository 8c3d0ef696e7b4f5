//! Metadata (API 3): brokers, topics, partitions and their leaders.
//! Schema: apache/kafka `MetadataRequest.json` / `MetadataResponse.json`.
//!
//! Versions 0-13: Kafka 3.9 accepts 0-12 and 4.x accepts 0-13 (KIP-896 first deprecated 0-3
//! but 4.0 kept them), so 0 is the common floor; 13 (adds the top-level error code, KIP-1102)
//! is the highest in the 4.x schema and 3.9 simply never negotiates it. Version 9 is the first
//! flexible version.
//!
//! `topics: None` means "all topics". Version 0 has no null array: there an empty array means
//! all topics, so `None` is written as an empty array, an empty array reads back as `None`, and
//! `Some(vec![])` ("no topics") cannot be encoded at version 0.

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{
    read_array, read_required_array, write_array, RawTaggedField, ReadExt, Uuid, WriteExt,
};

/// The "not requested / not known" value of the authorized-operations bitfields.
pub const AUTHORIZED_OPERATIONS_UNKNOWN: i32 = i32::MIN;

/// Metadata request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataRequest {
    /// The topics to describe; `None` for all topics.
    pub topics: Option<Vec<MetadataRequestTopic>>,
    /// Whether the broker may auto-create the requested topics (v4+; always true before).
    pub allow_auto_topic_creation: bool,
    /// Whether to return cluster authorized operations (v8-10).
    pub include_cluster_authorized_operations: bool,
    /// Whether to return topic authorized operations (v8+).
    pub include_topic_authorized_operations: bool,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for MetadataRequest {
    fn default() -> Self {
        Self {
            topics: None,
            allow_auto_topic_creation: true,
            include_cluster_authorized_operations: false,
            include_topic_authorized_operations: false,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// A topic in a metadata request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataRequestTopic {
    /// The topic id (v10+; all zeros when asking by name).
    pub topic_id: Uuid,
    /// The topic name (null allowed from v10 when asking by id).
    pub name: Option<String>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl MetadataRequestTopic {
    /// A topic asked for by name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }
}

impl Message for MetadataRequest {
    const NAME: &'static str = "MetadataRequest";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 13;
    const FLEXIBLE_FROM: i16 = 9;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        let write_topic = |b: &mut BytesMut, t: &MetadataRequestTopic| {
            if version >= 10 {
                b.write_uuid(&t.topic_id);
                b.write_nullable_string(t.name.as_deref(), flex, "topics.name")?;
            } else {
                let name = t.name.as_deref().ok_or(EncodeError::InvalidField {
                    what: "topics.name",
                    version,
                    reason: "topic names are required before version 10",
                })?;
                b.write_string(name, flex, "topics.name")?;
            }
            if flex {
                b.write_tagged_fields(&[], &t.unknown_tagged_fields);
            }
            Ok(())
        };
        match &self.topics {
            None if version == 0 => buf.write_array_len(Some(0), flex, "topics")?,
            None => buf.write_array_len(None, flex, "topics")?,
            Some(topics) if version == 0 && topics.is_empty() => {
                return Err(EncodeError::InvalidField {
                    what: "topics",
                    version,
                    reason: "version 0 cannot ask for no topics (empty means all)",
                })
            }
            Some(topics) => write_array(buf, topics, flex, "topics", write_topic)?,
        }
        if version >= 4 {
            buf.write_bool(self.allow_auto_topic_creation);
        }
        if (8..=10).contains(&version) {
            buf.write_bool(self.include_cluster_authorized_operations);
        }
        if version >= 8 {
            buf.write_bool(self.include_topic_authorized_operations);
        }
        if flex {
            buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let min = match (version >= 10, flex) {
            (true, _) => 18,
            (false, true) => 2,
            (false, false) => 2,
        };
        let mut topics = read_array(buf, flex, min, "topics", |b| {
            let (topic_id, name) = if version >= 10 {
                (
                    b.read_uuid("topics.topic_id")?,
                    b.read_nullable_string(flex, "topics.name")?,
                )
            } else {
                ([0; 16], Some(b.read_string(flex, "topics.name")?))
            };
            Ok(MetadataRequestTopic {
                topic_id,
                name,
                unknown_tagged_fields: if flex {
                    b.read_unknown_tagged_fields()?
                } else {
                    Vec::new()
                },
            })
        })?;
        if version == 0 && topics.as_ref().is_some_and(Vec::is_empty) {
            topics = None;
        }
        let mut msg = Self {
            topics,
            ..Self::default()
        };
        if version >= 4 {
            msg.allow_auto_topic_creation = buf.read_bool("allow_auto_topic_creation")?;
        }
        if (8..=10).contains(&version) {
            msg.include_cluster_authorized_operations =
                buf.read_bool("include_cluster_authorized_operations")?;
        }
        if version >= 8 {
            msg.include_topic_authorized_operations =
                buf.read_bool("include_topic_authorized_operations")?;
        }
        if flex {
            msg.unknown_tagged_fields = buf.read_unknown_tagged_fields()?;
        }
        Ok(msg)
    }
}

impl Request for MetadataRequest {
    const API_KEY: ApiKey = ApiKey::Metadata;
    type Response = MetadataResponse;
}

/// Metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponse {
    /// Throttle time in ms (v3+).
    pub throttle_time_ms: i32,
    /// The brokers in the cluster.
    pub brokers: Vec<MetadataResponseBroker>,
    /// The cluster id (v2+).
    pub cluster_id: Option<String>,
    /// The controller's broker id, -1 when unknown (v1+).
    pub controller_id: i32,
    /// The topics.
    pub topics: Vec<MetadataResponseTopic>,
    /// Cluster authorized operations bitfield (v8-10).
    pub cluster_authorized_operations: i32,
    /// The top-level error code (v13+).
    pub error_code: i16,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for MetadataResponse {
    fn default() -> Self {
        Self {
            throttle_time_ms: 0,
            brokers: Vec::new(),
            cluster_id: None,
            controller_id: -1,
            topics: Vec::new(),
            cluster_authorized_operations: AUTHORIZED_OPERATIONS_UNKNOWN,
            error_code: 0,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// A broker in a metadata response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataResponseBroker {
    /// The broker id.
    pub node_id: i32,
    /// The broker host name.
    pub host: String,
    /// The broker port.
    pub port: i32,
    /// The broker's rack (v1+).
    pub rack: Option<String>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// A topic in a metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponseTopic {
    /// The topic error code.
    pub error_code: i16,
    /// The topic name (null from v12 for unknown topics asked for by id).
    pub name: Option<String>,
    /// The topic id (v10+).
    pub topic_id: Uuid,
    /// Whether the topic is internal (v1+).
    pub is_internal: bool,
    /// The partitions.
    pub partitions: Vec<MetadataResponsePartition>,
    /// Topic authorized operations bitfield (v8+).
    pub topic_authorized_operations: i32,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for MetadataResponseTopic {
    fn default() -> Self {
        Self {
            error_code: 0,
            name: None,
            topic_id: [0; 16],
            is_internal: false,
            partitions: Vec::new(),
            topic_authorized_operations: AUTHORIZED_OPERATIONS_UNKNOWN,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// A partition in a metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponsePartition {
    /// The partition error code.
    pub error_code: i16,
    /// The partition index.
    pub partition_index: i32,
    /// The leader's broker id.
    pub leader_id: i32,
    /// The leader epoch, -1 when unknown (v7+).
    pub leader_epoch: i32,
    /// All replicas.
    pub replica_nodes: Vec<i32>,
    /// The in-sync replicas.
    pub isr_nodes: Vec<i32>,
    /// The offline replicas (v5+).
    pub offline_replicas: Vec<i32>,
    /// Unknown tagged fields (v9+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for MetadataResponsePartition {
    fn default() -> Self {
        Self {
            error_code: 0,
            partition_index: 0,
            leader_id: -1,
            leader_epoch: -1,
            replica_nodes: Vec::new(),
            isr_nodes: Vec::new(),
            offline_replicas: Vec::new(),
            unknown_tagged_fields: Vec::new(),
        }
    }
}

fn write_i32s(
    buf: &mut BytesMut,
    v: &[i32],
    flex: bool,
    what: &'static str,
) -> Result<(), EncodeError> {
    write_array(buf, v, flex, what, |b, x| {
        b.put_i32(*x);
        Ok(())
    })
}

fn read_i32s(buf: &mut Bytes, flex: bool, what: &'static str) -> Result<Vec<i32>, DecodeError> {
    read_required_array(buf, flex, 4, what, |b| b.read_i32(what))
}

impl MetadataResponsePartition {
    fn write(&self, buf: &mut BytesMut, version: i16, flex: bool) -> Result<(), EncodeError> {
        buf.put_i16(self.error_code);
        buf.put_i32(self.partition_index);
        buf.put_i32(self.leader_id);
        if version >= 7 {
            buf.put_i32(self.leader_epoch);
        }
        write_i32s(buf, &self.replica_nodes, flex, "replica_nodes")?;
        write_i32s(buf, &self.isr_nodes, flex, "isr_nodes")?;
        if version >= 5 {
            write_i32s(buf, &self.offline_replicas, flex, "offline_replicas")?;
        }
        if flex {
            buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16, flex: bool) -> Result<Self, DecodeError> {
        let mut p = Self {
            error_code: buf.read_i16("partitions.error_code")?,
            partition_index: buf.read_i32("partitions.partition_index")?,
            leader_id: buf.read_i32("partitions.leader_id")?,
            ..Self::default()
        };
        if version >= 7 {
            p.leader_epoch = buf.read_i32("partitions.leader_epoch")?;
        }
        p.replica_nodes = read_i32s(buf, flex, "partitions.replica_nodes")?;
        p.isr_nodes = read_i32s(buf, flex, "partitions.isr_nodes")?;
        if version >= 5 {
            p.offline_replicas = read_i32s(buf, flex, "partitions.offline_replicas")?;
        }
        if flex {
            p.unknown_tagged_fields = buf.read_unknown_tagged_fields()?;
        }
        Ok(p)
    }
}

impl MetadataResponseTopic {
    fn write(&self, buf: &mut BytesMut, version: i16, flex: bool) -> Result<(), EncodeError> {
        buf.put_i16(self.error_code);
        if version >= 12 {
            buf.write_nullable_string(self.name.as_deref(), flex, "topics.name")?;
        } else {
            let name = self.name.as_deref().ok_or(EncodeError::InvalidField {
                what: "topics.name",
                version,
                reason: "topic names are not nullable before version 12",
            })?;
            buf.write_string(name, flex, "topics.name")?;
        }
        if version >= 10 {
            buf.write_uuid(&self.topic_id);
        }
        if version >= 1 {
            buf.write_bool(self.is_internal);
        }
        write_array(buf, &self.partitions, flex, "partitions", |b, p| {
            p.write(b, version, flex)
        })?;
        if version >= 8 {
            buf.put_i32(self.topic_authorized_operations);
        }
        if flex {
            buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16, flex: bool) -> Result<Self, DecodeError> {
        let mut t = Self {
            error_code: buf.read_i16("topics.error_code")?,
            ..Self::default()
        };
        t.name = if version >= 12 {
            buf.read_nullable_string(flex, "topics.name")?
        } else {
            Some(buf.read_string(flex, "topics.name")?)
        };
        if version >= 10 {
            t.topic_id = buf.read_uuid("topics.topic_id")?;
        }
        if version >= 1 {
            t.is_internal = buf.read_bool("topics.is_internal")?;
        }
        // error, index, leader, two arrays (at least 1 byte each flexible, 4 otherwise).
        let min = if flex { 12 } else { 18 };
        t.partitions = read_required_array(buf, flex, min, "topics.partitions", |b| {
            MetadataResponsePartition::read(b, version, flex)
        })?;
        if version >= 8 {
            t.topic_authorized_operations = buf.read_i32("topics.topic_authorized_operations")?;
        }
        if flex {
            t.unknown_tagged_fields = buf.read_unknown_tagged_fields()?;
        }
        Ok(t)
    }
}

impl Message for MetadataResponse {
    const NAME: &'static str = "MetadataResponse";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 13;
    const FLEXIBLE_FROM: i16 = 9;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        if version >= 3 {
            buf.put_i32(self.throttle_time_ms);
        }
        write_array(buf, &self.brokers, flex, "brokers", |b, br| {
            b.put_i32(br.node_id);
            b.write_string(&br.host, flex, "brokers.host")?;
            b.put_i32(br.port);
            if version >= 1 {
                b.write_nullable_string(br.rack.as_deref(), flex, "brokers.rack")?;
            }
            if flex {
                b.write_tagged_fields(&[], &br.unknown_tagged_fields);
            }
            Ok(())
        })?;
        if version >= 2 {
            buf.write_nullable_string(self.cluster_id.as_deref(), flex, "cluster_id")?;
        }
        if version >= 1 {
            buf.put_i32(self.controller_id);
        }
        write_array(buf, &self.topics, flex, "topics", |b, t| {
            t.write(b, version, flex)
        })?;
        if (8..=10).contains(&version) {
            buf.put_i32(self.cluster_authorized_operations);
        }
        if version >= 13 {
            buf.put_i16(self.error_code);
        }
        if flex {
            buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let mut msg = Self::default();
        if version >= 3 {
            msg.throttle_time_ms = buf.read_i32("throttle_time_ms")?;
        }
        // node id, host (>= 1 or 2 bytes), port.
        let min = if flex { 9 } else { 10 };
        msg.brokers = read_required_array(buf, flex, min, "brokers", |b| {
            let mut br = MetadataResponseBroker {
                node_id: b.read_i32("brokers.node_id")?,
                host: b.read_string(flex, "brokers.host")?,
                port: b.read_i32("brokers.port")?,
                ..MetadataResponseBroker::default()
            };
            if version >= 1 {
                br.rack = b.read_nullable_string(flex, "brokers.rack")?;
            }
            if flex {
                br.unknown_tagged_fields = b.read_unknown_tagged_fields()?;
            }
            Ok(br)
        })?;
        if version >= 2 {
            msg.cluster_id = buf.read_nullable_string(flex, "cluster_id")?;
        }
        if version >= 1 {
            msg.controller_id = buf.read_i32("controller_id")?;
        }
        // error code, name, partitions array.
        let min = if flex { 4 } else { 8 };
        msg.topics = read_required_array(buf, flex, min, "topics", |b| {
            MetadataResponseTopic::read(b, version, flex)
        })?;
        if (8..=10).contains(&version) {
            msg.cluster_authorized_operations = buf.read_i32("cluster_authorized_operations")?;
        }
        if version >= 13 {
            msg.error_code = buf.read_i16("error_code")?;
        }
        if flex {
            msg.unknown_tagged_fields = buf.read_unknown_tagged_fields()?;
        }
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{round_trip, round_trip_all_versions};

    const ID: Uuid = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

    fn utf(v: i16) -> Vec<RawTaggedField> {
        if v >= 9 {
            vec![RawTaggedField {
                tag: 4,
                data: Bytes::from_static(b"tag"),
            }]
        } else {
            vec![]
        }
    }

    #[test]
    fn request_round_trips_every_version() {
        round_trip_all_versions(|v| MetadataRequest {
            topics: Some(vec![
                MetadataRequestTopic {
                    topic_id: if v >= 10 { ID } else { [0; 16] },
                    name: Some("orders".into()),
                    unknown_tagged_fields: utf(v),
                },
                MetadataRequestTopic {
                    topic_id: [0; 16],
                    name: if v >= 10 {
                        None
                    } else {
                        Some("payments".into())
                    },
                    unknown_tagged_fields: vec![],
                },
            ]),
            allow_auto_topic_creation: v < 4,
            include_cluster_authorized_operations: (8..=10).contains(&v),
            include_topic_authorized_operations: v >= 8,
            unknown_tagged_fields: utf(v),
        });
        // All topics (null array, empty array at v0).
        round_trip_all_versions(|v| MetadataRequest {
            topics: None,
            allow_auto_topic_creation: v < 4,
            unknown_tagged_fields: utf(v),
            ..MetadataRequest::default()
        });
        // No topics, from v1.
        for v in 1..=13 {
            round_trip(
                &MetadataRequest {
                    topics: Some(vec![]),
                    ..MetadataRequest::default()
                },
                v,
            );
        }
    }

    #[test]
    fn request_rejects_unrepresentable_values() {
        let mut buf = BytesMut::new();
        let none = MetadataRequest {
            topics: Some(vec![]),
            ..MetadataRequest::default()
        };
        assert!(matches!(
            none.write(&mut buf, 0),
            Err(EncodeError::InvalidField { what: "topics", .. })
        ));
        let by_id = MetadataRequest {
            topics: Some(vec![MetadataRequestTopic::default()]),
            ..MetadataRequest::default()
        };
        assert!(by_id.write(&mut BytesMut::new(), 9).is_err());
        assert!(by_id.write(&mut BytesMut::new(), 10).is_ok());
    }

    fn response(v: i16) -> MetadataResponse {
        MetadataResponse {
            throttle_time_ms: if v >= 3 { 12 } else { 0 },
            brokers: vec![
                MetadataResponseBroker {
                    node_id: 1,
                    host: "broker-1".into(),
                    port: 9092,
                    rack: if v >= 1 { Some("rack-a".into()) } else { None },
                    unknown_tagged_fields: utf(v),
                },
                MetadataResponseBroker {
                    node_id: 2,
                    host: "broker-2".into(),
                    port: 9093,
                    rack: None,
                    unknown_tagged_fields: vec![],
                },
            ],
            cluster_id: if v >= 2 {
                Some("cluster-x".into())
            } else {
                None
            },
            controller_id: if v >= 1 { 2 } else { -1 },
            topics: vec![
                MetadataResponseTopic {
                    error_code: 0,
                    name: Some("orders".into()),
                    topic_id: if v >= 10 { ID } else { [0; 16] },
                    is_internal: v >= 1,
                    partitions: vec![
                        MetadataResponsePartition {
                            error_code: 0,
                            partition_index: 0,
                            leader_id: 1,
                            leader_epoch: if v >= 7 { 42 } else { -1 },
                            replica_nodes: vec![1, 2],
                            isr_nodes: vec![1],
                            offline_replicas: if v >= 5 { vec![2] } else { vec![] },
                            unknown_tagged_fields: utf(v),
                        },
                        MetadataResponsePartition {
                            error_code: 5,
                            partition_index: 1,
                            leader_id: -1,
                            leader_epoch: -1,
                            replica_nodes: vec![],
                            isr_nodes: vec![],
                            offline_replicas: vec![],
                            unknown_tagged_fields: vec![],
                        },
                    ],
                    topic_authorized_operations: if v >= 8 {
                        0x0f0
                    } else {
                        AUTHORIZED_OPERATIONS_UNKNOWN
                    },
                    unknown_tagged_fields: utf(v),
                },
                MetadataResponseTopic {
                    error_code: 100,
                    name: if v >= 12 { None } else { Some(String::new()) },
                    partitions: vec![],
                    ..MetadataResponseTopic::default()
                },
            ],
            cluster_authorized_operations: if (8..=10).contains(&v) {
                0x1f
            } else {
                AUTHORIZED_OPERATIONS_UNKNOWN
            },
            error_code: if v >= 13 { 129 } else { 0 },
            unknown_tagged_fields: utf(v),
        }
    }

    #[test]
    fn response_round_trips_every_version() {
        round_trip_all_versions(response);
    }

    #[test]
    fn request_v1_hand_bytes() {
        let req = MetadataRequest {
            topics: Some(vec![MetadataRequestTopic::named("ab")]),
            ..MetadataRequest::default()
        };
        let expected: &[u8] = &[
            0, 0, 0, 1, // topics: int32 array length 1
            0, 2, b'a', b'b', // name: int16 length + bytes
        ];
        let mut buf = BytesMut::new();
        req.write(&mut buf, 1).unwrap();
        assert_eq!(buf.as_ref(), expected);
        // v0 "all topics" is an empty (not null) array.
        let mut buf = BytesMut::new();
        MetadataRequest::default().write(&mut buf, 0).unwrap();
        assert_eq!(buf.as_ref(), &[0, 0, 0, 0]);
        let mut buf = BytesMut::new();
        MetadataRequest::default().write(&mut buf, 1).unwrap();
        assert_eq!(buf.as_ref(), &[0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn request_v12_hand_bytes() {
        let req = MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                topic_id: ID,
                name: Some("ab".into()),
                unknown_tagged_fields: vec![],
            }]),
            allow_auto_topic_creation: false,
            include_cluster_authorized_operations: false,
            include_topic_authorized_operations: true,
            unknown_tagged_fields: vec![],
        };
        let mut expected = vec![2u8]; // compact array: 1 + 1
        expected.extend_from_slice(&ID); // topic id
        expected.extend_from_slice(&[3, b'a', b'b']); // compact string "ab"
        expected.push(0); // topic tagged fields
        expected.push(0); // allow_auto_topic_creation = false
        expected.push(1); // include_topic_authorized_operations = true
        expected.push(0); // tagged fields
        let mut buf = BytesMut::new();
        req.write(&mut buf, 12).unwrap();
        assert_eq!(buf.as_ref(), expected.as_slice());
        let back = MetadataRequest::read(&mut Bytes::from(expected), 12).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn response_v1_hand_bytes() {
        let bytes: &[u8] = &[
            0, 0, 0, 1, // brokers: 1
            0, 0, 0, 7, // node_id 7
            0, 1, b'h', // host "h"
            0, 0, 0x23, 0x84, // port 9092
            0xff, 0xff, // rack null
            0, 0, 0, 7, // controller_id 7
            0, 0, 0, 1, // topics: 1
            0, 0, // error_code
            0, 1, b't', // name "t"
            0,    // is_internal false
            0, 0, 0, 1, // partitions: 1
            0, 0, // error_code
            0, 0, 0, 3, // partition_index 3
            0, 0, 0, 7, // leader_id 7
            0, 0, 0, 1, 0, 0, 0, 7, // replicas [7]
            0, 0, 0, 1, 0, 0, 0, 7, // isr [7]
        ];
        let r = MetadataResponse::read(&mut Bytes::from_static(bytes), 1).unwrap();
        let expected = MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 7,
                host: "h".into(),
                port: 9092,
                rack: None,
                unknown_tagged_fields: vec![],
            }],
            controller_id: 7,
            topics: vec![MetadataResponseTopic {
                name: Some("t".into()),
                partitions: vec![MetadataResponsePartition {
                    partition_index: 3,
                    leader_id: 7,
                    replica_nodes: vec![7],
                    isr_nodes: vec![7],
                    ..MetadataResponsePartition::default()
                }],
                ..MetadataResponseTopic::default()
            }],
            ..MetadataResponse::default()
        };
        assert_eq!(r, expected);
        let mut out = BytesMut::new();
        expected.write(&mut out, 1).unwrap();
        assert_eq!(out.as_ref(), bytes);
    }

    #[test]
    fn response_v12_hand_bytes() {
        let mut bytes = vec![
            0, 0, 0, 0, // throttle
            2, // brokers: compact 1
            0, 0, 0, 1, // node_id 1
            2, b'h', // host "h"
            0, 0, 0x23, 0x84, // port 9092
            0,    // rack null
            0,    // broker tagged fields
            0,    // cluster_id null
            0, 0, 0, 1, // controller_id 1
            2, // topics: compact 1
            0, 3, // error_code 3
            0, // name null (v12+)
        ];
        bytes.extend_from_slice(&ID); // topic id
        bytes.extend_from_slice(&[
            1, // is_internal true
            1, // partitions: compact 0
            0x80, 0, 0, 0, // topic_authorized_operations i32::MIN
            0, // topic tagged fields
            0, // tagged fields
        ]);
        let r = MetadataResponse::read(&mut Bytes::from(bytes.clone()), 12).unwrap();
        let expected = MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: "h".into(),
                port: 9092,
                ..MetadataResponseBroker::default()
            }],
            controller_id: 1,
            topics: vec![MetadataResponseTopic {
                error_code: 3,
                name: None,
                topic_id: ID,
                is_internal: true,
                ..MetadataResponseTopic::default()
            }],
            ..MetadataResponse::default()
        };
        assert_eq!(r, expected);
        let mut out = BytesMut::new();
        expected.write(&mut out, 12).unwrap();
        assert_eq!(out.as_ref(), bytes.as_slice());
    }
}
