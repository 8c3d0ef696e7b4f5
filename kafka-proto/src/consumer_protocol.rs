//! The classic consumer group payloads carried opaquely by JoinGroup and SyncGroup:
//! [`ConsumerProtocolSubscription`] (JoinGroup protocol metadata) and
//! [`ConsumerProtocolAssignment`] (SyncGroup assignment). Schemas: apache/kafka
//! `ConsumerProtocolSubscription.json` / `ConsumerProtocolAssignment.json`, versions 0-3,
//! never flexible.
//!
//! Both are prefixed by an int16 version. Newer versions only ever append fields, so (as in
//! Kafka's own reader) a payload of a version above 3 is read with the version 3 layout and
//! whatever follows is ignored. Payloads of a known version must be consumed exactly.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::primitives::{read_required_array, write_array, ReadExt, WriteExt};

/// Highest payload version this crate knows (for both payloads).
pub const CONSUMER_PROTOCOL_MAX_VERSION: i16 = 3;

/// A topic and some of its partitions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicPartition {
    /// The topic name.
    pub topic: String,
    /// The partitions.
    pub partitions: Vec<i32>,
}

fn write_topic_partitions(
    buf: &mut BytesMut,
    v: &[TopicPartition],
    what: &'static str,
) -> Result<(), EncodeError> {
    write_array(buf, v, false, what, |b, tp| {
        b.write_string(&tp.topic, false, what)?;
        write_array(b, &tp.partitions, false, what, |b, p| {
            b.put_i32(*p);
            Ok(())
        })
    })
}

fn read_topic_partitions(
    buf: &mut Bytes,
    what: &'static str,
) -> Result<Vec<TopicPartition>, DecodeError> {
    // Topic name (int16 length) plus partition array (int32 length).
    read_required_array(buf, false, 6, what, |b| {
        Ok(TopicPartition {
            topic: b.read_string(false, what)?,
            partitions: read_required_array(b, false, 4, what, |b| b.read_i32(what))?,
        })
    })
}

fn read_version(buf: &mut Bytes, what: &'static str) -> Result<i16, DecodeError> {
    let version = buf.read_i16(what)?;
    if version < 0 {
        return Err(DecodeError::InvalidValue {
            what,
            reason: format!("negative version {version}"),
        });
    }
    Ok(version)
}

fn check_write_version(version: i16, what: &'static str) -> Result<(), EncodeError> {
    if (0..=CONSUMER_PROTOCOL_MAX_VERSION).contains(&version) {
        Ok(())
    } else {
        Err(EncodeError::UnsupportedVersion { api: what, version })
    }
}

/// Finishes a payload: a known version must be fully consumed; a newer one may carry
/// fields this crate does not know, which are skipped.
fn finish(buf: &mut Bytes, version: i16, what: &'static str) -> Result<(), DecodeError> {
    if version > CONSUMER_PROTOCOL_MAX_VERSION {
        buf.clear();
        Ok(())
    } else if buf.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::TrailingBytes {
            what,
            remaining: buf.len(),
        })
    }
}

/// What a consumer subscribes to, sent as JoinGroup protocol metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerProtocolSubscription {
    /// The subscribed topics.
    pub topics: Vec<String>,
    /// Assignor-specific user data.
    pub user_data: Option<Bytes>,
    /// The partitions the member owns (v1+).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation the owned partitions belong to, -1 when unknown (v2+).
    pub generation_id: i32,
    /// The member's rack (v3+).
    pub rack_id: Option<String>,
}

impl Default for ConsumerProtocolSubscription {
    fn default() -> Self {
        Self {
            topics: Vec::new(),
            user_data: None,
            owned_partitions: Vec::new(),
            generation_id: -1,
            rack_id: None,
        }
    }
}

impl ConsumerProtocolSubscription {
    const WHAT: &'static str = "ConsumerProtocolSubscription";

