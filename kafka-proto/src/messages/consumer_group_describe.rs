//! ConsumerGroupDescribe (API 69): a KIP-848 group's members and what each owns (the classic
//! DescribeGroups answers GROUP_ID_NOT_FOUND for such groups). Schema: apache/kafka
//! `ConsumerGroupDescribeRequest.json` / `ConsumerGroupDescribeResponse.json`.
//!
//! Version 0 only: version 1 (Kafka 4.0+) only adds the member type to the response, which we
//! do not need, and every broker with the API accepts 0. All versions are flexible.

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{
    read_required_array, write_array, RawTaggedField, ReadExt, Uuid, WriteExt,
};

/// ConsumerGroupDescribe request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerGroupDescribeRequest {
    /// The groups to describe.
    pub group_ids: Vec<String>,
    /// Whether to include the authorized operations.
    pub include_authorized_operations: bool,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for ConsumerGroupDescribeRequest {
    const NAME: &'static str = "ConsumerGroupDescribeRequest";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 0;
    const FLEXIBLE_FROM: i16 = 0;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        write_array(buf, &self.group_ids, true, "group_ids", |b, g| {
            b.write_string(g, true, "group_ids")
        })?;
        buf.write_bool(self.include_authorized_operations);
        buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        Ok(Self {
            group_ids: read_required_array(buf, true, 1, "group_ids", |b| {
                b.read_string(true, "group_ids")
            })?,
            include_authorized_operations: buf.read_bool("include_authorized_operations")?,
            unknown_tagged_fields: buf.read_unknown_tagged_fields()?,
        })
    }
}

impl Request for ConsumerGroupDescribeRequest {
    const API_KEY: ApiKey = ApiKey::ConsumerGroupDescribe;
    type Response = ConsumerGroupDescribeResponse;
}

/// Partitions of one topic, by id and name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribedTopicPartitions {
    /// The topic id.
    pub topic_id: Uuid,
    /// The topic name.
    pub topic_name: String,
    /// The partitions.
    pub partitions: Vec<i32>,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// Smallest encoding of a [`DescribedTopicPartitions`]: id, empty name, empty array, no tags.
const TOPIC_PARTITIONS_MIN_SIZE: usize = 19;

