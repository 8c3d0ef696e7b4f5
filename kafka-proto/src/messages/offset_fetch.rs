//! OffsetFetch (API 9): reads a group's committed offsets.
//! Schema: apache/kafka `OffsetFetchRequest.json` / `OffsetFetchResponse.json`.
//!
//! Versions 1..=10: Kafka 4.0 removed v0 (KIP-896), so v1 is the lowest version both 3.9 and
//! 4.x brokers accept; v10 (Kafka 4.1) is the newest in the schema.
//!
//! Two layouts share one struct per direction:
//! - v1-7, single group: `group_id` + `topics` (request; null means all topics from v2) and
//!   `topics` + top-level `error_code` (response). `groups` stays empty.
//! - v8+, batched: everything lives in `groups`; `group_id`/`topics`/`error_code` stay at
//!   their defaults. v9 adds the KIP-848 `member_id`/`member_epoch`; v10 names topics by id
//!   instead of by name.
//!
//! v6 is the first flexible version, v7 adds `require_stable`. Writing a message whose fields
//! use the wrong layout for the version is an [`EncodeError::InvalidField`].

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{
    read_array, read_required_array, write_array, RawTaggedField, ReadExt, Uuid, WriteExt,
};

/// First version of the batched (per-group) layout.
const GROUPS_FROM: i16 = 8;
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

fn read_topic(buf: &mut Bytes, version: i16, flex: bool) -> Result<(String, Uuid), DecodeError> {
    if version >= TOPIC_ID_FROM {
        Ok((String::new(), buf.read_uuid("topic_id")?))
    } else {
        Ok((buf.read_string(flex, "name")?, [0; 16]))
    }
}

fn layout_error(what: &'static str, version: i16, reason: &'static str) -> EncodeError {
    EncodeError::InvalidField {
        what,
        version,
        reason,
    }
}

