//! ListOffsets (API 2): looks up offsets by timestamp (or the special earliest/latest/...
//! timestamps) per partition.
//! Schema: apache/kafka `ListOffsetsRequest.json` / `ListOffsetsResponse.json`.
//!
//! Versions 1..=11: Kafka 4.0 removed v0 (KIP-896), so v1 is the lowest version both 3.9 and
//! 4.x brokers accept; v11 (KIP-1023, no wire change from v10) is the newest in the schema.
//! v6+ is flexible; v10 adds `timeout_ms`.

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{read_required_array, write_array, RawTaggedField, ReadExt, WriteExt};

/// Special timestamp: the latest offset (the high watermark, or LSO when read-committed).
pub const LATEST_TIMESTAMP: i64 = -1;
/// Special timestamp: the earliest offset.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// Special timestamp: the offset of the record with the largest timestamp (v7+).
pub const MAX_TIMESTAMP: i64 = -3;
/// Special timestamp: the earliest offset in local (non-tiered) storage (v8+).
pub const EARLIEST_LOCAL_TIMESTAMP: i64 = -4;
/// Special timestamp: the latest offset moved to tiered storage (v9+).
pub const LATEST_TIERED_TIMESTAMP: i64 = -5;

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

/// ListOffsets request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsRequest {
    /// The requesting broker id, or -1 for a consumer.
    pub replica_id: i32,
    /// 0 = read uncommitted, 1 = read committed (v2+).
    pub isolation_level: i8,
    /// The topics to look up.
    pub topics: Vec<ListOffsetsTopic>,
    /// How long to wait for lookups in tiered storage, in ms (v10+).
    pub timeout_ms: i32,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for ListOffsetsRequest {
    fn default() -> Self {
        Self {
            replica_id: -1,
            isolation_level: 0,
            topics: Vec::new(),
            timeout_ms: 0,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// One topic of a [`ListOffsetsRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListOffsetsTopic {
    /// The topic name.
    pub name: String,
    /// The partitions to look up.
    pub partitions: Vec<ListOffsetsPartition>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One partition of a [`ListOffsetsTopic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsPartition {
    /// The partition index.
    pub partition_index: i32,
    /// The current leader epoch for fencing, -1 for none (v4+).
    pub current_leader_epoch: i32,
    /// The timestamp to look up, or one of the special timestamps.
    pub timestamp: i64,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for ListOffsetsPartition {
    fn default() -> Self {
        Self {
            partition_index: 0,
            current_leader_epoch: -1,
            timestamp: LATEST_TIMESTAMP,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

impl Message for ListOffsetsRequest {
    const NAME: &'static str = "ListOffsetsRequest";
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 11;
    const FLEXIBLE_FROM: i16 = 6;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        buf.put_i32(self.replica_id);
        if version >= 2 {
            buf.put_i8(self.isolation_level);
        }
        write_array(buf, &self.topics, flex, "topics", |b, t| {
            b.write_string(&t.name, flex, "name")?;
            write_array(b, &t.partitions, flex, "partitions", |b, p| {
                b.put_i32(p.partition_index);
                if version >= 4 {
                    b.put_i32(p.current_leader_epoch);
                }
                b.put_i64(p.timestamp);
                tagged(b, flex, &p.unknown_tagged_fields);
                Ok(())
            })?;
            tagged(b, flex, &t.unknown_tagged_fields);
            Ok(())
        })?;
        if version >= 10 {
            buf.put_i32(self.timeout_ms);
        }
        tagged(buf, flex, &self.unknown_tagged_fields);
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let replica_id = buf.read_i32("replica_id")?;
        let isolation_level = if version >= 2 {
            buf.read_i8("isolation_level")?
        } else {
            0
        };
        let topics = read_required_array(buf, flex, 2, "topics", |b| {
            let name = b.read_string(flex, "name")?;
            let partitions = read_required_array(b, flex, 12, "partitions", |b| {
                let partition_index = b.read_i32("partition_index")?;
                let current_leader_epoch = if version >= 4 {
                    b.read_i32("current_leader_epoch")?
                } else {
                    -1
                };
                let timestamp = b.read_i64("timestamp")?;
                Ok(ListOffsetsPartition {
                    partition_index,
                    current_leader_epoch,
                    timestamp,
                    unknown_tagged_fields: read_tagged(b, flex)?,
                })
            })?;
            Ok(ListOffsetsTopic {
                name,
                partitions,
                unknown_tagged_fields: read_tagged(b, flex)?,
            })
        })?;
        let timeout_ms = if version >= 10 {
            buf.read_i32("timeout_ms")?
        } else {
            0
        };
        Ok(Self {
            replica_id,
            isolation_level,
            topics,
            timeout_ms,
            unknown_tagged_fields: read_tagged(buf, flex)?,
        })
    }
}

impl Request for ListOffsetsRequest {
    const API_KEY: ApiKey = ApiKey::ListOffsets;
    type Response = ListOffsetsResponse;
}

/// ListOffsets response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListOffsetsResponse {
    /// Throttle time in ms (v2+).
    pub throttle_time_ms: i32,
    /// The per-topic results.
    pub topics: Vec<ListOffsetsTopicResponse>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One topic of a [`ListOffsetsResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListOffsetsTopicResponse {
    /// The topic name.
    pub name: String,
    /// The per-partition results.
    pub partitions: Vec<ListOffsetsPartitionResponse>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One partition of a [`ListOffsetsTopicResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsPartitionResponse {
    /// The partition index.
    pub partition_index: i32,
    /// The error code, 0 for none.
    pub error_code: i16,
    /// The timestamp of the returned offset, -1 if none.
    pub timestamp: i64,
    /// The returned offset, -1 if none.
    pub offset: i64,
    /// The leader epoch of the returned offset, -1 if unknown (v4+).
    pub leader_epoch: i32,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for ListOffsetsPartitionResponse {
    fn default() -> Self {
        Self {
            partition_index: 0,
            error_code: 0,
            timestamp: -1,
            offset: -1,
            leader_epoch: -1,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

impl Message for ListOffsetsResponse {
    const NAME: &'static str = "ListOffsetsResponse";
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 11;
    const FLEXIBLE_FROM: i16 = 6;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        if version >= 2 {
            buf.put_i32(self.throttle_time_ms);
        }
        write_array(buf, &self.topics, flex, "topics", |b, t| {
            b.write_string(&t.name, flex, "name")?;
            write_array(b, &t.partitions, flex, "partitions", |b, p| {
                b.put_i32(p.partition_index);
                b.put_i16(p.error_code);
                b.put_i64(p.timestamp);
                b.put_i64(p.offset);
                if version >= 4 {
                    b.put_i32(p.leader_epoch);
                }
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
        let throttle_time_ms = if version >= 2 {
            buf.read_i32("throttle_time_ms")?
        } else {
            0
        };
        let topics = read_required_array(buf, flex, 2, "topics", |b| {
            let name = b.read_string(flex, "name")?;
            let partitions = read_required_array(b, flex, 22, "partitions", |b| {
                let partition_index = b.read_i32("partition_index")?;
                let error_code = b.read_i16("error_code")?;
                let timestamp = b.read_i64("timestamp")?;
                let offset = b.read_i64("offset")?;
                let leader_epoch = if version >= 4 {
                    b.read_i32("leader_epoch")?
                } else {
                    -1
                };
                Ok(ListOffsetsPartitionResponse {
                    partition_index,
                    error_code,
                    timestamp,
                    offset,
                    leader_epoch,
                    unknown_tagged_fields: read_tagged(b, flex)?,
                })
            })?;
            Ok(ListOffsetsTopicResponse {
                name,
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

    fn tags(v: i16, tag: u32) -> Vec<RawTaggedField> {
        if v >= 6 {
            vec![RawTaggedField {
                tag,
                data: Bytes::from_static(b"\x2a"),
            }]
        } else {
            vec![]
        }
    }

    #[test]
    fn round_trips_every_version() {
        round_trip_all_versions(|v| ListOffsetsRequest {
            replica_id: -1,
            isolation_level: if v >= 2 { 1 } else { 0 },
            topics: vec![
                ListOffsetsTopic {
                    name: "orders".into(),
                    partitions: vec![
                        ListOffsetsPartition {
                            partition_index: 0,
                            current_leader_epoch: if v >= 4 { 7 } else { -1 },
                            timestamp: EARLIEST_TIMESTAMP,
                            unknown_tagged_fields: tags(v, 3),
                        },
                        ListOffsetsPartition {
                            partition_index: 5,
                            current_leader_epoch: -1,
                            timestamp: 1_700_000_000_000,
                            unknown_tagged_fields: vec![],
                        },
                    ],
                    unknown_tagged_fields: tags(v, 0),
                },
                ListOffsetsTopic {
                    name: "empty".into(),
                    ..Default::default()
                },
            ],
            timeout_ms: if v >= 10 { 30_000 } else { 0 },
            unknown_tagged_fields: tags(v, 1),
        });
        round_trip_all_versions(|v| ListOffsetsResponse {
            throttle_time_ms: if v >= 2 { 12 } else { 0 },
            topics: vec![ListOffsetsTopicResponse {
                name: "orders".into(),
                partitions: vec![
                    ListOffsetsPartitionResponse {
                        partition_index: 0,
                        error_code: 0,
                        timestamp: 1_700_000_000_123,
                        offset: 4242,
                        leader_epoch: if v >= 4 { 9 } else { -1 },
                        unknown_tagged_fields: tags(v, 2),
                    },
                    ListOffsetsPartitionResponse {
                        partition_index: 1,
                        error_code: 6,
                        ..Default::default()
                    },
                ],
                unknown_tagged_fields: vec![],
            }],
            unknown_tagged_fields: tags(v, 0),
        });
    }

    #[test]
    fn rejects_removed_versions() {
        let mut b = BytesMut::new();
        assert!(ListOffsetsRequest::default().write(&mut b, 0).is_err());
        assert!(ListOffsetsResponse::read(&mut Bytes::new(), 12).is_err());
    }
}
