//! The connection pool and metadata routing of one Kafka cluster: [`Cluster`].
//!
//! Connections are keyed by (node id, [`ConnectionPurpose`]). A broker answers the requests of
//! one connection strictly one at a time, so a Fetch that long-polls for `fetch.wait.max.ms`
//! would delay anything queued behind it on the same connection; group traffic (heartbeats)
//! and control traffic (metadata, offsets) therefore get connections of their own.
//!
//! Connections open lazily on first use; one found closed is replaced on the next use. Failed
//! connection attempts to an address back off as librdkafka does (`reconnect.backoff.ms`,
//! doubling per failure up to `reconnect.backoff.max.ms`, -25 %..+50 % jitter). Unlike
//! librdkafka, which counts every attempt, a successful connect resets the backoff: we open up
//! to three connections per broker and the second and third must not wait for the first.
//!
//! Bootstrap addresses have no node id until a broker describes the cluster; they get the
//! pseudo node ids `-1 - index` (librdkafka's convention) and their connections are dropped —
//! or adopted as the Control connection of the node with the same address — once real brokers
//! are known. Metadata is asked of known brokers first (those already connected first), then
//! of the bootstrap list, rotating so a dead first address does not cost every refresh a
//! connect attempt.
//!
//! Concurrency: `Cluster` is shared as `Arc<Cluster>`. A std mutex guards the cache and the
//! connection table and is never held across an `.await`; each connection slot has its own
//! async mutex, held only while that slot connects, so concurrent users of one slot share one
//! connect. Metadata refreshes are single-flight behind an async gate, and callers that queued
//! behind a refresh that failed get its error instead of repeating a full sweep of dead brokers.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kafka_proto::error_code::ErrorCode;
use kafka_proto::messages::metadata::{MetadataRequest, MetadataRequestTopic, MetadataResponse};
use kafka_proto::primitives::Uuid;

use super::broker::{Broker, ConnectionSettings, Connector};
use super::error::ClientError;
use super::metadata::{
    is_stale_metadata_error, BrokerInfo, MetadataCache, MetadataFreshness, NodeId, PartitionLeader,
    TopicMetadata,
};
use crate::options::{BrokerAddr, ConsumerSettings};

/// librdkafka's default `receive.message.max.bytes`: the largest response frame accepted.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 100_000_000;

/// How soon metadata that carried an error (unknown topic, partition without a leader) is
/// asked for again; librdkafka's `retry.backoff.ms` default.
pub const DEFAULT_METADATA_ERROR_REFRESH: Duration = Duration::from_millis(100);

/// How often a broker in reconnect backoff is probed with a bare TCP connect, so one that
/// comes back is used within about this long rather than after `reconnect.backoff.max.ms`.
pub const RECONNECT_PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// What a connection to a broker is used for; each purpose has its own connection per broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnectionPurpose {
    /// Short requests: Metadata, ListOffsets, OffsetFetch, FindCoordinator.
    Control,
    /// The group coordinator's requests: JoinGroup (which blocks for a whole rebalance),
    /// SyncGroup, Heartbeat, OffsetCommit, LeaveGroup.
    Group,
    /// Long-polling Fetches.
    Fetch,
}

