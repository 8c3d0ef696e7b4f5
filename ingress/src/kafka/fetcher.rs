//! The multi-partition fetcher: one Fetch loop per leader broker, each with its own fetch
//! session, over the partitions this consumer owns.
//!
//! The partition table is shared with the group driver (which adds and removes partitions
//! as assignments change) and with the engine (which pauses and resumes partitions for
//! backpressure). A planner task finds each partition's leader and starts a loop per leader
//! node; a loop fetches the partitions led by its node that are neither paused nor failed,
//! decodes and filters the records (read_committed drops aborted transactions and control
//! batches) and hands them out in offset order, then moves the partition's position past
//! the last complete batch. Records fetched for an assignment that has since changed are
//! dropped (each assignment of a partition gets a new epoch).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_proto::error_code::ErrorCode;
use kafka_proto::messages::fetch::FetchRequest;
use kafka_proto::primitives::Uuid;
use kafka_proto::record::{
    decode_record_batches, read_committed_records, AbortedTransaction, Record,
};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use super::assignor::TopicPartition;
use super::cluster::{Cluster, ConnectionPurpose};
use super::consumer::ConsumerEvent;
use super::fetch_session::{FetchLimits, FetchSession, PartitionFetch};
use super::metadata::NodeId;
use super::offsets;
use crate::options::AutoOffsetReset;
use crate::sync::lock;

/// Records of one partition, in offset order.
#[derive(Debug, Clone)]
pub struct PartitionRecords {
    /// The partition.
    pub partition: TopicPartition,
    /// The records (keys and values are slices of the fetch response). Empty when a fetch
    /// found nothing new but the high watermark moved.
    pub records: Vec<Record>,
    /// The fetch position after these records (past skipped control/aborted offsets too).
    pub next_offset: i64,
    /// The partition's high watermark at fetch time.
    pub high_watermark: i64,
}

/// Fetch state of one owned partition.
#[derive(Debug, Clone)]
struct PartitionState {
    topic_id: Uuid,
    position: i64,
    leader: Option<(NodeId, i32)>,
    paused: bool,
    failed: bool,
    /// Changes on every (re)assignment, so data fetched for an old one is dropped.
    epoch: u64,
    /// The high watermark last handed out, so empty answers report only a change.
    reported_high_watermark: Option<i64>,
}

/// Fetch-related settings.
#[derive(Debug, Clone)]
pub struct FetcherSettings {
    /// Request limits (`fetch.wait.max.ms`, `fetch.min.bytes`, `fetch.max.bytes`, isolation).
    pub limits: FetchLimits,
    /// `max.partition.fetch.bytes`.
    pub max_partition_bytes: i32,
    /// `auto.offset.reset`, applied on OFFSET_OUT_OF_RANGE.
    pub auto_offset_reset: AutoOffsetReset,
    /// `client.rack`.
    pub rack_id: String,
}

#[derive(Debug, Default)]
struct Table {
    partitions: HashMap<TopicPartition, PartitionState>,
    next_epoch: u64,
}

/// The fetcher of one consumer.
#[derive(Debug)]
pub struct Fetcher {
    cluster: Arc<Cluster>,
    settings: FetcherSettings,
    table: Mutex<Table>,
    changed: Arc<Notify>,
    events: mpsc::Sender<ConsumerEvent>,
    tasks: Mutex<HashMap<NodeId, JoinHandle<()>>>,
    planner: Mutex<Option<JoinHandle<()>>>,
}

/// How long an idle loop waits before looking at the table again.
const IDLE_WAIT: Duration = Duration::from_millis(500);
/// Pause after a failed request before the loop retries.
const ERROR_BACKOFF: Duration = Duration::from_millis(200);

impl Fetcher {
    /// Starts a fetcher that sends what it reads to `events`.
    pub fn start(
        cluster: Arc<Cluster>,
        settings: FetcherSettings,
        events: mpsc::Sender<ConsumerEvent>,
    ) -> Arc<Fetcher> {
        let fetcher = Arc::new(Fetcher {
            cluster,
            settings,
            table: Mutex::new(Table::default()),
            changed: Arc::new(Notify::new()),
            events,
            tasks: Mutex::new(HashMap::new()),
            planner: Mutex::new(None),
        });
        let planner = tokio::spawn(plan_loop(Arc::downgrade(&fetcher)));
        *lock(&fetcher.planner) = Some(planner);
        fetcher
    }

