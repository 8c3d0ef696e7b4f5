//! SyncGroup (API 14): the leader hands out assignments; every member receives its own.
//! Schema: apache/kafka `SyncGroupRequest.json` / `SyncGroupResponse.json`.
//!
//! Versions 0-5: both Kafka 3.9 and 4.x accept 0-5 (KIP-896 removed none); 5 is the highest
//! in the schema. Version 4 is the first flexible version.

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{read_required_array, write_array, RawTaggedField, ReadExt, WriteExt};

/// SyncGroup request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncGroupRequest {
    /// The group id.
    pub group_id: String,
    /// The generation id.
    pub generation_id: i32,
    /// The member id.
    pub member_id: String,
    /// The static member id (v3+).
    pub group_instance_id: Option<String>,
    /// The group protocol type (v5+).
    pub protocol_type: Option<String>,
    /// The group protocol name (v5+).
    pub protocol_name: Option<String>,
    /// The assignments (only the leader sends any).
    pub assignments: Vec<SyncGroupRequestAssignment>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

/// One member's assignment, sent by the leader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncGroupRequestAssignment {
    /// The member id.
    pub member_id: String,
    /// The assignment (for consumers a `ConsumerProtocolAssignment`).
    pub assignment: Bytes,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for SyncGroupRequest {
    const NAME: &'static str = "SyncGroupRequest";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
    const FLEXIBLE_FROM: i16 = 4;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        let flex = Self::is_flexible(version);
        buf.write_string(&self.group_id, flex, "group_id")?;
        buf.put_i32(self.generation_id);
        buf.write_string(&self.member_id, flex, "member_id")?;
        if version >= 3 {
            buf.write_nullable_string(
                self.group_instance_id.as_deref(),
                flex,
                "group_instance_id",
            )?;
        }
        if version >= 5 {
            buf.write_nullable_string(self.protocol_type.as_deref(), flex, "protocol_type")?;
            buf.write_nullable_string(self.protocol_name.as_deref(), flex, "protocol_name")?;
        }
        write_array(buf, &self.assignments, flex, "assignments", |b, a| {
            b.write_string(&a.member_id, flex, "assignments.member_id")?;
            b.write_bytes(&a.assignment, flex, "assignments.assignment")?;
            if flex {
                b.write_tagged_fields(&[], &a.unknown_tagged_fields);
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
        let mut msg = Self {
            group_id: buf.read_string(flex, "group_id")?,
            generation_id: buf.read_i32("generation_id")?,
            member_id: buf.read_string(flex, "member_id")?,
            ..Self::default()
        };
        if version >= 3 {
            msg.group_instance_id = buf.read_nullable_string(flex, "group_instance_id")?;
        }
        if version >= 5 {
            msg.protocol_type = buf.read_nullable_string(flex, "protocol_type")?;
            msg.protocol_name = buf.read_nullable_string(flex, "protocol_name")?;
        }
        let min = if flex { 3 } else { 6 };
        msg.assignments = read_required_array(buf, flex, min, "assignments", |b| {
            Ok(SyncGroupRequestAssignment {
                member_id: b.read_string(flex, "assignments.member_id")?,
                assignment: b.read_bytes(flex, "assignments.assignment")?,
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

impl Request for SyncGroupRequest {
    const API_KEY: ApiKey = ApiKey::SyncGroup;
    type Response = SyncGroupResponse;
}

/// SyncGroup response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncGroupResponse {
    /// Throttle time in ms (v1+).
    pub throttle_time_ms: i32,
    /// The error code.
    pub error_code: i16,
    /// The group protocol type (v5+).
    pub protocol_type: Option<String>,
    /// The group protocol name (v5+).
    pub protocol_name: Option<String>,
    /// This member's assignment.
    pub assignment: Bytes,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for SyncGroupResponse {
    const NAME: &'static str = "SyncGroupResponse";
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
        if version >= 5 {
            buf.write_nullable_string(self.protocol_type.as_deref(), flex, "protocol_type")?;
            buf.write_nullable_string(self.protocol_name.as_deref(), flex, "protocol_name")?;
        }
        buf.write_bytes(&self.assignment, flex, "assignment")?;
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
        if version >= 5 {
            msg.protocol_type = buf.read_nullable_string(flex, "protocol_type")?;
            msg.protocol_name = buf.read_nullable_string(flex, "protocol_name")?;
        }
        msg.assignment = buf.read_bytes(flex, "assignment")?;
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
                tag: 0,
                data: Bytes::from_static(b"q"),
            }]
        } else {
            vec![]
        }
    }

    #[test]
    fn round_trips_every_version() {
        round_trip_all_versions(|v| SyncGroupRequest {
            group_id: "group-1".into(),
            generation_id: 9,
            member_id: "m-1".into(),
            group_instance_id: (v >= 3).then(|| "i-1".into()),
            protocol_type: (v >= 5).then(|| "consumer".into()),
            protocol_name: (v >= 5).then(|| "range".into()),
            assignments: vec![
                SyncGroupRequestAssignment {
                    member_id: "m-1".into(),
                    assignment: Bytes::from_static(b"\x00\x01abc"),
                    unknown_tagged_fields: utf(v),
                },
                SyncGroupRequestAssignment {
                    member_id: "m-2".into(),
                    assignment: Bytes::new(),
                    unknown_tagged_fields: vec![],
                },
            ],
            unknown_tagged_fields: utf(v),
        });
        round_trip_all_versions(|v| SyncGroupResponse {
            throttle_time_ms: if v >= 1 { 100 } else { 0 },
            error_code: 27,
            protocol_type: (v >= 5).then(|| "consumer".into()),
            protocol_name: (v >= 5).then(|| "range".into()),
            assignment: Bytes::from_static(b"\x00\x03assignment"),
            unknown_tagged_fields: utf(v),
        });
    }
}
