//! The subscription runtime: one consumer group member per subscription, its event loop, and
//! one [`PartitionWorker`] per owned partition. Started, paused/resumed and stopped at
//! runtime; status and metrics for the admin API.
//!
//! The event loop only routes: `Assigned` starts workers, `Records` go to their worker,
//! `Revoked` asks the workers to drain and fires the consumer's `done` when all did (without
//! blocking the loop, so other partitions keep flowing). A fatal consumer error restarts the
//! member after a pause; the status shows why.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::dead_letter::DeadLetterProducer;
use super::delivery::DeliveryContext;
use super::invocation::HandlerTarget;
use super::invocation::InvocationTemplate;
use super::invoker::{HttpVersion, Invoker};
use super::metrics::SubscriptionMetrics;
use super::partition::{PartitionInput, PartitionLimits, PartitionWorker};
use super::partition_queue::DispatchMode;
use super::status::{PartitionCounters, PartitionStatus, RuntimeState, SubscriptionStatus};
use crate::http_client::HandlerTls;
use crate::kafka::assignor::TopicPartition;
use crate::kafka::broker::Connector;
use crate::kafka::consumer::{Consumer, ConsumerEvent};
use crate::kafka::tls::connector_for;
use crate::options::ConsumerSettings;
use crate::sync::lock;

/// Delay before a failed consumer is started again.
const RESTART_BACKOFF: Duration = Duration::from_secs(5);
/// Upper bound of the drain on revoke and stop.
const MAX_DRAIN: Duration = Duration::from_secs(30);
/// Minimum buffered records per partition before fetching pauses.
const MIN_BUFFER_BUDGET: usize = 1000;

/// Everything needed to run one subscription.
#[derive(Debug, Clone)]
pub struct SubscriptionConfig {
    /// The subscription id (`sub_...`).
    pub id: String,
    /// The source topic.
    pub topic: String,
    /// Resolved consumer settings (cluster + subscription options).
    pub settings: ConsumerSettings,
    /// The handler to invoke.
    pub target: HandlerTarget,
    /// Ordered per key (exclusive virtual-object / workflow handlers) or parallel.
    pub mode: DispatchMode,
    /// HTTP version to speak to the deployment.
    pub http_version: HttpVersion,
    /// Trust for an `https://` deployment.
    pub tls: HandlerTls,
    /// Start paused.
    pub paused: bool,
}

/// Why a subscription could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The TLS settings could not be loaded (certificate files, keys).
    #[error("{0}")]
    Security(String),
}

/// State shared between the handle, the event loop and the status readers.
#[derive(Debug)]
struct Shared {
    id: String,
    state: Mutex<RuntimeState>,
    paused: watch::Sender<bool>,
    partitions: Mutex<BTreeMap<TopicPartition, Arc<Mutex<PartitionCounters>>>>,
    consumer: Mutex<Option<Arc<Consumer>>>,
    metrics: Arc<SubscriptionMetrics>,
}

impl Shared {
    fn set_state(&self, state: RuntimeState) {
        *lock(&self.state) = state;
    }

    fn running_state(&self) -> RuntimeState {
        if *self.paused.borrow() {
            RuntimeState::Paused
        } else {
            RuntimeState::Running
        }
    }
}