    /// Starts fetching `partition` from `offset` (a new assignment).
    pub fn add(&self, partition: TopicPartition, topic_id: Uuid, offset: i64) {
        {
            let mut t = lock(&self.table);
            t.next_epoch += 1;
            let epoch = t.next_epoch;
            t.partitions.insert(
                partition,
                PartitionState {
                    topic_id,
                    position: offset,
                    leader: None,
                    paused: false,
                    failed: false,
                    epoch,
                    reported_high_watermark: None,
                },
            );
        }
        self.changed.notify_waiters();
    }

    /// Stops fetching `partition` (revoked); records already handed out stay valid.
    pub fn remove(&self, partition: &TopicPartition) {
        lock(&self.table).partitions.remove(partition);
        self.changed.notify_waiters();
    }

    /// Pauses or resumes fetching `partition` (backpressure).
    pub fn set_paused(&self, partition: &TopicPartition, paused: bool) {
        let changed = {
            let mut t = lock(&self.table);
            match t.partitions.get_mut(partition) {
                Some(p) if p.paused != paused => {
                    p.paused = paused;
                    true
                }
                _ => false,
            }
        };
        if changed {
            self.changed.notify_waiters();
        }
    }

    /// The fetch position of `partition`, if owned.
    pub fn position(&self, partition: &TopicPartition) -> Option<i64> {
        lock(&self.table)
            .partitions
            .get(partition)
            .map(|p| p.position)
    }

    /// The leader node a partition is fetched from, once known.
    pub fn leader_node(&self, partition: &TopicPartition) -> Option<NodeId> {
        lock(&self.table)
            .partitions
            .get(partition)
            .and_then(|p| p.leader.map(|(node, _)| node))
    }

    /// The partitions being fetched.
    pub fn partitions(&self) -> Vec<TopicPartition> {
        lock(&self.table).partitions.keys().cloned().collect()
    }

    /// Stops every loop.
    pub fn shutdown(&self) {
        if let Some(p) = lock(&self.planner).take() {
            p.abort();
        }
        for (_, t) in lock(&self.tasks).drain() {
            t.abort();
        }
    }
}

impl Drop for Fetcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Finds leaders for partitions without one and makes sure every leader node has a loop.
async fn plan_loop(fetcher: std::sync::Weak<Fetcher>) {
    loop {
        let Some(f) = fetcher.upgrade() else { return };
        let notify = f.changed.clone();
        let changed = notify.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let unresolved: Vec<TopicPartition> = lock(&f.table)
            .partitions
            .iter()
            .filter(|(_, p)| p.leader.is_none() && !p.failed)
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in unresolved {
            match f.cluster.leader_for(&tp.topic, tp.partition).await {
                Ok(leader) => {
                    if let Some(p) = lock(&f.table).partitions.get_mut(&tp) {
                        p.leader = Some((leader.node_id, leader.leader_epoch));
                    }
                }
                Err(e) => {
                    tracing::debug!(%e, topic = tp.topic, partition = tp.partition, "no leader yet")
                }
            }
        }
        let nodes: HashSet<NodeId> = lock(&f.table)
            .partitions
            .values()
            .filter_map(|p| p.leader.map(|(n, _)| n))
            .collect();
        {
            let mut tasks = lock(&f.tasks);
            tasks.retain(|_, t| !t.is_finished());
            for node in nodes {
                tasks
                    .entry(node)
                    .or_insert_with(|| tokio::spawn(node_loop(Arc::downgrade(&f), node)));
            }
        }
        drop(f);
        let _ = tokio::time::timeout(IDLE_WAIT, changed).await;
    }
}

