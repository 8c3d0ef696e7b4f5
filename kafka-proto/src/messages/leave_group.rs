//! LeaveGroup (API 13): removes members from a classic group.
//! Schema: apache/kafka `LeaveGroupRequest.json` / `LeaveGroupResponse.json`.
//!
//! Versions 0-5: both Kafka 3.9 and 4.x accept 0-5 (KIP-896 removed none); 5 is the highest
//! in the schema. Version 4 is the first flexible version. Versions 0-2 remove a single
//! `member_id`; versions 3+ remove a batch of [`MemberIdentity`]s (KIP-345).

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{read_required_array, write_array, RawTaggedField, ReadExt, WriteExt};

/// LeaveGroup request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaveGroupRequest {
    /// The group id.
    pub group_id: String,
    /// The leaving member (v0-2).
    pub member_id: String,
    /// The leaving members (v3+).
    pub members: Vec<MemberIdentity>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl LeaveGroupRequest {
    /// A request for one leaving member that encodes at every version: `member_id` and
    /// `members` both describe it, and each version writes the form it has.
    pub fn single(
        group_id: impl Into<String>,
        member_id: impl Into<String>,
        group_instance_id: Option<String>,
        reason: Option<String>,
    ) -> Self {
        let member_id = member_id.into();
        Self {
            group_id: group_id.into(),
            members: vec![MemberIdentity {
                member_id: member_id.clone(),
                group_instance_id,
                reason,
                unknown_tagged_fields: Vec::new(),
            }],
            member_id,
            unknown_tagged_fields: Vec::new(),
        }
    }
}

/// A leaving member (v3+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberIdentity {
    /// The member id.
    pub member_id: String,
    /// The static member id.
    pub group_instance_id: Option<String>,
    /// Why the member leaves (v5+).
    pub reason: Option<String>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for LeaveGroupRequest {
    const NAME: &'static str = "LeaveGroupRequest";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
    const FLEXIBLE_FROM: i16 = 4;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        buf.write_string(&self.group_id, flex, "group_id")?;
        if version <= 2 {
            buf.write_string(&self.member_id, flex, "member_id")?;
        } else {
            write_array(buf, &self.members, flex, "members", |b, m| {
                b.write_string(&m.member_id, flex, "members.member_id")?;
                b.write_nullable_string(
                    m.group_instance_id.as_deref(),
                    flex,
                    "members.group_instance_id",
                )?;
                if version >= 5 {
                    b.write_nullable_string(m.reason.as_deref(), flex, "members.reason")?;
                }
                if flex {
                    b.write_tagged_fields(&[], &m.unknown_tagged_fields);
                }
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
        let mut msg = Self {
            group_id: buf.read_string(flex, "group_id")?,
            ..Self::default()
        };
        if version <= 2 {
            msg.member_id = buf.read_string(flex, "member_id")?;
        } else {
            let min = if flex { 3 } else { 4 };
            msg.members = read_required_array(buf, flex, min, "members", |b| {
                let member_id = b.read_string(flex, "members.member_id")?;
                let group_instance_id =
                    b.read_nullable_string(flex, "members.group_instance_id")?;
                let reason = if version >= 5 {
                    b.read_nullable_string(flex, "members.reason")?
                } else {
                    None
                };
                Ok(MemberIdentity {
                    member_id,
                    group_instance_id,
                    reason,
                    unknown_tagged_fields: if flex {
                        b.read_unknown_tagged_fields()?
                    } else {
                        Vec::new()
                    },
                })
            })?;
        }
        if flex {
            msg.unknown_tagged_fields = buf.read_unknown_tagged_fields()?;
        }
        Ok(msg)
    }
}

impl Request for LeaveGroupRequest {
    const API_KEY: ApiKey = ApiKey::LeaveGroup;
    type Response = LeaveGroupResponse;
}

/// LeaveGroup response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaveGroupResponse {
    /// Throttle time in ms (v1+).
    pub throttle_time_ms: i32,
    /// The top-level error code.
    pub error_code: i16,
    /// Per-member results (v3+).
    pub members: Vec<MemberResponse>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One member's leave result (v3+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberResponse {
    /// The member id.
    pub member_id: String,
    /// The static member id.
    pub group_instance_id: Option<String>,
    /// The error code.
    pub error_code: i16,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for LeaveGroupResponse {
    const NAME: &'static str = "LeaveGroupResponse";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
    const FLEXIBLE_FROM: i16 = 4;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        if version >= 1 {
            buf.put_i32(self.throttle_time_ms);
        }
        buf.put_i16(self.error_code);
        if version >= 3 {
            write_array(buf, &self.members, flex, "members", |b, m| {
                b.write_string(&m.member_id, flex, "members.member_id")?;
                b.write_nullable_string(
                    m.group_instance_id.as_deref(),
                    flex,
                    "members.group_instance_id",
                )?;
                b.put_i16(m.error_code);
                if flex {
                    b.write_tagged_fields(&[], &m.unknown_tagged_fields);
                }
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
        msg.error_code = buf.read_i16("error_code")?;
        if version >= 3 {
            let min = if flex { 5 } else { 6 };
            msg.members = read_required_array(buf, flex, min, "members", |b| {
                Ok(MemberResponse {
                    member_id: b.read_string(flex, "members.member_id")?,
                    group_instance_id: b.read_nullable_string(flex, "members.group_instance_id")?,
                    error_code: b.read_i16("members.error_code")?,
                    unknown_tagged_fields: if flex {
                        b.read_unknown_tagged_fields()?
                    } else {
                        Vec::new()
                    },
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
        if v >= 4 {
            vec![RawTaggedField {
                tag: 5,
                data: Bytes::from_static(b"\x00"),
            }]
        } else {
            vec![]
        }
    }

    #[test]
    fn round_trips_every_version() {
        round_trip_all_versions(|v| LeaveGroupRequest {
            group_id: "group-1".into(),
            member_id: if v <= 2 { "m-1".into() } else { String::new() },
            members: if v >= 3 {
                vec![
                    MemberIdentity {
                        member_id: "m-1".into(),
                        group_instance_id: Some("i-1".into()),
                        reason: (v >= 5).then(|| "shutting down".into()),
                        unknown_tagged_fields: utf(v),
                    },
                    MemberIdentity {
                        member_id: "m-2".into(),
                        group_instance_id: None,
                        reason: None,
                        unknown_tagged_fields: vec![],
                    },
                ]
            } else {
                vec![]
            },
            unknown_tagged_fields: utf(v),
        });
        round_trip_all_versions(|v| LeaveGroupResponse {
            throttle_time_ms: if v >= 1 { 5 } else { 0 },
            error_code: 0,
            members: if v >= 3 {
                vec![
                    MemberResponse {
                        member_id: "m-1".into(),
                        group_instance_id: Some("i-1".into()),
                        error_code: 0,
                        unknown_tagged_fields: utf(v),
                    },
                    MemberResponse {
                        member_id: "m-2".into(),
                        group_instance_id: None,
                        error_code: 25,
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
    fn single_member_encodes_at_every_version() {
        let req = LeaveGroupRequest::single("g", "m", None, Some("bye".into()));
        for v in 0..=5 {
            let mut buf = BytesMut::new();
            req.write(&mut buf, v).unwrap();
            let back = LeaveGroupRequest::read(&mut buf.freeze(), v).unwrap();
            if v <= 2 {
                assert_eq!(back.member_id, "m");
            } else {
                assert_eq!(back.members.len(), 1);
                assert_eq!(back.members[0].member_id, "m");
                assert_eq!(back.members[0].reason.is_some(), v >= 5);
            }
        }
    }
}
