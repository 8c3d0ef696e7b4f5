//! CreateTopics (API 19): creates topics with a partition count, replication factor and
//! topic configs (e.g. `cleanup.policy=compact` for the metadata topic).
//! Schema: apache/kafka `CreateTopicsRequest.json` / `CreateTopicsResponse.json`.
//!
//! Versions 2-7: Kafka 4.x removed 0-1 (KIP-896) and 3.9 accepts 2-7. Version 5 is the first
//! flexible version and returns the created topic's partitions, replication factor and
//! configs (KIP-525); version 7 returns its topic id.

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{
    decode_tag, encode_tag, read_array, read_required_array, write_array, RawTaggedField, ReadExt,
    Uuid, WriteExt,
};

/// The first version whose response carries partitions, replication factor and configs.
const DETAILS_FROM: i16 = 5;
/// The first version whose response carries the topic id.
const TOPIC_ID_FROM: i16 = 7;

/// CreateTopics request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateTopicsRequest {
    /// The topics to create.
    pub topics: Vec<CreatableTopic>,
    /// How long the broker waits for the creation, in ms.
    pub timeout_ms: i32,
    /// Only check that the topics could be created.
    pub validate_only: bool,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One topic to create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreatableTopic {
    /// The topic name.
    pub name: String,
    /// Partitions, or -1 for the broker's default (or with manual `assignments`).
    pub num_partitions: i32,
    /// Replicas per partition, or -1 for the broker's default.
    pub replication_factor: i16,
    /// Manual replica placement, or empty for automatic.
    pub assignments: Vec<CreatableReplicaAssignment>,
    /// Topic configs to set.
    pub configs: Vec<CreatableTopicConfig>,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// A manual replica placement for one partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreatableReplicaAssignment {
    /// The partition index.
    pub partition_index: i32,
    /// The brokers to place it on.
    pub broker_ids: Vec<i32>,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One topic config of a topic to create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreatableTopicConfig {
    /// The config name, e.g. `cleanup.policy`.
    pub name: String,
    /// Its value.
    pub value: Option<String>,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for CreateTopicsRequest {
    const NAME: &'static str = "CreateTopicsRequest";
    const MIN_VERSION: i16 = 2;
    const MAX_VERSION: i16 = 7;
    const FLEXIBLE_FROM: i16 = 5;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        write_array(buf, &self.topics, flex, "topics", |b, t| {
            b.write_string(&t.name, flex, "topics.name")?;
            b.put_i32(t.num_partitions);
            b.put_i16(t.replication_factor);
            write_array(b, &t.assignments, flex, "topics.assignments", |b, a| {
                b.put_i32(a.partition_index);
                write_array(
                    b,
                    &a.broker_ids,
                    flex,
                    "topics.assignments.broker_ids",
                    |b, id| {
                        b.put_i32(*id);
                        Ok(())
                    },
                )?;
                if flex {
                    b.write_tagged_fields(&[], &a.unknown_tagged_fields);
                }
                Ok(())
            })?;
            write_array(b, &t.configs, flex, "topics.configs", |b, c| {
                b.write_string(&c.name, flex, "topics.configs.name")?;
                b.write_nullable_string(c.value.as_deref(), flex, "topics.configs.value")?;
                if flex {
                    b.write_tagged_fields(&[], &c.unknown_tagged_fields);
                }
                Ok(())
            })?;
            if flex {
                b.write_tagged_fields(&[], &t.unknown_tagged_fields);
            }
            Ok(())
        })?;
        buf.put_i32(self.timeout_ms);
        buf.write_bool(self.validate_only);
        if flex {
            buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let tagged = |b: &mut Bytes| {
            if flex {
                b.read_unknown_tagged_fields()
            } else {
                Ok(Vec::new())
            }
        };
        // Smallest encodings: name + i32 + i16 + two empty arrays (+ tags).
        let topic_min = if flex { 10 } else { 16 };
        let topics = read_required_array(buf, flex, topic_min, "topics", |b| {
            let name = b.read_string(flex, "topics.name")?;
            let num_partitions = b.read_i32("topics.num_partitions")?;
            let replication_factor = b.read_i16("topics.replication_factor")?;
            let assign_min = if flex { 6 } else { 8 };
            let assignments =
                read_required_array(b, flex, assign_min, "topics.assignments", |b| {
                    let partition_index = b.read_i32("topics.assignments.partition_index")?;
                    let broker_ids =
                        read_required_array(b, flex, 4, "topics.assignments.broker_ids", |b| {
                            b.read_i32("topics.assignments.broker_ids")
                        })?;
                    Ok(CreatableReplicaAssignment {
                        partition_index,
                        broker_ids,
                        unknown_tagged_fields: tagged(b)?,
                    })
                })?;
            let config_min = if flex { 3 } else { 4 };
            let configs = read_required_array(b, flex, config_min, "topics.configs", |b| {
                Ok(CreatableTopicConfig {
                    name: b.read_string(flex, "topics.configs.name")?,
                    value: b.read_nullable_string(flex, "topics.configs.value")?,
                    unknown_tagged_fields: tagged(b)?,
                })
            })?;
            Ok(CreatableTopic {
                name,
                num_partitions,
                replication_factor,
                assignments,
                configs,
                unknown_tagged_fields: tagged(b)?,
            })
        })?;
        let timeout_ms = buf.read_i32("timeout_ms")?;
        let validate_only = buf.read_bool("validate_only")?;
        Ok(Self {
            topics,
            timeout_ms,
            validate_only,
            unknown_tagged_fields: tagged(buf)?,
        })
    }
}

impl Request for CreateTopicsRequest {
    const API_KEY: ApiKey = ApiKey::CreateTopics;
    type Response = CreateTopicsResponse;
}

/// CreateTopics response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateTopicsResponse {
    /// Throttle time in ms.
    pub throttle_time_ms: i32,
    /// One result per requested topic.
    pub topics: Vec<CreatableTopicResult>,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// The result of creating one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreatableTopicResult {
    /// The topic name.
    pub name: String,
    /// The topic id (v7+; zero before).
    pub topic_id: Uuid,
    /// The error code, 0 on success (36 = TOPIC_ALREADY_EXISTS).
    pub error_code: i16,
    /// The error message, if any.
    pub error_message: Option<String>,
    /// Why the configs could not be returned (v5+, tagged field 0; 0 = none).
    pub topic_config_error_code: i16,
    /// Partitions of the created topic (v5+; -1 before).
    pub num_partitions: i32,
    /// Its replication factor (v5+; -1 before).
    pub replication_factor: i16,
    /// Its configs (v5+; `None` before, or when they could not be returned).
    pub configs: Option<Vec<CreatableTopicConfigs>>,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One config of a created topic, as the broker reports it (v5+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreatableTopicConfigs {
    /// The config name.
    pub name: String,
    /// Its value (`None` for sensitive configs).
    pub value: Option<String>,
    /// Whether it is read-only.
    pub read_only: bool,
    /// Where the value comes from (Kafka's `ConfigSource`).
    pub config_source: i8,
    /// Whether it is sensitive.
    pub is_sensitive: bool,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for CreateTopicsResponse {
    const NAME: &'static str = "CreateTopicsResponse";
    const MIN_VERSION: i16 = 2;
    const MAX_VERSION: i16 = 7;
    const FLEXIBLE_FROM: i16 = 5;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        buf.put_i32(self.throttle_time_ms);
        write_array(buf, &self.topics, flex, "topics", |b, t| {
            b.write_string(&t.name, flex, "topics.name")?;
            if version >= TOPIC_ID_FROM {
                b.write_uuid(&t.topic_id);
            }
            b.put_i16(t.error_code);
            b.write_nullable_string(t.error_message.as_deref(), flex, "topics.error_message")?;
            if version >= DETAILS_FROM {
                b.put_i32(t.num_partitions);
                b.put_i16(t.replication_factor);
                match &t.configs {
                    None => b.write_array_len(None, flex, "topics.configs")?,
                    Some(configs) => {
                        write_array(b, configs, flex, "topics.configs", |b, c| {
                            b.write_string(&c.name, flex, "topics.configs.name")?;
                            b.write_nullable_string(
                                c.value.as_deref(),
                                flex,
                                "topics.configs.value",
                            )?;
                            b.write_bool(c.read_only);
                            b.put_i8(c.config_source);
                            b.write_bool(c.is_sensitive);
                            b.write_tagged_fields(&[], &c.unknown_tagged_fields);
                            Ok(())
                        })?;
                    }
                }
            }
            if flex {
                let mut known = Vec::new();
                if t.topic_config_error_code != 0 {
                    known.push(encode_tag(0, |b| {
                        b.put_i16(t.topic_config_error_code);
                        Ok(())
                    })?);
                }
                b.write_tagged_fields(&known, &t.unknown_tagged_fields);
            }
            Ok(())
        })?;
        if flex {
            buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let throttle_time_ms = buf.read_i32("throttle_time_ms")?;
        let topic_min = if flex { 5 } else { 6 };
        let topics = read_required_array(buf, flex, topic_min, "topics", |b| {
            let name = b.read_string(flex, "topics.name")?;
            let topic_id = if version >= TOPIC_ID_FROM {
                b.read_uuid("topics.topic_id")?
            } else {
                [0; 16]
            };
            let error_code = b.read_i16("topics.error_code")?;
            let error_message = b.read_nullable_string(flex, "topics.error_message")?;
            let mut result = CreatableTopicResult {
                name,
                topic_id,
                error_code,
                error_message,
                num_partitions: -1,
                replication_factor: -1,
                ..CreatableTopicResult::default()
            };
            if version >= DETAILS_FROM {
                result.num_partitions = b.read_i32("topics.num_partitions")?;
                result.replication_factor = b.read_i16("topics.replication_factor")?;
                result.configs = read_array(b, flex, 6, "topics.configs", |b| {
                    Ok(CreatableTopicConfigs {
                        name: b.read_string(flex, "topics.configs.name")?,
                        value: b.read_nullable_string(flex, "topics.configs.value")?,
                        read_only: b.read_bool("topics.configs.read_only")?,
                        config_source: b.read_i8("topics.configs.config_source")?,
                        is_sensitive: b.read_bool("topics.configs.is_sensitive")?,
                        unknown_tagged_fields: b.read_unknown_tagged_fields()?,
                    })
                })?;
            }
            if flex {
                let mut config_error = 0;
                result.unknown_tagged_fields = b.read_tagged_fields(|tag, data| match tag {
                    0 => {
                        config_error = decode_tag(data, "topics.topic_config_error_code", |d| {
                            d.read_i16("topics.topic_config_error_code")
                        })?;
                        Ok(true)
                    }
                    _ => Ok(false),
                })?;
                result.topic_config_error_code = config_error;
            }
            Ok(result)
        })?;
        Ok(Self {
            throttle_time_ms,
            topics,
            unknown_tagged_fields: if flex {
                buf.read_unknown_tagged_fields()?
            } else {
                Vec::new()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::round_trip_all_versions;

    fn utf(v: i16) -> Vec<RawTaggedField> {
        if v >= 5 {
            vec![RawTaggedField {
                tag: 7,
                data: Bytes::from_static(b"\x01"),
            }]
        } else {
            vec![]
        }
    }

    #[test]
    fn round_trips_every_version() {
        round_trip_all_versions(|v| CreateTopicsRequest {
            topics: vec![
                CreatableTopic {
                    name: "__kafka_ingress_metadata".into(),
                    num_partitions: 1,
                    replication_factor: 3,
                    assignments: vec![],
                    configs: vec![
                        CreatableTopicConfig {
                            name: "cleanup.policy".into(),
                            value: Some("compact".into()),
                            unknown_tagged_fields: utf(v),
                        },
                        CreatableTopicConfig {
                            name: "min.insync.replicas".into(),
                            value: None,
                            unknown_tagged_fields: vec![],
                        },
                    ],
                    unknown_tagged_fields: utf(v),
                },
                CreatableTopic {
                    name: "placed".into(),
                    num_partitions: -1,
                    replication_factor: -1,
                    assignments: vec![CreatableReplicaAssignment {
                        partition_index: 0,
                        broker_ids: vec![1, 2],
                        unknown_tagged_fields: utf(v),
                    }],
                    configs: vec![],
                    unknown_tagged_fields: vec![],
                },
            ],
            timeout_ms: 30_000,
            validate_only: v % 2 == 0,
            unknown_tagged_fields: utf(v),
        });
        round_trip_all_versions(|v| CreateTopicsResponse {
            throttle_time_ms: 3,
            topics: vec![
                CreatableTopicResult {
                    name: "__kafka_ingress_metadata".into(),
                    topic_id: if v >= 7 { [9; 16] } else { [0; 16] },
                    error_code: 0,
                    error_message: None,
                    topic_config_error_code: if v >= 5 { 29 } else { 0 },
                    num_partitions: if v >= 5 { 1 } else { -1 },
                    replication_factor: if v >= 5 { 3 } else { -1 },
                    configs: (v >= 5).then(|| {
                        vec![CreatableTopicConfigs {
                            name: "cleanup.policy".into(),
                            value: Some("compact".into()),
                            read_only: false,
                            config_source: 1,
                            is_sensitive: false,
                            unknown_tagged_fields: vec![],
                        }]
                    }),
                    unknown_tagged_fields: utf(v),
                },
                CreatableTopicResult {
                    name: "exists".into(),
                    error_code: 36,
                    error_message: Some("Topic 'exists' already exists.".into()),
                    num_partitions: -1,
                    replication_factor: -1,
                    ..CreatableTopicResult::default()
                },
            ],
            unknown_tagged_fields: utf(v),
        });
    }

    #[test]
    fn an_old_version_rejects_nothing_it_can_write() {
        let req = CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: "t".into(),
                num_partitions: 1,
                replication_factor: 1,
                ..CreatableTopic::default()
            }],
            timeout_ms: 1,
            ..CreateTopicsRequest::default()
        };
        let mut buf = BytesMut::new();
        assert!(
            req.write(&mut buf, 1).is_err(),
            "v1 is below what we implement"
        );
        assert!(CreateTopicsRequest::read(&mut Bytes::new(), 8).is_err());
    }
}