/// A running subscription. Dropping it aborts everything without committing (like a crash);
/// use [`SubscriptionRuntime::stop`] to shut down gracefully.
#[derive(Debug)]
pub struct SubscriptionRuntime {
    shared: Arc<Shared>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl SubscriptionRuntime {
    /// Joins the group and starts delivering.
    pub fn start(config: SubscriptionConfig) -> Result<Self, StartError> {
        let connector = connector_for(&config.settings.security, config.settings.socket_timeout)
            .map_err(|e| StartError::Security(e.to_string()))?;
        let shared = Arc::new(Shared {
            id: config.id.clone(),
            state: Mutex::new(if config.paused {
                RuntimeState::Paused
            } else {
                RuntimeState::Starting
            }),
            paused: watch::channel(config.paused).0,
            partitions: Mutex::new(BTreeMap::new()),
            consumer: Mutex::new(None),
            metrics: Arc::new(SubscriptionMetrics::default()),
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(run(shared.clone(), config, connector, stop_rx));
        Ok(SubscriptionRuntime {
            shared,
            stop: Mutex::new(Some(stop_tx)),
            task: Mutex::new(Some(task)),
        })
    }

    /// The subscription id.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// Stops starting deliveries and fetching; in-flight deliveries finish; the group
    /// membership (and so the partitions) is kept.
    pub fn pause(&self) {
        self.shared.paused.send_replace(true);
        let mut state = lock(&self.shared.state);
        if *state == RuntimeState::Running || *state == RuntimeState::Starting {
            *state = RuntimeState::Paused;
        }
    }

    /// Undoes [`SubscriptionRuntime::pause`].
    pub fn resume(&self) {
        self.shared.paused.send_replace(false);
        let mut state = lock(&self.shared.state);
        if *state == RuntimeState::Paused {
            *state = RuntimeState::Running;
        }
    }

    /// Whether the subscription is paused.
    pub fn is_paused(&self) -> bool {
        *self.shared.paused.borrow()
    }

    /// The counters of this subscription.
    pub fn metrics(&self) -> &Arc<SubscriptionMetrics> {
        &self.shared.metrics
    }

    /// State and per-partition status.
    pub fn status(&self) -> SubscriptionStatus {
        let consumer = lock(&self.shared.consumer).clone();
        let partitions = lock(&self.shared.partitions)
            .iter()
            .map(|(tp, counters)| {
                let c = lock(counters).clone();
                let committed = consumer.as_ref().and_then(|cons| cons.committed(tp));
                PartitionStatus {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    committed,
                    commit_watermark: c.commit_watermark,
                    position: c.position,
                    high_watermark: c.high_watermark,
                    lag: match (c.high_watermark, committed) {
                        (Some(hw), Some(committed)) => Some((hw - committed).max(0)),
                        _ => None,
                    },
                    in_flight: c.in_flight,
                    in_flight_limit: c.in_flight_limit,
                    buffered: c.buffered,
                    fetch_paused: c.fetch_paused,
                    failing: c.failing.len(),
                    stuck: c.failing.values().next().cloned(),
                    error: c
                        .error
                        .clone()
                        .or_else(|| consumer.as_ref().and_then(|c| c.partition_trouble(tp))),
                }
            })
            .collect();
        let error = consumer.as_ref().and_then(|c| c.trouble());
        let mut state = lock(&self.shared.state).clone();
        if error.is_some() && state == RuntimeState::Running {
            state = RuntimeState::Degraded;
        }
        SubscriptionStatus {
            id: self.shared.id.clone(),
            state,
            error,
            partitions,
            cluster: None,
        }
    }

    /// Graceful stop: stop fetching, drain in-flight deliveries (bounded), commit, leave the
    /// group.
    pub async fn stop(&self) {
        if let Some(tx) = lock(&self.stop).take() {
            let _ = tx.send(());
        }
        let task = lock(&self.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Stops at once without draining or committing (what a crash does).
    pub fn abort(&self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
        lock(&self.shared.consumer).take();
        lock(&self.shared.partitions).clear();
    }
}

impl Drop for SubscriptionRuntime {
    fn drop(&mut self) {
        self.abort();
    }
}

/// How one consumer session ended.
enum SessionEnd {
    Stopped,
    Failed(String),
}

async fn run(
    shared: Arc<Shared>,
    config: SubscriptionConfig,
    connector: Arc<dyn Connector>,
    mut stop: oneshot::Receiver<()>,
) {
    let ingress = &config.settings.ingress;
    let ctx = Arc::new(DeliveryContext {
        subscription_id: config.id.clone(),
        topic: config.topic.clone(),
        template: InvocationTemplate::new(&config.target, &config.id, &config.topic),
        invoker: Invoker::new(config.http_version, &config.tls, ingress.request_timeout),
        retry: ingress.retry.clone(),
        on_failure: ingress.on_failure.clone(),
        dead_letter: Arc::new(DeadLetterProducer::new(config.settings.clone())),
        metrics: shared.metrics.clone(),
        retry_log: super::log_throttle::LogThrottle::new(),
    });
    let max_in_flight = usize::try_from(ingress.max_in_flight).unwrap_or(1).max(1);
    let limits = PartitionLimits {
        mode: config.mode,
        max_in_flight,
        // On HTTP/2 concurrent requests share one connection: cheap, and a smaller limit
        // only cost throughput there (scripts/bench-ingress.sh, h2c rows).
        adaptive: ingress
            .adaptive_concurrency
            .unwrap_or(config.http_version == HttpVersion::Http1),
        buffer_budget: MIN_BUFFER_BUDGET.max(max_in_flight.saturating_mul(10)),
        drain_bound: ingress.request_timeout.min(MAX_DRAIN),
    };
    loop {
        let (consumer, events) = Consumer::start(
            &config.settings,
            vec![config.topic.clone()],
            connector.clone(),
        );
        let consumer = Arc::new(consumer);
        *lock(&shared.consumer) = Some(consumer.clone());
        let end = session(&shared, &ctx, limits, consumer, events, &mut stop).await;
        lock(&shared.consumer).take();
        lock(&shared.partitions).clear();
        match end {
            SessionEnd::Stopped => {
                shared.set_state(RuntimeState::Stopped);
                return;
            }
            SessionEnd::Failed(reason) => {
                tracing::error!(subscription = %shared.id, error = %reason,
                    "consumer failed; restarting in {RESTART_BACKOFF:?}");
                shared.set_state(RuntimeState::Restarting { reason });
                tokio::select! {
                    () = tokio::time::sleep(RESTART_BACKOFF) => {}
                    _ = &mut stop => {
                        shared.set_state(RuntimeState::Stopped);
                        return;
                    }
                }
                shared.set_state(RuntimeState::Starting);
            }
        }
    }
}

/// One consumer's life: route events until it stops or fails.
async fn session(
    shared: &Arc<Shared>,
    ctx: &Arc<DeliveryContext>,
    limits: PartitionLimits,
    consumer: Arc<Consumer>,
    mut events: mpsc::Receiver<ConsumerEvent>,
    stop: &mut oneshot::Receiver<()>,
) -> SessionEnd {
    let mut workers: HashMap<TopicPartition, mpsc::UnboundedSender<PartitionInput>> =
        HashMap::new();
    // Dropping these sets (on a crash-like abort) aborts every worker and delivery.
    let mut worker_tasks = JoinSet::new();
    let mut revocations = JoinSet::new();
    let (closed_tx, mut closed_rx) = oneshot::channel::<()>();
    let mut closed_tx = Some(closed_tx);
    let mut stop_seen = false;
    loop {
        tokio::select! {
            _ = &mut *stop, if !stop_seen => {
                stop_seen = true;
                shared.set_state(RuntimeState::Stopping);
                if let Some(tx) = closed_tx.take() {
                    let consumer = consumer.clone();
                    // close() revokes everything through the event loop, so the loop must
                    // keep running while it does.
                    tokio::spawn(async move {
                        consumer.close().await;
                        let _ = tx.send(());
                    });
                }
            }
            _ = &mut closed_rx, if stop_seen => {
                while revocations.join_next().await.is_some() {}
                return SessionEnd::Stopped;
            }
            Some(_) = revocations.join_next(), if !revocations.is_empty() => {}
            Some(_) = worker_tasks.join_next(), if !worker_tasks.is_empty() => {}
            event = events.recv() => match event {
                Some(ConsumerEvent::Assigned(assigned)) => {
                    for (tp, start) in assigned {
                        let counters = Arc::new(Mutex::new(PartitionCounters::default()));
                        lock(&shared.partitions).insert(tp.clone(), counters.clone());
                        let worker = PartitionWorker::new(
                            tp.clone(),
                            start,
                            limits,
                            ctx.clone(),
                            consumer.clone(),
                            counters,
                            shared.paused.subscribe(),
                        );
                        let (tx, rx) = mpsc::unbounded_channel();
                        worker_tasks.spawn(worker.run(rx));
                        workers.insert(tp, tx);
                    }
                    if !stop_seen {
                        shared.set_state(shared.running_state());
                    }
                }
                Some(ConsumerEvent::Revoked { partitions, done }) => {
                    let mut drained = Vec::new();
                    for tp in &partitions {
                        if let Some(tx) = workers.remove(tp) {
                            let (d_tx, d_rx) = oneshot::channel();
                            if tx.send(PartitionInput::Revoke(d_tx)).is_ok() {
                                drained.push(d_rx);
                            }
                        }
                    }
                    let shared = shared.clone();
                    revocations.spawn(async move {
                        for d in drained {
                            let _ = d.await;
                        }
                        let mut owned = lock(&shared.partitions);
                        for tp in &partitions {
                            owned.remove(tp);
                        }
                        drop(owned);
                        let _ = done.send(());
                    });
                }
                Some(ConsumerEvent::Records(batch)) => {
                    if let Some(tx) = workers.get(&batch.partition) {
                        let _ = tx.send(PartitionInput::Records(batch));
                    }
                }
                Some(ConsumerEvent::PartitionFailed { partition, reason }) => {
                    tracing::error!(subscription = %shared.id, ?partition, %reason,
                        "partition stopped");
                    let counters = lock(&shared.partitions)
                        .entry(partition)
                        .or_default()
                        .clone();
                    lock(&counters).error = Some(reason);
                }
                Some(ConsumerEvent::Fatal(e)) => return SessionEnd::Failed(e.to_string()),
                None => {
                    if stop_seen {
                        let _ = (&mut closed_rx).await;
                        return SessionEnd::Stopped;
                    }
                    return SessionEnd::Failed("the consumer stopped".into());
                }
            },
        }
    }
}
