//! DescribeGroups (API 15): reads the state, protocol and members (with their client ids,
//! hosts, subscriptions and assignments) of classic consumer groups.
//! Schema: apache/kafka `DescribeGroupsRequest.json` / `DescribeGroupsResponse.json`.
//!
//! Versions 1-6 (0, which lacks the throttle time, is not implemented). Version 3 adds the
//! authorized-operations flag to the request and the bitfield to the response; version 4 adds
//! each member's static instance id; version 5 is the first flexible version; version 6
//! (KIP-1043) adds a per-group error message and answers an unknown group with
//! `GROUP_ID_NOT_FOUND` (69) instead of an empty `Dead` group.

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::messages::metadata::AUTHORIZED_OPERATIONS_UNKNOWN;
use crate::primitives::{read_required_array, write_array, RawTaggedField, ReadExt, WriteExt};

/// The first version with the authorized-operations flag (request) and bitfield (response).
const AUTHORIZED_OPERATIONS_FROM: i16 = 3;
/// The first version whose members carry their static instance id.
const GROUP_INSTANCE_ID_FROM: i16 = 4;
/// The first version whose groups carry an error message.
const ERROR_MESSAGE_FROM: i16 = 6;

/// DescribeGroups request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeGroupsRequest {
    /// The ids of the groups to describe.
    pub groups: Vec<String>,
    /// Also return the operations the caller may perform on each group (v3+; must be false
    /// before).
    pub include_authorized_operations: bool,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for DescribeGroupsRequest {
    const NAME: &'static str = "DescribeGroupsRequest";
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 6;
    const FLEXIBLE_FROM: i16 = 5;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        if version < AUTHORIZED_OPERATIONS_FROM && self.include_authorized_operations {
            return Err(EncodeError::InvalidField {
                what: "include_authorized_operations",
                version,
                reason: "asking for authorized operations needs version 3",
            });
        }
        write_array(buf, &self.groups, flex, "groups", |b, g| {
            b.write_string(g, flex, "groups")
        })?;
        if version >= AUTHORIZED_OPERATIONS_FROM {
            buf.write_bool(self.include_authorized_operations);
        }
        if flex {
            buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        // Smallest encoding of a group id: an empty string.
        let group_min = if flex { 1 } else { 2 };
        let groups = read_required_array(buf, flex, group_min, "groups", |b| {
            b.read_string(flex, "groups")
        })?;
        let include_authorized_operations = if version >= AUTHORIZED_OPERATIONS_FROM {
            buf.read_bool("include_authorized_operations")?
        } else {
            false
        };
        Ok(Self {
            groups,
            include_authorized_operations,
            unknown_tagged_fields: if flex {
                buf.read_unknown_tagged_fields()?
            } else {
                Vec::new()
            },
        })
    }
}

impl Request for DescribeGroupsRequest {
    const API_KEY: ApiKey = ApiKey::DescribeGroups;
    type Response = DescribeGroupsResponse;
}

