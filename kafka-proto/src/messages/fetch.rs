//! Fetch (API 1): reads record batches from partition leaders (or preferred replicas).
//! Schema: apache/kafka `FetchRequest.json` / `FetchResponse.json`.
//!
//! Versions 4..=18: Kafka 4.0 removed v0-3 (KIP-896), so v4 is the lowest version both 3.9
//! and 4.x brokers accept; v18 (Kafka 4.1, KIP-1166) is the newest in the schema. Along the
//! way: v5 adds log start offsets, v7 fetch sessions (KIP-227), v9 leader epochs (KIP-320),
//! v11 rack-aware fetching (KIP-392), v12 is the first flexible version (with
//! `last_fetched_epoch` and the diverging-epoch / current-leader / snapshot tagged fields),
//! v13 names topics by id (KIP-516), v15 moves the replica id into the tagged `replica_state`
//! (KIP-903), v16 adds the response's tagged `node_endpoints` (KIP-951), v17 the tagged
//! `replica_directory_id` (KIP-853), v18 the tagged `high_watermark` (KIP-1166).
//!
//! Record data stays raw: [`PartitionData::records`] is a zero-copy slice of the response
//! bytes; decoding batches is the job of the record module.

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{
    decode_tag, encode_tag, read_array, read_required_array, write_array, RawTaggedField, ReadExt,
    Uuid, WriteExt,
};

/// First flexible version.
const FLEXIBLE_FROM: i16 = 12;
/// First version that names topics by id instead of by name.
const TOPIC_ID_FROM: i16 = 13;
/// First version with the tagged `replica_state` instead of the plain `replica_id`.
const REPLICA_STATE_FROM: i16 = 15;
/// First version with the response's tagged `node_endpoints`.
const NODE_ENDPOINTS_FROM: i16 = 16;
/// First version with the partition's tagged `replica_directory_id`.
const REPLICA_DIRECTORY_ID_FROM: i16 = 17;
/// First version with the partition's tagged `high_watermark`.
const HIGH_WATERMARK_FROM: i16 = 18;

/// The high watermark a request carries when it has none to report (`Long.MAX_VALUE`).
pub const UNKNOWN_HIGH_WATERMARK: i64 = i64::MAX;

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
        buf.write_string(name, flex, "topic")
    }
}

fn read_topic(buf: &mut Bytes, version: i16, flex: bool) -> Result<(String, Uuid), DecodeError> {
    if version >= TOPIC_ID_FROM {
        Ok((String::new(), buf.read_uuid("topic_id")?))
    } else {
        Ok((buf.read_string(flex, "topic")?, [0; 16]))
    }
}

// ---------------------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------------------

/// Fetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// The cluster id, if known (tagged field 0, v12+).
    pub cluster_id: Option<String>,
    /// The follower's broker id, -1 for a consumer (v4-14; later in `replica_state`).
    pub replica_id: i32,
    /// The follower's id and epoch (tagged field 1, v15+); `None` for a consumer.
    pub replica_state: Option<ReplicaState>,
    /// The longest the broker may wait for `min_bytes`, in ms.
    pub max_wait_ms: i32,
    /// The minimum bytes to accumulate before answering.
    pub min_bytes: i32,
    /// The maximum bytes in the whole response (KIP-74: not honoured for the first batch).
    pub max_bytes: i32,
    /// 0 = read uncommitted, 1 = read committed.
    pub isolation_level: i8,
    /// The fetch session id, 0 for none (v7+).
    pub session_id: i32,
    /// The fetch session epoch, -1 for a full fetch without a session (v7+).
    pub session_epoch: i32,
    /// The topics to fetch.
    pub topics: Vec<FetchTopic>,
    /// Partitions to drop from an incremental fetch session (v7+).
    pub forgotten_topics_data: Vec<ForgottenTopic>,
    /// The consumer's rack, for follower fetching (v11+).
    pub rack_id: String,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for FetchRequest {
    fn default() -> Self {
        Self {
            cluster_id: None,
            replica_id: -1,
            replica_state: None,
            max_wait_ms: 0,
            min_bytes: 0,
            max_bytes: i32::MAX,
            isolation_level: 0,
            session_id: 0,
            session_epoch: -1,
            topics: Vec::new(),
            forgotten_topics_data: Vec::new(),
            rack_id: String::new(),
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// A follower's identity in a [`FetchRequest`] (v15+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    /// The follower's broker id, -1 for a consumer.
    pub replica_id: i32,
    /// The follower's broker epoch, -1 if unknown.
    pub replica_epoch: i64,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for ReplicaState {
    fn default() -> Self {
        Self {
            replica_id: -1,
            replica_epoch: -1,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// One topic of a [`FetchRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchTopic {
    /// The topic name (before v13; empty when decoded from v13+).
    pub topic: String,
    /// The topic id (v13+; all zero when decoded from older versions).
    pub topic_id: Uuid,
    /// The partitions to fetch.
    pub partitions: Vec<FetchPartition>,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One partition of a [`FetchTopic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPartition {
    /// The partition index.
    pub partition: i32,
    /// The leader epoch the fetcher knows, -1 for no check (v9+).
    pub current_leader_epoch: i32,
    /// The offset to fetch from.
    pub fetch_offset: i64,
    /// The epoch of the last fetched record, -1 if none (v12+).
    pub last_fetched_epoch: i32,
    /// The follower's log start offset, -1 for a consumer (v5+).
    pub log_start_offset: i64,
    /// The maximum bytes to return for this partition.
    pub partition_max_bytes: i32,
    /// The follower's log directory id, all zero for none (tagged field 0, v17+).
    pub replica_directory_id: Uuid,
    /// The follower's high watermark, [`UNKNOWN_HIGH_WATERMARK`] for none (tagged field 1,
    /// v18+).
    pub high_watermark: i64,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for FetchPartition {
    fn default() -> Self {
        Self {
            partition: 0,
            current_leader_epoch: -1,
            fetch_offset: 0,
            last_fetched_epoch: -1,
            log_start_offset: -1,
            partition_max_bytes: 0,
            replica_directory_id: [0; 16],
            high_watermark: UNKNOWN_HIGH_WATERMARK,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// Partitions to remove from an incremental fetch session (v7+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForgottenTopic {
    /// The topic name (v7-12; empty when decoded from v13+).
    pub topic: String,
    /// The topic id (v13+; all zero when decoded from older versions).
    pub topic_id: Uuid,
    /// The partitions to forget.
    pub partitions: Vec<i32>,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

fn write_fetch_partition(
    b: &mut BytesMut,
    p: &FetchPartition,
    version: i16,
    flex: bool,
) -> Result<(), EncodeError> {
    b.put_i32(p.partition);
    if version >= 9 {
        b.put_i32(p.current_leader_epoch);
    }
    b.put_i64(p.fetch_offset);
    if version >= 12 {
        b.put_i32(p.last_fetched_epoch);
    }
    if version >= 5 {
        b.put_i64(p.log_start_offset);
    }
    b.put_i32(p.partition_max_bytes);
    if flex {
        let mut known = Vec::new();
        if version >= REPLICA_DIRECTORY_ID_FROM && p.replica_directory_id != [0; 16] {
            known.push(encode_tag(0, |t| {
                t.write_uuid(&p.replica_directory_id);
                Ok(())
            })?);
        }
        if version >= HIGH_WATERMARK_FROM && p.high_watermark != UNKNOWN_HIGH_WATERMARK {
            known.push(encode_tag(1, |t| {
                t.put_i64(p.high_watermark);
                Ok(())
            })?);
        }
        b.write_tagged_fields(&known, &p.unknown_tagged_fields);
    }
    Ok(())
}

fn read_fetch_partition(
    b: &mut Bytes,
    version: i16,
    flex: bool,
) -> Result<FetchPartition, DecodeError> {
    let mut p = FetchPartition {
        partition: b.read_i32("partition")?,
        ..FetchPartition::default()
    };
    if version >= 9 {
        p.current_leader_epoch = b.read_i32("current_leader_epoch")?;
    }
    p.fetch_offset = b.read_i64("fetch_offset")?;
    if version >= 12 {
        p.last_fetched_epoch = b.read_i32("last_fetched_epoch")?;
    }
    if version >= 5 {
        p.log_start_offset = b.read_i64("log_start_offset")?;
    }
    p.partition_max_bytes = b.read_i32("partition_max_bytes")?;
    if flex {
        let mut replica_directory_id = [0; 16];
        let mut high_watermark = UNKNOWN_HIGH_WATERMARK;
        p.unknown_tagged_fields = b.read_tagged_fields(|tag, data| match tag {
            0 if version >= REPLICA_DIRECTORY_ID_FROM => {
                replica_directory_id = decode_tag(data, "replica_directory_id", |d| {
                    d.read_uuid("replica_directory_id")
                })?;
                Ok(true)
            }
            1 if version >= HIGH_WATERMARK_FROM => {
                high_watermark =
                    decode_tag(data, "high_watermark", |d| d.read_i64("high_watermark"))?;
                Ok(true)
            }
            _ => Ok(false),
        })?;
        p.replica_directory_id = replica_directory_id;
        p.high_watermark = high_watermark;
    }
    Ok(p)
}

impl Message for FetchRequest {
    const NAME: &'static str = "FetchRequest";
    const MIN_VERSION: i16 = 4;
    const MAX_VERSION: i16 = 18;
    const FLEXIBLE_FROM: i16 = FLEXIBLE_FROM;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        if version < 7 && !self.forgotten_topics_data.is_empty() {
            return Err(EncodeError::InvalidField {
                what: "forgotten_topics_data",
                version,
                reason: "fetch sessions need version 7 or later",
            });
        }
        if version < REPLICA_STATE_FROM {
            buf.put_i32(self.replica_id);
        }
        buf.put_i32(self.max_wait_ms);
        buf.put_i32(self.min_bytes);
        buf.put_i32(self.max_bytes);
        buf.put_i8(self.isolation_level);
        if version >= 7 {
            buf.put_i32(self.session_id);
            buf.put_i32(self.session_epoch);
        }
        write_array(buf, &self.topics, flex, "topics", |b, t| {
            write_topic(b, version, flex, &t.topic, &t.topic_id)?;
            write_array(b, &t.partitions, flex, "partitions", |b, p| {
                write_fetch_partition(b, p, version, flex)
            })?;
            tagged(b, flex, &t.unknown_tagged_fields);
            Ok(())
        })?;
        if version >= 7 {
            write_array(
                buf,
                &self.forgotten_topics_data,
                flex,
                "forgotten_topics_data",
                |b, t| {
                    write_topic(b, version, flex, &t.topic, &t.topic_id)?;
                    write_array(b, &t.partitions, flex, "partitions", |b, p| {
                        b.put_i32(*p);
                        Ok(())
                    })?;
                    tagged(b, flex, &t.unknown_tagged_fields);
                    Ok(())
                },
            )?;
        }
        if version >= 11 {
            buf.write_string(&self.rack_id, flex, "rack_id")?;
        }
        if flex {
            let mut known = Vec::new();
            if let Some(cluster_id) = &self.cluster_id {
                known.push(encode_tag(0, |t| {
                    t.write_string(cluster_id, true, "cluster_id")
                })?);
            }
            if version >= REPLICA_STATE_FROM {
                if let Some(rs) = &self.replica_state {
                    known.push(encode_tag(1, |t| {
                        t.put_i32(rs.replica_id);
                        t.put_i64(rs.replica_epoch);
                        t.write_tagged_fields(&[], &rs.unknown_tagged_fields);
                        Ok(())
                    })?);
                }
            }
            buf.write_tagged_fields(&known, &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let mut msg = Self::default();
        if version < REPLICA_STATE_FROM {
            msg.replica_id = buf.read_i32("replica_id")?;
        }
        msg.max_wait_ms = buf.read_i32("max_wait_ms")?;
        msg.min_bytes = buf.read_i32("min_bytes")?;
        msg.max_bytes = buf.read_i32("max_bytes")?;
        msg.isolation_level = buf.read_i8("isolation_level")?;
        if version >= 7 {
            msg.session_id = buf.read_i32("session_id")?;
            msg.session_epoch = buf.read_i32("session_epoch")?;
        }
        msg.topics = read_required_array(buf, flex, 2, "topics", |b| {
            let (topic, topic_id) = read_topic(b, version, flex)?;
            let partitions = read_required_array(b, flex, 16, "partitions", |b| {
                read_fetch_partition(b, version, flex)
            })?;
            Ok(FetchTopic {
                topic,
                topic_id,
                partitions,
                unknown_tagged_fields: read_tagged(b, flex)?,
            })
        })?;
        if version >= 7 {
            msg.forgotten_topics_data =
                read_required_array(buf, flex, 2, "forgotten_topics_data", |b| {
                    let (topic, topic_id) = read_topic(b, version, flex)?;
                    let partitions =
                        read_required_array(b, flex, 4, "partitions", |b| b.read_i32("partition"))?;
                    Ok(ForgottenTopic {
                        topic,
                        topic_id,
                        partitions,
                        unknown_tagged_fields: read_tagged(b, flex)?,
                    })
                })?;
        }
        if version >= 11 {
            msg.rack_id = buf.read_string(flex, "rack_id")?;
        }
        if flex {
            let mut cluster_id = None;
            let mut replica_state = None;
            msg.unknown_tagged_fields = buf.read_tagged_fields(|tag, data| match tag {
                0 => {
                    cluster_id = decode_tag(data, "cluster_id", |d| {
                        d.read_nullable_string(true, "cluster_id")
                    })?;
                    Ok(true)
                }
                1 if version >= REPLICA_STATE_FROM => {
                    replica_state = Some(decode_tag(data, "replica_state", |d| {
                        Ok(ReplicaState {
                            replica_id: d.read_i32("replica_id")?,
                            replica_epoch: d.read_i64("replica_epoch")?,
                            unknown_tagged_fields: d.read_unknown_tagged_fields()?,
                        })
                    })?);
                    Ok(true)
                }
                _ => Ok(false),
            })?;
            msg.cluster_id = cluster_id;
            msg.replica_state = replica_state;
        }
        Ok(msg)
    }
}

impl Request for FetchRequest {
    const API_KEY: ApiKey = ApiKey::Fetch;
    type Response = FetchResponse;
}

// ---------------------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------------------

/// Fetch response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchResponse {
    /// Throttle time in ms.
    pub throttle_time_ms: i32,
    /// The top-level error code, 0 for none (v7+).
    pub error_code: i16,
    /// The fetch session id, 0 for none (v7+).
    pub session_id: i32,
    /// The per-topic results.
    pub responses: Vec<FetchableTopicResponse>,
    /// Endpoints of the new leaders named in `current_leader` fields (tagged field 0, v16+).
    pub node_endpoints: Vec<NodeEndpoint>,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One topic of a [`FetchResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchableTopicResponse {
    /// The topic name (before v13; empty when decoded from v13+).
    pub topic: String,
    /// The topic id (v13+; all zero when decoded from older versions).
    pub topic_id: Uuid,
    /// The per-partition results.
    pub partitions: Vec<PartitionData>,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One partition of a [`FetchableTopicResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionData {
    /// The partition index.
    pub partition_index: i32,
    /// The partition error code, 0 for none.
    pub error_code: i16,
    /// The high watermark.
    pub high_watermark: i64,
    /// The last stable offset, -1 if unknown.
    pub last_stable_offset: i64,
    /// The log start offset, -1 if unknown (v5+).
    pub log_start_offset: i64,
    /// Where the fetcher's log diverges from the leader's (tagged field 0, v12+).
    pub diverging_epoch: Option<EpochEndOffset>,
    /// The current leader, sent with leadership errors (tagged field 1, v12+).
    pub current_leader: Option<LeaderIdAndEpoch>,
    /// The snapshot to fetch when the offset is below the log start (tagged field 2, v12+).
    pub snapshot_id: Option<SnapshotId>,
    /// Aborted transactions in the returned range (read committed), `None` when null.
    pub aborted_transactions: Option<Vec<AbortedTransaction>>,
    /// The replica the consumer should fetch from next, -1 for the leader (v11+).
    pub preferred_read_replica: i32,
    /// The raw record batches, a zero-copy slice of the response; `None` when null.
    pub records: Option<Bytes>,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for PartitionData {
    fn default() -> Self {
        Self {
            partition_index: 0,
            error_code: 0,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            diverging_epoch: None,
            current_leader: None,
            snapshot_id: None,
            aborted_transactions: None,
            preferred_read_replica: -1,
            records: None,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// The end of the largest epoch the fetcher shares with the leader (KIP-595/KIP-320).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochEndOffset {
    /// The epoch, -1 if unknown.
    pub epoch: i32,
    /// The end offset of that epoch, -1 if unknown.
    pub end_offset: i64,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for EpochEndOffset {
    fn default() -> Self {
        Self {
            epoch: -1,
            end_offset: -1,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// A partition's current leader and its epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderIdAndEpoch {
    /// The leader's broker id, -1 if unknown.
    pub leader_id: i32,
    /// The leader epoch, -1 if unknown.
    pub leader_epoch: i32,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for LeaderIdAndEpoch {
    fn default() -> Self {
        Self {
            leader_id: -1,
            leader_epoch: -1,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// A snapshot's end offset and epoch (KRaft).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotId {
    /// The snapshot's end offset, -1 if unknown.
    pub end_offset: i64,
    /// The snapshot's epoch, -1 if unknown.
    pub epoch: i32,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for SnapshotId {
    fn default() -> Self {
        Self {
            end_offset: -1,
            epoch: -1,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// An aborted transaction overlapping the returned records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AbortedTransaction {
    /// The producer id of the aborted transaction.
    pub producer_id: i64,
    /// The first offset of the aborted transaction.
    pub first_offset: i64,
    /// Unknown tagged fields (v12+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// A broker endpoint named in a [`FetchResponse`] (v16+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeEndpoint {
    /// The broker id.
    pub node_id: i32,
    /// The host name.
    pub host: String,
    /// The port.
    pub port: i32,
    /// The rack, if any.
    pub rack: Option<String>,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

fn write_partition_data(
    b: &mut BytesMut,
    p: &PartitionData,
    version: i16,
    flex: bool,
) -> Result<(), EncodeError> {
    b.put_i32(p.partition_index);
    b.put_i16(p.error_code);
    b.put_i64(p.high_watermark);
    b.put_i64(p.last_stable_offset);
    if version >= 5 {
        b.put_i64(p.log_start_offset);
    }
    match &p.aborted_transactions {
        None => b.write_array_len(None, flex, "aborted_transactions")?,
        Some(txns) => write_array(b, txns, flex, "aborted_transactions", |b, t| {
            b.put_i64(t.producer_id);
            b.put_i64(t.first_offset);
            tagged(b, flex, &t.unknown_tagged_fields);
            Ok(())
        })?,
    }
    if version >= 11 {
        b.put_i32(p.preferred_read_replica);
    }
    b.write_nullable_bytes(p.records.as_deref(), flex, "records")?;
    if flex {
        let mut known = Vec::new();
        if let Some(d) = &p.diverging_epoch {
            known.push(encode_tag(0, |t| {
                t.put_i32(d.epoch);
                t.put_i64(d.end_offset);
                t.write_tagged_fields(&[], &d.unknown_tagged_fields);
                Ok(())
            })?);
        }
        if let Some(l) = &p.current_leader {
            known.push(encode_tag(1, |t| {
                t.put_i32(l.leader_id);
                t.put_i32(l.leader_epoch);
                t.write_tagged_fields(&[], &l.unknown_tagged_fields);
                Ok(())
            })?);
        }
        if let Some(s) = &p.snapshot_id {
            known.push(encode_tag(2, |t| {
                t.put_i64(s.end_offset);
                t.put_i32(s.epoch);
                t.write_tagged_fields(&[], &s.unknown_tagged_fields);
                Ok(())
            })?);
        }
        b.write_tagged_fields(&known, &p.unknown_tagged_fields);
    }
    Ok(())
}

fn read_partition_data(
    b: &mut Bytes,
    version: i16,
    flex: bool,
) -> Result<PartitionData, DecodeError> {
    let mut p = PartitionData {
        partition_index: b.read_i32("partition_index")?,
        error_code: b.read_i16("error_code")?,
        high_watermark: b.read_i64("high_watermark")?,
        last_stable_offset: b.read_i64("last_stable_offset")?,
        ..PartitionData::default()
    };
    if version >= 5 {
        p.log_start_offset = b.read_i64("log_start_offset")?;
    }
    p.aborted_transactions = read_array(b, flex, 16, "aborted_transactions", |b| {
        Ok(AbortedTransaction {
            producer_id: b.read_i64("producer_id")?,
            first_offset: b.read_i64("first_offset")?,
            unknown_tagged_fields: read_tagged(b, flex)?,
        })
    })?;
    if version >= 11 {
        p.preferred_read_replica = b.read_i32("preferred_read_replica")?;
    }
    p.records = b.read_nullable_bytes(flex, "records")?;
    if flex {
        let (mut diverging_epoch, mut current_leader, mut snapshot_id) = (None, None, None);
        p.unknown_tagged_fields = b.read_tagged_fields(|tag, data| match tag {
            0 => {
                diverging_epoch = Some(decode_tag(data, "diverging_epoch", |d| {
                    Ok(EpochEndOffset {
                        epoch: d.read_i32("epoch")?,
                        end_offset: d.read_i64("end_offset")?,
                        unknown_tagged_fields: d.read_unknown_tagged_fields()?,
                    })
                })?);
                Ok(true)
            }
            1 => {
                current_leader = Some(decode_tag(data, "current_leader", |d| {
                    Ok(LeaderIdAndEpoch {
                        leader_id: d.read_i32("leader_id")?,
                        leader_epoch: d.read_i32("leader_epoch")?,
                        unknown_tagged_fields: d.read_unknown_tagged_fields()?,
                    })
                })?);
                Ok(true)
            }
            2 => {
                snapshot_id = Some(decode_tag(data, "snapshot_id", |d| {
                    Ok(SnapshotId {
                        end_offset: d.read_i64("end_offset")?,
                        epoch: d.read_i32("epoch")?,
                        unknown_tagged_fields: d.read_unknown_tagged_fields()?,
                    })
                })?);
                Ok(true)
            }
            _ => Ok(false),
        })?;
        p.diverging_epoch = diverging_epoch;
        p.current_leader = current_leader;
        p.snapshot_id = snapshot_id;
    }
    Ok(p)
}

fn write_node_endpoints(b: &mut BytesMut, nodes: &[NodeEndpoint]) -> Result<(), EncodeError> {
    write_array(b, nodes, true, "node_endpoints", |b, n| {
        b.put_i32(n.node_id);
        b.write_string(&n.host, true, "host")?;
        b.put_i32(n.port);
        b.write_nullable_string(n.rack.as_deref(), true, "rack")?;
        b.write_tagged_fields(&[], &n.unknown_tagged_fields);
        Ok(())
    })
}

fn read_node_endpoints(d: &mut Bytes) -> Result<Vec<NodeEndpoint>, DecodeError> {
    read_required_array(d, true, 11, "node_endpoints", |b| {
        Ok(NodeEndpoint {
            node_id: b.read_i32("node_id")?,
            host: b.read_string(true, "host")?,
            port: b.read_i32("port")?,
            rack: b.read_nullable_string(true, "rack")?,
            unknown_tagged_fields: b.read_unknown_tagged_fields()?,
        })
    })
}

impl Message for FetchResponse {
    const NAME: &'static str = "FetchResponse";
    const MIN_VERSION: i16 = 4;
    const MAX_VERSION: i16 = 18;
    const FLEXIBLE_FROM: i16 = FLEXIBLE_FROM;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        buf.put_i32(self.throttle_time_ms);
        if version >= 7 {
            buf.put_i16(self.error_code);
            buf.put_i32(self.session_id);
        }
        write_array(buf, &self.responses, flex, "responses", |b, t| {
            write_topic(b, version, flex, &t.topic, &t.topic_id)?;
            write_array(b, &t.partitions, flex, "partitions", |b, p| {
                write_partition_data(b, p, version, flex)
            })?;
            tagged(b, flex, &t.unknown_tagged_fields);
            Ok(())
        })?;
        if flex {
            let mut known = Vec::new();
            if version >= NODE_ENDPOINTS_FROM && !self.node_endpoints.is_empty() {
                known.push(encode_tag(0, |t| {
                    write_node_endpoints(t, &self.node_endpoints)
                })?);
            }
            buf.write_tagged_fields(&known, &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let mut msg = Self {
            throttle_time_ms: buf.read_i32("throttle_time_ms")?,
            ..Self::default()
        };
        if version >= 7 {
            msg.error_code = buf.read_i16("error_code")?;
            msg.session_id = buf.read_i32("session_id")?;
        }
        msg.responses = read_required_array(buf, flex, 2, "responses", |b| {
            let (topic, topic_id) = read_topic(b, version, flex)?;
            let partitions = read_required_array(b, flex, 30, "partitions", |b| {
                read_partition_data(b, version, flex)
            })?;
            Ok(FetchableTopicResponse {
                topic,
                topic_id,
                partitions,
                unknown_tagged_fields: read_tagged(b, flex)?,
            })
        })?;
        if flex {
            let mut node_endpoints = Vec::new();
            msg.unknown_tagged_fields = buf.read_tagged_fields(|tag, data| match tag {
                0 if version >= NODE_ENDPOINTS_FROM => {
                    node_endpoints = decode_tag(data, "node_endpoints", read_node_endpoints)?;
                    Ok(true)
                }
                _ => Ok(false),
            })?;
            msg.node_endpoints = node_endpoints;
        }
        Ok(msg)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_util::round_trip_all_versions;

    const TOPIC_ID: Uuid = [
        0x98, 0x53, 0xaf, 0x22, 0x61, 0x86, 0x40, 0x46, 0x8a, 0x52, 0xa3, 0x8e, 0x52, 0x21, 0xc6,
        0xaf,
    ];

    fn tags(v: i16, tag: u32) -> Vec<RawTaggedField> {
        if v >= FLEXIBLE_FROM {
            vec![RawTaggedField {
                tag,
                data: Bytes::from_static(b"\x07\x07"),
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
            TOPIC_ID
        } else {
            [0; 16]
        }
    }

    fn request(v: i16) -> FetchRequest {
        FetchRequest {
            cluster_id: (v >= 12).then(|| "cluster-A".into()),
            replica_id: if v < REPLICA_STATE_FROM { 3 } else { -1 },
            replica_state: (v >= REPLICA_STATE_FROM).then(|| ReplicaState {
                replica_id: 3,
                replica_epoch: 99,
                unknown_tagged_fields: tags(v, 4),
            }),
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 52_428_800,
            isolation_level: 1,
            session_id: if v >= 7 { 1234 } else { 0 },
            session_epoch: if v >= 7 { 5 } else { -1 },
            topics: vec![
                FetchTopic {
                    topic: name(v, "orders"),
                    topic_id: id(v),
                    partitions: vec![
                        FetchPartition {
                            partition: 0,
                            current_leader_epoch: if v >= 9 { 8 } else { -1 },
                            fetch_offset: 1_000_000,
                            last_fetched_epoch: if v >= 12 { 7 } else { -1 },
                            log_start_offset: if v >= 5 { 10 } else { -1 },
                            partition_max_bytes: 1_048_576,
                            replica_directory_id: if v >= REPLICA_DIRECTORY_ID_FROM {
                                [9; 16]
                            } else {
                                [0; 16]
                            },
                            high_watermark: if v >= HIGH_WATERMARK_FROM {
                                1_000_500
                            } else {
                                UNKNOWN_HIGH_WATERMARK
                            },
                            unknown_tagged_fields: tags(v, 6),
                        },
                        FetchPartition {
                            partition: 4,
                            fetch_offset: 0,
                            partition_max_bytes: 65_536,
                            ..Default::default()
                        },
                    ],
                    unknown_tagged_fields: tags(v, 0),
                },
                FetchTopic {
                    topic: name(v, "empty"),
                    topic_id: id(v),
                    ..Default::default()
                },
            ],
            forgotten_topics_data: if v >= 7 {
                vec![ForgottenTopic {
                    topic: name(v, "old"),
                    topic_id: id(v),
                    partitions: vec![1, 2, 3],
                    unknown_tagged_fields: tags(v, 2),
                }]
            } else {
                vec![]
            },
            rack_id: if v >= 11 {
                "rack-1".into()
            } else {
                String::new()
            },
            unknown_tagged_fields: tags(v, 5),
        }
    }

    fn response(v: i16) -> FetchResponse {
        FetchResponse {
            throttle_time_ms: 3,
            error_code: if v >= 7 { 3 } else { 0 },
            session_id: if v >= 7 { 1234 } else { 0 },
            responses: vec![FetchableTopicResponse {
                topic: name(v, "orders"),
                topic_id: id(v),
                partitions: vec![
                    PartitionData {
                        partition_index: 0,
                        error_code: 0,
                        high_watermark: 2000,
                        last_stable_offset: 1990,
                        log_start_offset: if v >= 5 { 17 } else { -1 },
                        diverging_epoch: (v >= 12).then(|| EpochEndOffset {
                            epoch: 6,
                            end_offset: 1500,
                            unknown_tagged_fields: vec![],
                        }),
                        current_leader: (v >= 12).then(|| LeaderIdAndEpoch {
                            leader_id: 2,
                            leader_epoch: 8,
                            unknown_tagged_fields: tags(v, 3),
                        }),
                        snapshot_id: (v >= 12).then(|| SnapshotId {
                            end_offset: 1000,
                            epoch: 5,
                            unknown_tagged_fields: vec![],
                        }),
                        aborted_transactions: Some(vec![
                            AbortedTransaction {
                                producer_id: 77,
                                first_offset: 1995,
                                unknown_tagged_fields: tags(v, 0),
                            },
                            AbortedTransaction {
                                producer_id: 78,
                                first_offset: 1996,
                                unknown_tagged_fields: vec![],
                            },
                        ]),
                        preferred_read_replica: if v >= 11 { 4 } else { -1 },
                        records: Some(Bytes::from_static(b"\x00\x01opaque record batches")),
                        unknown_tagged_fields: tags(v, 9),
                    },
                    PartitionData {
                        partition_index: 1,
                        error_code: 6,
                        ..Default::default()
                    },
                    PartitionData {
                        partition_index: 2,
                        aborted_transactions: Some(vec![]),
                        records: Some(Bytes::new()),
                        ..Default::default()
                    },
                ],
                unknown_tagged_fields: tags(v, 1),
            }],
            node_endpoints: if v >= NODE_ENDPOINTS_FROM {
                vec![
                    NodeEndpoint {
                        node_id: 2,
                        host: "broker-2.local".into(),
                        port: 9092,
                        rack: Some("rack-2".into()),
                        unknown_tagged_fields: tags(v, 0),
                    },
                    NodeEndpoint {
                        node_id: 4,
                        host: "broker-4.local".into(),
                        port: 9093,
                        rack: None,
                        unknown_tagged_fields: vec![],
                    },
                ]
            } else {
                vec![]
            },
            unknown_tagged_fields: tags(v, 1),
        }
    }

    #[test]
    fn request_round_trips_every_version() {
        round_trip_all_versions(request);
        round_trip_all_versions(|_| FetchRequest::default());
    }

    #[test]
    fn response_round_trips_every_version() {
        round_trip_all_versions(response);
        round_trip_all_versions(|_| FetchResponse::default());
    }

    fn assert_within(inner: &Bytes, outer: &Bytes) {
        let start = outer.as_ptr() as usize;
        let end = start + outer.len();
        let p = inner.as_ptr() as usize;
        assert!(
            p >= start && p + inner.len() <= end,
            "records are not a slice of the input"
        );
    }

    fn be(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(bytes);
    }

    #[test]
    fn classic_v11_response_bytes() {
        let mut w = Vec::new();
        be(&mut w, &0i32.to_be_bytes()); // throttle_time_ms
        be(&mut w, &0i16.to_be_bytes()); // error_code
        be(&mut w, &7i32.to_be_bytes()); // session_id
        be(&mut w, &1i32.to_be_bytes()); // responses: 1
        be(&mut w, &[0, 1, b't']); // topic "t"
        be(&mut w, &1i32.to_be_bytes()); // partitions: 1
        be(&mut w, &2i32.to_be_bytes()); // partition_index
        be(&mut w, &0i16.to_be_bytes()); // error_code
        be(&mut w, &100i64.to_be_bytes()); // high_watermark
        be(&mut w, &90i64.to_be_bytes()); // last_stable_offset
        be(&mut w, &0i64.to_be_bytes()); // log_start_offset
        be(&mut w, &1i32.to_be_bytes()); // aborted_transactions: 1
        be(&mut w, &5i64.to_be_bytes()); //   producer_id
        be(&mut w, &50i64.to_be_bytes()); //   first_offset
        be(&mut w, &(-1i32).to_be_bytes()); // preferred_read_replica
        be(&mut w, &5i32.to_be_bytes()); // records: 5 bytes
        be(&mut w, b"batch");
        let input = Bytes::from(w);
        let mut cursor = input.clone();
        let resp = FetchResponse::read(&mut cursor, 11).unwrap();
        assert!(cursor.is_empty());
        assert_eq!(resp.session_id, 7);
        let t = &resp.responses[0];
        assert_eq!(t.topic, "t");
        let p = &t.partitions[0];
        assert_eq!(p.partition_index, 2);
        assert_eq!((p.high_watermark, p.last_stable_offset), (100, 90));
        assert_eq!(p.log_start_offset, 0);
        assert_eq!(p.preferred_read_replica, -1);
        let txns = p.aborted_transactions.as_ref().unwrap();
        assert_eq!((txns[0].producer_id, txns[0].first_offset), (5, 50));
        let records = p.records.as_ref().unwrap();
        assert_eq!(records.as_ref(), b"batch");
        assert_within(records, &input);
        assert_eq!(p.current_leader, None);

        // Re-encoding gives the same bytes.
        let mut out = BytesMut::new();
        resp.write(&mut out, 11).unwrap();
        assert_eq!(out.as_ref(), input.as_ref());
    }

    #[test]
    fn flexible_v12_response_bytes() {
        let mut w = Vec::new();
        be(&mut w, &0i32.to_be_bytes()); // throttle_time_ms
        be(&mut w, &0i16.to_be_bytes()); // error_code
        be(&mut w, &7i32.to_be_bytes()); // session_id
        be(&mut w, &[0x02]); // responses: 1 (compact)
        be(&mut w, &[0x02, b't']); // topic "t" (compact)
        be(&mut w, &[0x02]); // partitions: 1
        be(&mut w, &2i32.to_be_bytes()); // partition_index
        be(&mut w, &1i16.to_be_bytes()); // error_code
        be(&mut w, &100i64.to_be_bytes()); // high_watermark
        be(&mut w, &90i64.to_be_bytes()); // last_stable_offset
        be(&mut w, &0i64.to_be_bytes()); // log_start_offset
        be(&mut w, &[0x02]); // aborted_transactions: 1
        be(&mut w, &5i64.to_be_bytes()); //   producer_id
        be(&mut w, &50i64.to_be_bytes()); //   first_offset
        be(&mut w, &[0x00]); //   tagged fields
        be(&mut w, &3i32.to_be_bytes()); // preferred_read_replica
        be(&mut w, &[0x06]); // records: 5 bytes (compact)
        be(&mut w, b"batch");
        be(&mut w, &[0x02]); // partition tagged fields: 2
        be(&mut w, &[0x01, 0x09]); //   tag 1 (current_leader), 9 bytes
        be(&mut w, &4i32.to_be_bytes()); //     leader_id
        be(&mut w, &11i32.to_be_bytes()); //     leader_epoch
        be(&mut w, &[0x00]); //     tagged fields
        be(&mut w, &[0x05, 0x01, 0xee]); //   unknown tag 5, 1 byte
        be(&mut w, &[0x00]); // topic tagged fields
        be(&mut w, &[0x00]); // tagged fields
        let input = Bytes::from(w);
        let mut cursor = input.clone();
        let resp = FetchResponse::read(&mut cursor, 12).unwrap();
        assert!(cursor.is_empty());
        let p = &resp.responses[0].partitions[0];
        assert_eq!(resp.responses[0].topic, "t");
        assert_eq!(p.error_code, 1);
        assert_eq!(p.preferred_read_replica, 3);
        let txns = p.aborted_transactions.as_ref().unwrap();
        assert_eq!((txns[0].producer_id, txns[0].first_offset), (5, 50));
        assert_eq!(
            p.current_leader,
            Some(LeaderIdAndEpoch {
                leader_id: 4,
                leader_epoch: 11,
                unknown_tagged_fields: vec![],
            })
        );
        assert_eq!(p.diverging_epoch, None);
        assert_eq!(p.unknown_tagged_fields.len(), 1);
        assert_eq!(p.unknown_tagged_fields[0].tag, 5);
        let records = p.records.as_ref().unwrap();
        assert_eq!(records.as_ref(), b"batch");
        assert_within(records, &input);
        assert_within(&p.unknown_tagged_fields[0].data, &input);

        let mut out = BytesMut::new();
        resp.write(&mut out, 12).unwrap();
        assert_eq!(out.as_ref(), input.as_ref());
    }

    #[test]
    fn null_records_and_null_aborted_transactions() {
        let resp = FetchResponse {
            responses: vec![FetchableTopicResponse {
                topic: "t".into(),
                partitions: vec![PartitionData::default()],
                ..Default::default()
            }],
            ..Default::default()
        };
        for v in [4, 11, 12] {
            let mut b = BytesMut::new();
            resp.write(&mut b, v).unwrap();
            let back = FetchResponse::read(&mut b.freeze(), v).unwrap();
            let p = &back.responses[0].partitions[0];
            assert_eq!(p.records, None);
            assert_eq!(p.aborted_transactions, None);
        }
    }

    #[test]
    fn known_tag_with_trailing_bytes_is_an_error() {
        // A current_leader tag whose size claims one byte more than the struct uses.
        let mut w = Vec::new();
        be(&mut w, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // throttle, error, session
        be(&mut w, &[0x02, 0x02, b't', 0x02]);
        be(&mut w, &[0u8; 4 + 2 + 8 + 8 + 8]);
        be(&mut w, &[0x00]); // null aborted transactions
        be(&mut w, &[0xff, 0xff, 0xff, 0xff]); // preferred_read_replica
        be(&mut w, &[0x00]); // null records
        be(&mut w, &[0x01, 0x01, 0x0a]);
        be(&mut w, &[0u8; 8]);
        be(&mut w, &[0x00, 0xaa]);
        be(&mut w, &[0x00, 0x00]);
        let mut input = Bytes::from(w);
        assert!(matches!(
            FetchResponse::read(&mut input, 12),
            Err(DecodeError::TrailingBytes { .. })
        ));
    }

    #[test]
    fn tags_unknown_to_the_version_are_kept_raw() {
        // Tag 1 (replica_state) only exists from v15; at v12 it must survive as a raw field.
        let req = FetchRequest {
            unknown_tagged_fields: vec![RawTaggedField {
                tag: 1,
                data: Bytes::from_static(b"\x01\x02\x03"),
            }],
            ..Default::default()
        };
        let mut b = BytesMut::new();
        req.write(&mut b, 12).unwrap();
        let back = FetchRequest::read(&mut b.freeze(), 12).unwrap();
        assert_eq!(back, req);
        assert_eq!(back.replica_state, None);
    }

    #[test]
    fn consumer_request_v13_uses_topic_ids() {
        let req = FetchRequest {
            topics: vec![FetchTopic {
                topic: "by-name".into(),
                topic_id: TOPIC_ID,
                partitions: vec![FetchPartition::default()],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut b12 = BytesMut::new();
        req.write(&mut b12, 12).unwrap();
        let mut b13 = BytesMut::new();
        req.write(&mut b13, 13).unwrap();
        assert!(b12.windows(7).any(|w| w == b"by-name"));
        assert!(!b13.windows(7).any(|w| w == b"by-name"));
        assert!(b13.windows(16).any(|w| w == TOPIC_ID));
    }

    #[test]
    fn forgotten_topics_need_v7() {
        let req = FetchRequest {
            forgotten_topics_data: vec![ForgottenTopic::default()],
            ..Default::default()
        };
        assert!(req.write(&mut BytesMut::new(), 6).is_err());
        assert!(req.write(&mut BytesMut::new(), 7).is_ok());
    }

    #[test]
    fn garbage_never_panics() {
        // A cheap deterministic fuzz: every version, many pseudo-random byte strings.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for v in FetchResponse::MIN_VERSION..=FetchResponse::MAX_VERSION {
            for len in 0..64usize {
                let mut w = Vec::with_capacity(len);
                for _ in 0..len {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    w.push(seed as u8);
                }
                let _ = FetchResponse::read(&mut Bytes::from(w.clone()), v);
                let _ = FetchRequest::read(&mut Bytes::from(w), v);
            }
        }
    }
}