/// The Fetch loop of one leader node.
async fn node_loop(fetcher: std::sync::Weak<Fetcher>, node: NodeId) {
    let mut session = FetchSession::new();
    loop {
        let Some(f) = fetcher.upgrade() else { return };
        // Register interest before reading the table, so a change in between is not missed.
        let notify = f.changed.clone();
        let changed = notify.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let (wanted, epochs) = f.wanted(node);
        if wanted.is_empty() {
            if session.is_incremental() {
                // Nothing to fetch here now: drop the session rather than keep it warm.
                session.reset();
            }
            drop(f);
            let _ = tokio::time::timeout(IDLE_WAIT, changed).await;
            continue;
        }
        let broker = match f.cluster.broker(node, ConnectionPurpose::Fetch).await {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(node, %e, "fetch connection failed");
                f.release_node(node);
                session.reset();
                drop(f);
                tokio::time::sleep(ERROR_BACKOFF).await;
                continue;
            }
        };
        let request = session.build_request(&wanted, f.settings.limits, &f.settings.rack_id);
        // The broker may hold the request for fetch.wait.max.ms before answering.
        let timeout = broker_timeout(&f, &request);
        let response = match broker.request_with_timeout(&request, timeout).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(node, %e, "fetch failed");
                session.reset();
                drop(f);
                tokio::time::sleep(ERROR_BACKOFF).await;
                continue;
            }
        };
        if !session.handle_response(response.error_code, response.session_id) {
            tracing::debug!(node, code = %ErrorCode::from_code(response.error_code), "fetch session reset");
            continue;
        }
        for topic in response.responses {
            let name = if topic.topic.is_empty() {
                match f.cluster.topic_by_id(&topic.topic_id) {
                    Some(t) => t.name.clone(),
                    None => continue,
                }
            } else {
                topic.topic.clone()
            };
            for p in topic.partitions {
                let tp = TopicPartition::new(name.clone(), p.partition_index);
                let Some(asked) = wanted.get(&tp) else {
                    continue;
                };
                let Some(&epoch) = epochs.get(&tp) else {
                    continue;
                };
                let code = ErrorCode::from_code(p.error_code);
                if !code.is_ok() {
                    f.partition_error(&tp, epoch, code).await;
                    continue;
                }
                let Some(blob) = p.records.filter(|b| !b.is_empty()) else {
                    // No records, but the high watermark (the status's lag) may have moved,
                    // e.g. for a partition whose records are all below the start offset.
                    let moved = f.advance(&tp, epoch, asked.offset, asked.offset, p.high_watermark);
                    if moved == Some(true) {
                        let event = ConsumerEvent::Records(PartitionRecords {
                            partition: tp,
                            records: Vec::new(),
                            next_offset: asked.offset,
                            high_watermark: p.high_watermark,
                        });
                        if f.events.send(event).await.is_err() {
                            return;
                        }
                    }
                    continue;
                };
                let set = match decode_record_batches(blob) {
                    Ok(set) => set,
                    Err(e) => {
                        f.fail(
                            &tp,
                            epoch,
                            format!("undecodable records at offset {}: {e}", asked.offset),
                        )
                        .await;
                        continue;
                    }
                };
                let Some(next) = set.next_offset() else {
                    continue;
                };
                let aborted: Vec<AbortedTransaction> = p
                    .aborted_transactions
                    .unwrap_or_default()
                    .iter()
                    .map(|a| AbortedTransaction {
                        producer_id: a.producer_id,
                        first_offset: a.first_offset,
                    })
                    .collect();
                let records: Vec<Record> = if f.settings.limits.isolation_level == 1 {
                    read_committed_records(&set.batches, &aborted)
                        .filter(|r| r.offset >= asked.offset)
                        .cloned()
                        .collect()
                } else {
                    // Move the decoded records out of their batches instead of cloning them:
                    // a clone costs two refcount updates (key, value) and a header Vec copy
                    // per record, and the originals are dropped right after anyway.
                    let total = set
                        .batches
                        .iter()
                        .filter(|b| !b.is_control)
                        .map(|b| b.records.len())
                        .sum();
                    let mut records = Vec::with_capacity(total);
                    for batch in set.batches.into_iter().filter(|b| !b.is_control) {
                        records.extend(
                            batch
                                .records
                                .into_iter()
                                .filter(|r| r.offset >= asked.offset),
                        );
                    }
                    records
                };
                if f.advance(&tp, epoch, asked.offset, next, p.high_watermark)
                    .is_none()
                {
                    continue;
                }
                let event = ConsumerEvent::Records(PartitionRecords {
                    partition: tp,
                    records,
                    next_offset: next,
                    high_watermark: p.high_watermark,
                });
                if f.events.send(event).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn broker_timeout(f: &Fetcher, request: &FetchRequest) -> Duration {
    f.cluster.settings().connection.request_timeout
        + Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0))
}

