//! Client side of incremental fetch sessions (KIP-227) for one broker.
//!
//! A full fetch (session id 0, epoch 0) lists every partition and asks the broker to open a
//! session. While the session lives, each request carries only what changed since the last
//! one: partitions that are new or whose fetch offset or size moved, and, under "forgotten",
//! partitions no longer wanted (paused, revoked, moved away). The broker answers only for
//! partitions with news. Any session error falls back to a full fetch.

use std::collections::BTreeMap;

use kafka_proto::error_code::ErrorCode;
use kafka_proto::messages::fetch::{FetchPartition, FetchRequest, FetchTopic, ForgottenTopic};
use kafka_proto::primitives::Uuid;

use super::assignor::TopicPartition;

/// What the fetcher wants for one partition in the next request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionFetch {
    /// Topic id (from metadata; used from Fetch v13).
    pub topic_id: Uuid,
    /// Next offset to read.
    pub offset: i64,
    /// Leader epoch the position was read under (-1 unknown).
    pub leader_epoch: i32,
    /// `max.partition.fetch.bytes` for this partition.
    pub max_bytes: i32,
}

/// The fetch-session epoch that asks the broker to open a new session.
const INITIAL_EPOCH: i32 = 0;
/// The session id of "no session".
const NO_SESSION: i32 = 0;

/// Session state of the connection to one broker.
#[derive(Debug, Clone, Default)]
pub struct FetchSession {
    id: i32,
    epoch: i32,
    /// What the broker's session holds: the partitions and positions we last sent.
    sent: BTreeMap<TopicPartition, PartitionFetch>,
    /// Partitions sent in the request in flight, so a failed request can be undone.
    pending: Option<BTreeMap<TopicPartition, PartitionFetch>>,
}

/// The request-shaping settings that do not vary per partition.
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    /// `fetch.wait.max.ms`.
    pub max_wait_ms: i32,
    /// `fetch.min.bytes`.
    pub min_bytes: i32,
    /// `fetch.max.bytes`.
    pub max_bytes: i32,
    /// 0 = read_uncommitted, 1 = read_committed.
    pub isolation_level: i8,
}

impl FetchSession {
    /// A session that will start with a full fetch.
    pub fn new() -> Self {
        Self::default()
    }

    /// The broker-assigned session id (0 when none).
    pub fn id(&self) -> i32 {
        self.id
    }

    /// Whether the next request is incremental.
    pub fn is_incremental(&self) -> bool {
        self.id != NO_SESSION
    }

    /// Builds the next request for the partitions in `wanted` (all partitions this broker
    /// leads that are neither paused nor over budget).
    pub fn build_request(
        &mut self,
        wanted: &BTreeMap<TopicPartition, PartitionFetch>,
        limits: FetchLimits,
        rack_id: &str,
    ) -> FetchRequest {
        let incremental = self.is_incremental();
        let mut topics: BTreeMap<&str, FetchTopic> = BTreeMap::new();
        for (tp, want) in wanted {
            let unchanged = incremental && self.sent.get(tp) == Some(want);
            if unchanged {
                continue;
            }
            topics
                .entry(&tp.topic)
                .or_insert_with(|| FetchTopic {
                    topic: tp.topic.clone(),
                    topic_id: want.topic_id,
                    ..Default::default()
                })
                .partitions
                .push(FetchPartition {
                    partition: tp.partition,
                    current_leader_epoch: want.leader_epoch,
                    fetch_offset: want.offset,
                    partition_max_bytes: want.max_bytes,
                    ..Default::default()
                });
        }
        let mut forgotten: BTreeMap<&str, ForgottenTopic> = BTreeMap::new();
        if incremental {
            for (tp, was) in &self.sent {
                if !wanted.contains_key(tp) {
                    forgotten
                        .entry(&tp.topic)
                        .or_insert_with(|| ForgottenTopic {
                            topic: tp.topic.clone(),
                            topic_id: was.topic_id,
                            partitions: Vec::new(),
                            unknown_tagged_fields: Vec::new(),
                        })
                        .partitions
                        .push(tp.partition);
                }
            }
        }
        self.pending = Some(wanted.clone());
        FetchRequest {
            max_wait_ms: limits.max_wait_ms,
            min_bytes: limits.min_bytes,
            max_bytes: limits.max_bytes,
            isolation_level: limits.isolation_level,
            session_id: self.id,
            session_epoch: if incremental {
                self.epoch
            } else {
                INITIAL_EPOCH
            },
            topics: topics.into_values().collect(),
            forgotten_topics_data: forgotten.into_values().collect(),
            rack_id: rack_id.to_owned(),
            ..Default::default()
        }
    }

