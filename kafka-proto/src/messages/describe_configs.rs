//! DescribeConfigs (API 32): reads the effective configs of topics or brokers, optionally with
//! their synonyms (where each value comes from) and documentation.
//! Schema: apache/kafka `DescribeConfigsRequest.json` / `DescribeConfigsResponse.json`.
//!
//! Versions 1-4: Kafka 4.x removed 0 (KIP-896), whose configs carried an `IsDefault` flag
//! instead of a config source. Version 3 adds the documentation flag to the request and the
//! config type and documentation to the response; version 4 is the first flexible version.

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{
    read_array, read_required_array, write_array, RawTaggedField, ReadExt, WriteExt,
};

/// The resource type of a topic (Kafka's `ConfigResource.Type.TOPIC`).
pub const RESOURCE_TYPE_TOPIC: i8 = 2;

/// The first version with the documentation flag (request) and the config type and
/// documentation (response).
const DOCUMENTATION_FROM: i16 = 3;

/// DescribeConfigs request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeConfigsRequest {
    /// The resources to describe.
    pub resources: Vec<DescribeConfigsResource>,
    /// Also return, for every config, the values it could take from each source.
    pub include_synonyms: bool,
    /// Also return every config's documentation (v3+; must be false before).
    pub include_documentation: bool,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One resource whose configs to describe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeConfigsResource {
    /// The resource type, e.g. [`RESOURCE_TYPE_TOPIC`].
    pub resource_type: i8,
    /// The resource name: a topic name, or a broker id as a string.
    pub resource_name: String,
    /// The config names to return, or `None` for all of them.
    pub configuration_keys: Option<Vec<String>>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for DescribeConfigsRequest {
    const NAME: &'static str = "DescribeConfigsRequest";
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 4;
    const FLEXIBLE_FROM: i16 = 4;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        if version < DOCUMENTATION_FROM && self.include_documentation {
            return Err(EncodeError::InvalidField {
                what: "include_documentation",
                version,
                reason: "asking for documentation needs version 3",
            });
        }
        write_array(buf, &self.resources, flex, "resources", |b, r| {
            b.put_i8(r.resource_type);
            b.write_string(&r.resource_name, flex, "resources.resource_name")?;
            match &r.configuration_keys {
                None => b.write_array_len(None, flex, "resources.configuration_keys")?,
                Some(keys) => {
                    write_array(b, keys, flex, "resources.configuration_keys", |b, k| {
                        b.write_string(k, flex, "resources.configuration_keys")
                    })?;
                }
            }
            if flex {
                b.write_tagged_fields(&[], &r.unknown_tagged_fields);
            }
            Ok(())
        })?;
        buf.write_bool(self.include_synonyms);
        if version >= DOCUMENTATION_FROM {
            buf.write_bool(self.include_documentation);
        }
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
        // Smallest encodings: i8 + empty name + empty key array (+ tags).
        let resource_min = if flex { 4 } else { 7 };
        let key_min = if flex { 1 } else { 2 };
        let resources = read_required_array(buf, flex, resource_min, "resources", |b| {
            let resource_type = b.read_i8("resources.resource_type")?;
            let resource_name = b.read_string(flex, "resources.resource_name")?;
            let configuration_keys =
                read_array(b, flex, key_min, "resources.configuration_keys", |b| {
                    b.read_string(flex, "resources.configuration_keys")
                })?;
            Ok(DescribeConfigsResource {
                resource_type,
                resource_name,
                configuration_keys,
                unknown_tagged_fields: tagged(b)?,
            })
        })?;
        let include_synonyms = buf.read_bool("include_synonyms")?;
        let include_documentation = if version >= DOCUMENTATION_FROM {
            buf.read_bool("include_documentation")?
        } else {
            false
        };
        Ok(Self {
            resources,
            include_synonyms,
            include_documentation,
            unknown_tagged_fields: tagged(buf)?,
        })
    }
}

impl Request for DescribeConfigsRequest {
    const API_KEY: ApiKey = ApiKey::DescribeConfigs;
    type Response = DescribeConfigsResponse;
}

