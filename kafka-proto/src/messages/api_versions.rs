//! ApiVersions (API 18): asks a broker which API versions (and features) it supports.
//! Schema: apache/kafka `ApiVersionsRequest.json` / `ApiVersionsResponse.json`.
//!
//! Versions 0-4: Kafka 3.9 and 4.x brokers both accept 0-4 (KIP-896 removed none), 4 is the
//! highest in the schema. Version 3 is the first flexible version. A broker that does not
//! support the requested version answers with a version 0 body carrying
//! `UNSUPPORTED_VERSION` and its own ApiVersions range in `api_keys`; the response header is
//! always header v0 (see [`Request::response_header_version`]).

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{read_required_array, write_array, RawTaggedField, ReadExt, WriteExt};

/// ApiVersions request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiVersionsRequest {
    /// The client software name (v3+).
    pub client_software_name: String,
    /// The client software version (v3+).
    pub client_software_version: String,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for ApiVersionsRequest {
    const NAME: &'static str = "ApiVersionsRequest";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;
    const FLEXIBLE_FROM: i16 = 3;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        if version >= 3 {
            buf.write_string(&self.client_software_name, true, "client_software_name")?;
            buf.write_string(
                &self.client_software_version,
                true,
                "client_software_version",
            )?;
            buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let mut msg = Self::default();
        if version >= 3 {
            msg.client_software_name = buf.read_string(true, "client_software_name")?;
            msg.client_software_version = buf.read_string(true, "client_software_version")?;
            msg.unknown_tagged_fields = buf.read_unknown_tagged_fields()?;
        }
        Ok(msg)
    }
}

impl Request for ApiVersionsRequest {
    const API_KEY: ApiKey = ApiKey::ApiVersions;
    type Response = ApiVersionsResponse;
}

