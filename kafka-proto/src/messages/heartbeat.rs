//! Heartbeat (API 12): keeps a classic group member alive and tells it about rebalances.
//! Schema: apache/kafka `HeartbeatRequest.json` / `HeartbeatResponse.json`.

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::{ApiKey, Message, Request};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{RawTaggedField, ReadExt, WriteExt};

/// Heartbeat request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeartbeatRequest {
    /// The group id.
    pub group_id: String,
    /// The generation of the group.
    pub generation_id: i32,
    /// The member id assigned by the coordinator.
    pub member_id: String,
    /// The static member id (v3+).
    pub group_instance_id: Option<String>,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for HeartbeatRequest {
    const NAME: &'static str = "HeartbeatRequest";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;
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
        if flex {
            buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let flex = Self::is_flexible(version);
        let group_id = buf.read_string(flex, "group_id")?;
        let generation_id = buf.read_i32("generation_id")?;
        let member_id = buf.read_string(flex, "member_id")?;
        let group_instance_id = if version >= 3 {
            buf.read_nullable_string(flex, "group_instance_id")?
        } else {
            None
        };
        let unknown_tagged_fields = if flex {
            buf.read_unknown_tagged_fields()?
        } else {
            Vec::new()
        };
        Ok(Self {
            group_id,
            generation_id,
            member_id,
            group_instance_id,
            unknown_tagged_fields,
        })
    }
}

impl Request for HeartbeatRequest {
    const API_KEY: ApiKey = ApiKey::Heartbeat;
    type Response = HeartbeatResponse;
}

/// Heartbeat response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeartbeatResponse {
    /// Throttle time in ms (v1+).
    pub throttle_time_ms: i32,
    /// The error code, 0 for none.
    pub error_code: i16,
    /// Unknown tagged fields (v4+).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl Message for HeartbeatResponse {
    const NAME: &'static str = "HeartbeatResponse";
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;
    const FLEXIBLE_FROM: i16 = 4;

    fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        Self::check_write_version(version)?;
        if version >= 1 {
            buf.put_i32(self.throttle_time_ms);
        }
        buf.put_i16(self.error_code);
        if Self::is_flexible(version) {
            buf.write_tagged_fields(&[], &self.unknown_tagged_fields);
        }
        Ok(())
    }

    fn read(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::check_read_version(version)?;
        let throttle_time_ms = if version >= 1 {
            buf.read_i32("throttle_time_ms")?
        } else {
            0
        };
        let error_code = buf.read_i16("error_code")?;
        let unknown_tagged_fields = if Self::is_flexible(version) {
            buf.read_unknown_tagged_fields()?
        } else {
            Vec::new()
        };
        Ok(Self {
            throttle_time_ms,
            error_code,
            unknown_tagged_fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::round_trip_all_versions;

    #[test]
    fn round_trips_every_version() {
        round_trip_all_versions(|v| HeartbeatRequest {
            group_id: "g".into(),
            generation_id: 5,
            member_id: "m-1".into(),
            group_instance_id: (v >= 3).then(|| "static-1".into()),
            unknown_tagged_fields: vec![],
        });
        round_trip_all_versions(|v| HeartbeatResponse {
            throttle_time_ms: if v >= 1 { 10 } else { 0 },
            error_code: 27,
            unknown_tagged_fields: vec![],
        });
    }
}