    /// Writes the int16 version and the fields of that version.
    pub fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        check_write_version(version, Self::WHAT)?;
        buf.put_i16(version);
        write_array(buf, &self.topics, false, "topics", |b, t| {
            b.write_string(t, false, "topics")
        })?;
        buf.write_nullable_bytes(self.user_data.as_deref(), false, "user_data")?;
        if version >= 1 {
            write_topic_partitions(buf, &self.owned_partitions, "owned_partitions")?;
        }
        if version >= 2 {
            buf.put_i32(self.generation_id);
        }
        if version >= 3 {
            buf.write_nullable_string(self.rack_id.as_deref(), false, "rack_id")?;
        }
        Ok(())
    }

    /// Encodes at `version` into a fresh buffer.
    pub fn to_bytes(&self, version: i16) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::new();
        self.write(&mut buf, version)?;
        Ok(buf.freeze())
    }

    /// Reads a whole payload, returning the version found on the wire and the fields.
    pub fn read_versioned(buf: &mut Bytes) -> Result<(i16, Self), DecodeError> {
        let version = read_version(buf, Self::WHAT)?;
        let mut msg = Self {
            topics: read_required_array(buf, false, 2, "topics", |b| {
                b.read_string(false, "topics")
            })?,
            user_data: buf.read_nullable_bytes(false, "user_data")?,
            ..Self::default()
        };
        if version >= 1 {
            msg.owned_partitions = read_topic_partitions(buf, "owned_partitions")?;
        }
        if version >= 2 {
            msg.generation_id = buf.read_i32("generation_id")?;
        }
        if version >= 3 {
            msg.rack_id = buf.read_nullable_string(false, "rack_id")?;
        }
        finish(buf, version, Self::WHAT)?;
        Ok((version, msg))
    }

    /// Reads a whole payload.
    pub fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        Self::read_versioned(buf).map(|(_, msg)| msg)
    }
}

/// The partitions the leader assigned to a member, received from SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerProtocolAssignment {
    /// The assigned partitions.
    pub assigned_partitions: Vec<TopicPartition>,
    /// Assignor-specific user data.
    pub user_data: Option<Bytes>,
}

impl ConsumerProtocolAssignment {
    const WHAT: &'static str = "ConsumerProtocolAssignment";

    /// Writes the int16 version and the fields of that version.
    pub fn write(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        check_write_version(version, Self::WHAT)?;
        buf.put_i16(version);
        write_topic_partitions(buf, &self.assigned_partitions, "assigned_partitions")?;
        buf.write_nullable_bytes(self.user_data.as_deref(), false, "user_data")?;
        Ok(())
    }