impl Fetcher {
    /// The partitions `node` should fetch now, with their assignment epochs.
    fn wanted(
        &self,
        node: NodeId,
    ) -> (
        BTreeMap<TopicPartition, PartitionFetch>,
        HashMap<TopicPartition, u64>,
    ) {
        let t = lock(&self.table);
        let mut wanted = BTreeMap::new();
        let mut epochs = HashMap::new();
        for (tp, p) in &t.partitions {
            match p.leader {
                Some((n, leader_epoch)) if n == node && !p.paused && !p.failed => {
                    wanted.insert(
                        tp.clone(),
                        PartitionFetch {
                            topic_id: p.topic_id,
                            offset: p.position,
                            leader_epoch,
                            max_bytes: self.settings.max_partition_bytes,
                        },
                    );
                    epochs.insert(tp.clone(), p.epoch);
                }
                _ => {}
            }
        }
        (wanted, epochs)
    }

    /// Forgets the leaders on `node` (unreachable) so the planner looks them up again.
    fn release_node(&self, node: NodeId) {
        let mut t = lock(&self.table);
        for p in t.partitions.values_mut() {
            if p.leader.is_some_and(|(n, _)| n == node) {
                p.leader = None;
            }
        }
    }

    /// Moves `tp` from `from` to `to` and notes `hwm` as its reported high watermark if it is
    /// still the same assignment at the same position. `None`: the fetched data is stale;
    /// `Some(moved)`: whether the high watermark differs from the one reported before.
    fn advance(
        &self,
        tp: &TopicPartition,
        epoch: u64,
        from: i64,
        to: i64,
        hwm: i64,
    ) -> Option<bool> {
        let mut t = lock(&self.table);
        match t.partitions.get_mut(tp) {
            Some(p) if p.epoch == epoch && p.position == from => {
                p.position = to.max(from);
                Some(p.reported_high_watermark.replace(hwm) != Some(hwm))
            }
            _ => None,
        }
    }

    async fn fail(&self, tp: &TopicPartition, epoch: u64, reason: String) {
        let still_ours = {
            let mut t = lock(&self.table);
            match t.partitions.get_mut(tp) {
                Some(p) if p.epoch == epoch => {
                    p.failed = true;
                    true
                }
                _ => false,
            }
        };
        if still_ours {
            tracing::warn!(topic = tp.topic, partition = tp.partition, %reason, "partition stopped");
            let _ = self
                .events
                .send(ConsumerEvent::PartitionFailed {
                    partition: tp.clone(),
                    reason,
                })
                .await;
        }
    }

    async fn partition_error(&self, tp: &TopicPartition, epoch: u64, code: ErrorCode) {
        if self.cluster.invalidate_on(&tp.topic, code) {
            if let Some(p) = lock(&self.table).partitions.get_mut(tp) {
                p.leader = None;
            }
            self.changed.notify_waiters();
            return;
        }
        if code == ErrorCode::OffsetOutOfRange {
            let timestamp = match self.settings.auto_offset_reset {
                AutoOffsetReset::Earliest => offsets::EARLIEST_TIMESTAMP,
                AutoOffsetReset::Latest => offsets::LATEST_TIMESTAMP,
                AutoOffsetReset::Error => {
                    self.fail(
                        tp,
                        epoch,
                        "fetch offset out of range and auto.offset.reset=error".to_owned(),
                    )
                    .await;
                    return;
                }
            };
            match self.reset_offset(tp, timestamp).await {
                Ok(offset) => {
                    let mut t = lock(&self.table);
                    if let Some(p) = t.partitions.get_mut(tp) {
                        if p.epoch == epoch {
                            tracing::info!(
                                topic = tp.topic,
                                partition = tp.partition,
                                offset,
                                "offset out of range: reset"
                            );
                            p.position = offset;
                        }
                    }
                }
                Err(e) => tracing::debug!(%e, "offset reset failed; will retry"),
            }
            return;
        }
        if !code.is_retriable() {
            self.fail(tp, epoch, format!("fetch failed: {code}")).await;
        }
    }

    async fn reset_offset(
        &self,
        tp: &TopicPartition,
        timestamp: i64,
    ) -> Result<i64, super::ClientError> {
        let (_, broker) = self
            .cluster
            .leader_broker(&tp.topic, tp.partition, ConnectionPurpose::Control)
            .await?;
        let found = offsets::list_offsets(
            &broker,
            std::slice::from_ref(tp),
            timestamp,
            self.settings.limits.isolation_level,
        )
        .await?;
        found
            .get(tp)
            .copied()
            .ok_or_else(|| super::ClientError::Protocol {
                addr: broker.addr().to_owned(),
                api: "ListOffsets",
                reason: format!("no offset for {}-{}", tp.topic, tp.partition),
            })
    }
}
