//! OffsetCommit (API 8): commits consumed offsets for a group.
//! Schema: apache/kafka `OffsetCommitRequest.json` / `OffsetCommitResponse.json`.
//!
//! Versions 2..=10: Kafka 4.0 removed v0-1 (KIP-896), so v2 is the lowest version both 3.9
//! and 4.x brokers accept; v10 (Kafka 4.1) is the newest in the schema. v2-4 carry
//! `retention_time_ms`, v6 adds `committed_leader_epoch`, v7 `group_instance_id`, v8 is the
//! first flexible version, v9 allows KIP-848 member epochs, and v10 names topics by id
//! instead of by name.

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{
    read_required_array, write_array, RawTaggedField, ReadExt, Uuid, WriteExt,
};

/// First version that names topics by id instead of by name.
const TOPIC_ID_FROM: i16 = 10;

fn tagged(buf: &mut BytesMut, flex: bool, unknown: &[RawTaggedField]) {
    if flex {
        buf.write_tagged_fields(&[], unknown);
    }
}

fn read_tagged(buf: &mut Bytes, flex: bool) -> Result<Vec<RawTaggedField>, DecodeError> {
    if flex {
        buf.read_unknown_tagged_fields()
    } else {
        Ok(Vec::new())
    }
}

/// Writes a topic's name (before v10) or id (v10+).
fn write_topic(
    buf: &mut BytesMut,
    version: i16,
    flex: bool,
    name: &str,
    id: &Uuid,
) -> Result<(), EncodeError> {
    if version >= TOPIC_ID_FROM {
        buf.write_uuid(id);
        Ok(())
    } else {
        buf.write_string(name, flex, "name")
    }
}

/// Reads a topic's name (before v10) or id (v10+); the other comes back empty.
fn read_topic(buf: &mut Bytes, version: i16, flex: bool) -> Result<(String, Uuid), DecodeError> {
    if version >= TOPIC_ID_FROM {
        Ok((String::new(), buf.read_uuid("topic_id")?))
    } else {
        Ok((buf.read_string(flex, "name")?, [0; 16]))
    }
}