/// What a [`Cluster`] needs to know besides the connector.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// The bootstrap brokers, tried in order (`bootstrap.servers` / the cluster's `brokers`).
    pub bootstrap: Vec<BrokerAddr>,
    /// Client id, request timeout and frame limit of every connection.
    pub connection: ConnectionSettings,
    /// `reconnect.backoff.ms`: the first delay after a failed connection attempt.
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms`: the cap of the doubling delay.
    pub reconnect_backoff_max: Duration,
    /// When cached metadata is refreshed.
    pub metadata: MetadataFreshness,
}

impl ClusterSettings {
    /// The cluster settings of a consumer: `socket.timeout.ms` bounds each request.
    pub fn from_consumer_settings(settings: &ConsumerSettings) -> Self {
        ClusterSettings {
            bootstrap: settings.bootstrap.clone(),
            connection: ConnectionSettings {
                client_id: settings.client_id.clone(),
                request_timeout: settings.socket_timeout,
                max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
                sasl: settings.security.sasl.clone(),
            },
            reconnect_backoff: settings.reconnect_backoff,
            reconnect_backoff_max: settings.reconnect_backoff_max,
            metadata: MetadataFreshness {
                max_age: settings.metadata_max_age,
                error_refresh_interval: DEFAULT_METADATA_ERROR_REFRESH,
            },
        }
    }
}

/// The reconnect backoff of one broker address (librdkafka semantics, see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectBackoff {
    initial: Duration,
    max: Duration,
    /// The base of the next delay (before jitter).
    next_base: Duration,
    last_failure: Option<Instant>,
    retry_at: Option<Instant>,
}

impl ReconnectBackoff {
    /// A backoff starting at `initial` and doubling up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.min(max);
        ReconnectBackoff {
            initial,
            max,
            next_base: initial,
            last_failure: None,
            retry_at: None,
        }
    }

    /// How long to wait at `now` before the next connection attempt.
    pub fn remaining(&self, now: Instant) -> Duration {
        self.retry_at
            .map(|at| at.saturating_duration_since(now))
            .unwrap_or_default()
    }

    /// Records a failed attempt at `now`; `jitter` in `[0, 1)` picks the point in the jitter
    /// range. Returns the delay before the next attempt.
    pub fn record_failure(&mut self, now: Instant, jitter: f64) -> Duration {
        // librdkafka starts over when the previous failure is longer ago than the cap: the
        // broker has been fine (or unused) for a while.
        if self
            .last_failure
            .is_some_and(|at| now.saturating_duration_since(at) > self.max)
        {
            self.next_base = self.initial;
        }
        let delay = jittered_delay(self.next_base, self.max, jitter);
        self.retry_at = now.checked_add(delay);
        self.last_failure = Some(now);
        self.next_base = self.next_base.saturating_mul(2).min(self.max);
        delay
    }
}

/// librdkafka's jittered reconnect delay: uniform in `[0.75 * base, 1.5 * base]` (`jitter` in
/// `[0, 1)` picks the point), capped at `max`.
pub fn jittered_delay(base: Duration, max: Duration, jitter: f64) -> Duration {
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let factor = 0.75 + 0.75 * jitter;
    Duration::try_from_secs_f64(base.as_secs_f64() * factor)
        .unwrap_or(max)
        .min(max)
}

/// One pooled connection: empty until first use, replaced when found closed.
#[derive(Debug, Default)]
struct SlotState {
    broker: Option<Arc<Broker>>,
    /// The last failed connect: callers that queued behind it fail with its error instead of
    /// each trying (and backing off) in turn.
    failure: Option<(Instant, ClientError)>,
}

/// A connection slot, locked only while connecting.
type Slot = Arc<tokio::sync::Mutex<SlotState>>;

/// The mutable state behind [`Cluster`]'s std mutex.
#[derive(Debug)]
struct PoolState {
    cache: MetadataCache,
    slots: HashMap<(NodeId, ConnectionPurpose), Slot>,
    /// Keyed by address, not node id: bootstrap pseudo-nodes and real nodes may share one.
    backoffs: HashMap<(String, u16), ReconnectBackoff>,
    /// The bootstrap address to try first.
    bootstrap_cursor: usize,
    /// When the last metadata refresh failed, and how.
    last_refresh_failure: Option<(Instant, ClientError)>,
    /// Addresses whose last connection attempt failed: since when, and the error. Cleared by
    /// the next successful connect; what status shows during a broker outage.
    unreachable: HashMap<String, (Instant, String)>,
}

impl PoolState {
    /// The error of a metadata refresh that failed after `asked_at`: a caller that queued
    /// behind it gets its answer instead of sweeping the same dead brokers again.
    fn failure_since(&self, asked_at: Instant) -> Option<ClientError> {
        self.last_refresh_failure
            .as_ref()
            .filter(|(failed_at, _)| *failed_at >= asked_at)
            .map(|(_, error)| error.clone())
    }
}

/// The brokers of one Kafka cluster: pooled connections per (node, purpose), the metadata
/// cache, and leader lookup. Share it as `Arc<Cluster>`.
pub struct Cluster {
    connector: Arc<dyn Connector>,
    settings: ClusterSettings,
    state: Mutex<PoolState>,
    /// Serialises metadata refreshes (single-flight).
    refresh_gate: tokio::sync::Mutex<()>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Cluster")
            .field("bootstrap", &self.settings.bootstrap)
            .field("brokers", &state.cache.brokers())
            .field("connection_slots", &state.slots.len())
            .finish_non_exhaustive()
    }
}

/// The pseudo node id of bootstrap address number `index`.
fn bootstrap_node(index: usize) -> NodeId {
    i32::try_from(index).map_or(i32::MIN, |i| -1 - i)
}

/// The bootstrap index of pseudo node id `node`, if it is one.
fn bootstrap_index(node: NodeId) -> Option<usize> {
    (-1i32)
        .checked_sub(node)
        .and_then(|i| usize::try_from(i).ok())
}

impl Cluster {
    /// A cluster reached through `connector`; nothing connects until first use.
    pub fn new(settings: ClusterSettings, connector: Arc<dyn Connector>) -> Self {
        Cluster {
            connector,
            state: Mutex::new(PoolState {
                cache: MetadataCache::new(settings.metadata),
                slots: HashMap::new(),
                backoffs: HashMap::new(),
                bootstrap_cursor: 0,
                last_refresh_failure: None,
                unreachable: HashMap::new(),
            }),
            settings,
            refresh_gate: tokio::sync::Mutex::new(()),
        }
    }

    /// The settings this cluster was created with.
    pub fn settings(&self) -> &ClusterSettings {
        &self.settings
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // A panic while holding the lock leaves plain data that is still consistent enough
        // (maps of Arcs); recovering beats poisoning every later caller.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The host and port of `node` (a broker from metadata or a bootstrap pseudo-node).
    fn endpoint(&self, state: &PoolState, node: NodeId) -> Result<(String, u16), ClientError> {
        let found = match bootstrap_index(node) {
            Some(i) => self
                .settings
                .bootstrap
                .get(i)
                .map(|a| (a.host.clone(), a.port)),
            None => state.cache.broker(node).map(|b| (b.host.clone(), b.port)),
        };
        found.ok_or(ClientError::UnknownNode { node_id: node })
    }

    /// The connection for `purpose` to broker `node`: the pooled one if it is open, otherwise
    /// a new one (after the address's reconnect backoff, if a previous attempt failed).
    pub async fn broker(
        &self,
        node: NodeId,
        purpose: ConnectionPurpose,
    ) -> Result<Arc<Broker>, ClientError> {
        let ((host, port), slot) = {
            let mut state = self.lock();
            let endpoint = self.endpoint(&state, node)?;
            let slot = state.slots.entry((node, purpose)).or_default().clone();
            (endpoint, slot)
        };
        let addr = format!("{host}:{port}");
        let asked_at = Instant::now();
        let mut pooled = slot.lock().await;
        if let Some(existing) = pooled.broker.take() {
            if !existing.is_closed() && existing.addr() == addr {
                pooled.broker = Some(existing.clone());
                return Ok(existing);
            }
            // Closed, or the node moved to a new address. In the latter case the old
            // connection is not closed: requests in flight on it finish, and it closes when
            // its last user drops it.
            tracing::debug!(node, ?purpose, %addr, old = existing.addr(), "replacing broker connection");
        }
        if let Some((failed_at, error)) = &pooled.failure {
            if *failed_at >= asked_at {
                return Err(error.clone());
            }
        }
        let wait = self
            .lock()
            .backoffs
            .get(&(host.clone(), port))
            .map(|b| b.remaining(Instant::now()))
            .unwrap_or_default();
        if !wait.is_zero() {
            tracing::debug!(node, %addr, ?wait, "waiting for reconnect backoff");
            // The backoff spaces out full connection attempts; while it runs, a bare TCP
            // probe every RECONNECT_PROBE_INTERVAL notices a broker that came back (after a
            // connection-level failure only: a broker that refuses our handshake or
            // credentials keeps its whole backoff).
            let probe = matches!(pooled.failure, Some((_, ClientError::Connection(_))));
            let until = Instant::now() + wait;
            loop {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                if !probe {
                    tokio::time::sleep(left).await;
                    break;
                }
                tokio::time::sleep(left.min(RECONNECT_PROBE_INTERVAL)).await;
                if until <= Instant::now() {
                    break;
                }
                let tcp = tokio::net::TcpStream::connect((host.as_str(), port));
                if let Ok(Ok(_)) = tokio::time::timeout(RECONNECT_PROBE_INTERVAL, tcp).await {
                    tracing::debug!(node, %addr, "broker accepts connections again");
                    break;
                }
            }
        }
        match Broker::connect(
            self.connector.as_ref(),
            &host,
            port,
            &self.settings.connection,
        )
        .await
        {
            Ok(broker) => {
                {
                    let mut state = self.lock();
                    state.backoffs.remove(&(host, port));
                    if state.unreachable.remove(&addr).is_some() {
                        tracing::info!(node, %addr, "broker reachable again");
                    }
                }
                tracing::debug!(node, ?purpose, %addr, "connected to broker");
                let broker = Arc::new(broker);
                *pooled = SlotState {
                    broker: Some(broker.clone()),
                    failure: None,
                };
                Ok(broker)
            }
            Err(error) => {
                let delay = self
                    .lock()
                    .backoffs
                    .entry((host, port))
                    .or_insert_with(|| {
                        ReconnectBackoff::new(
                            self.settings.reconnect_backoff,
                            self.settings.reconnect_backoff_max,
                        )
                    })
                    .record_failure(Instant::now(), rand::random::<f64>());
                tracing::warn!(node, ?purpose, %addr, %error, next_attempt_in = ?delay, "cannot connect to broker");
                {
                    let mut state = self.lock();
                    let entry = state
                        .unreachable
                        .entry(addr.clone())
                        .or_insert_with(|| (Instant::now(), String::new()));
                    entry.1 = error.to_string();
                }
                pooled.failure = Some((Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    /// The broker addresses whose last connection attempt failed: `(address, for how long,
    /// the error)`, oldest first.
    pub fn unreachable(&self) -> Vec<(String, Duration, String)> {
        let now = Instant::now();
        let mut out: Vec<(String, Duration, String)> = self
            .lock()
            .unreachable
            .iter()
            .map(|(addr, (since, error))| {
                (
                    addr.clone(),
                    now.saturating_duration_since(*since),
                    error.clone(),
                )
            })
            .collect();
        out.sort_by_key(|entry| std::cmp::Reverse(entry.1));
        out
    }

    /// The `host:port` of a known node.
    pub fn node_addr(&self, node: NodeId) -> Option<String> {
        let state = self.lock();
        self.endpoint(&state, node)
            .ok()
            .map(|(host, port)| format!("{host}:{port}"))
    }

    /// The known brokers, fetching metadata first if none are known yet.
    pub async fn brokers(&self) -> Result<Vec<BrokerInfo>, ClientError> {
        let asked_at = Instant::now();
        let known = self.lock().cache.brokers();
        if !known.is_empty() {
            return Ok(known);
        }
        let _gate = self.refresh_gate.lock().await;
        {
            let state = self.lock();
            let known = state.cache.brokers();
            if !known.is_empty() {
                return Ok(known);
            }
            if let Some(error) = state.failure_since(asked_at) {
                return Err(error);
            }
        }
        self.refresh_locked(Vec::new()).await?;
        Ok(self.lock().cache.brokers())
    }

    /// A control connection to any known broker, trying each in turn (for requests any
    /// broker answers or forwards: CreateTopics, DescribeConfigs, FindCoordinator).
    pub async fn any_broker(&self) -> Result<Arc<Broker>, ClientError> {
        let mut last = None;
        for broker in self.brokers().await? {
            match self
                .broker(broker.node_id, ConnectionPurpose::Control)
                .await
            {
                Ok(b) => return Ok(b),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(ClientError::NoBroker {
            tried: String::new(),
            last: "the cluster reported no brokers".to_owned(),
        }))
    }

    /// The cluster id reported by the brokers, once metadata was fetched.
    pub fn cluster_id(&self) -> Option<String> {
        self.lock().cache.cluster_id().map(str::to_owned)
    }

    /// Fetches metadata of `topics` (and the broker list) now, whatever the cache holds.
    /// Per-topic errors land in the cache (see [`Cluster::topic`]); the result only says
    /// whether some broker answered.
    pub async fn refresh<S: AsRef<str>>(&self, topics: &[S]) -> Result<(), ClientError> {
        let topics: Vec<String> = topics.iter().map(|t| t.as_ref().to_owned()).collect();
        let _gate = self.refresh_gate.lock().await;
        self.refresh_locked(topics).await
    }

    /// The metadata of `topic`, refreshed first if missing, invalidated or too old. A topic
    /// that does not exist is [`ClientError::UnknownTopic`].
    pub async fn topic(&self, topic: &str) -> Result<Arc<TopicMetadata>, ClientError> {
        let asked_at = Instant::now();
        if let Some(cached) = self.fresh_topic(topic, asked_at) {
            return cached;
        }
        let _gate = self.refresh_gate.lock().await;
        let now = Instant::now();
        // Whoever held the gate may just have refreshed this topic.
        if let Some(cached) = self.fresh_topic(topic, now) {
            return cached;
        }
        let topics = {
            let state = self.lock();
            if let Some(error) = state.failure_since(asked_at) {
                return Err(error);
            }
            // Piggyback every other stale topic on this request.
            let mut topics = state.cache.stale_topics(now);
            if !topics.iter().any(|t| t == topic) {
                topics.push(topic.to_owned());
            }
            topics
        };
        self.refresh_locked(topics).await?;
        self.lock().cache.topic(topic).unwrap_or_else(|| {
            Err(ClientError::UnknownTopic {
                topic: topic.to_owned(),
            })
        })
    }

    /// The cached metadata of the topic with id `topic_id` (no refresh).
    pub fn topic_by_id(&self, topic_id: &Uuid) -> Option<Arc<TopicMetadata>> {
        self.lock().cache.topic_by_id(topic_id)
    }

    /// The current leader of `topic`/`partition`, from metadata refreshed as
    /// [`Cluster::topic`] does. Partition errors are typed ([`ClientError::Partition`] with
    /// `LEADER_NOT_AVAILABLE`, [`ClientError::UnknownPartition`]).
    pub async fn leader_for(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<PartitionLeader, ClientError> {
        self.topic(topic).await?.leader(partition)
    }

    /// The leader of `topic`/`partition` and the connection for `purpose` to it. When the
    /// leader cannot be reached the topic is invalidated, since leadership has probably moved.
    pub async fn leader_broker(
        &self,
        topic: &str,
        partition: i32,
        purpose: ConnectionPurpose,
    ) -> Result<(PartitionLeader, Arc<Broker>), ClientError> {
        let leader = self.leader_for(topic, partition).await?;
        match self.broker(leader.node_id, purpose).await {
            Ok(broker) => Ok((leader, broker)),
            Err(error) => {
                self.invalidate(topic);
                Err(error)
            }
        }
    }

    /// Marks `topic`'s metadata as stale so the next lookup refreshes it. Returns whether the
    /// topic was cached.
    pub fn invalidate(&self, topic: &str) -> bool {
        self.lock().cache.invalidate(topic)
    }

    /// Invalidates `topic` when `code` (a partition error from Fetch, ListOffsets, ...) means
    /// the cached leadership is stale (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION,
    /// FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_ID).
    /// Returns whether it did.
    pub fn invalidate_on(&self, topic: &str, code: ErrorCode) -> bool {
        if is_stale_metadata_error(code) {
            tracing::debug!(topic, %code, "metadata invalidated by a partition error");
            self.lock().cache.invalidate(topic);
            true
        } else {
            false
        }
    }

    /// Stops caching (and refreshing) `topic`.
    pub fn forget(&self, topic: &str) {
        self.lock().cache.remove(topic);
    }

    /// The cached topic if it is fresh, or its cached error.
    fn fresh_topic(
        &self,
        topic: &str,
        now: Instant,
    ) -> Option<Result<Arc<TopicMetadata>, ClientError>> {
        let state = self.lock();
        if state.cache.needs_refresh(topic, now) {
            None
        } else {
            state.cache.topic(topic)
        }
    }

    /// The nodes to ask for metadata, best first: known brokers with an open Control
    /// connection, other known brokers by remaining reconnect backoff, then the bootstrap
    /// addresses starting at the cursor.
    fn metadata_candidates(&self, state: &PoolState, now: Instant) -> Vec<NodeId> {
        let mut known: Vec<(bool, Duration, NodeId)> = state
            .cache
            .brokers()
            .into_iter()
            .map(|b| {
                let connected = state
                    .slots
                    .get(&(b.node_id, ConnectionPurpose::Control))
                    .and_then(|slot| slot.try_lock().ok())
                    .is_some_and(|pooled| pooled.broker.as_ref().is_some_and(|c| !c.is_closed()));
                let wait = state
                    .backoffs
                    .get(&(b.host.clone(), b.port))
                    .map(|backoff| backoff.remaining(now))
                    .unwrap_or_default();
                (!connected, wait, b.node_id)
            })
            .collect();
        known.sort();
        let count = self.settings.bootstrap.len();
        known
            .into_iter()
            .map(|(_, _, node)| node)
            .chain((0..count).map(|i| bootstrap_node((state.bootstrap_cursor + i) % count)))
            .collect()
    }

    /// Asks the candidates in turn for metadata of `topics` until one answers. The caller
    /// holds the refresh gate.
    async fn refresh_locked(&self, topics: Vec<String>) -> Result<(), ClientError> {
        let candidates = {
            let state = self.lock();
            self.metadata_candidates(&state, Instant::now())
        };
        let mut tried = Vec::with_capacity(candidates.len());
        let mut last_error = None;
        for node in candidates {
            let label = {
                let state = self.lock();
                self.endpoint(&state, node)
                    .map(|(host, port)| format!("{host}:{port}"))
                    .unwrap_or_else(|_| format!("node {node}"))
            };
            match self.metadata_from(node, &topics).await {
                Ok(response) => {
                    self.apply_metadata(node, &response, &topics);
                    return Ok(());
                }
                Err(error) => {
                    tracing::warn!(node, addr = %label, %error, "metadata request failed");
                    tried.push(label);
                    last_error = Some(error);
                }
            }
        }
        let error = ClientError::NoBroker {
            tried: if tried.is_empty() {
                "none".to_owned()
            } else {
                tried.join(", ")
            },
            last: last_error.map_or_else(
                || "no bootstrap brokers are configured".to_owned(),
                |e| e.to_string(),
            ),
        };
        let mut state = self.lock();
        if !self.settings.bootstrap.is_empty() {
            // Start the next sweep of the bootstrap list one further along.
            state.bootstrap_cursor = (state.bootstrap_cursor + 1) % self.settings.bootstrap.len();
        }
        state.last_refresh_failure = Some((Instant::now(), error.clone()));
        Err(error)
    }

    /// One Metadata request to `node` at the negotiated version.
    async fn metadata_from(
        &self,
        node: NodeId,
        topics: &[String],
    ) -> Result<MetadataResponse, ClientError> {
        let broker = self.broker(node, ConnectionPurpose::Control).await?;
        let version = broker.version_for::<MetadataRequest>()?;
        let request = MetadataRequest {
            // Version 0 cannot ask for "no topics" (an empty list means all of them).
            topics: if topics.is_empty() && version == 0 {
                None
            } else {
                Some(topics.iter().map(MetadataRequestTopic::named).collect())
            },
            // A consumer never creates topics as a side effect (librdkafka's
            // `allow.auto.create.topics` defaults to false).
            allow_auto_topic_creation: false,
            ..MetadataRequest::default()
        };
        let response = broker.request(&request).await?;
        let code = ErrorCode::from_code(response.error_code);
        if !code.is_ok() {
            return Err(ClientError::Broker {
                addr: broker.addr().to_owned(),
                api: "Metadata",
                code,
                message: None,
            });
        }
        Ok(response)
    }

    /// Merges a response from `source` into the cache and drops connections to brokers that
    /// left, and to bootstrap pseudo-nodes once real brokers are known.
    fn apply_metadata(&self, source: NodeId, response: &MetadataResponse, topics: &[String]) {
        let mut state = self.lock();
        let removed = state.cache.apply(response, topics, Instant::now());
        if let Some(index) = bootstrap_index(source) {
            state.bootstrap_cursor = index;
        }
        state.last_refresh_failure = None;
        if state.cache.brokers().is_empty() {
            return;
        }
        let bootstrap_control = bootstrap_index(source)
            .and_then(|_| state.slots.get(&(source, ConnectionPurpose::Control)))
            .and_then(|slot| {
                slot.try_lock()
                    .ok()
                    .and_then(|pooled| pooled.broker.clone())
            });
        state
            .slots
            .retain(|(node, _), _| bootstrap_index(*node).is_none() && !removed.contains(node));
        // Keep the bootstrap connection as the Control connection of the node it reached,
        // saving a connect and an ApiVersions round trip.
        if let Some(conn) = bootstrap_control {
            let node = state
                .cache
                .brokers()
                .into_iter()
                .find(|b| format!("{}:{}", b.host, b.port) == conn.addr())
                .map(|b| b.node_id);
            if let Some(node) = node {
                let slot = state
                    .slots
                    .entry((node, ConnectionPurpose::Control))
                    .or_default();
                if let Ok(mut pooled) = slot.try_lock() {
                    if pooled.broker.as_ref().is_none_or(|c| c.is_closed()) {
                        pooled.broker = Some(conn);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn jitter_spans_minus_25_to_plus_50_percent_and_is_capped() {
        let base = 100 * MS;
        let max = 10_000 * MS;
        assert_eq!(jittered_delay(base, max, 0.0), 75 * MS);
        assert_eq!(
            jittered_delay(base, max, 0.5),
            Duration::from_micros(112_500)
        );
        assert_eq!(jittered_delay(base, max, 1.0), 150 * MS);
        assert_eq!(jittered_delay(base, max, 7.0), 150 * MS);
        assert_eq!(jittered_delay(base, max, f64::NAN), 75 * MS);
        assert_eq!(jittered_delay(8_000 * MS, max, 1.0), max);
        assert_eq!(jittered_delay(Duration::MAX, max, 1.0), max);
        assert_eq!(jittered_delay(Duration::ZERO, max, 0.5), Duration::ZERO);
    }

    #[test]
    fn backoff_doubles_per_failure_up_to_the_cap() {
        let mut backoff = ReconnectBackoff::new(100 * MS, 1_000 * MS);
        let t0 = Instant::now();
        assert_eq!(
            backoff.remaining(t0),
            Duration::ZERO,
            "first attempt is immediate"
        );
        // jitter 1/3 gives exactly the base: 0.75 + 0.75/3 = 1.0.
        let third = 1.0 / 3.0;
        let delays: Vec<u128> = (0..6)
            .map(|i| backoff.record_failure(t0 + i * 10 * MS, third).as_millis())
            .collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
        let last = t0 + 50 * MS;
        assert_eq!(backoff.remaining(last), 1000 * MS);
        assert_eq!(backoff.remaining(last + 400 * MS), 600 * MS);
        assert_eq!(backoff.remaining(last + 2_000 * MS), Duration::ZERO);
    }

    #[test]
    fn backoff_starts_over_after_a_quiet_period_longer_than_the_cap() {
        let mut backoff = ReconnectBackoff::new(100 * MS, 1_000 * MS);
        let t0 = Instant::now();
        for i in 0..4 {
            backoff.record_failure(t0 + i * MS, 0.0);
        }
        assert_eq!(backoff.record_failure(t0 + 4 * MS, 0.0), 750 * MS);
        let later = t0 + 4 * MS + 1_001 * MS;
        assert_eq!(backoff.record_failure(later, 0.0), 75 * MS);
    }

    #[test]
    fn backoff_with_initial_above_max_uses_max() {
        let mut backoff = ReconnectBackoff::new(5_000 * MS, 1_000 * MS);
        assert_eq!(backoff.record_failure(Instant::now(), 1.0), 1_000 * MS);
    }

    #[test]
    fn bootstrap_pseudo_node_ids_round_trip() {
        for i in [0usize, 1, 7, 1000] {
            assert_eq!(bootstrap_index(bootstrap_node(i)), Some(i));
        }
        assert_eq!(bootstrap_index(0), None);
        assert_eq!(bootstrap_index(5), None);
        assert_eq!(bootstrap_index(i32::MIN), Some(i32::MAX as usize));
    }
}