/// One API the broker supports, with its version range.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiVersion {
    /// The API key.
    pub api_key: i16,
    /// The lowest supported version, inclusive.
    pub min_version: i16,
    /// The highest supported version, inclusive.
    pub max_version: i16,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// A feature the broker supports (tagged field 0, v3+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SupportedFeatureKey {
    /// The feature name.
    pub name: String,
    /// The lowest supported feature version.
    pub min_version: i16,
    /// The highest supported feature version.
    pub max_version: i16,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// A cluster-wide finalized feature (tagged field 2, v3+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FinalizedFeatureKey {
    /// The feature name.
    pub name: String,
    /// The finalized max version level.
    pub max_version_level: i16,
    /// The finalized min version level.
    pub min_version_level: i16,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// ApiVersions response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersionsResponse {
    /// The top-level error code.
    pub error_code: i16,
    /// The APIs the broker supports.
    pub api_keys: Vec<ApiVersion>,
    /// Throttle time in ms (v1+).
    pub throttle_time_ms: i32,
    /// Features the broker supports (tag 0, v3+).
    pub supported_features: Vec<SupportedFeatureKey>,
    /// Epoch of the finalized features, -1 when unknown (tag 1, v3+).
    pub finalized_features_epoch: i64,
    /// Cluster-wide finalized features (tag 2, v3+).
    pub finalized_features: Vec<FinalizedFeatureKey>,
    /// Set by a KRaft controller ready for ZK migration (tag 3, v3+).
    pub zk_migration_ready: bool,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for ApiVersionsResponse {
    fn default() -> Self {
        Self {
            error_code: 0,
            api_keys: Vec::new(),
            throttle_time_ms: 0,
            supported_features: Vec::new(),
            finalized_features_epoch: -1,
            finalized_features: Vec::new(),
            zk_migration_ready: false,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

impl ApiVersionsResponse {
    /// The broker's range for `key`, if it lists the API.
    pub fn range_of(&self, key: ApiKey) -> Option<(i16, i16)> {
        self.api_keys
            .iter()
            .find(|a| a.api_key == key.code())
            .map(|a| (a.min_version, a.max_version))
    }
}

/// Fails unless a known tagged field was read completely.
fn expect_consumed(data: &Bytes, what: &'static str) -> Result<(), DecodeError> {
    if data.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::TrailingBytes {
            what,
            remaining: data.len(),
        })
    }
}

fn read_supported_feature(buf: &mut Bytes) -> Result<SupportedFeatureKey, DecodeError> {
    Ok(SupportedFeatureKey {
        name: buf.read_string(true, "supported_features.name")?,
        min_version: buf.read_i16("supported_features.min_version")?,
        max_version: buf.read_i16("supported_features.max_version")?,
        unknown_tagged_fields: buf.read_unknown_tagged_fields()?,
    })
}

fn read_finalized_feature(buf: &mut Bytes) -> Result<FinalizedFeatureKey, DecodeError> {
    Ok(FinalizedFeatureKey {
        name: buf.read_string(true, "finalized_features.name")?,
        max_version_level: buf.read_i16("finalized_features.max_version_level")?,
        min_version_level: buf.read_i16("finalized_features.min_version_level")?,
        unknown_tagged_fields: buf.read_unknown_tagged_fields()?,
    })
}

impl Message for ApiVersionsResponse {
    const NAME: &'static str = "ApiVersionsResponse";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;
    const FLEXIBLE_FROM: i16 = 3;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        buf.put_i16(self.error_code);
        write_array(buf, &self.api_keys, flex, "api_keys", |b, a| {
            b.put_i16(a.api_key);
            b.put_i16(a.min_version);
            b.put_i16(a.max_version);
            if flex {
                b.write_tagged_fields(&[], &a.unknown_tagged_fields);
            }
            Ok(())
        })?;
        if version >= 1 {
            buf.put_i32(self.throttle_time_ms);
        }
        if flex {
            let mut known = Vec::new();
            if !self.supported_features.is_empty() {
                let mut b = BytesMut::new();
                write_array(
                    &mut b,
                    &self.supported_features,
                    true,
                    "supported_features",
                    |b, f| {
                        b.write_string(&f.name, true, "supported_features.name")?;
                        b.put_i16(f.min_version);
                        b.put_i16(f.max_version);
                        b.write_tagged_fields(&[], &f.unknown_tagged_fields);
                        Ok(())
                    },
                )?;
                known.push((0, b.freeze()));
            }
            if self.finalized_features_epoch != -1 {
                let mut b = BytesMut::new();
                b.put_i64(self.finalized_features_epoch);
                known.push((1, b.freeze()));
            }
            if !self.finalized_features.is_empty() {
                let mut b = BytesMut::new();
                write_array(
                    &mut b,
                    &self.finalized_features,
                    true,
                    "finalized_features",
                    |b, f| {
                        b.write_string(&f.name, true, "finalized_features.name")?;
                        b.put_i16(f.max_version_level);
                        b.put_i16(f.min_version_level);
                        b.write_tagged_fields(&[], &f.unknown_tagged_fields);
                        Ok(())
                    },
                )?;
                known.push((2, b.freeze()));
            }
            if self.zk_migration_ready {
                known.push((3, Bytes::from_static(&[1])));
            }
            buf.write_tagged_fields(&known, &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let mut msg = Self {
            error_code: buf.read_i16("error_code")?,
            ..Self::default()
        };
        // An entry is at least three int16s, plus a tagged-field count when flexible.
        let min = if flex { 7 } else { 6 };
        msg.api_keys = read_required_array(buf, flex, min, "api_keys", |b| {
            Ok(ApiVersion {
                api_key: b.read_i16("api_keys.api_key")?,
                min_version: b.read_i16("api_keys.min_version")?,
                max_version: b.read_i16("api_keys.max_version")?,
                unknown_tagged_fields: if flex {
                    b.read_unknown_tagged_fields()?
                } else {
                    Vec::new()
                },
            })
        })?;
        if version >= 1 {
            msg.throttle_time_ms = buf.read_i32("throttle_time_ms")?;
        }
        if flex {
            let mut supported = Vec::new();
            let mut epoch = -1;
            let mut finalized = Vec::new();
            let mut zk_ready = false;
            msg.unknown_tagged_fields = buf.read_tagged_fields(|tag, data| {
                match tag {
                    0 => {
                        supported = read_required_array(
                            data,
                            true,
                            6,
                            "supported_features",
                            read_supported_feature,
                        )?;
                        expect_consumed(data, "supported_features")?;
                    }
                    1 => {
                        epoch = data.read_i64("finalized_features_epoch")?;
                        expect_consumed(data, "finalized_features_epoch")?;
                    }
                    2 => {
                        finalized = read_required_array(
                            data,
                            true,
                            6,
                            "finalized_features",
                            read_finalized_feature,
                        )?;
                        expect_consumed(data, "finalized_features")?;
                    }
                    3 => {
                        zk_ready = data.read_bool("zk_migration_ready")?;
                        expect_consumed(data, "zk_migration_ready")?;
                    }
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            msg.supported_features = supported;
            msg.finalized_features_epoch = epoch;
            msg.finalized_features = finalized;
            msg.zk_migration_ready = zk_ready;
        }
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{round_trip, round_trip_all_versions};

    fn utf(v: i16) -> Vec<RawTaggedField> {
        if v >= 3 {
            vec![RawTaggedField {
                tag: 9,
                data: Bytes::from_static(b"x"),
            }]
        } else {
            vec![]
        }
    }

    #[test]
    fn round_trips_every_version() {
        round_trip_all_versions(|v| ApiVersionsRequest {
            client_software_name: if v >= 3 {
                "kafka-ingress".into()
            } else {
                String::new()
            },
            client_software_version: if v >= 3 {
                "0.1.0".into()
            } else {
                String::new()
            },
            unknown_tagged_fields: utf(v),
        });
        round_trip_all_versions(|v| {
            let flex = v >= 3;
            ApiVersionsResponse {
                error_code: 0,
                api_keys: vec![
                    ApiVersion {
                        api_key: 1,
                        min_version: 4,
                        max_version: 17,
                        unknown_tagged_fields: utf(v),
                    },
                    ApiVersion {
                        api_key: 18,
                        min_version: 0,
                        max_version: 4,
                        unknown_tagged_fields: vec![],
                    },
                ],
                throttle_time_ms: if v >= 1 { 25 } else { 0 },
                supported_features: if flex {
                    vec![SupportedFeatureKey {
                        name: "metadata.version".into(),
                        min_version: 1,
                        max_version: 25,
                        unknown_tagged_fields: vec![],
                    }]
                } else {
                    vec![]
                },
                finalized_features_epoch: if flex { 77 } else { -1 },
                finalized_features: if flex {
                    vec![FinalizedFeatureKey {
                        name: "group.version".into(),
                        max_version_level: 1,
                        min_version_level: 1,
                        unknown_tagged_fields: vec![],
                    }]
                } else {
                    vec![]
                },
                zk_migration_ready: flex,
                unknown_tagged_fields: utf(v),
            }
        });
    }

    #[test]
    fn defaults_round_trip_in_flexible_versions() {
        round_trip(&ApiVersionsResponse::default(), 3);
        round_trip(&ApiVersionsResponse::default(), 4);
    }

    #[test]
    fn known_tagged_fields_decode_from_hand_bytes() {
        // v3: error 0, one api key (18, 0..=4), throttle 0, tags: epoch (1) = 5, zk (3) = true.
        let bytes: &[u8] = &[
            0, 0, // error_code
            2, // compact array, 1 element
            0, 18, 0, 0, 0, 4, 0, // api key 18, 0..=4, no tags
            0, 0, 0, 0, // throttle
            2, // two tagged fields
            1, 8, 0, 0, 0, 0, 0, 0, 0, 5, // tag 1, 8 bytes, epoch 5
            3, 1, 1, // tag 3, 1 byte, true
        ];
        let mut buf = Bytes::from_static(bytes);
        let r = ApiVersionsResponse::read(&mut buf, 3).unwrap();
        assert!(buf.is_empty());
        assert_eq!(r.finalized_features_epoch, 5);
        assert!(r.zk_migration_ready);
        assert_eq!(r.range_of(ApiKey::ApiVersions), Some((0, 4)));
        assert_eq!(r.range_of(ApiKey::Fetch), None);
        let mut out = BytesMut::new();
        r.write(&mut out, 3).unwrap();
        assert_eq!(out.as_ref(), bytes);
    }

    #[test]
    fn over_long_known_tagged_field_is_an_error() {
        // zk_migration_ready tagged field with 2 bytes of data.
        let bytes: &[u8] = &[0, 0, 1, 0, 0, 0, 0, 1, 3, 2, 1, 0];
        assert!(ApiVersionsResponse::read(&mut Bytes::from_static(bytes), 3).is_err());
    }
}
