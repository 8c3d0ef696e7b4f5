//! What the admin API and metrics show about a running subscription: its lifecycle state and,
//! per owned partition, offsets, lag, in-flight work and the record it is stuck on.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

/// Lifecycle of a subscription's runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RuntimeState {
    /// Joining the group, waiting for partitions.
    Starting,
    /// Consuming and delivering.
    Running,
    /// Running, but a broker, the group coordinator or commits are failing: see `error`.
    /// Deliveries of what was fetched go on; it turns back to `running` on recovery.
    Degraded,
    /// Paused by the user: no new deliveries, no fetching; group membership kept.
    Paused,
    /// The consumer failed and will be restarted.
    Restarting {
        /// The error that stopped it.
        reason: String,
    },
    /// Draining, committing and leaving the group.
    Stopping,
    /// Stopped.
    Stopped,
    /// Not running: it could not be started (e.g. its cluster or service is gone).
    Failed {
        /// Why.
        reason: String,
    },
}

/// A record that failed at least once and is still being worked on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StuckRecord {
    /// Its offset.
    pub offset: i64,
    /// Its key (UTF-8, lossy; `null` for a null key).
    pub key: Option<String>,
    /// Attempts so far (delivery attempts, or dead-letter produce attempts).
    pub attempts: u32,
    /// The last failure.
    pub last_error: String,
    /// When it first failed (RFC 3339).
    pub since: String,
}

/// One partition of a subscription, as seen by this process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionStatus {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Last committed offset (the start offset until the first commit).
    pub committed: Option<i64>,
    /// Lowest offset not yet finished: what the next commit stores.
    pub commit_watermark: i64,
    /// Next offset to fetch.
    pub position: i64,
    /// High watermark at the last fetch.
    pub high_watermark: Option<i64>,
    /// `high_watermark - committed`.
    pub lag: Option<i64>,
    /// Records being delivered now (including ones waiting for a retry).
    pub in_flight: usize,
    /// How many may be in flight now: the adaptive limit (`ingress.adaptive-concurrency`,
    /// at most `ingress.max-in-flight`) plus the records failing now.
    pub in_flight_limit: usize,
    /// Records fetched and waiting for their turn.
    pub buffered: usize,
    /// Whether fetching is paused (budget full or subscription paused).
    pub fetch_paused: bool,
    /// Records currently failing.
    pub failing: usize,
    /// The oldest failing record, if any.
    pub stuck: Option<StuckRecord>,
    /// Why the partition stopped fetching, if it did (e.g. `auto.offset.reset=error`).
    pub error: Option<String>,
}

/// The status of one subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionStatus {
    /// The subscription id.
    pub id: String,
    /// Lifecycle state.
    #[serde(flatten)]
    pub state: RuntimeState,
    /// What is wrong with the connection to Kafka right now (an unreachable broker, a failing
    /// coordinator or commit), or `null`; also set while `starting` when it cannot start.
    pub error: Option<String>,
    /// Owned partitions, ordered by topic and partition.
    pub partitions: Vec<PartitionStatus>,
    /// With `store = "kafka"`: the subscription's consumer group across every process, from
    /// Kafka itself (members, per-partition owner, committed offset, high watermark, lag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::kafka::group_overview::GroupStatus>,
}

/// Mutable per-partition state shared by the partition worker and its delivery tasks.
#[derive(Debug, Clone, Default)]
pub(crate) struct PartitionCounters {
    pub(crate) commit_watermark: i64,
    pub(crate) position: i64,
    pub(crate) high_watermark: Option<i64>,
    pub(crate) in_flight: usize,
    pub(crate) in_flight_limit: usize,
    pub(crate) buffered: usize,
    pub(crate) fetch_paused: bool,
    pub(crate) failing: BTreeMap<i64, StuckRecord>,
    pub(crate) error: Option<String>,
}

/// Formats `t` as RFC 3339 (UTC, seconds).
pub(crate) fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(rfc3339(t), "2026-11-18T11:06:40Z");
    }
}