/// DescribeGroups response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeGroupsResponse {
    /// Throttle time in ms.
    pub throttle_time_ms: i32,
    /// One entry per requested group.
    pub groups: Vec<DescribedGroup>,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedGroup {
    /// The error code, 0 on success (15 = COORDINATOR_NOT_AVAILABLE, 16 = NOT_COORDINATOR,
    /// 69 = GROUP_ID_NOT_FOUND from v6).
    pub error_code: i16,
    /// The error message, if any (v6+; `None` before).
    pub error_message: Option<String>,
    /// The group id.
    pub group_id: String,
    /// The state, e.g. `Stable`, `Empty`, `PreparingRebalance` or `Dead`; may be empty.
    pub group_state: String,
    /// The protocol type, `consumer` for consumer groups; may be empty.
    pub protocol_type: String,
    /// The protocol (assignor) chosen, e.g. `range`; only filled in when the group is stable.
    pub protocol_data: String,
    /// The members (always empty for a `Dead` group).
    pub members: Vec<DescribedGroupMember>,
    /// The operations the caller may perform on the group, one bit per ACL operation
    /// (v3+, only when asked; [`AUTHORIZED_OPERATIONS_UNKNOWN`] otherwise and before).
    pub authorized_operations: i32,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Default for DescribedGroup {
    fn default() -> Self {
        Self {
            error_code: 0,
            error_message: None,
            group_id: String::new(),
            group_state: String::new(),
            protocol_type: String::new(),
            protocol_data: String::new(),
            members: Vec::new(),
            authorized_operations: AUTHORIZED_OPERATIONS_UNKNOWN,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribedGroupMember {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// Its static instance id (v4+; `None` before, or for a dynamic member).
    pub group_instance_id: Option<String>,
    /// The client id of its latest JoinGroup.
    pub client_id: String,
    /// The host it connects from (as the broker sees it, e.g. `/10.0.0.1`).
    pub client_host: String,
    /// Its metadata for the chosen protocol (for consumers a `ConsumerProtocolSubscription`);
    /// only filled in when the group is stable.
    pub member_metadata: Bytes,
    /// Its assignment from the leader (for consumers a `ConsumerProtocolAssignment`); only
    /// filled in when the group is stable.
    pub member_assignment: Bytes,
    /// Unknown tagged fields (v5+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for DescribeGroupsResponse {
    const NAME: &'static str = "DescribeGroupsResponse";
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 6;
    const FLEXIBLE_FROM: i16 = 5;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        buf.put_i32(self.throttle_time_ms);
        write_array(buf, &self.groups, flex, "groups", |b, g| {
            b.put_i16(g.error_code);
            if version >= ERROR_MESSAGE_FROM {
                b.write_nullable_string(g.error_message.as_deref(), flex, "groups.error_message")?;
            }
            b.write_string(&g.group_id, flex, "groups.group_id")?;
            b.write_string(&g.group_state, flex, "groups.group_state")?;
            b.write_string(&g.protocol_type, flex, "groups.protocol_type")?;
            b.write_string(&g.protocol_data, flex, "groups.protocol_data")?;
            write_array(b, &g.members, flex, "groups.members", |b, m| {
                b.write_string(&m.member_id, flex, "groups.members.member_id")?;
                if version >= GROUP_INSTANCE_ID_FROM {
                    b.write_nullable_string(
                        m.group_instance_id.as_deref(),
                        flex,
                        "groups.members.group_instance_id",
                    )?;
                }
                b.write_string(&m.client_id, flex, "groups.members.client_id")?;
                b.write_string(&m.client_host, flex, "groups.members.client_host")?;
                b.write_bytes(&m.member_metadata, flex, "groups.members.member_metadata")?;
                b.write_bytes(
                    &m.member_assignment,
                    flex,
                    "groups.members.member_assignment",
                )?;
                if flex {
                    b.write_tagged_fields(&[], &m.unknown_tagged_fields);
                }
                Ok(())
            })?;
            if version >= AUTHORIZED_OPERATIONS_FROM {
                b.put_i32(g.authorized_operations);
            }
            if flex {
                b.write_tagged_fields(&[], &g.unknown_tagged_fields);
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
        // Smallest encodings: i16 + (null message) + four empty strings + empty members
        // (+ i32 from v3) (+ tags).
        let group_min = match (flex, version >= AUTHORIZED_OPERATIONS_FROM) {
            (true, _) => 12 + usize::from(version >= ERROR_MESSAGE_FROM),
            (false, true) => 18,
            (false, false) => 14,
        };
        // Empty id, (null instance id), empty client id and host, two empty byte strings
        // (+ tags).
        let member_min = match (flex, version >= GROUP_INSTANCE_ID_FROM) {
            (true, _) => 7,
            (false, true) => 16,
            (false, false) => 14,
        };
        let groups = read_required_array(buf, flex, group_min, "groups", |b| {
            let error_code = b.read_i16("groups.error_code")?;
            let error_message = if version >= ERROR_MESSAGE_FROM {
                b.read_nullable_string(flex, "groups.error_message")?
            } else {
                None
            };
            let group_id = b.read_string(flex, "groups.group_id")?;
            let group_state = b.read_string(flex, "groups.group_state")?;
            let protocol_type = b.read_string(flex, "groups.protocol_type")?;
            let protocol_data = b.read_string(flex, "groups.protocol_data")?;
            let members = read_required_array(b, flex, member_min, "groups.members", |b| {
                let member_id = b.read_string(flex, "groups.members.member_id")?;
                let group_instance_id = if version >= GROUP_INSTANCE_ID_FROM {
                    b.read_nullable_string(flex, "groups.members.group_instance_id")?
                } else {
                    None
                };
                Ok(DescribedGroupMember {
                    member_id,
                    group_instance_id,
                    client_id: b.read_string(flex, "groups.members.client_id")?,
                    client_host: b.read_string(flex, "groups.members.client_host")?,
                    member_metadata: b.read_bytes(flex, "groups.members.member_metadata")?,
                    member_assignment: b.read_bytes(flex, "groups.members.member_assignment")?,
                    unknown_tagged_fields: tagged(b)?,
                })
            })?;
            let authorized_operations = if version >= AUTHORIZED_OPERATIONS_FROM {
                b.read_i32("groups.authorized_operations")?
            } else {
                AUTHORIZED_OPERATIONS_UNKNOWN
            };
            Ok(DescribedGroup {
                error_code,
                error_message,
                group_id,
                group_state,
                protocol_type,
                protocol_data,
                members,
                authorized_operations,
                unknown_tagged_fields: tagged(b)?,
            })
        })?;
        Ok(Self {
            throttle_time_ms,
            groups,
            unknown_tagged_fields: tagged(buf)?,
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
        round_trip_all_versions(|v| DescribeGroupsRequest {
            groups: vec!["orders-consumer".into(), String::new(), "billing".into()],
            include_authorized_operations: v >= 3,
            unknown_tagged_fields: utf(v),
        });
        round_trip_all_versions(|_| DescribeGroupsRequest {
            groups: vec![],
            ..DescribeGroupsRequest::default()
        });
        round_trip_all_versions(|v| DescribeGroupsResponse {
            throttle_time_ms: 5,
            groups: vec![
                DescribedGroup {
                    error_code: 0,
                    error_message: None,
                    group_id: "orders-consumer".into(),
                    group_state: "Stable".into(),
                    protocol_type: "consumer".into(),
                    protocol_data: "cooperative-sticky".into(),
                    members: vec![
                        DescribedGroupMember {
                            member_id: "rdkafka-1c0b".into(),
                            group_instance_id: (v >= 4).then(|| "pod-0".into()),
                            client_id: "rdkafka".into(),
                            client_host: "/10.0.0.7".into(),
                            member_metadata: Bytes::from_static(b"\x00\x03\x00\x00\x00\x01"),
                            member_assignment: Bytes::from_static(b"\x00\x03\x00\x00\x00\x00"),
                            unknown_tagged_fields: utf(v),
                        },
                        DescribedGroupMember {
                            member_id: "rdkafka-77aa".into(),
                            client_id: "rdkafka".into(),
                            client_host: "/10.0.0.8".into(),
                            ..DescribedGroupMember::default()
                        },
                    ],
                    authorized_operations: if v >= 3 {
                        0b1_1000_1010
                    } else {
                        AUTHORIZED_OPERATIONS_UNKNOWN
                    },
                    unknown_tagged_fields: utf(v),
                },
                DescribedGroup {
                    error_code: if v >= 6 { 69 } else { 0 },
                    error_message: (v >= 6).then(|| "Group missing not found.".into()),
                    group_id: "missing".into(),
                    group_state: "Dead".into(),
                    ..DescribedGroup::default()
                },
            ],
            unknown_tagged_fields: utf(v),
        });
    }

    #[test]
    fn request_v1_and_v5_hand_bytes() {
        let req = DescribeGroupsRequest {
            groups: vec!["g".into()],
            ..DescribeGroupsRequest::default()
        };
        let v1: &[u8] = &[
            0, 0, 0, 1, // groups: 1
            0, 1, b'g', // "g"
        ];
        let v5: &[u8] = &[
            2, // groups: compact 1
            2, b'g', // "g" (compact)
            0,    // include_authorized_operations
            0,    // tagged fields
        ];
        for (version, expected) in [(1, v1), (5, v5)] {
            let mut buf = BytesMut::new();
            req.write(&mut buf, version).unwrap();
            assert_eq!(buf.as_ref(), expected, "v{version}");
            let back = DescribeGroupsRequest::read(&mut Bytes::from_static(expected), version);
            assert_eq!(back.unwrap(), req, "v{version}");
        }
    }

    #[test]
    fn response_v6_hand_bytes() {
        let bytes: &[u8] = &[
            0, 0, 0, 0, // throttle_time_ms
            2, // groups: compact 1
            0, 0, // error_code
            0, // error_message null
            2, b'g', // group_id
            7, b'S', b't', b'a', b'b', b'l', b'e', // group_state
            9, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r', // protocol_type
            6, b'r', b'a', b'n', b'g', b'e', // protocol_data
            2,    // members: compact 1
            2, b'm', // member_id
            3, b'i', b'd', // group_instance_id
            2, b'c', // client_id
            2, b'h', // client_host
            2, 0x07, // member_metadata (compact bytes)
            1,    // member_assignment empty
            0,    // member tagged fields
            0x80, 0, 0, 0, // authorized_operations: unknown
            0, // group tagged fields
            0, // tagged fields
        ];
        let r = DescribeGroupsResponse::read(&mut Bytes::from_static(bytes), 6).unwrap();
        assert_eq!(r.groups.len(), 1);
        let g = &r.groups[0];
        assert_eq!(g.group_state, "Stable");
        assert_eq!(g.protocol_data, "range");
        assert_eq!(g.authorized_operations, AUTHORIZED_OPERATIONS_UNKNOWN);
        assert_eq!(g.members[0].group_instance_id.as_deref(), Some("id"));
        assert_eq!(g.members[0].member_metadata.as_ref(), &[7]);
        assert!(g.members[0].member_assignment.is_empty());
        let mut out = BytesMut::new();
        r.write(&mut out, 6).unwrap();
        assert_eq!(out.as_ref(), bytes);
    }

    #[test]
    fn versions_outside_the_range_and_late_fields_are_rejected() {
        let req = DescribeGroupsRequest {
            groups: vec!["g".into()],
            ..DescribeGroupsRequest::default()
        };
        assert!(
            req.write(&mut BytesMut::new(), 0).is_err(),
            "v0 is below what we implement"
        );
        assert!(req.write(&mut BytesMut::new(), 7).is_err());
        assert!(DescribeGroupsRequest::read(&mut Bytes::new(), 7).is_err());
        assert!(DescribeGroupsResponse::read(&mut Bytes::new(), 0).is_err());

        let ops = DescribeGroupsRequest {
            include_authorized_operations: true,
            ..req
        };
        assert!(matches!(
            ops.write(&mut BytesMut::new(), 2),
            Err(EncodeError::InvalidField {
                what: "include_authorized_operations",
                ..
            })
        ));
        assert!(ops.write(&mut BytesMut::new(), 3).is_ok());
    }

    #[test]
    fn a_huge_group_count_is_rejected_before_allocating() {
        let mut bytes = Bytes::from_static(&[0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            DescribeGroupsResponse::read(&mut bytes, 1),
            Err(DecodeError::InvalidLength { what: "groups", .. })
        ));
        let mut bytes = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 1, b'g']);
        assert!(matches!(
            DescribeGroupsRequest::read(&mut bytes, 1),
            Err(DecodeError::InvalidLength { what: "groups", .. })
        ));
    }
}
