//! FindCoordinator (API 10): finds the broker coordinating a group (or transaction).
//! Schema: apache/kafka `FindCoordinatorRequest.json` / `FindCoordinatorResponse.json`.
//!
//! Versions 0-6: both Kafka 3.9 and 4.x accept 0-6 (KIP-896 deprecated v0 in 3.7 but 4.0 kept
//! it); 6 is the highest in the schema. Version 3 is the first flexible version. Versions 0-3
//! carry a single `key` and answer with top-level coordinator fields; versions 4+ carry a batch
//! of `coordinator_keys` and answer with one [`Coordinator`] per key (KIP-699).

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{read_required_array, write_array, RawTaggedField, ReadExt, WriteExt};

/// `key_type` for a consumer group.
pub const KEY_TYPE_GROUP: i8 = 0;
/// `key_type` for a transactional id.
pub const KEY_TYPE_TRANSACTION: i8 = 1;
/// `key_type` for a share group (v6+).
pub const KEY_TYPE_SHARE: i8 = 2;

/// FindCoordinator request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FindCoordinatorRequest {
    /// The coordinator key (v0-3).
    pub key: String,
    /// The key type (v1+; v0 only knows groups).
    pub key_type: i8,
    /// The coordinator keys (v4+).
    pub coordinator_keys: Vec<String>,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl FindCoordinatorRequest {
    /// A request for one key that encodes at every version: `key` and `coordinator_keys`
    /// both hold it, and each version writes the form it has.
    pub fn single(key_type: i8, key: impl Into<String>) -> Self {
        let key = key.into();
        Self {
            coordinator_keys: vec![key.clone()],
            key,
            key_type,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

impl Message for FindCoordinatorRequest {
    const NAME: &'static str = "FindCoordinatorRequest";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 6;
    const FLEXIBLE_FROM: i16 = 3;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        if version <= 3 {
            buf.write_string(&self.key, flex, "key")?;
        }
        if version >= 1 {
            buf.put_i8(self.key_type);
        } else if self.key_type != KEY_TYPE_GROUP {
            return Err(EncodeError::InvalidField {
                what: "key_type",
                version,
                reason: "version 0 only finds group coordinators",
            });
        }
        if version >= 4 {
            write_array(
                buf,
                &self.coordinator_keys,
                flex,
                "coordinator_keys",
                |b, k| b.write_string(k, flex, "coordinator_keys"),
            )?;
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
        if version <= 3 {
            msg.key = buf.read_string(flex, "key")?;
        }
        if version >= 1 {
            msg.key_type = buf.read_i8("key_type")?;
        }
        if version >= 4 {
            msg.coordinator_keys = read_required_array(buf, flex, 1, "coordinator_keys", |b| {
                b.read_string(flex, "coordinator_keys")
            })?;
        }
        if flex {
            msg.unknown_tagged_fields = buf.read_unknown_tagged_fields()?;
        }
        Ok(msg)
    }
}

impl Request for FindCoordinatorRequest {
    const API_KEY: ApiKey = ApiKey::FindCoordinator;
    type Response = FindCoordinatorResponse;
}

/// One coordinator result (v4+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Coordinator {
    /// The coordinator key.
    pub key: String,
    /// The coordinator's broker id.
    pub node_id: i32,
    /// The coordinator's host name.
    pub host: String,
    /// The coordinator's port.
    pub port: i32,
    /// The error code.
    pub error_code: i16,
    /// The error message.
    pub error_message: Option<String>,
    /// Unknown tagged fields.
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// FindCoordinator response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FindCoordinatorResponse {
    /// Throttle time in ms (v1+).
    pub throttle_time_ms: i32,
    /// The error code (v0-3).
    pub error_code: i16,
    /// The error message (v1-3).
    pub error_message: Option<String>,
    /// The coordinator's broker id (v0-3).
    pub node_id: i32,
    /// The coordinator's host name (v0-3).
    pub host: String,
    /// The coordinator's port (v0-3).
    pub port: i32,
    /// One result per requested key (v4+).
    pub coordinators: Vec<Coordinator>,
    /// Unknown tagged fields (v3+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl FindCoordinatorResponse {
    /// The results as a list whatever the version: v4+ returns `coordinators`; v0-3 returns
    /// the single top-level result under `key` (the key that was asked for).
    pub fn results(&self, version: i16, key: &str) -> Vec<Coordinator> {
        if version >= 4 {
            self.coordinators.clone()
        } else {
            vec![Coordinator {
                key: key.to_owned(),
                node_id: self.node_id,
                host: self.host.clone(),
                port: self.port,
                error_code: self.error_code,
                error_message: self.error_message.clone(),
                unknown_tagged_fields: Vec::new(),
            }]
        }
    }
}

impl Message for FindCoordinatorResponse {
    const NAME: &'static str = "FindCoordinatorResponse";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 6;
    const FLEXIBLE_FROM: i16 = 3;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        if version >= 1 {
            buf.put_i32(self.throttle_time_ms);
        }
        if version <= 3 {
            buf.put_i16(self.error_code);
            if version >= 1 {
                buf.write_nullable_string(self.error_message.as_deref(), flex, "error_message")?;
            }
            buf.put_i32(self.node_id);
            buf.write_string(&self.host, flex, "host")?;
            buf.put_i32(self.port);
        } else {
            write_array(buf, &self.coordinators, flex, "coordinators", |b, c| {
                b.write_string(&c.key, flex, "coordinators.key")?;
                b.put_i32(c.node_id);
                b.write_string(&c.host, flex, "coordinators.host")?;
                b.put_i32(c.port);
                b.put_i16(c.error_code);
                b.write_nullable_string(
                    c.error_message.as_deref(),
                    flex,
                    "coordinators.error_message",
                )?;
                b.write_tagged_fields(&[], &c.unknown_tagged_fields);
                Ok(())
            })?;
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
        if version >= 1 {
            msg.throttle_time_ms = buf.read_i32("throttle_time_ms")?;
        }
        if version <= 3 {
            msg.error_code = buf.read_i16("error_code")?;
            if version >= 1 {
                msg.error_message = buf.read_nullable_string(flex, "error_message")?;
            }
            msg.node_id = buf.read_i32("node_id")?;
            msg.host = buf.read_string(flex, "host")?;
            msg.port = buf.read_i32("port")?;
        } else {
            // key, node id, host, port, error code, message, tags.
            msg.coordinators = read_required_array(buf, flex, 14, "coordinators", |b| {
                Ok(Coordinator {
                    key: b.read_string(flex, "coordinators.key")?,
                    node_id: b.read_i32("coordinators.node_id")?,
                    host: b.read_string(flex, "coordinators.host")?,
                    port: b.read_i32("coordinators.port")?,
                    error_code: b.read_i16("coordinators.error_code")?,
                    error_message: b.read_nullable_string(flex, "coordinators.error_message")?,
                    unknown_tagged_fields: b.read_unknown_tagged_fields()?,
                })
            })?;
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
    use crate::test_util::round_trip_all_versions;

    fn utf(v: i16) -> Vec<RawTaggedField> {
        if v >= 3 {
            vec![RawTaggedField {
                tag: 1,
                data: Bytes::from_static(b"\x01\x02"),
            }]
        } else {
            vec![]
        }
    }

    #[test]
    fn round_trips_every_version() {
        round_trip_all_versions(|v| FindCoordinatorRequest {
            key: if v <= 3 {
                "my-group".into()
            } else {
                String::new()
            },
            key_type: if v >= 1 {
                KEY_TYPE_TRANSACTION
            } else {
                KEY_TYPE_GROUP
            },
            coordinator_keys: if v >= 4 {
                vec!["g1".into(), "g2".into()]
            } else {
                vec![]
            },
            unknown_tagged_fields: utf(v),
        });
        round_trip_all_versions(|v| FindCoordinatorResponse {
            throttle_time_ms: if v >= 1 { 3 } else { 0 },
            error_code: if v <= 3 { 15 } else { 0 },
            error_message: if (1..=3).contains(&v) {
                Some("loading".into())
            } else {
                None
            },
            node_id: if v <= 3 { 4 } else { 0 },
            host: if v <= 3 { "b4".into() } else { String::new() },
            port: if v <= 3 { 9092 } else { 0 },
            coordinators: if v >= 4 {
                vec![
                    Coordinator {
                        key: "g1".into(),
                        node_id: 1,
                        host: "b1".into(),
                        port: 9092,
                        error_code: 0,
                        error_message: None,
                        unknown_tagged_fields: utf(v),
                    },
                    Coordinator {
                        key: "g2".into(),
                        node_id: -1,
                        host: String::new(),
                        port: -1,
                        error_code: 15,
                        error_message: Some("not available".into()),
                        unknown_tagged_fields: vec![],
                    },
                ]
            } else {
                vec![]
            },
            unknown_tagged_fields: utf(v),
        });
    }

    #[test]
    fn single_key_encodes_at_every_version() {
        let req = FindCoordinatorRequest::single(KEY_TYPE_GROUP, "g");
        for v in 0..=6 {
            let mut buf = BytesMut::new();
            req.write(&mut buf, v).unwrap();
            let back = FindCoordinatorRequest::read(&mut buf.freeze(), v).unwrap();
            if v <= 3 {
                assert_eq!(back.key, "g");
            } else {
                assert_eq!(back.coordinator_keys, vec!["g".to_owned()]);
            }
        }
        let txn = FindCoordinatorRequest::single(KEY_TYPE_TRANSACTION, "t");
        assert!(txn.write(&mut BytesMut::new(), 0).is_err());
    }

    #[test]
    fn results_unify_both_forms() {
        let old = FindCoordinatorResponse {
            node_id: 3,
            host: "h".into(),
            port: 1,
            ..Default::default()
        };
        let r = old.results(2, "g");
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].key.as_str(), r[0].node_id), ("g", 3));
        assert!(old.results(4, "g").is_empty());
    }
}
