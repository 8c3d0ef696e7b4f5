//! The consumer: group membership, committed offsets and the fetcher behind one small API.
//!
//! A driver task runs the member's state machine (join, sync, heartbeat, leave), turns
//! assignments into [`ConsumerEvent::Assigned`] / [`ConsumerEvent::Revoked`] events, starts
//! and stops fetching partitions, and commits the offsets the engine reports through
//! [`Consumer::mark_done`] every `auto.commit.interval.ms`, on revoke and on close. The
//! engine decides what is done; the consumer never commits past what it was told.
//!
//! Revocation waits for the engine: a `Revoked` event carries a `done` sender, and the
//! partitions are committed and released only after it fired (or after the rebalance
//! timeout, so a stuck handler cannot hold the whole group hostage).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_proto::error_code::ErrorCode;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::assignor::{RebalanceProtocol, TopicPartition};
use super::broker::{Broker, Connector};
use super::cluster::{Cluster, ClusterSettings, ConnectionPurpose};
use super::consumer_group::{
    owned_by_topic_id, ConsumerGroupMember, ConsumerHeartbeatOutcome, ConsumerMemberConfig,
    ConsumerMemberState,
};
use super::duration_ms_i32;
use super::error::ClientError;
use super::fetch_session::FetchLimits;
use super::fetcher::{Fetcher, FetcherSettings};
use super::group::{find_coordinator, GroupMember, HeartbeatOutcome, MemberConfig};
use super::offsets::{self, CommitIdentity, TopicIds};
use crate::options::{AutoOffsetReset, ConsumerSettings, GroupProtocol, IsolationLevel};
use crate::sync::lock;

pub use super::fetcher::PartitionRecords;

/// What the consumer tells the engine, in order.
#[derive(Debug)]
pub enum ConsumerEvent {
    /// These partitions are now ours, starting at the given offsets.
    Assigned(Vec<(TopicPartition, i64)>),
    /// These partitions are being taken away: stop dispatching them, finish or abandon what
    /// is in flight, report final offsets with `mark_done`, then fire `done`.
    Revoked {
        /// The partitions.
        partitions: Vec<TopicPartition>,
        /// Fire when drained.
        done: oneshot::Sender<()>,
    },
    /// Records of one partition, in offset order.
    Records(PartitionRecords),
    /// A partition stopped fetching; the reason is for status and logs.
    PartitionFailed {
        /// The partition.
        partition: TopicPartition,
        /// Why.
        reason: String,
    },
    /// The consumer stopped on an error it cannot recover from (e.g. fenced instance id).
    Fatal(ClientError),
}

/// A running consumer of one group.
#[derive(Debug)]
pub struct Consumer {
    fetcher: Arc<Fetcher>,
    done: Arc<Mutex<BTreeMap<TopicPartition, i64>>>,
    committed: Arc<Mutex<BTreeMap<TopicPartition, i64>>>,
    /// Wakes the driver when a watermark moved, so it commits soon (`ingress.commit-delay-ms`).
    progress: Arc<Notify>,
    cluster: Arc<Cluster>,
    trouble: Arc<Mutex<Trouble>>,
    close_tx: Mutex<Option<oneshot::Sender<()>>>,
    driver: Mutex<Option<JoinHandle<()>>>,
}

/// Group and commit trouble the driver saw last (cleared by the next success).
#[derive(Debug, Default)]
struct Trouble {
    group: Option<String>,
    commit: Option<String>,
}

/// Bound of the event channel: a slow engine stops the fetch loops (and, through pause,
/// the engine stops single partitions before that).
const EVENT_CHANNEL_CAPACITY: usize = 64;
/// Delay before retrying a failed group operation.
const GROUP_RETRY_BACKOFF: Duration = Duration::from_millis(250);