/// OffsetCommit request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitRequest {
    /// The group id.
    pub group_id: String,
    /// The classic generation id, or the KIP-848 member epoch; -1 when committing outside the
    /// group (simple consumers).
    pub generation_id_or_member_epoch: i32,
    /// The member id assigned by the coordinator, empty outside the group.
    pub member_id: String,
    /// The static member id (v7+).
    pub group_instance_id: Option<String>,
    /// How long the broker keeps the offsets in ms, -1 for the broker default (v2-4 only).
    pub retention_time_ms: i64,
    /// The topics to commit.
    pub topics: Vec<OffsetCommitRequestTopic>,
    /// Unknown tagged fields (v8+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for OffsetCommitRequest {
    fn default() -> Self {
        Self {
            group_id: String::new(),
            generation_id_or_member_epoch: -1,
            member_id: String::new(),
            group_instance_id: None,
            retention_time_ms: -1,
            topics: Vec::new(),
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// One topic of an [`OffsetCommitRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetCommitRequestTopic {
    /// The topic name (before v10; empty when decoded from v10+).
    pub name: String,
    /// The topic id (v10+; all zero when decoded from older versions).
    pub topic_id: Uuid,
    /// The partitions to commit.
    pub partitions: Vec<OffsetCommitRequestPartition>,
    /// Unknown tagged fields (v8+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One partition of an [`OffsetCommitRequestTopic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitRequestPartition {
    /// The partition index.
    pub partition_index: i32,
    /// The offset to commit: the next offset the group should consume.
    pub committed_offset: i64,
    /// The leader epoch of the last consumed record, -1 if unknown (v6+).
    pub committed_leader_epoch: i32,
    /// Client metadata stored with the offset.
    pub committed_metadata: Option<String>,
    /// Unknown tagged fields (v8+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for OffsetCommitRequestPartition {
    fn default() -> Self {
        Self {
            partition_index: 0,
            committed_offset: 0,
            committed_leader_epoch: -1,
            committed_metadata: Some(String::new()),
            unknown_tagged_fields: Vec::new(),
        }
    }
}

impl Message for OffsetCommitRequest {
    const NAME: &'static str = "OffsetCommitRequest";
    const MIN_VERSION: i16 = 2;
    const MAX_VERSION: i16 = 10;
    const FLEXIBLE_FROM: i16 = 8;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        buf.write_string(&self.group_id, flex, "group_id")?;
        buf.put_i32(self.generation_id_or_member_epoch);
        buf.write_string(&self.member_id, flex, "member_id")?;
        if version >= 7 {
            buf.write_nullable_string(
                self.group_instance_id.as_deref(),
                flex,
                "group_instance_id",
            )?;
        } else if self.group_instance_id.is_some() {
            return Err(EncodeError::InvalidField {
                what: "group_instance_id",
                version,
                reason: "static membership needs version 7 or later",
            });
        }
        if (2..=4).contains(&version) {
            buf.put_i64(self.retention_time_ms);
        }
        write_array(buf, &self.topics, flex, "topics", |b, t| {
            write_topic(b, version, flex, &t.name, &t.topic_id)?;
            write_array(b, &t.partitions, flex, "partitions", |b, p| {
                b.put_i32(p.partition_index);
                b.put_i64(p.committed_offset);
                if version >= 6 {
                    b.put_i32(p.committed_leader_epoch);
                }
                b.write_nullable_string(
                    p.committed_metadata.as_deref(),
                    flex,
                    "committed_metadata",
                )?;
                tagged(b, flex, &p.unknown_tagged_fields);
                Ok(())
            })?;
            tagged(b, flex, &t.unknown_tagged_fields);
            Ok(())
        })?;
        tagged(buf, flex, &self.unknown_tagged_fields);
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let group_id = buf.read_string(flex, "group_id")?;
        let generation_id_or_member_epoch = buf.read_i32("generation_id_or_member_epoch")?;
        let member_id = buf.read_string(flex, "member_id")?;
        let group_instance_id = if version >= 7 {
            buf.read_nullable_string(flex, "group_instance_id")?
        } else {
            None
        };
        let retention_time_ms = if (2..=4).contains(&version) {
            buf.read_i64("retention_time_ms")?
        } else {
            -1
        };
        let topics = read_required_array(buf, flex, 2, "topics", |b| {
            let (name, topic_id) = read_topic(b, version, flex)?;
            let partitions = read_required_array(b, flex, 13, "partitions", |b| {
                let partition_index = b.read_i32("partition_index")?;
                let committed_offset = b.read_i64("committed_offset")?;
                let committed_leader_epoch = if version >= 6 {
                    b.read_i32("committed_leader_epoch")?
                } else {
                    -1
                };
                let committed_metadata = b.read_nullable_string(flex, "committed_metadata")?;
                Ok(OffsetCommitRequestPartition {
                    partition_index,
                    committed_offset,
                    committed_leader_epoch,
                    committed_metadata,
                    unknown_tagged_fields: read_tagged(b, flex)?,
                })
            })?;
            Ok(OffsetCommitRequestTopic {
                name,
                topic_id,
                partitions,
                unknown_tagged_fields: read_tagged(b, flex)?,
            })
        })?;
        Ok(Self {
            group_id,
            generation_id_or_member_epoch,
            member_id,
            group_instance_id,
            retention_time_ms,
            topics,
            unknown_tagged_fields: read_tagged(buf, flex)?,
        })
    }
}

impl Request for OffsetCommitRequest {
    const API_KEY: ApiKey = ApiKey::OffsetCommit;
    type Response = OffsetCommitResponse;
}