/// DescribeConfigs response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeConfigsResponse {
    /// Throttle time in ms.
    pub throttle_time_ms: i32,
    /// One result per requested resource.
    pub results: Vec<DescribeConfigsResult>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// The configs of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeConfigsResult {
    /// The error code, 0 on success (3 = UNKNOWN_TOPIC_OR_PARTITION).
    pub error_code: i16,
    /// The error message, if any.
    pub error_message: Option<String>,
    /// The resource type, as requested.
    pub resource_type: i8,
    /// The resource name, as requested.
    pub resource_name: String,
    /// The configs found.
    pub configs: Vec<DescribeConfigsResourceResult>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One config of a described resource.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeConfigsResourceResult {
    /// The config name, e.g. `cleanup.policy`.
    pub name: String,
    /// Its value (`None` for sensitive configs).
    pub value: Option<String>,
    /// Whether it is read-only.
    pub read_only: bool,
    /// Where the value comes from (Kafka's `ConfigSource`: 1 = topic override, 5 = default).
    /// Version 0, which is not implemented, had only an "is default" flag instead.
    pub config_source: i8,
    /// Whether it is sensitive.
    pub is_sensitive: bool,
    /// The values the config takes from each source, most specific first (only when asked).
    pub synonyms: Vec<DescribeConfigsSynonym>,
    /// Its data type (Kafka's `ConfigType`; v3+, 0 = unknown before).
    pub config_type: i8,
    /// Its documentation (v3+, only when asked; `None` before).
    pub documentation: Option<String>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One source a config could take its value from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeConfigsSynonym {
    /// The config name at that source (e.g. the broker-level `log.cleanup.policy`).
    pub name: String,
    /// Its value there.
    pub value: Option<String>,
    /// The source (Kafka's `ConfigSource`).
    pub source: i8,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for DescribeConfigsResponse {
    const NAME: &'static str = "DescribeConfigsResponse";
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 4;
    const FLEXIBLE_FROM: i16 = 4;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        buf.put_i32(self.throttle_time_ms);
        write_array(buf, &self.results, flex, "results", |b, r| {
            b.put_i16(r.error_code);
            b.write_nullable_string(r.error_message.as_deref(), flex, "results.error_message")?;
            b.put_i8(r.resource_type);
            b.write_string(&r.resource_name, flex, "results.resource_name")?;
            write_array(b, &r.configs, flex, "results.configs", |b, c| {
                b.write_string(&c.name, flex, "results.configs.name")?;
                b.write_nullable_string(c.value.as_deref(), flex, "results.configs.value")?;
                b.write_bool(c.read_only);
                b.put_i8(c.config_source);
                b.write_bool(c.is_sensitive);
                write_array(b, &c.synonyms, flex, "results.configs.synonyms", |b, s| {
                    b.write_string(&s.name, flex, "results.configs.synonyms.name")?;
                    b.write_nullable_string(
                        s.value.as_deref(),
                        flex,
                        "results.configs.synonyms.value",
                    )?;
                    b.put_i8(s.source);
                    if flex {
                        b.write_tagged_fields(&[], &s.unknown_tagged_fields);
                    }
                    Ok(())
                })?;
                if version >= DOCUMENTATION_FROM {
                    b.put_i8(c.config_type);
                    b.write_nullable_string(
                        c.documentation.as_deref(),
                        flex,
                        "results.configs.documentation",
                    )?;
                }
                if flex {
                    b.write_tagged_fields(&[], &c.unknown_tagged_fields);
                }
                Ok(())
            })?;
            if flex {
                b.write_tagged_fields(&[], &r.unknown_tagged_fields);
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
        let tagged = |b: &mut Bytes| {
            if flex {
                b.read_unknown_tagged_fields()
            } else {
                Ok(Vec::new())
            }
        };
        let throttle_time_ms = buf.read_i32("throttle_time_ms")?;
        // Smallest encodings: i16 + null message + i8 + empty name + empty configs (+ tags).
        let result_min = if flex { 7 } else { 11 };
        // Empty name, null value, three single bytes, empty synonyms (+ v3 fields, + tags).
        let config_min = match (flex, version >= DOCUMENTATION_FROM) {
            (true, _) => 9,
            (false, true) => 14,
            (false, false) => 11,
        };
        let synonym_min = if flex { 4 } else { 5 };
        let results = read_required_array(buf, flex, result_min, "results", |b| {
            let error_code = b.read_i16("results.error_code")?;
            let error_message = b.read_nullable_string(flex, "results.error_message")?;
            let resource_type = b.read_i8("results.resource_type")?;
            let resource_name = b.read_string(flex, "results.resource_name")?;
            let configs = read_required_array(b, flex, config_min, "results.configs", |b| {
                let name = b.read_string(flex, "results.configs.name")?;
                let value = b.read_nullable_string(flex, "results.configs.value")?;
                let read_only = b.read_bool("results.configs.read_only")?;
                let config_source = b.read_i8("results.configs.config_source")?;
                let is_sensitive = b.read_bool("results.configs.is_sensitive")?;
                let synonyms =
                    read_required_array(b, flex, synonym_min, "results.configs.synonyms", |b| {
                        Ok(DescribeConfigsSynonym {
                            name: b.read_string(flex, "results.configs.synonyms.name")?,
                            value: b
                                .read_nullable_string(flex, "results.configs.synonyms.value")?,
                            source: b.read_i8("results.configs.synonyms.source")?,
                            unknown_tagged_fields: tagged(b)?,
                        })
                    })?;
                let (config_type, documentation) = if version >= DOCUMENTATION_FROM {
                    (
                        b.read_i8("results.configs.config_type")?,
                        b.read_nullable_string(flex, "results.configs.documentation")?,
                    )
                } else {
                    (0, None)
                };
                Ok(DescribeConfigsResourceResult {
                    name,
                    value,
                    read_only,
                    config_source,
                    is_sensitive,
                    synonyms,
                    config_type,
                    documentation,
                    unknown_tagged_fields: tagged(b)?,
                })
            })?;
            Ok(DescribeConfigsResult {
                error_code,
                error_message,
                resource_type,
                resource_name,
                configs,
                unknown_tagged_fields: tagged(b)?,
            })
        })?;
        Ok(Self {
            throttle_time_ms,
            results,
            unknown_tagged_fields: tagged(buf)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::round_trip_all_versions;

    fn utf(v: i16) -> Vec<RawTaggedField> {
        if v >= 4 {
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
        round_trip_all_versions(|v| DescribeConfigsRequest {
            resources: vec![
                DescribeConfigsResource {
                    resource_type: RESOURCE_TYPE_TOPIC,
                    resource_name: "__kafka_ingress_metadata".into(),
                    configuration_keys: Some(vec![
                        "cleanup.policy".into(),
                        "min.insync.replicas".into(),
                    ]),
                    unknown_tagged_fields: utf(v),
                },
                DescribeConfigsResource {
                    resource_type: 4,
                    resource_name: "1".into(),
                    configuration_keys: None,
                    unknown_tagged_fields: vec![],
                },
            ],
            include_synonyms: v % 2 == 0,
            include_documentation: v >= 3,
            unknown_tagged_fields: utf(v),
        });
        round_trip_all_versions(|v| DescribeConfigsResponse {
            throttle_time_ms: 3,
            results: vec![
                DescribeConfigsResult {
                    error_code: 0,
                    error_message: None,
                    resource_type: RESOURCE_TYPE_TOPIC,
                    resource_name: "__kafka_ingress_metadata".into(),
                    configs: vec![
                        DescribeConfigsResourceResult {
                            name: "cleanup.policy".into(),
                            value: Some("compact".into()),
                            read_only: false,
                            config_source: 1,
                            is_sensitive: false,
                            synonyms: vec![
                                DescribeConfigsSynonym {
                                    name: "cleanup.policy".into(),
                                    value: Some("compact".into()),
                                    source: 1,
                                    unknown_tagged_fields: utf(v),
                                },
                                DescribeConfigsSynonym {
                                    name: "log.cleanup.policy".into(),
                                    value: Some("delete".into()),
                                    source: 5,
                                    unknown_tagged_fields: vec![],
                                },
                            ],
                            config_type: if v >= 3 { 7 } else { 0 },
                            documentation: (v >= 3).then(|| "How old segments go.".into()),
                            unknown_tagged_fields: utf(v),
                        },
                        DescribeConfigsResourceResult {
                            name: "sasl.jaas.config".into(),
                            value: None,
                            read_only: true,
                            config_source: 4,
                            is_sensitive: true,
                            ..DescribeConfigsResourceResult::default()
                        },
                    ],
                    unknown_tagged_fields: utf(v),
                },
                DescribeConfigsResult {
                    error_code: 3,
                    error_message: Some("Topic 'missing' does not exist.".into()),
                    resource_type: RESOURCE_TYPE_TOPIC,
                    resource_name: "missing".into(),
                    ..DescribeConfigsResult::default()
                },
            ],
            unknown_tagged_fields: utf(v),
        });
    }

    #[test]
    fn versions_outside_the_range_and_late_fields_are_rejected() {
        let req = DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: RESOURCE_TYPE_TOPIC,
                resource_name: "t".into(),
                configuration_keys: None,
                unknown_tagged_fields: vec![],
            }],
            ..DescribeConfigsRequest::default()
        };
        let mut buf = BytesMut::new();
        assert!(
            req.write(&mut buf, 0).is_err(),
            "v0 is below what we implement"
        );
        assert!(DescribeConfigsRequest::read(&mut Bytes::new(), 5).is_err());
        assert!(DescribeConfigsResponse::read(&mut Bytes::new(), 0).is_err());

        let docs = DescribeConfigsRequest {
            include_documentation: true,
            ..req
        };
        let mut buf = BytesMut::new();
        assert!(matches!(
            docs.write(&mut buf, 2),
            Err(EncodeError::InvalidField {
                what: "include_documentation",
                ..
            })
        ));
        assert!(docs.write(&mut BytesMut::new(), 3).is_ok());
    }
}