impl Consumer {
    /// Starts consuming `topics` with `settings`, connecting through `connector`.
    pub fn start(
        settings: &ConsumerSettings,
        topics: Vec<String>,
        connector: Arc<dyn Connector>,
    ) -> (Consumer, mpsc::Receiver<ConsumerEvent>) {
        let cluster = Arc::new(Cluster::new(
            ClusterSettings::from_consumer_settings(settings),
            connector,
        ));
        let (events_tx, events_rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
        let isolation_level = match settings.isolation_level {
            IsolationLevel::ReadCommitted => 1,
            IsolationLevel::ReadUncommitted => 0,
        };
        let fetcher = Fetcher::start(
            cluster.clone(),
            FetcherSettings {
                limits: FetchLimits {
                    max_wait_ms: duration_ms_i32(settings.fetch_wait_max),
                    min_bytes: settings.fetch_min_bytes,
                    max_bytes: settings.fetch_max_bytes,
                    isolation_level,
                },
                max_partition_bytes: settings.max_partition_fetch_bytes,
                auto_offset_reset: settings.auto_offset_reset,
                rack_id: settings.client_rack.clone().unwrap_or_default(),
            },
            events_tx.clone(),
        );
        let done = Arc::new(Mutex::new(BTreeMap::new()));
        let committed = Arc::new(Mutex::new(BTreeMap::new()));
        let progress = Arc::new(Notify::new());
        let trouble = Arc::new(Mutex::new(Trouble::default()));
        let (close_tx, close_rx) = oneshot::channel();
        let member = GroupMember::new(MemberConfig {
            group_id: settings.group_id.clone(),
            group_instance_id: settings.group_instance_id.clone(),
            session_timeout: settings.session_timeout,
            rebalance_timeout: settings.max_poll_interval,
            assignment_strategies: settings
                .assignment_strategies
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            topics: topics.clone(),
            rack_id: settings.client_rack.clone(),
        });
        let consumer_member = (settings.group_protocol == GroupProtocol::Consumer).then(|| {
            ConsumerGroupMember::new(ConsumerMemberConfig {
                group_id: settings.group_id.clone(),
                group_instance_id: settings.group_instance_id.clone(),
                rebalance_timeout: settings.max_poll_interval,
                server_assignor: settings.group_remote_assignor.clone(),
                topics,
                rack_id: settings.client_rack.clone(),
            })
        });
        let driver = Driver {
            cluster: cluster.clone(),
            trouble: trouble.clone(),
            fetcher: fetcher.clone(),
            events: events_tx,
            done: done.clone(),
            member,
            consumer_member,
            coordinator: None,
            committed: committed.clone(),
            unstarted: Vec::new(),
            heartbeat_interval: settings.heartbeat_interval,
            auto_commit_interval: settings.auto_commit_interval,
            commit_delay: settings.ingress.commit_delay,
            progress: progress.clone(),
            auto_offset_reset: settings.auto_offset_reset,
            isolation_level,
        };
        let handle = tokio::spawn(driver.run(close_rx));
        (
            Consumer {
                fetcher,
                done,
                committed,
                progress,
                cluster,
                trouble,
                close_tx: Mutex::new(Some(close_tx)),
                driver: Mutex::new(Some(handle)),
            },
            events_rx,
        )
    }

    /// Records that everything below `next_offset` of `partition` is finished: the next
    /// commit may store `next_offset`.
    pub fn mark_done(&self, partition: &TopicPartition, next_offset: i64) {
        let moved = {
            let mut done = lock(&self.done);
            match done.get_mut(partition) {
                Some(known) if *known >= next_offset => false,
                Some(known) => {
                    *known = next_offset;
                    true
                }
                None => {
                    done.insert(partition.clone(), next_offset);
                    true
                }
            }
        };
        if moved {
            self.progress.notify_one();
        }
    }

    /// The offset last committed for `partition` (its start offset until the first commit),
    /// while the partition is assigned to this member.
    pub fn committed(&self, partition: &TopicPartition) -> Option<i64> {
        lock(&self.committed).get(partition).copied()
    }

    /// What keeps this consumer from working normally right now — unreachable brokers, a
    /// failing coordinator, failing commits — or `None` when all is well.
    pub fn trouble(&self) -> Option<String> {
        let mut parts: Vec<String> = self
            .cluster
            .unreachable()
            .into_iter()
            .map(|(addr, since, error)| {
                format!(
                    "broker {addr} unreachable for {}s: {error}",
                    since.as_secs()
                )
            })
            .collect();
        let t = lock(&self.trouble);
        parts.extend(t.group.iter().cloned());
        parts.extend(t.commit.iter().cloned());
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Why `partition` cannot be fetched right now (its leader is unreachable), if so.
    pub fn partition_trouble(&self, partition: &TopicPartition) -> Option<String> {
        let node = self.fetcher.leader_node(partition)?;
        let addr = self.cluster.node_addr(node)?;
        self.cluster
            .unreachable()
            .into_iter()
            .find(|(a, _, _)| *a == addr)
            .map(|(addr, since, error)| {
                format!(
                    "leader (node {node}) {addr} unreachable for {}s: {error}",
                    since.as_secs()
                )
            })
    }

    /// Pauses fetching `partition` (its buffers are full).
    pub fn pause(&self, partition: &TopicPartition) {
        self.fetcher.set_paused(partition, true);
    }

    /// Resumes fetching `partition`.
    pub fn resume(&self, partition: &TopicPartition) {
        self.fetcher.set_paused(partition, false);
    }

    /// Leaves the group: revokes everything (the engine gets a last `Revoked`), commits and
    /// sends LeaveGroup. The event receiver must keep being read until this returns.
    pub async fn close(&self) {
        if let Some(tx) = lock(&self.close_tx).take() {
            let _ = tx.send(());
        }
        let driver = lock(&self.driver).take();
        if let Some(driver) = driver {
            let _ = driver.await;
        }
        self.fetcher.shutdown();
    }
}

impl Consumer {
    /// Stops at once, like a crash: nothing is committed, no LeaveGroup is sent, the engine
    /// gets no `Revoked`.
    pub fn abort(&self) {
        if let Some(d) = lock(&self.driver).take() {
            d.abort();
        }
        self.fetcher.shutdown();
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if let Some(d) = lock(&self.driver).take() {
            d.abort();
        }
        self.fetcher.shutdown();
    }
}

struct Driver {
    cluster: Arc<Cluster>,
    fetcher: Arc<Fetcher>,
    events: mpsc::Sender<ConsumerEvent>,
    done: Arc<Mutex<BTreeMap<TopicPartition, i64>>>,
    /// The settings of the member and, with the classic protocol, its membership.
    member: GroupMember,
    /// With `group.protocol=consumer`: the KIP-848 membership (`member` then only carries
    /// the settings and never joins).
    consumer_member: Option<ConsumerGroupMember>,
    coordinator: Option<Arc<Broker>>,
    /// What was last committed per partition (or the start offset), to commit only what
    /// moved; shared with [`Consumer::committed`] for status.
    committed: Arc<Mutex<BTreeMap<TopicPartition, i64>>>,
    /// Partitions the group gave us whose start could not be set up yet (OffsetFetch or
    /// ListOffsets failed after SyncGroup): retried until they are handed to the engine.
    unstarted: Vec<TopicPartition>,
    heartbeat_interval: Duration,
    auto_commit_interval: Option<Duration>,
    /// `ingress.commit-delay-ms`: commit this soon after a watermark moved.
    commit_delay: Option<Duration>,
    /// Fired by [`Consumer::mark_done`].
    progress: Arc<Notify>,
    /// What is wrong with the group or commits now, for status.
    trouble: Arc<Mutex<Trouble>>,
    auto_offset_reset: AutoOffsetReset,
    isolation_level: i8,
}

/// How a step of the driver ended when it did not succeed.
enum Step {
    /// Try again after a short pause (coordinator moving, loading, network); the reason when
    /// it is trouble worth showing (not a routine rebalance step).
    Retry(Option<String>),
    /// Give up: report and stop.
    Fatal(ClientError),
}

impl Driver {
    async fn run(mut self, mut close: oneshot::Receiver<()>) {
        let result = self.run_until_closed(&mut close).await;
        if let Err(e) = result {
            tracing::error!(group = self.member.config().group_id, %e, "consumer stopped");
            let _ = self.events.send(ConsumerEvent::Fatal(e)).await;
        }
    }

    async fn run_until_closed(
        &mut self,
        close: &mut oneshot::Receiver<()>,
    ) -> Result<(), ClientError> {
        let mut next_heartbeat = Instant::now();
        let mut next_commit = self.auto_commit_interval.map(|i| Instant::now() + i);
        // A commit soon after progress, coalescing every partition's progress into one
        // OffsetCommit per `commit_delay`.
        let mut soon_commit: Option<Instant> = None;
        let progress = self.progress.clone();
        loop {
            if self.consumer_member.is_none()
                && !matches!(
                    self.member.state(),
                    super::group::MemberState::Stable { .. }
                )
            {
                tokio::select! {
                    biased;
                    _ = &mut *close => return self.shutdown().await,
                    step = self.rejoin() => match step {
                        Ok(()) => {
                            self.note_group(None);
                            next_heartbeat = Instant::now() + self.heartbeat_interval;
                        }
                        Err(Step::Retry(reason)) => {
                            if reason.is_some() {
                                self.note_group(reason);
                            }
                            tokio::time::sleep(GROUP_RETRY_BACKOFF).await;
                        }
                        Err(Step::Fatal(e)) => return Err(e),
                    },
                }
                continue;
            }
            if !self.unstarted.is_empty() {
                if let Err(Step::Fatal(e)) = self.start_unstarted().await {
                    return Err(e);
                }
            }
            let retry_at = if self.unstarted.is_empty() {
                Instant::now() + Duration::from_secs(3600)
            } else {
                Instant::now() + GROUP_RETRY_BACKOFF
            };
            let far = Instant::now() + Duration::from_secs(3600);
            let commit_at = next_commit.unwrap_or(far).min(soon_commit.unwrap_or(far));
            tokio::select! {
                biased;
                _ = &mut *close => return self.shutdown().await,
                _ = tokio::time::sleep_until(next_heartbeat) => {
                    next_heartbeat = Instant::now() + self.heartbeat_interval;
                    let step = match &self.consumer_member {
                        Some(_) => self.consumer_heartbeat().await.map(|again| {
                            // KIP-848: the coordinator sets the pace; after a reconciliation
                            // the next heartbeat reports what is owned now, at once.
                            next_heartbeat = if again {
                                Instant::now()
                            } else {
                                Instant::now() + self.consumer_heartbeat_interval()
                            };
                        }),
                        None => self.heartbeat().await,
                    };
                    match step {
                        Ok(()) => self.note_group(None),
                        Err(Step::Retry(reason)) => {
                            if reason.is_some() {
                                self.note_group(reason);
                            }
                            if self.consumer_member.is_some() {
                                next_heartbeat = Instant::now() + GROUP_RETRY_BACKOFF;
                            }
                        }
                        Err(Step::Fatal(e)) => return Err(e),
                    }
                }
                _ = tokio::time::sleep_until(retry_at) => {}
                () = progress.notified(), if soon_commit.is_none() => {
                    soon_commit = self.commit_delay.map(|d| Instant::now() + d);
                }
                _ = tokio::time::sleep_until(commit_at) => {
                    next_commit = self.auto_commit_interval.map(|i| Instant::now() + i);
                    soon_commit = None;
                    if let Err(e) = self.commit(None).await {
                        tracing::warn!(%e, "periodic commit failed; will retry");
                    }
                }
            }
        }
    }

    async fn coordinator(&mut self) -> Result<Arc<Broker>, Step> {
        if let Some(c) = &self.coordinator {
            if !c.is_closed() {
                return Ok(c.clone());
            }
        }
        let group_id = self.member.config().group_id.clone();
        let brokers = self.cluster.brokers().await.map_err(classify)?;
        let any = brokers
            .first()
            .ok_or_else(|| Step::Retry(Some("no broker known yet".to_owned())))?;
        let control = self
            .cluster
            .broker(any.node_id, ConnectionPurpose::Control)
            .await
            .map_err(classify)?;
        let addr = find_coordinator(&control, &group_id)
            .await
            .map_err(classify)?;
        let coordinator = self
            .cluster
            .broker(addr.node_id, ConnectionPurpose::Group)
            .await
            .map_err(classify)?;
        self.coordinator = Some(coordinator.clone());
        Ok(coordinator)
    }

    /// Join + sync, then hand the assignment changes to the engine and the fetcher.
    async fn rejoin(&mut self) -> Result<(), Step> {
        if self.member.rebalance_protocol() == RebalanceProtocol::Eager
            && !self.member.owned().is_empty()
        {
            // Eager: give everything back before joining.
            let owned = self.member.owned().to_vec();
            self.revoke(owned, true).await;
            self.member.revoke_all();
            self.unstarted.clear();
        }
        let coordinator = self.coordinator().await?;
        let started = std::time::Instant::now();
        let joined = match self.member.join(&coordinator).await {
            Ok(j) => j,
            Err(e) => return Err(self.group_error(e)),
        };
        let assignments = if joined.is_leader {
            let mut topics: Vec<String> = joined
                .members
                .iter()
                .flat_map(|m| m.topics.clone())
                .collect();
            topics.sort();
            topics.dedup();
            let mut counts = BTreeMap::new();
            for t in topics {
                match self.cluster.topic(&t).await {
                    Ok(md) => {
                        counts.insert(t, i32::try_from(md.partition_count()).unwrap_or(i32::MAX));
                    }
                    // A subscribed topic that does not exist (yet) gets no partitions.
                    Err(ClientError::UnknownTopic { .. }) => {}
                    Err(e) => return Err(classify(e)),
                }
            }
            self.member
                .assign(&joined.members, &counts)
                .map_err(Step::Fatal)?
        } else {
            BTreeMap::new()
        };
        let (revoked, added) = match self.member.sync(&coordinator, &assignments).await {
            Ok(diff) => diff,
            Err(e) => return Err(self.group_error(e)),
        };
        // One line per rebalance, so a slow or repeated rebalance shows in the log.
        tracing::info!(
            group = %self.member.config().group_id,
            generation = self.member.generation(),
            leader = joined.is_leader,
            owned = self.member.owned().len(),
            added = added.len(),
            revoked = revoked.len(),
            took_ms = started.elapsed().as_millis() as u64,
            "joined group"
        );
        if !revoked.is_empty() {
            // Cooperative: release what moved away, then rejoin so it can be handed over.
            self.revoke(revoked, true).await;
            self.member.request_rejoin();
        }
        if !added.is_empty() {
            // The group already counts these as ours: if their start cannot be set up now,
            // keep them and retry, instead of owning partitions nobody fetches.
            self.unstarted.extend(added);
            if let Err(e) = self.start_unstarted().await {
                if let Step::Fatal(e) = e {
                    return Err(Step::Fatal(e));
                }
                tracing::warn!(
                    count = self.unstarted.len(),
                    "could not start assigned partitions; retrying"
                );
            }
        }
        Ok(())
    }

    /// Hands the assigned-but-unstarted partitions to the engine and the fetcher.
    async fn start_unstarted(&mut self) -> Result<(), Step> {
        let coordinator = self.coordinator().await?;
        let added = self.unstarted.clone();
        self.assign(&coordinator, added).await?;
        self.unstarted.clear();
        Ok(())
    }

    async fn assign(
        &mut self,
        coordinator: &Broker,
        added: Vec<TopicPartition>,
    ) -> Result<(), Step> {
        let ids = self.topic_ids(&added).await.map_err(classify)?;
        let committed = offsets::fetch_committed(
            coordinator,
            &self.member.config().group_id,
            &added,
            &ids,
            self.isolation_level == 1,
        )
        .await
        .map_err(classify)?;
        let mut starts = Vec::with_capacity(added.len());
        for tp in &added {
            let start = match committed.get(tp) {
                Some(o) => *o,
                None => match self.reset_position(tp).await {
                    Ok(Some(o)) => o,
                    Ok(None) => {
                        let _ = self
                            .events
                            .send(ConsumerEvent::PartitionFailed {
                                partition: tp.clone(),
                                reason: "no committed offset and auto.offset.reset=error".into(),
                            })
                            .await;
                        continue;
                    }
                    Err(e) => return Err(classify(e)),
                },
            };
            starts.push((tp.clone(), start));
        }
        if self
            .events
            .send(ConsumerEvent::Assigned(starts.clone()))
            .await
            .is_err()
        {
            return Err(Step::Fatal(ClientError::Protocol {
                addr: String::new(),
                api: "consumer",
                reason: "event receiver dropped".into(),
            }));
        }
        for (tp, start) in starts {
            lock(&self.committed).insert(tp.clone(), start);
            let id = ids.get(&tp.topic).copied().unwrap_or([0; 16]);
            self.fetcher.add(tp, id, start);
        }
        Ok(())
    }

    async fn reset_position(&self, tp: &TopicPartition) -> Result<Option<i64>, ClientError> {
        let timestamp = match self.auto_offset_reset {
            AutoOffsetReset::Earliest => offsets::EARLIEST_TIMESTAMP,
            AutoOffsetReset::Latest => offsets::LATEST_TIMESTAMP,
            AutoOffsetReset::Error => return Ok(None),
        };
        let (_, leader) = self
            .cluster
            .leader_broker(&tp.topic, tp.partition, ConnectionPurpose::Control)
            .await?;
        let found = offsets::list_offsets(
            &leader,
            std::slice::from_ref(tp),
            timestamp,
            self.isolation_level,
        )
        .await?;
        Ok(found.get(tp).copied())
    }

    async fn topic_ids(&self, parts: &[TopicPartition]) -> Result<TopicIds, ClientError> {
        let mut ids = TopicIds::new();
        let topics: HashSet<&str> = parts.iter().map(|tp| tp.topic.as_str()).collect();
        for t in topics {
            let md = self.cluster.topic(t).await?;
            ids.insert(t.to_owned(), md.topic_id);
        }
        Ok(ids)
    }

    /// Stops fetching `partitions`, lets the engine drain them, and (when `commit`) commits
    /// their final offsets.
    async fn revoke(&mut self, partitions: Vec<TopicPartition>, commit: bool) {
        self.unstarted.retain(|tp| !partitions.contains(tp));
        for tp in &partitions {
            self.fetcher.remove(tp);
        }
        let (done_tx, done_rx) = oneshot::channel();
        let sent = self
            .events
            .send(ConsumerEvent::Revoked {
                partitions: partitions.clone(),
                done: done_tx,
            })
            .await;
        if sent.is_ok() {
            let bound = self.member.config().rebalance_timeout;
            let deadline = Instant::now() + bound;
            tokio::pin!(done_rx);
            loop {
                // KIP-848 members keep heartbeating while the engine drains (the session
                // timeout is usually shorter than the rebalance timeout); classic members
                // are in a rebalance here, which has no heartbeats.
                let keepalive = self
                    .consumer_member
                    .as_ref()
                    .filter(|m| m.state() != ConsumerMemberState::Unjoined)
                    .map(|m| Instant::now() + m.heartbeat_interval());
                tokio::select! {
                    _ = &mut done_rx => break,
                    _ = tokio::time::sleep_until(deadline) => {
                        tracing::warn!(?bound, "engine did not drain revoked partitions in time");
                        break;
                    }
                    _ = tokio::time::sleep_until(keepalive.unwrap_or(deadline)), if keepalive.is_some() => {
                        self.keepalive_heartbeat().await;
                    }
                }
            }
        }
        if commit {
            if let Err(e) = self.commit(Some(&partitions)).await {
                tracing::warn!(%e, "commit on revoke failed");
            }
        }
        let mut done = lock(&self.done);
        for tp in &partitions {
            done.remove(tp);
            lock(&self.committed).remove(tp);
        }
    }

    /// Commits what moved since the last commit (only `only` partitions when given).
    async fn commit(&mut self, only: Option<&[TopicPartition]>) -> Result<(), ClientError> {
        // During a rebalance (before rejoining) the last stable generation is still valid.
        let generation = match &self.consumer_member {
            Some(m) => m.commit_epoch(),
            None => self.member.commit_generation(),
        };
        if generation < 0 {
            return Ok(());
        }
        let committed = lock(&self.committed).clone();
        let pending: BTreeMap<TopicPartition, i64> = lock(&self.done)
            .iter()
            .filter(|(tp, o)| committed.get(*tp).is_none_or(|c| *o > c))
            .filter(|(tp, _)| only.is_none_or(|only| only.contains(tp)))
            .map(|(tp, o)| (tp.clone(), *o))
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let Some(coordinator) = self.coordinator.clone() else {
            return Ok(());
        };
        let parts: Vec<TopicPartition> = pending.keys().cloned().collect();
        let ids = self.topic_ids(&parts).await?;
        let who = CommitIdentity {
            group_id: &self.member.config().group_id,
            generation,
            member_id: match &self.consumer_member {
                Some(m) => m.member_id(),
                None => self.member.member_id(),
            },
            group_instance_id: self.member.config().group_instance_id.as_deref(),
        };
        if let Err(e) = offsets::commit(&coordinator, &who, &pending, &ids).await {
            lock(&self.trouble).commit = Some(format!("offset commit failed: {e}"));
            return Err(e);
        }
        lock(&self.trouble).commit = None;
        tracing::debug!(count = pending.len(), "committed offsets");
        lock(&self.committed).extend(pending);
        Ok(())
    }

    async fn heartbeat(&mut self) -> Result<(), Step> {
        let coordinator = self.coordinator().await?;
        match self.member.heartbeat(&coordinator).await {
            Ok(HeartbeatOutcome::Alive) => Ok(()),
            Ok(HeartbeatOutcome::RejoinNeeded) => {
                // Commit what is done before the rebalance moves partitions.
                if let Err(e) = self.commit(None).await {
                    tracing::debug!(%e, "commit before rejoin failed");
                }
                Ok(())
            }
            Ok(HeartbeatOutcome::MemberReset(code)) => {
                // Our partitions are already someone else's: stop without committing.
                tracing::warn!(%code, "group membership lost; rejoining");
                let owned: Vec<TopicPartition> = self.fetcher.partitions();
                self.unstarted.clear();
                self.revoke(owned, false).await;
                Ok(())
            }
            Ok(HeartbeatOutcome::CoordinatorMoved) => {
                self.coordinator = None;
                Ok(())
            }
            Err(e) => Err(self.group_error(e)),
        }
    }

    fn consumer_heartbeat_interval(&self) -> Duration {
        self.consumer_member.as_ref().map_or(
            self.heartbeat_interval,
            ConsumerGroupMember::heartbeat_interval,
        )
    }

    /// The ids of the subscribed topics that exist (refreshing metadata when `refresh`).
    async fn subscribed_topic_ids(&self, refresh: bool) -> Result<TopicIds, ClientError> {
        let topics = self.member.config().topics.clone();
        if refresh {
            self.cluster.refresh(&topics).await?;
        }
        let mut ids = TopicIds::new();
        for t in &topics {
            match self.cluster.topic(t).await {
                Ok(md) => {
                    ids.insert(t.clone(), md.topic_id);
                }
                Err(ClientError::UnknownTopic { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ids)
    }

    /// Sends one KIP-848 heartbeat reporting what is owned; also returns the subscribed
    /// topics' ids it was reported with.
    async fn send_consumer_heartbeat(
        &mut self,
    ) -> Result<(Result<ConsumerHeartbeatOutcome, ClientError>, TopicIds), Step> {
        let coordinator = self.coordinator().await?;
        let ids = self.subscribed_topic_ids(false).await.map_err(classify)?;
        let Some(member) = self.consumer_member.as_mut() else {
            return Ok((Ok(ConsumerHeartbeatOutcome::Alive), ids));
        };
        let owned_ids = owned_by_topic_id(member.owned(), &ids);
        Ok((member.heartbeat(&coordinator, &owned_ids).await, ids))
    }

    /// One KIP-848 heartbeat, then the reconciliation of a new assignment if one came.
    /// `Ok(true)`: heartbeat again at once (to report what changed, or to rejoin).
    async fn consumer_heartbeat(&mut self) -> Result<bool, Step> {
        let (outcome, ids) = self.send_consumer_heartbeat().await?;
        match outcome {
            Ok(ConsumerHeartbeatOutcome::Alive) => {}
            Ok(ConsumerHeartbeatOutcome::Fenced(code)) => {
                // Our partitions are already someone else's: stop them without committing.
                tracing::warn!(%code, "consumer group membership fenced; rejoining");
                self.drop_everything().await;
                return Ok(true);
            }
            Ok(ConsumerHeartbeatOutcome::CoordinatorMoved) => {
                self.coordinator = None;
                return Err(Step::Retry(None));
            }
            Ok(ConsumerHeartbeatOutcome::InstanceIdUnreleased) => {
                let config = self.member.config();
                return Err(Step::Retry(Some(format!(
                    "group coordinator: UNRELEASED_INSTANCE_ID: group.instance.id {:?} of group \
                     {:?} is still held by an earlier member (a process that stopped without \
                     leaving); joining once its session times out",
                    config.group_instance_id.as_deref().unwrap_or_default(),
                    config.group_id
                ))));
            }
            Err(e) => return Err(self.consumer_group_error(e)),
        }
        let Some(target) = self.consumer_member.as_mut().and_then(|m| m.take_target()) else {
            return Ok(false);
        };
        self.reconcile(target, ids).await
    }

    /// Moves what this member owns to `target` (by topic id): revokes first — the engine
    /// drains and the offsets are committed — then starts what was added.
    async fn reconcile(
        &mut self,
        target: BTreeMap<kafka_proto::primitives::Uuid, Vec<i32>>,
        mut ids: TopicIds,
    ) -> Result<bool, Step> {
        let known = |ids: &TopicIds| target.keys().all(|id| ids.values().any(|v| v == id));
        if !known(&ids) {
            // A topic id we have not seen: a topic created (or re-created) since our metadata.
            ids = self.subscribed_topic_ids(true).await.map_err(classify)?;
        }
        let mut assigned = Vec::new();
        let mut unresolved = false;
        for (id, partitions) in &target {
            match ids.iter().find(|(_, v)| *v == id) {
                Some((topic, _)) => assigned.extend(partitions.iter().map(|p| TopicPartition {
                    topic: topic.clone(),
                    partition: *p,
                })),
                None => unresolved = true,
            }
        }
        assigned.sort();
        let Some(member) = self.consumer_member.as_ref() else {
            return Ok(false);
        };
        let (revoked, added) = super::assignor::diff(member.owned(), &assigned);
        let epoch = member.commit_epoch();
        if !revoked.is_empty() {
            self.revoke(revoked.clone(), true).await;
            let Some(member) = self.consumer_member.as_mut() else {
                return Ok(false);
            };
            if member.state() == ConsumerMemberState::Unjoined {
                // Fenced while the engine drained: what is left is lost as well.
                self.drop_everything().await;
                return Ok(true);
            }
            let kept: Vec<TopicPartition> = member
                .owned()
                .iter()
                .filter(|tp| !revoked.contains(tp))
                .cloned()
                .collect();
            member.set_owned(kept);
        }
        if !added.is_empty() {
            if let Some(member) = self.consumer_member.as_mut() {
                let mut owned = member.owned().to_vec();
                owned.extend(added.iter().cloned());
                owned.sort();
                member.set_owned(owned);
            }
            // The coordinator counts these as ours from now: if their start cannot be set up,
            // keep them and retry instead of owning partitions nobody fetches.
            self.unstarted.extend(added.iter().cloned());
            if let Err(e) = self.start_unstarted().await {
                if let Step::Fatal(e) = e {
                    return Err(Step::Fatal(e));
                }
                tracing::warn!(
                    count = self.unstarted.len(),
                    "could not start assigned partitions; retrying"
                );
            }
        }
        if unresolved {
            if let Some(member) = self.consumer_member.as_mut() {
                member.restore_target(target);
            }
        }
        let changed = !revoked.is_empty() || !added.is_empty();
        if changed {
            // One line per change of ownership, so a slow or repeated rebalance shows.
            tracing::info!(
                group = %self.member.config().group_id,
                epoch,
                owned = self.consumer_member.as_ref().map_or(0, |m| m.owned().len()),
                added = added.len(),
                revoked = revoked.len(),
                "reconciled consumer group assignment"
            );
        }
        Ok(changed)
    }

    /// A heartbeat sent while the engine drains revoked partitions: it keeps the session
    /// and reports the old ownership; a new assignment waits for the next reconciliation.
    async fn keepalive_heartbeat(&mut self) {
        let Ok((outcome, _)) = self.send_consumer_heartbeat().await else {
            return;
        };
        match outcome {
            Ok(ConsumerHeartbeatOutcome::CoordinatorMoved) => self.coordinator = None,
            Ok(ConsumerHeartbeatOutcome::Fenced(code)) => {
                tracing::warn!(%code, "consumer group membership fenced while revoking");
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(%e, "heartbeat while revoking failed"),
        }
    }

    /// Stops every partition without committing (membership lost).
    async fn drop_everything(&mut self) {
        let mut owned: Vec<TopicPartition> = self.fetcher.partitions();
        for tp in self.unstarted.drain(..) {
            if !owned.contains(&tp) {
                owned.push(tp);
            }
        }
        if let Some(m) = self.consumer_member.as_mut() {
            m.fence();
        }
        if !owned.is_empty() {
            self.revoke(owned, false).await;
        }
    }

    fn consumer_group_error(&mut self, e: ClientError) -> Step {
        if let ClientError::Broker {
            code,
            addr,
            message,
            ..
        } = &e
        {
            let config = self.member.config();
            let detail = message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default();
            match code {
                ErrorCode::UnsupportedAssignor => {
                    return Step::Fatal(ClientError::Protocol {
                        addr: addr.clone(),
                        api: "ConsumerGroupHeartbeat",
                        reason: format!(
                            "UNSUPPORTED_ASSIGNOR: the broker has no assignor {:?} \
                             (group.remote.assignor){detail}; Kafka's are uniform and range",
                            self.consumer_member
                                .as_ref()
                                .and_then(|m| m.config().server_assignor.clone())
                                .unwrap_or_default()
                        ),
                    })
                }
                ErrorCode::GroupIdNotFound | ErrorCode::InconsistentGroupProtocol => {
                    return Step::Retry(Some(format!(
                        "group coordinator: {code}: group {:?} is a classic group with members \
                         the broker cannot convert{detail}; it joins once they left (or set \
                         group.protocol=classic)",
                        config.group_id
                    )))
                }
                ErrorCode::RebalanceInProgress | ErrorCode::StaleMemberEpoch => {
                    return Step::Retry(None)
                }
                _ => {}
            }
        }
        self.group_error(e)
    }

    fn group_error(&mut self, e: ClientError) -> Step {
        if let ClientError::Broker { code, addr, .. } = &e {
            if *code == ErrorCode::FencedInstanceId {
                let config = self.member.config();
                return Step::Fatal(ClientError::Protocol {
                    addr: addr.clone(),
                    api: "consumer group",
                    reason: format!(
                        "FENCED_INSTANCE_ID: another member of group {:?} joined with the same \
                         group.instance.id {:?}; two processes must never share an instance id \
                         (each base dir has its own; check [ingress] instance-id and copied base \
                         dirs)",
                        config.group_id,
                        config.group_instance_id.as_deref().unwrap_or_default()
                    ),
                });
            }
            match code {
                ErrorCode::NotCoordinator
                | ErrorCode::CoordinatorNotAvailable
                | ErrorCode::CoordinatorLoadInProgress => {
                    self.coordinator = None;
                    return Step::Retry(None);
                }
                ErrorCode::RebalanceInProgress
                | ErrorCode::UnknownMemberId
                | ErrorCode::IllegalGeneration
                | ErrorCode::MemberIdRequired => return Step::Retry(None),
                _ => {}
            }
        }
        if matches!(e, ClientError::Connection(_)) {
            self.coordinator = None;
        }
        classify(e)
    }

    fn note_group(&self, reason: Option<String>) {
        lock(&self.trouble).group = reason;
    }

    async fn shutdown(&mut self) -> Result<(), ClientError> {
        let owned = match &self.consumer_member {
            Some(m) => m.owned().to_vec(),
            None => self.member.owned().to_vec(),
        };
        if !owned.is_empty() {
            self.revoke(owned, true).await;
        }
        if let Some(c) = self.coordinator.clone() {
            let left = match &mut self.consumer_member {
                Some(m) => m.leave(&c).await,
                None => self.member.leave(&c, "consumer closed").await,
            };
            if let Err(e) = left {
                tracing::debug!(%e, "leaving the group failed");
            }
        }
        self.fetcher.shutdown();
        Ok(())
    }
}

fn classify(e: ClientError) -> Step {
    if e.is_retriable() {
        tracing::debug!(%e, "retriable group error");
        Step::Retry(Some(format!("group coordinator: {e}")))
    } else {
        Step::Fatal(e)
    }
}