/// OffsetFetch request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetFetchRequest {
    /// The group to fetch offsets for (v1-7).
    pub group_id: String,
    /// The topics to fetch, `None` for all topics (v1-7; null allowed from v2).
    pub topics: Option<Vec<OffsetFetchRequestTopic>>,
    /// The groups to fetch offsets for (v8+).
    pub groups: Vec<OffsetFetchRequestGroup>,
    /// Whether the broker should wait for pending transactional commits instead of returning
    /// unstable offsets (v7+).
    pub require_stable: bool,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One group of a batched (v8+) [`OffsetFetchRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchRequestGroup {
    /// The group id.
    pub group_id: String,
    /// The KIP-848 member id, `None` when not using the consumer protocol (v9+).
    pub member_id: Option<String>,
    /// The KIP-848 member epoch, -1 when not using the consumer protocol (v9+).
    pub member_epoch: i32,
    /// The topics to fetch, `None` for all topics.
    pub topics: Option<Vec<OffsetFetchRequestTopic>>,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for OffsetFetchRequestGroup {
    fn default() -> Self {
        Self {
            group_id: String::new(),
            member_id: None,
            member_epoch: -1,
            topics: None,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// One topic of an [`OffsetFetchRequest`] or [`OffsetFetchRequestGroup`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetFetchRequestTopic {
    /// The topic name (before v10; empty when decoded from v10+).
    pub name: String,
    /// The topic id (v10+, batched layout only; all zero otherwise).
    pub topic_id: Uuid,
    /// The partitions to fetch.
    pub partition_indexes: Vec<i32>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

fn write_request_topics(
    buf: &mut BytesMut,
    topics: Option<&[OffsetFetchRequestTopic]>,
    version: i16,
    flex: bool,
) -> Result<(), EncodeError> {
    let Some(topics) = topics else {
        if version < 2 {
            return Err(layout_error(
                "topics",
                version,
                "fetching all topics needs version 2 or later",
            ));
        }
        return buf.write_array_len(None, flex, "topics");
    };
    write_array(buf, topics, flex, "topics", |b, t| {
        write_topic(b, version, flex, &t.name, &t.topic_id)?;
        write_array(
            b,
            &t.partition_indexes,
            flex,
            "partition_indexes",
            |b, p| {
                b.put_i32(*p);
                Ok(())
            },
        )?;
        tagged(b, flex, &t.unknown_tagged_fields);
        Ok(())
    })
}

fn read_request_topics(
    buf: &mut Bytes,
    version: i16,
    flex: bool,
) -> Result<Option<Vec<OffsetFetchRequestTopic>>, DecodeError> {
    let topics = read_array(buf, flex, 2, "topics", |b| {
        let (name, topic_id) = read_topic(b, version, flex)?;
        let partition_indexes = read_required_array(b, flex, 4, "partition_indexes", |b| {
            b.read_i32("partition_index")
        })?;
        Ok(OffsetFetchRequestTopic {
            name,
            topic_id,
            partition_indexes,
            unknown_tagged_fields: read_tagged(b, flex)?,
        })
    })?;
    if topics.is_none() && version < 2 {
        return Err(DecodeError::UnexpectedNull { what: "topics" });
    }
    Ok(topics)
}

impl Message for OffsetFetchRequest {
    const NAME: &'static str = "OffsetFetchRequest";
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 10;
    const FLEXIBLE_FROM: i16 = 6;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        if version < GROUPS_FROM {
            if !self.groups.is_empty() {
                return Err(layout_error(
                    "groups",
                    version,
                    "batched groups need version 8 or later",
                ));
            }
            buf.write_string(&self.group_id, flex, "group_id")?;
            write_request_topics(buf, self.topics.as_deref(), version, flex)?;
        } else {
            if !self.group_id.is_empty() || self.topics.is_some() {
                return Err(layout_error(
                    "group_id",
                    version,
                    "version 8 and later carry groups in the groups array",
                ));
            }
            write_array(buf, &self.groups, flex, "groups", |b, g| {
                b.write_string(&g.group_id, flex, "group_id")?;
                if version >= 9 {
                    b.write_nullable_string(g.member_id.as_deref(), flex, "member_id")?;
                    b.put_i32(g.member_epoch);
                }
                write_request_topics(b, g.topics.as_deref(), version, flex)?;
                tagged(b, flex, &g.unknown_tagged_fields);
                Ok(())
            })?;
        }
        if version >= 7 {
            buf.write_bool(self.require_stable);
        }
        tagged(buf, flex, &self.unknown_tagged_fields);
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let mut msg = Self::default();
        if version < GROUPS_FROM {
            msg.group_id = buf.read_string(flex, "group_id")?;
            msg.topics = read_request_topics(buf, version, flex)?;
        } else {
            msg.groups = read_required_array(buf, flex, 3, "groups", |b| {
                let group_id = b.read_string(flex, "group_id")?;
                let (member_id, member_epoch) = if version >= 9 {
                    (
                        b.read_nullable_string(flex, "member_id")?,
                        b.read_i32("member_epoch")?,
                    )
                } else {
                    (None, -1)
                };
                let topics = read_request_topics(b, version, flex)?;
                Ok(OffsetFetchRequestGroup {
                    group_id,
                    member_id,
                    member_epoch,
                    topics,
                    unknown_tagged_fields: read_tagged(b, flex)?,
                })
            })?;
        }
        if version >= 7 {
            msg.require_stable = buf.read_bool("require_stable")?;
        }
        msg.unknown_tagged_fields = read_tagged(buf, flex)?;
        Ok(msg)
    }
}

impl Request for OffsetFetchRequest {
    const API_KEY: ApiKey = ApiKey::OffsetFetch;
    type Response = OffsetFetchResponse;
}

/// OffsetFetch response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetFetchResponse {
    /// Throttle time in ms (v3+).
    pub throttle_time_ms: i32,
    /// The per-topic results of the single group (v1-7).
    pub topics: Vec<OffsetFetchResponseTopic>,
    /// The group-level error code of the single group, 0 for none (v2-7).
    pub error_code: i16,
    /// The per-group results (v8+).
    pub groups: Vec<OffsetFetchResponseGroup>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One group of a batched (v8+) [`OffsetFetchResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetFetchResponseGroup {
    /// The group id.
    pub group_id: String,
    /// The per-topic results.
    pub topics: Vec<OffsetFetchResponseTopic>,
    /// The group-level error code, 0 for none.
    pub error_code: i16,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One topic of an [`OffsetFetchResponse`] or [`OffsetFetchResponseGroup`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetFetchResponseTopic {
    /// The topic name (before v10; empty when decoded from v10+).
    pub name: String,
    /// The topic id (v10+, batched layout only; all zero otherwise).
    pub topic_id: Uuid,
    /// The per-partition results.
    pub partitions: Vec<OffsetFetchResponsePartition>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One partition of an [`OffsetFetchResponseTopic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchResponsePartition {
    /// The partition index.
    pub partition_index: i32,
    /// The committed offset, -1 if none.
    pub committed_offset: i64,
    /// The leader epoch of the committed offset, -1 if unknown (v5+).
    pub committed_leader_epoch: i32,
    /// The metadata committed with the offset.
    pub metadata: Option<String>,
    /// The partition-level error code, 0 for none.
    pub error_code: i16,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for OffsetFetchResponsePartition {
    fn default() -> Self {
        Self {
            partition_index: 0,
            committed_offset: -1,
            committed_leader_epoch: -1,
            metadata: Some(String::new()),
            error_code: 0,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

fn write_response_topics(
    buf: &mut BytesMut,
    topics: &[OffsetFetchResponseTopic],
    version: i16,
    flex: bool,
) -> Result<(), EncodeError> {
    write_array(buf, topics, flex, "topics", |b, t| {
        write_topic(b, version, flex, &t.name, &t.topic_id)?;
        write_array(b, &t.partitions, flex, "partitions", |b, p| {
            b.put_i32(p.partition_index);
            b.put_i64(p.committed_offset);
            if version >= 5 {
                b.put_i32(p.committed_leader_epoch);
            }
            b.write_nullable_string(p.metadata.as_deref(), flex, "metadata")?;
            b.put_i16(p.error_code);
            tagged(b, flex, &p.unknown_tagged_fields);
            Ok(())
        })?;
        tagged(b, flex, &t.unknown_tagged_fields);
        Ok(())
    })
}

fn read_response_topics(
    buf: &mut Bytes,
    version: i16,
    flex: bool,
) -> Result<Vec<OffsetFetchResponseTopic>, DecodeError> {
    read_required_array(buf, flex, 2, "topics", |b| {
        let (name, topic_id) = read_topic(b, version, flex)?;
        let partitions = read_required_array(b, flex, 15, "partitions", |b| {
            let partition_index = b.read_i32("partition_index")?;
            let committed_offset = b.read_i64("committed_offset")?;
            let committed_leader_epoch = if version >= 5 {
                b.read_i32("committed_leader_epoch")?
            } else {
                -1
            };
            let metadata = b.read_nullable_string(flex, "metadata")?;
            let error_code = b.read_i16("error_code")?;
            Ok(OffsetFetchResponsePartition {
                partition_index,
                committed_offset,
                committed_leader_epoch,
                metadata,
                error_code,
                unknown_tagged_fields: read_tagged(b, flex)?,
            })
        })?;
        Ok(OffsetFetchResponseTopic {
            name,
            topic_id,
            partitions,
            unknown_tagged_fields: read_tagged(b, flex)?,
        })
    })
}

impl Message for OffsetFetchResponse {
    const NAME: &'static str = "OffsetFetchResponse";
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 10;
    const FLEXIBLE_FROM: i16 = 6;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        if version >= 3 {
            buf.put_i32(self.throttle_time_ms);
        }
        if version < GROUPS_FROM {
            if !self.groups.is_empty() {
                return Err(layout_error(
                    "groups",
                    version,
                    "batched groups need version 8 or later",
                ));
            }
            write_response_topics(buf, &self.topics, version, flex)?;
            if version >= 2 {
                buf.put_i16(self.error_code);
            }
        } else {
            if !self.topics.is_empty() {
                return Err(layout_error(
                    "topics",
                    version,
                    "version 8 and later carry topics inside groups",
                ));
            }
            write_array(buf, &self.groups, flex, "groups", |b, g| {
                b.write_string(&g.group_id, flex, "group_id")?;
                write_response_topics(b, &g.topics, version, flex)?;
                b.put_i16(g.error_code);
                tagged(b, flex, &g.unknown_tagged_fields);
                Ok(())
            })?;
        }
        tagged(buf, flex, &self.unknown_tagged_fields);
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let mut msg = Self::default();
        if version >= 3 {
            msg.throttle_time_ms = buf.read_i32("throttle_time_ms")?;
        }
        if version < GROUPS_FROM {
            msg.topics = read_response_topics(buf, version, flex)?;
            if version >= 2 {
                msg.error_code = buf.read_i16("error_code")?;
            }
        } else {
            msg.groups = read_required_array(buf, flex, 5, "groups", |b| {
                let group_id = b.read_string(flex, "group_id")?;
                let topics = read_response_topics(b, version, flex)?;
                let error_code = b.read_i16("error_code")?;
                Ok(OffsetFetchResponseGroup {
                    group_id,
                    topics,
                    error_code,
                    unknown_tagged_fields: read_tagged(b, flex)?,
                })
            })?;
        }
        msg.unknown_tagged_fields = read_tagged(buf, flex)?;
        Ok(msg)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_util::round_trip_all_versions;

    const ID: Uuid = [0x5a; 16];

    fn tags(v: i16, tag: u32) -> Vec<RawTaggedField> {
        if v >= 6 {
            vec![RawTaggedField {
                tag,
                data: Bytes::from_static(b"t"),
            }]
        } else {
            vec![]
        }
    }

    fn req_topic(v: i16, name: &str, parts: Vec<i32>) -> OffsetFetchRequestTopic {
        OffsetFetchRequestTopic {
            name: if v < TOPIC_ID_FROM {
                name.into()
            } else {
                String::new()
            },
            topic_id: if v >= TOPIC_ID_FROM { ID } else { [0; 16] },
            partition_indexes: parts,
            unknown_tagged_fields: tags(v, 2),
        }
    }

    fn resp_topic(v: i16) -> OffsetFetchResponseTopic {
        OffsetFetchResponseTopic {
            name: if v < TOPIC_ID_FROM {
                "orders".into()
            } else {
                String::new()
            },
            topic_id: if v >= TOPIC_ID_FROM { ID } else { [0; 16] },
            partitions: vec![
                OffsetFetchResponsePartition {
                    partition_index: 0,
                    committed_offset: 77,
                    committed_leader_epoch: if v >= 5 { 3 } else { -1 },
                    metadata: Some("m".into()),
                    error_code: 0,
                    unknown_tagged_fields: tags(v, 1),
                },
                OffsetFetchResponsePartition {
                    partition_index: 1,
                    committed_offset: -1,
                    committed_leader_epoch: -1,
                    metadata: None,
                    error_code: 88,
                    unknown_tagged_fields: vec![],
                },
            ],
            unknown_tagged_fields: tags(v, 0),
        }
    }

    #[test]
    fn round_trips_every_version() {
        round_trip_all_versions(|v| {
            if v < GROUPS_FROM {
                OffsetFetchRequest {
                    group_id: "billing".into(),
                    topics: Some(vec![req_topic(v, "orders", vec![0, 1, 7])]),
                    groups: vec![],
                    require_stable: v >= 7,
                    unknown_tagged_fields: tags(v, 3),
                }
            } else {
                OffsetFetchRequest {
                    groups: vec![
                        OffsetFetchRequestGroup {
                            group_id: "billing".into(),
                            member_id: (v >= 9).then(|| "member-x".into()),
                            member_epoch: if v >= 9 { 12 } else { -1 },
                            topics: Some(vec![req_topic(v, "orders", vec![0, 1])]),
                            unknown_tagged_fields: tags(v, 4),
                        },
                        OffsetFetchRequestGroup {
                            group_id: "audit".into(),
                            ..Default::default()
                        },
                    ],
                    require_stable: true,
                    unknown_tagged_fields: tags(v, 3),
                    ..Default::default()
                }
            }
        });
        // "All topics" (null array) from v2.
        round_trip_all_versions(|v| OffsetFetchRequest {
            group_id: if v < GROUPS_FROM {
                "g".into()
            } else {
                String::new()
            },
            topics: if v < 2 { Some(vec![]) } else { None },
            groups: if v >= GROUPS_FROM {
                vec![OffsetFetchRequestGroup {
                    group_id: "g".into(),
                    ..Default::default()
                }]
            } else {
                vec![]
            },
            ..Default::default()
        });
        round_trip_all_versions(|v| {
            if v < GROUPS_FROM {
                OffsetFetchResponse {
                    throttle_time_ms: if v >= 3 { 5 } else { 0 },
                    topics: vec![resp_topic(v)],
                    error_code: if v >= 2 { 16 } else { 0 },
                    groups: vec![],
                    unknown_tagged_fields: tags(v, 9),
                }
            } else {
                OffsetFetchResponse {
                    throttle_time_ms: 5,
                    groups: vec![
                        OffsetFetchResponseGroup {
                            group_id: "billing".into(),
                            topics: vec![resp_topic(v)],
                            error_code: 0,
                            unknown_tagged_fields: tags(v, 1),
                        },
                        OffsetFetchResponseGroup {
                            group_id: "audit".into(),
                            topics: vec![],
                            error_code: 15,
                            unknown_tagged_fields: vec![],
                        },
                    ],
                    unknown_tagged_fields: tags(v, 9),
                    ..Default::default()
                }
            }
        });
    }

    #[test]
    fn v7_single_group_layout_bytes() {
        let req = OffsetFetchRequest {
            group_id: "g".into(),
            topics: Some(vec![OffsetFetchRequestTopic {
                name: "t".into(),
                partition_indexes: vec![3],
                ..Default::default()
            }]),
            require_stable: true,
            ..Default::default()
        };
        let mut b = BytesMut::new();
        req.write(&mut b, 7).unwrap();
        let expected: &[u8] = &[
            0x02, b'g', // group_id (compact string)
            0x02, // topics: 1 element
            0x02, b't', // name
            0x02, 0, 0, 0, 3,    // partition_indexes: [3]
            0x00, // topic tagged fields
            0x01, // require_stable
            0x00, // tagged fields
        ];
        assert_eq!(b.as_ref(), expected);
        assert_eq!(OffsetFetchRequest::read(&mut b.freeze(), 7).unwrap(), req);

        let resp_bytes: &[u8] = &[
            0, 0, 0, 0,    // throttle
            0x02, // topics: 1
            0x02, b't', // name
            0x02, // partitions: 1
            0, 0, 0, 3, // partition_index
            0, 0, 0, 0, 0, 0, 0, 42, // committed_offset
            0, 0, 0, 1,    // committed_leader_epoch
            0x01, // metadata ""
            0, 0,    // error_code
            0x00, // partition tags
            0x00, // topic tags
            0, 16,   // top-level error_code
            0x00, // tags
        ];
        let resp = OffsetFetchResponse::read(&mut Bytes::from_static(resp_bytes), 7).unwrap();
        assert_eq!(resp.error_code, 16);
        assert!(resp.groups.is_empty());
        assert_eq!(resp.topics[0].name, "t");
        assert_eq!(resp.topics[0].partitions[0].committed_offset, 42);
        assert_eq!(resp.topics[0].partitions[0].metadata.as_deref(), Some(""));
    }

    #[test]
    fn v8_batched_layout_bytes() {
        let req = OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: "g".into(),
                topics: Some(vec![OffsetFetchRequestTopic {
                    name: "t".into(),
                    partition_indexes: vec![3],
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            require_stable: true,
            ..Default::default()
        };
        let mut b = BytesMut::new();
        req.write(&mut b, 8).unwrap();
        let expected: &[u8] = &[
            0x02, // groups: 1
            0x02, b'g', // group_id
            0x02, // topics: 1
            0x02, b't', // name
            0x02, 0, 0, 0, 3,    // partition_indexes
            0x00, // topic tags
            0x00, // group tags
            0x01, // require_stable
            0x00, // tags
        ];
        assert_eq!(b.as_ref(), expected);
        assert_eq!(OffsetFetchRequest::read(&mut b.freeze(), 8).unwrap(), req);

        let resp_bytes: &[u8] = &[
            0, 0, 0, 0,    // throttle
            0x02, // groups: 1
            0x02, b'g', // group_id
            0x02, // topics: 1
            0x02, b't', // name
            0x02, // partitions: 1
            0, 0, 0, 3, // partition_index
            0, 0, 0, 0, 0, 0, 0, 42, // committed_offset
            0xff, 0xff, 0xff, 0xff, // committed_leader_epoch -1
            0x00, // metadata null
            0, 0, // error_code
            0x00, 0x00, // partition and topic tags
            0, 15,   // group error_code
            0x00, // group tags
            0x00, // tags
        ];
        let resp = OffsetFetchResponse::read(&mut Bytes::from_static(resp_bytes), 8).unwrap();
        assert!(resp.topics.is_empty());
        assert_eq!(resp.error_code, 0);
        let g = &resp.groups[0];
        assert_eq!((g.group_id.as_str(), g.error_code), ("g", 15));
        assert_eq!(g.topics[0].partitions[0].committed_offset, 42);
        assert_eq!(g.topics[0].partitions[0].metadata, None);
        // The same bytes are not a valid v7 body.
        assert!(OffsetFetchResponse::read(&mut Bytes::from_static(resp_bytes), 7).is_err());
    }

    #[test]
    fn wrong_layout_is_an_encode_error() {
        let batched = OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup::default()],
            ..Default::default()
        };
        assert!(batched.write(&mut BytesMut::new(), 7).is_err());
        let single = OffsetFetchRequest {
            group_id: "g".into(),
            topics: Some(vec![]),
            ..Default::default()
        };
        assert!(single.write(&mut BytesMut::new(), 8).is_err());
        let all_topics_v1 = OffsetFetchRequest {
            group_id: "g".into(),
            topics: None,
            ..Default::default()
        };
        assert!(all_topics_v1.write(&mut BytesMut::new(), 1).is_err());
        assert!(all_topics_v1.write(&mut BytesMut::new(), 2).is_ok());
    }
}