    /// Records the broker's top-level answer to the last request. Returns `false` when the
    /// session was dropped (the next request is a full fetch and should follow at once).
    pub fn handle_response(&mut self, error_code: i16, session_id: i32) -> bool {
        let pending = self.pending.take();
        match ErrorCode::from_code(error_code) {
            ErrorCode::None => {
                if let Some(sent) = pending {
                    self.sent = sent;
                }
                if session_id == NO_SESSION {
                    // The broker keeps no session (e.g. out of session slots): stay on full
                    // fetches.
                    self.reset();
                } else {
                    if self.id != session_id {
                        self.id = session_id;
                        self.epoch = INITIAL_EPOCH;
                    }
                    self.epoch = next_epoch(self.epoch);
                }
                true
            }
            _ => {
                self.reset();
                false
            }
        }
    }

    /// Forgets the session (after a connection loss or session error).
    pub fn reset(&mut self) {
        self.id = NO_SESSION;
        self.epoch = INITIAL_EPOCH;
        self.sent.clear();
        self.pending = None;
    }

    /// The position the broker's session holds for `tp`, if any.
    pub fn sent_position(&self, tp: &TopicPartition) -> Option<&PartitionFetch> {
        self.sent.get(tp)
    }
}

/// Session epochs run 1..=i32::MAX and wrap to 1 (0 opens a session, -1 closes one).
fn next_epoch(epoch: i32) -> i32 {
    match epoch.checked_add(1) {
        Some(next) if next > 0 => next,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(offset: i64) -> PartitionFetch {
        PartitionFetch {
            topic_id: [1; 16],
            offset,
            leader_epoch: 0,
            max_bytes: 1024,
        }
    }

    const LIMITS: FetchLimits = FetchLimits {
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes: 1 << 20,
        isolation_level: 1,
    };

    fn parts(req: &FetchRequest) -> Vec<(String, i32, i64)> {
        req.topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (t.topic.clone(), p.partition, p.fetch_offset))
            })
            .collect()
    }

    #[test]
    fn full_then_incremental_then_forget_then_reset() {
        let mut s = FetchSession::new();
        let mut wanted = BTreeMap::from([
            (TopicPartition::new("t", 0), want(0)),
            (TopicPartition::new("t", 1), want(0)),
        ]);
        let r = s.build_request(&wanted, LIMITS, "");
        assert_eq!((r.session_id, r.session_epoch), (0, 0));
        assert_eq!(parts(&r).len(), 2, "full fetch lists everything");
        assert!(s.handle_response(0, 77));
        assert!(s.is_incremental());

        // Partition 0 advanced, partition 1 did not: only 0 is sent.
        wanted.insert(TopicPartition::new("t", 0), want(10));
        let r = s.build_request(&wanted, LIMITS, "");
        assert_eq!((r.session_id, r.session_epoch), (77, 1));
        assert_eq!(parts(&r), vec![("t".to_string(), 0, 10)]);
        assert!(r.forgotten_topics_data.is_empty());
        assert!(s.handle_response(0, 77));

        // Partition 1 paused: forgotten; nothing else changed.
        wanted.remove(&TopicPartition::new("t", 1));
        let r = s.build_request(&wanted, LIMITS, "");
        assert_eq!(r.session_epoch, 2);
        assert!(parts(&r).is_empty());
        assert_eq!(r.forgotten_topics_data[0].partitions, vec![1]);
        assert!(s.handle_response(0, 77));

        // A session error: back to a full fetch of what is wanted.
        let _ = s.build_request(&wanted, LIMITS, "");
        assert!(!s.handle_response(ErrorCode::FetchSessionIdNotFound.code(), 0));
        let r = s.build_request(&wanted, LIMITS, "");
        assert_eq!((r.session_id, r.session_epoch), (0, 0));
        assert_eq!(parts(&r), vec![("t".to_string(), 0, 10)]);
    }

    #[test]
    fn a_broker_without_session_slots_keeps_us_on_full_fetches() {
        let mut s = FetchSession::new();
        let wanted = BTreeMap::from([(TopicPartition::new("t", 0), want(0))]);
        let _ = s.build_request(&wanted, LIMITS, "");
        assert!(s.handle_response(0, 0));
        let r = s.build_request(&wanted, LIMITS, "");
        assert_eq!((r.session_id, r.session_epoch), (0, 0));
        assert_eq!(parts(&r).len(), 1);
    }

    #[test]
    fn epochs_wrap_to_one() {
        assert_eq!(next_epoch(0), 1);
        assert_eq!(next_epoch(i32::MAX), 1);
        assert_eq!(next_epoch(41), 42);
    }
}