    /// Encodes at `version` into a fresh buffer.
    pub fn to_bytes(&self, version: i16) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::new();
        self.write(&mut buf, version)?;
        Ok(buf.freeze())
    }

    /// Reads a whole payload, returning the version found on the wire and the fields.
    pub fn read_versioned(buf: &mut Bytes) -> Result<(i16, Self), DecodeError> {
        let version = read_version(buf, Self::WHAT)?;
        let msg = Self {
            assigned_partitions: read_topic_partitions(buf, "assigned_partitions")?,
            user_data: buf.read_nullable_bytes(false, "user_data")?,
        };
        finish(buf, version, Self::WHAT)?;
        Ok((version, msg))
    }

    /// Reads a whole payload.
    pub fn read(buf: &mut Bytes) -> Result<Self, DecodeError> {
        Self::read_versioned(buf).map(|(_, msg)| msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(v: i16) -> ConsumerProtocolSubscription {
        ConsumerProtocolSubscription {
            topics: vec!["orders".into(), "payments".into()],
            user_data: Some(Bytes::from_static(b"\x01\x02")),
            owned_partitions: if v >= 1 {
                vec![
                    TopicPartition {
                        topic: "orders".into(),
                        partitions: vec![0, 2],
                    },
                    TopicPartition {
                        topic: "payments".into(),
                        partitions: vec![],
                    },
                ]
            } else {
                vec![]
            },
            generation_id: if v >= 2 { 17 } else { -1 },
            rack_id: if v >= 3 { Some("rack-a".into()) } else { None },
        }
    }

    fn assignment() -> ConsumerProtocolAssignment {
        ConsumerProtocolAssignment {
            assigned_partitions: vec![TopicPartition {
                topic: "orders".into(),
                partitions: vec![1, 3, 5],
            }],
            user_data: None,
        }
    }

    /// Round-trips and checks that every strict prefix fails to decode.
    fn check<T: PartialEq + std::fmt::Debug>(
        bytes: Bytes,
        version: i16,
        expected: &T,
        read: fn(&mut Bytes) -> Result<(i16, T), DecodeError>,
    ) {
        let mut b = bytes.clone();
        let (v, back) = read(&mut b).unwrap();
        assert_eq!((v, &back), (version, expected));
        assert!(b.is_empty());
        for cut in 0..bytes.len() {
            assert!(
                read(&mut bytes.slice(..cut)).is_err(),
                "v{version} prefix {cut}"
            );
        }
    }

    #[test]
    fn subscription_round_trips_every_version() {
        for v in 0..=3 {
            let s = subscription(v);
            check(
                s.to_bytes(v).unwrap(),
                v,
                &s,
                ConsumerProtocolSubscription::read_versioned,
            );
        }
        let empty = ConsumerProtocolSubscription::default();
        check(
            empty.to_bytes(3).unwrap(),
            3,
            &empty,
            ConsumerProtocolSubscription::read_versioned,
        );
    }

    #[test]
    fn assignment_round_trips_every_version() {
        for v in 0..=3 {
            check(
                assignment().to_bytes(v).unwrap(),
                v,
                &assignment(),
                ConsumerProtocolAssignment::read_versioned,
            );
        }
    }

    #[test]
    fn subscription_v0_hand_bytes() {
        let s = ConsumerProtocolSubscription {
            topics: vec!["t".into()],
            ..Default::default()
        };
        let expected: &[u8] = &[
            0, 0, // version 0
            0, 0, 0, 1, 0, 1, b't', // topics ["t"]
            0xff, 0xff, 0xff, 0xff, // user_data null
        ];
        assert_eq!(s.to_bytes(0).unwrap().as_ref(), expected);
    }

    #[test]
    fn newer_versions_are_read_with_the_known_layout() {
        // A v5 subscription: the v3 layout followed by fields we do not know.
        let mut buf = BytesMut::new();
        subscription(3).write(&mut buf, 3).unwrap();
        buf[0..2].copy_from_slice(&5i16.to_be_bytes());
        buf.put_slice(b"future fields");
        let (v, s) = ConsumerProtocolSubscription::read_versioned(&mut buf.freeze()).unwrap();
        assert_eq!(v, 5);
        assert_eq!(s, subscription(3));

        let mut buf = BytesMut::new();
        assignment().write(&mut buf, 1).unwrap();
        buf[0..2].copy_from_slice(&4i16.to_be_bytes());
        buf.put_i32(99);
        let mut bytes = buf.freeze();
        assert_eq!(
            ConsumerProtocolAssignment::read(&mut bytes).unwrap(),
            assignment()
        );
        assert!(bytes.is_empty());
    }

    #[test]
    fn bad_payloads_are_errors() {
        // Negative version.
        assert!(ConsumerProtocolAssignment::read(&mut Bytes::from_static(&[0xff, 0xff])).is_err());
        // Trailing bytes at a known version.
        let mut buf = BytesMut::new();
        assignment().write(&mut buf, 0).unwrap();
        buf.put_u8(0);
        assert!(ConsumerProtocolAssignment::read(&mut buf.freeze()).is_err());
        // Forged array length.
        let forged: &[u8] = &[0, 0, 0x7f, 0xff, 0xff, 0xff];
        assert!(ConsumerProtocolAssignment::read(&mut Bytes::from_static(forged)).is_err());
        // Unknown write version.
        assert!(assignment().to_bytes(4).is_err());
        assert!(subscription(0).to_bytes(-1).is_err());
    }
}