/// A member's current or target assignment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribedAssignment {
    /// The partitions, per topic.
    pub topic_partitions: Vec<DescribedTopicPartitions>,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl DescribedAssignment {
    fn write(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_array(
            buf,
            &self.topic_partitions,
            true,
            "topic_partitions",
            |b, t| {
                b.write_uuid(&t.topic_id);
                b.write_string(&t.topic_name, true, "topic_name")?;
                write_array(b, &t.partitions, true, "partitions", |b, p| {
                    b.put_i32(*p);
                    Ok(())
                })?;
                b.write_tagged_fields(&[], &t.unknown_tagged_fields);
                Ok(())
            },
        )?;
        buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        Ok(())
    }

    fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        Ok(Self {
            topic_partitions: read_required_array(
                buf,
                true,
                TOPIC_PARTITIONS_MIN_SIZE,
                "topic_partitions",
                |b| {
                    Ok(DescribedTopicPartitions {
                        topic_id: b.read_uuid("topic_id")?,
                        topic_name: b.read_string(true, "topic_name")?,
                        partitions: read_required_array(b, true, 4, "partitions", |b| {
                            b.read_i32("partitions")
                        })?,
                        unknown_tagged_fields: b.read_unknown_tagged_fields()?,
                    })
                },
            )?,
            unknown_tagged_fields: buf.read_unknown_tagged_fields()?,
        })
    }
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribedMember {
    /// The member id.
    pub member_id: String,
    /// Its `group.instance.id`.
    pub instance_id: Option<String>,
    /// Its rack.
    pub rack_id: Option<String>,
    /// Its epoch.
    pub member_epoch: i32,
    /// Its `client.id`.
    pub client_id: String,
    /// Where it connects from.
    pub client_host: String,
    /// The topics it subscribes to.
    pub subscribed_topic_names: Vec<String>,
    /// Its topic regex, if any.
    pub subscribed_topic_regex: Option<String>,
    /// What it owns now.
    pub assignment: DescribedAssignment,
    /// What it is to own.
    pub target_assignment: DescribedAssignment,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// Smallest encoding of a [`DescribedMember`].
const MEMBER_MIN_SIZE: usize = 14;

/// One described group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribedGroup {
    /// The group's error code.
    pub error_code: i16,
    /// The group's error message.
    pub error_message: Option<String>,
    /// The group id.
    pub group_id: String,
    /// Its state (`Stable`, `Assigning`, `Reconciling`, `Empty`, `Dead`).
    pub group_state: String,
    /// The group epoch.
    pub group_epoch: i32,
    /// The assignment epoch.
    pub assignment_epoch: i32,
    /// The assignor in use.
    pub assignor_name: String,
    /// The members.
    pub members: Vec<DescribedMember>,
    /// Authorized operations (a bit field; `i32::MIN` when not asked).
    pub authorized_operations: i32,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// Smallest encoding of a [`DescribedGroup`].
const GROUP_MIN_SIZE: usize = 20;

/// ConsumerGroupDescribe response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerGroupDescribeResponse {
    /// Throttle time in ms.
    pub throttle_time_ms: i32,
    /// The groups.
    pub groups: Vec<DescribedGroup>,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for ConsumerGroupDescribeResponse {
    const NAME: &'static str = "ConsumerGroupDescribeResponse";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 0;
    const FLEXIBLE_FROM: i16 = 0;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        buf.put_i32(self.throttle_time_ms);
        write_array(buf, &self.groups, true, "groups", |b, g| {
            b.put_i16(g.error_code);
            b.write_nullable_string(g.error_message.as_deref(), true, "error_message")?;
            b.write_string(&g.group_id, true, "group_id")?;
            b.write_string(&g.group_state, true, "group_state")?;
            b.put_i32(g.group_epoch);
            b.put_i32(g.assignment_epoch);
            b.write_string(&g.assignor_name, true, "assignor_name")?;
            write_array(b, &g.members, true, "members", |b, m| {
                b.write_string(&m.member_id, true, "member_id")?;
                b.write_nullable_string(m.instance_id.as_deref(), true, "instance_id")?;
                b.write_nullable_string(m.rack_id.as_deref(), true, "rack_id")?;
                b.put_i32(m.member_epoch);
                b.write_string(&m.client_id, true, "client_id")?;
                b.write_string(&m.client_host, true, "client_host")?;
                write_array(
                    b,
                    &m.subscribed_topic_names,
                    true,
                    "subscribed_topic_names",
                    |b, t| b.write_string(t, true, "subscribed_topic_names"),
                )?;
                b.write_nullable_string(
                    m.subscribed_topic_regex.as_deref(),
                    true,
                    "subscribed_topic_regex",
                )?;
                m.assignment.write(b)?;
                m.target_assignment.write(b)?;
                b.write_tagged_fields(&[], &m.unknown_tagged_fields);
                Ok(())
            })?;
            b.put_i32(g.authorized_operations);
            b.write_tagged_fields(&[], &g.unknown_tagged_fields);
            Ok(())
        })?;
        buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        Ok(Self {
            throttle_time_ms: buf.read_i32("throttle_time_ms")?,
            groups: read_required_array(buf, true, GROUP_MIN_SIZE, "groups", |b| {
                Ok(DescribedGroup {
                    error_code: b.read_i16("error_code")?,
                    error_message: b.read_nullable_string(true, "error_message")?,
                    group_id: b.read_string(true, "group_id")?,
                    group_state: b.read_string(true, "group_state")?,
                    group_epoch: b.read_i32("group_epoch")?,
                    assignment_epoch: b.read_i32("assignment_epoch")?,
                    assignor_name: b.read_string(true, "assignor_name")?,
                    members: read_required_array(b, true, MEMBER_MIN_SIZE, "members", |b| {
                        Ok(DescribedMember {
                            member_id: b.read_string(true, "member_id")?,
                            instance_id: b.read_nullable_string(true, "instance_id")?,
                            rack_id: b.read_nullable_string(true, "rack_id")?,
                            member_epoch: b.read_i32("member_epoch")?,
                            client_id: b.read_string(true, "client_id")?,
                            client_host: b.read_string(true, "client_host")?,
                            subscribed_topic_names: read_required_array(
                                b,
                                true,
                                1,
                                "subscribed_topic_names",
                                |b| b.read_string(true, "subscribed_topic_names"),
                            )?,
                            subscribed_topic_regex: b
                                .read_nullable_string(true, "subscribed_topic_regex")?,
                            assignment: DescribedAssignment::read(b)?,
                            target_assignment: DescribedAssignment::read(b)?,
                            unknown_tagged_fields: b.read_unknown_tagged_fields()?,
                        })
                    })?,
                    authorized_operations: b.read_i32("authorized_operations")?,
                    unknown_tagged_fields: b.read_unknown_tagged_fields()?,
                })
            })?,
            unknown_tagged_fields: buf.read_unknown_tagged_fields()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::round_trip_all_versions;

    fn tags() -> Vec<RawTaggedField> {
        vec![RawTaggedField {
            tag: 5,
            data: Bytes::from_static(b"xy"),
        }]
    }

    #[test]
    fn round_trips_every_version() {
        round_trip_all_versions(|_| ConsumerGroupDescribeRequest {
            group_ids: vec!["g1".into(), "g2".into()],
            include_authorized_operations: true,
            unknown_tagged_fields: tags(),
        });
        let assignment = DescribedAssignment {
            topic_partitions: vec![DescribedTopicPartitions {
                topic_id: [3; 16],
                topic_name: "orders".into(),
                partitions: vec![0, 2],
                unknown_tagged_fields: tags(),
            }],
            unknown_tagged_fields: Vec::new(),
        };
        round_trip_all_versions(|_| ConsumerGroupDescribeResponse {
            throttle_time_ms: 3,
            groups: vec![
                DescribedGroup {
                    error_code: 0,
                    error_message: None,
                    group_id: "g1".into(),
                    group_state: "Stable".into(),
                    group_epoch: 4,
                    assignment_epoch: 4,
                    assignor_name: "uniform".into(),
                    members: vec![DescribedMember {
                        member_id: "Vk8mZ3pQTtyq1u0nR2dWbA".into(),
                        instance_id: Some("ki-1-sub".into()),
                        rack_id: None,
                        member_epoch: 4,
                        client_id: "kafka-ingress".into(),
                        client_host: "/127.0.0.1".into(),
                        subscribed_topic_names: vec!["orders".into()],
                        subscribed_topic_regex: None,
                        assignment: assignment.clone(),
                        target_assignment: assignment.clone(),
                        unknown_tagged_fields: tags(),
                    }],
                    authorized_operations: i32::MIN,
                    unknown_tagged_fields: Vec::new(),
                },
                DescribedGroup {
                    error_code: 69,
                    error_message: Some("Group g2 not found.".into()),
                    group_id: "g2".into(),
                    ..DescribedGroup::default()
                },
            ],
            unknown_tagged_fields: tags(),
        });
    }
}