/// OffsetCommit response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetCommitResponse {
    /// Throttle time in ms (v3+).
    pub throttle_time_ms: i32,
    /// The per-topic results.
    pub topics: Vec<OffsetCommitResponseTopic>,
    /// Unknown tagged fields (v8+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One topic of an [`OffsetCommitResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetCommitResponseTopic {
    /// The topic name (before v10; empty when decoded from v10+).
    pub name: String,
    /// The topic id (v10+; all zero when decoded from older versions).
    pub topic_id: Uuid,
    /// The per-partition results.
    pub partitions: Vec<OffsetCommitResponsePartition>,
    /// Unknown tagged fields (v8+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One partition of an [`OffsetCommitResponseTopic`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetCommitResponsePartition {
    /// The partition index.
    pub partition_index: i32,
    /// The error code, 0 for none.
    pub error_code: i16,
    /// Unknown tagged fields (v8+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for OffsetCommitResponse {
    const NAME: &'static str = "OffsetCommitResponse";
    const MIN_VERSION: i16 = 2;
    const MAX_VERSION: i16 = 10;
    const FLEXIBLE_FROM: i16 = 8;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        if version >= 3 {
            buf.put_i32(self.throttle_time_ms);
        }
        write_array(buf, &self.topics, flex, "topics", |b, t| {
            write_topic(b, version, flex, &t.name, &t.topic_id)?;
            write_array(b, &t.partitions, flex, "partitions", |b, p| {
                b.put_i32(p.partition_index);
                b.put_i16(p.error_code);
                tagged(b, flex, &p.unknown_tagged_fields);
                Ok(())
            })?;
            tagged(b, flex, &t.unknown_tagged_fields);
            Ok(())
        })?;
        tagged(buf, flex, &self.unknown_tagged_fields);
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let throttle_time_ms = if version >= 3 {
            buf.read_i32("throttle_time_ms")?
        } else {
            0
        };
        let topics = read_required_array(buf, flex, 2, "topics", |b| {
            let (name, topic_id) = read_topic(b, version, flex)?;
            let partitions = read_required_array(b, flex, 6, "partitions", |b| {
                let partition_index = b.read_i32("partition_index")?;
                let error_code = b.read_i16("error_code")?;
                Ok(OffsetCommitResponsePartition {
                    partition_index,
                    error_code,
                    unknown_tagged_fields: read_tagged(b, flex)?,
                })
            })?;
            Ok(OffsetCommitResponseTopic {
                name,
                topic_id,
                partitions,
                unknown_tagged_fields: read_tagged(b, flex)?,
            })
        })?;
        Ok(Self {
            throttle_time_ms,
            topics,
            unknown_tagged_fields: read_tagged(buf, flex)?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_util::round_trip_all_versions;

    const ID: Uuid = [0xab; 16];

    fn tags(v: i16, tag: u32) -> Vec<RawTaggedField> {
        if v >= 8 {
            vec![RawTaggedField {
                tag,
                data: Bytes::from_static(b"zz"),
            }]
        } else {
            vec![]
        }
    }

    fn name(v: i16, n: &str) -> String {
        if v < TOPIC_ID_FROM {
            n.into()
        } else {
            String::new()
        }
    }

    fn id(v: i16) -> Uuid {
        if v >= TOPIC_ID_FROM {
            ID
        } else {
            [0; 16]
        }
    }

    #[test]
    fn round_trips_every_version() {
        round_trip_all_versions(|v| OffsetCommitRequest {
            group_id: "billing".into(),
            generation_id_or_member_epoch: 17,
            member_id: "consumer-1-abc".into(),
            group_instance_id: (v >= 7).then(|| "pod-3".into()),
            retention_time_ms: if v <= 4 { 86_400_000 } else { -1 },
            topics: vec![OffsetCommitRequestTopic {
                name: name(v, "orders"),
                topic_id: id(v),
                partitions: vec![
                    OffsetCommitRequestPartition {
                        partition_index: 2,
                        committed_offset: 1_000_001,
                        committed_leader_epoch: if v >= 6 { 4 } else { -1 },
                        committed_metadata: Some("host-a".into()),
                        unknown_tagged_fields: tags(v, 1),
                    },
                    OffsetCommitRequestPartition {
                        partition_index: 3,
                        committed_offset: 0,
                        committed_leader_epoch: -1,
                        committed_metadata: None,
                        unknown_tagged_fields: vec![],
                    },
                ],
                unknown_tagged_fields: tags(v, 0),
            }],
            unknown_tagged_fields: tags(v, 7),
        });
        round_trip_all_versions(|v| OffsetCommitResponse {
            throttle_time_ms: if v >= 3 { 100 } else { 0 },
            topics: vec![OffsetCommitResponseTopic {
                name: name(v, "orders"),
                topic_id: id(v),
                partitions: vec![
                    OffsetCommitResponsePartition {
                        partition_index: 2,
                        error_code: 0,
                        unknown_tagged_fields: tags(v, 4),
                    },
                    OffsetCommitResponsePartition {
                        partition_index: 3,
                        error_code: 22,
                        unknown_tagged_fields: vec![],
                    },
                ],
                unknown_tagged_fields: vec![],
            }],
            unknown_tagged_fields: tags(v, 0),
        });
    }

    #[test]
    fn static_member_needs_v7() {
        let req = OffsetCommitRequest {
            group_instance_id: Some("x".into()),
            ..Default::default()
        };
        assert!(req.write(&mut BytesMut::new(), 6).is_err());
        assert!(req.write(&mut BytesMut::new(), 7).is_ok());
    }

    #[test]
    fn v10_carries_topic_id_instead_of_name() {
        let req = OffsetCommitRequest {
            group_id: "g".into(),
            topics: vec![OffsetCommitRequestTopic {
                name: "ignored".into(),
                topic_id: ID,
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut b9 = BytesMut::new();
        req.write(&mut b9, 9).unwrap();
        let mut b10 = BytesMut::new();
        req.write(&mut b10, 10).unwrap();
        assert!(b10.windows(16).any(|w| w == ID));
        assert!(!b10.windows(7).any(|w| w == b"ignored"));
        assert!(b9.windows(7).any(|w| w == b"ignored"));
    }
}
