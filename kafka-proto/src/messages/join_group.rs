//! JoinGroup (API 11): joins a classic consumer group (or triggers a rebalance of it).
//! Schema: apache/kafka `JoinGroupRequest.json` / `JoinGroupResponse.json`.
//!
//! Versions 0-9: both Kafka 3.9 and 4.x accept 0-9 (KIP-896 deprecated 0-1 in 3.7 but 4.0 kept
//! them); 9 is the highest in the schema. Version 6 is the first flexible version. From v4 a
//! first join without a member id is answered with `MEMBER_ID_REQUIRED` and the member id to
//! rejoin with (KIP-394).

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{read_required_array, write_array, RawTaggedField, ReadExt, WriteExt};

/// JoinGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupRequest {
    /// The group id.
    pub group_id: String,
    /// Session timeout in ms.
    pub session_timeout_ms: i32,
    /// Rebalance timeout in ms (v1+; -1 before).
    pub rebalance_timeout_ms: i32,
    /// The member id, empty on the first join.
    pub member_id: String,
    /// The static member id (v5+).
    pub group_instance_id: Option<String>,
    /// The protocol type, `"consumer"` for consumers.
    pub protocol_type: String,
    /// The supported protocols (assignors), in order of preference.
    pub protocols: Vec<JoinGroupRequestProtocol>,
    /// Why the member (re)joins (v8+).
    pub reason: Option<String>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for JoinGroupRequest {
    fn default() -> Self {
        Self {
            group_id: String::new(),
            session_timeout_ms: 0,
            rebalance_timeout_ms: -1,
            member_id: String::new(),
            group_instance_id: None,
            protocol_type: String::new(),
            protocols: Vec::new(),
            reason: None,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// One protocol (assignor) a joining member supports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinGroupRequestProtocol {
    /// The protocol name, e.g. `"range"`.
    pub name: String,
    /// The protocol metadata (for consumers a `ConsumerProtocolSubscription`).
    pub metadata: Bytes,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for JoinGroupRequest {
    const NAME: &'static str = "JoinGroupRequest";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 9;
    const FLEXIBLE_FROM: i16 = 6;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        buf.write_string(&self.group_id, flex, "group_id")?;
        buf.put_i32(self.session_timeout_ms);
        if version >= 1 {
            buf.put_i32(self.rebalance_timeout_ms);
        }
        buf.write_string(&self.member_id, flex, "member_id")?;
        if version >= 5 {
            buf.write_nullable_string(
                self.group_instance_id.as_deref(),
                flex,
                "group_instance_id",
            )?;
        }
        buf.write_string(&self.protocol_type, flex, "protocol_type")?;
        write_array(buf, &self.protocols, flex, "protocols", |b, p| {
            b.write_string(&p.name, flex, "protocols.name")?;
            b.write_bytes(&p.metadata, flex, "protocols.metadata")?;
            if flex {
                b.write_tagged_fields(&[], &p.unknown_tagged_fields);
            }
            Ok(())
        })?;
        if version >= 8 {
            buf.write_nullable_string(self.reason.as_deref(), flex, "reason")?;
        }
        if flex {
            buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let mut msg = Self {
            group_id: buf.read_string(flex, "group_id")?,
            session_timeout_ms: buf.read_i32("session_timeout_ms")?,
            ..Self::default()
        };
        if version >= 1 {
            msg.rebalance_timeout_ms = buf.read_i32("rebalance_timeout_ms")?;
        }
        msg.member_id = buf.read_string(flex, "member_id")?;
        if version >= 5 {
            msg.group_instance_id = buf.read_nullable_string(flex, "group_instance_id")?;
        }
        msg.protocol_type = buf.read_string(flex, "protocol_type")?;
        let min = if flex { 3 } else { 6 };
        msg.protocols = read_required_array(buf, flex, min, "protocols", |b| {
            Ok(JoinGroupRequestProtocol {
                name: b.read_string(flex, "protocols.name")?,
                metadata: b.read_bytes(flex, "protocols.metadata")?,
                unknown_tagged_fields: if flex {
                    b.read_unknown_tagged_fields()?
                } else {
                    Vec::new()
                },
            })
        })?;
        if version >= 8 {
            msg.reason = buf.read_nullable_string(flex, "reason")?;
        }
        if flex {
            msg.unknown_tagged_fields = buf.read_unknown_tagged_fields()?;
        }
        Ok(msg)
    }
}

impl Request for JoinGroupRequest {
    const API_KEY: ApiKey = ApiKey::JoinGroup;
    type Response = JoinGroupResponse;
}

/// JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupResponse {
    /// Throttle time in ms (v2+).
    pub throttle_time_ms: i32,
    /// The error code.
    pub error_code: i16,
    /// The generation id, -1 on error.
    pub generation_id: i32,
    /// The group protocol type (v7+).
    pub protocol_type: Option<String>,
    /// The chosen protocol (null allowed from v7; must be set before).
    pub protocol_name: Option<String>,
    /// The leader's member id.
    pub leader: String,
    /// Whether the leader must skip the assignment (v9+).
    pub skip_assignment: bool,
    /// This member's id.
    pub member_id: String,
    /// The members with their metadata (only sent to the leader).
    pub members: Vec<JoinGroupResponseMember>,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for JoinGroupResponse {
    fn default() -> Self {
        Self {
            throttle_time_ms: 0,
            error_code: 0,
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: String::new(),
            members: Vec::new(),
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// A group member as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinGroupResponseMember {
    /// The member id.
    pub member_id: String,
    /// The static member id (v5+).
    pub group_instance_id: Option<String>,
    /// The member's protocol metadata.
    pub metadata: Bytes,
    /// Unknown tagged fields (v6+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for JoinGroupResponse {
    const NAME: &'static str = "JoinGroupResponse";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 9;
    const FLEXIBLE_FROM: i16 = 6;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        if version >= 2 {
            buf.put_i32(self.throttle_time_ms);
        }
        buf.put_i16(self.error_code);
        buf.put_i32(self.generation_id);
        if version >= 7 {
            buf.write_nullable_string(self.protocol_type.as_deref(), flex, "protocol_type")?;
            buf.write_nullable_string(self.protocol_name.as_deref(), flex, "protocol_name")?;
        } else {
            let name = self
                .protocol_name
                .as_deref()
                .ok_or(EncodeError::InvalidField {
                    what: "protocol_name",
                    version,
                    reason: "not nullable before version 7",
                })?;
            buf.write_string(name, flex, "protocol_name")?;
        }
        buf.write_string(&self.leader, flex, "leader")?;
        if version >= 9 {
            buf.write_bool(self.skip_assignment);
        }
        buf.write_string(&self.member_id, flex, "member_id")?;
        write_array(buf, &self.members, flex, "members", |b, m| {
            b.write_string(&m.member_id, flex, "members.member_id")?;
            if version >= 5 {
                b.write_nullable_string(
                    m.group_instance_id.as_deref(),
                    flex,
                    "members.group_instance_id",
                )?;
            }
            b.write_bytes(&m.metadata, flex, "members.metadata")?;
            if flex {
                b.write_tagged_fields(&[], &m.unknown_tagged_fields);
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
        let mut msg = Self::default();
        if version >= 2 {
            msg.throttle_time_ms = buf.read_i32("throttle_time_ms")?;
        }
        msg.error_code = buf.read_i16("error_code")?;
        msg.generation_id = buf.read_i32("generation_id")?;
        if version >= 7 {
            msg.protocol_type = buf.read_nullable_string(flex, "protocol_type")?;
            msg.protocol_name = buf.read_nullable_string(flex, "protocol_name")?;
        } else {
            msg.protocol_name = Some(buf.read_string(flex, "protocol_name")?);
        }
        msg.leader = buf.read_string(flex, "leader")?;
        if version >= 9 {
            msg.skip_assignment = buf.read_bool("skip_assignment")?;
        }
        msg.member_id = buf.read_string(flex, "member_id")?;
        let min = if flex { 3 } else { 6 };
        msg.members = read_required_array(buf, flex, min, "members", |b| {
            let member_id = b.read_string(flex, "members.member_id")?;
            let group_instance_id = if version >= 5 {
                b.read_nullable_string(flex, "members.group_instance_id")?
            } else {
                None
            };
            Ok(JoinGroupResponseMember {
                member_id,
                group_instance_id,
                metadata: b.read_bytes(flex, "members.metadata")?,
                unknown_tagged_fields: if flex {
                    b.read_unknown_tagged_fields()?
                } else {
                    Vec::new()
                },
            })
        })?;
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
        if v >= 6 {
            vec![RawTaggedField {
                tag: 2,
                data: Bytes::from_static(b"zz"),
            }]
        } else {
            vec![]
        }
    }

    #[test]
    fn round_trips_every_version() {
        round_trip_all_versions(|v| JoinGroupRequest {
            group_id: "group-1".into(),
            session_timeout_ms: 45_000,
            rebalance_timeout_ms: if v >= 1 { 300_000 } else { -1 },
            member_id: "member-abc".into(),
            group_instance_id: (v >= 5).then(|| "instance-1".into()),
            protocol_type: "consumer".into(),
            protocols: vec![
                JoinGroupRequestProtocol {
                    name: "cooperative-sticky".into(),
                    metadata: Bytes::from_static(b"\x00\x03meta"),
                    unknown_tagged_fields: utf(v),
                },
                JoinGroupRequestProtocol {
                    name: "range".into(),
                    metadata: Bytes::new(),
                    unknown_tagged_fields: vec![],
                },
            ],
            reason: (v >= 8).then(|| "rebalance needed".into()),
            unknown_tagged_fields: utf(v),
        });
        round_trip_all_versions(|v| JoinGroupResponse {
            throttle_time_ms: if v >= 2 { 7 } else { 0 },
            error_code: 79,
            generation_id: 12,
            protocol_type: (v >= 7).then(|| "consumer".into()),
            protocol_name: Some("range".into()),
            leader: "member-abc".into(),
            skip_assignment: v >= 9,
            member_id: "member-def".into(),
            members: vec![
                JoinGroupResponseMember {
                    member_id: "member-abc".into(),
                    group_instance_id: (v >= 5).then(|| "instance-1".into()),
                    metadata: Bytes::from_static(b"\x00\x01\x02"),
                    unknown_tagged_fields: utf(v),
                },
                JoinGroupResponseMember {
                    member_id: "member-def".into(),
                    group_instance_id: None,
                    metadata: Bytes::new(),
                    unknown_tagged_fields: vec![],
                },
            ],
            unknown_tagged_fields: utf(v),
        });
        // A null protocol name from v7.
        round_trip_all_versions(|v| JoinGroupResponse {
            protocol_name: if v >= 7 { None } else { Some(String::new()) },
            error_code: 27,
            ..JoinGroupResponse::default()
        });
    }

    fn sample_request() -> JoinGroupRequest {
        JoinGroupRequest {
            group_id: "g".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 60_000,
            member_id: String::new(),
            group_instance_id: None,
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: Bytes::from_static(&[0xaa, 0xbb]),
                unknown_tagged_fields: vec![],
            }],
            reason: None,
            unknown_tagged_fields: vec![],
        }
    }

    #[test]
    fn request_v5_hand_bytes() {
        let expected: &[u8] = &[
            0, 1, b'g', // group_id
            0, 0, 0x27, 0x10, // session_timeout_ms 10000
            0, 0, 0xea, 0x60, // rebalance_timeout_ms 60000
            0, 0, // member_id ""
            0xff, 0xff, // group_instance_id null
            0, 8, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r', // protocol_type
            0, 0, 0, 1, // protocols: 1
            0, 5, b'r', b'a', b'n', b'g', b'e', // name
            0, 0, 0, 2, 0xaa, 0xbb, // metadata
        ];
        let mut buf = BytesMut::new();
        sample_request().write(&mut buf, 5).unwrap();
        assert_eq!(buf.as_ref(), expected);
        let back = JoinGroupRequest::read(&mut Bytes::from_static(expected), 5).unwrap();
        assert_eq!(back, sample_request());
    }

    #[test]
    fn request_v8_hand_bytes() {
        let expected: &[u8] = &[
            2, b'g', // group_id (compact)
            0, 0, 0x27, 0x10, // session_timeout_ms
            0, 0, 0xea, 0x60, // rebalance_timeout_ms
            1,    // member_id ""
            0,    // group_instance_id null
            9, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r', // protocol_type
            2,    // protocols: compact 1
            6, b'r', b'a', b'n', b'g', b'e', // name
            3, 0xaa, 0xbb, // metadata (compact bytes)
            0,    // protocol tagged fields
            0,    // reason null
            0,    // tagged fields
        ];
        let mut buf = BytesMut::new();
        sample_request().write(&mut buf, 8).unwrap();
        assert_eq!(buf.as_ref(), expected);
        let back = JoinGroupRequest::read(&mut Bytes::from_static(expected), 8).unwrap();
        assert_eq!(back, sample_request());
    }

    #[test]
    fn response_v9_hand_bytes() {
        let bytes: &[u8] = &[
            0, 0, 0, 0, // throttle
            0, 0, // error_code
            0, 0, 0, 3, // generation_id
            9, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r', // protocol_type
            6, b'r', b'a', b'n', b'g', b'e', // protocol_name
            2, b'm', // leader
            1,    // skip_assignment
            2, b'm', // member_id
            2,    // members: compact 1
            2, b'm', // member_id
            0,    // group_instance_id null
            2, 0x07, // metadata
            0,    // member tagged fields
            0,    // tagged fields
        ];
        let r = JoinGroupResponse::read(&mut Bytes::from_static(bytes), 9).unwrap();
        assert_eq!(r.generation_id, 3);
        assert_eq!(r.protocol_type.as_deref(), Some("consumer"));
        assert_eq!(r.protocol_name.as_deref(), Some("range"));
        assert!(r.skip_assignment);
        assert_eq!(r.members.len(), 1);
        assert_eq!(r.members[0].metadata.as_ref(), &[7]);
        let mut out = BytesMut::new();
        r.write(&mut out, 9).unwrap();
        assert_eq!(out.as_ref(), bytes);
    }

    #[test]
    fn null_protocol_name_before_v7_is_rejected() {
        let r = JoinGroupResponse::default();
        assert!(r.write(&mut BytesMut::new(), 6).is_err());
        assert!(r.write(&mut BytesMut::new(), 7).is_ok());
    }
}
