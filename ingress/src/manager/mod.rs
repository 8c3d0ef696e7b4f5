//! The ingress as a whole: the deployment registry, the subscriptions with their runtimes,
//! and the persisted state that ties them together. The admin API is a thin HTTP layer over
//! [`Ingress`]; every mutation is validated, applied, and persisted before it is
//! acknowledged, and a restart resumes every subscription from its committed offsets.
//!
//! With the local store a mutation is applied to this process and saved to `state.json`
//! (atomically). With `store = "kafka"` ([`replicated`]) it is appended to the metadata log
//! and applied, like every other process's writes, by the state machine of [`apply`]; the
//! runtimes then follow the desired state ([`reconcile`]).

mod apply;
mod clusters;
mod replicated;

use clusters::ClusterDirectory;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Mutex;

use crate::cluster_spec::{ClusterSpecError, KafkaClusterSpec};
use crate::config::MetadataStoreConfig;
use crate::config::{ClusterConfig, ServerConfig};
use crate::deployments::discovery::{discover, is_https, normalize_deployment_uri, DiscoveryError};
use crate::deployments::manifest::{EndpointManifest, HandlerType, ServiceManifest, ServiceType};
use crate::deployments::registry::{
    service_info, Deployment, DeploymentRegistry, RegistryError, ServiceInfo, SinkError,
    SinkTarget, DEPLOYMENT_ID_PREFIX,
};
use crate::deployments::restate::discover_restate;
use crate::engine::metrics::MetricsSnapshot;
use crate::engine::status::{RuntimeState, SubscriptionStatus};
use crate::engine::{SubscriptionConfig, SubscriptionRuntime};
use crate::http_client::{HandlerTls, HandlerTlsError, HttpVersion, VersionPreference};
use crate::ids::public_id;
use crate::kafka::cluster::{Cluster, ClusterSettings};
use crate::kafka::group_overview::{describe_group, GroupOverview, GroupStatus};
use crate::kafka::tls::connector_for;
use crate::metadata::{Command, EntityKey, PutOp};
use crate::options::{redact_options, resolve, OptionError, Resolved};
use crate::store::{PersistedState, StateStore, StoreError};
use crate::subscription_spec::{
    Sink, Source, SpecError, SubscriptionId, SubscriptionSpec, SUBSCRIPTION_ID_PREFIX,
};

/// How long discovery of a deployment may take.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// What kind of failure an [`IngressError`] is (the admin API maps it to a status code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is invalid (400).
    BadRequest,
    /// The thing does not exist (404).
    NotFound,
    /// It conflicts with existing state (409).
    Conflict,
    /// The request is well-formed but cannot be processed (422).
    Unprocessable,
    /// The server failed (500).
    Internal,
    /// A dependency (the metadata topic) is unavailable; retry later (503).
    Unavailable,
}

/// Why an operation was refused or failed; the message names the field and the reason.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    /// A malformed source, sink or id.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The source names a cluster that is neither registered nor configured.
    #[error(
        "invalid source: unknown Kafka cluster {cluster:?}; {}",
        known_clusters(known)
    )]
    UnknownCluster {
        /// The cluster asked for.
        cluster: String,
        /// The registered and configured clusters.
        known: Vec<String>,
    },
    /// A Kafka cluster registration is invalid (name or properties).
    #[error(transparent)]
    ClusterSpec(#[from] ClusterSpecError),
    /// A Kafka cluster of this name is registered already.
    #[error("kafka cluster {0:?} already exists")]
    ClusterExists(String),
    /// The cluster comes from the configuration file, which the admin API does not change.
    #[error(
        "kafka cluster {name:?} is defined in the configuration file ([[ingress.kafka-clusters]])          and cannot be {action} through the admin API; change the file and restart, or          register a cluster under another name"
    )]
    ClusterInConfigFile {
        /// The cluster.
        name: String,
        /// What was asked: "created", "updated" or "deleted".
        action: &'static str,
    },
    /// Subscriptions consume from the cluster.
    #[error(
        "removing kafka cluster {cluster:?} would orphan subscription(s) {subscriptions};          delete them first, or remove with force=true (they stop, and their status says why)"
    )]
    ClusterInUse {
        /// The cluster.
        cluster: String,
        /// The subscriptions, comma-separated.
        subscriptions: String,
    },
    /// New cluster properties that cannot be applied.
    #[error("cannot update kafka cluster {cluster:?}: {reason}")]
    ClusterUpdate {
        /// The cluster.
        cluster: String,
        /// Why.
        reason: String,
    },
    /// The sink names a service or handler no deployment serves.
    #[error("invalid sink: {0}")]
    Sink(#[from] SinkError),
    /// An option is unknown or invalid (librdkafka's message).
    #[error("invalid options: {0}")]
    Option(#[from] OptionError),
    /// The subscription could not start (e.g. unreadable TLS files).
    #[error("invalid options: {0}")]
    Start(String),
    /// The same source and sink are already subscribed in the same consumer group.
    #[error(
        "subscription {existing} already consumes {source_uri} into {sink_uri} with group.id \
         {group:?}; delete it first or use another group.id"
    )]
    Duplicate {
        /// The existing subscription.
        existing: String,
        /// Its source.
        source_uri: String,
        /// Its sink.
        sink_uri: String,
        /// The shared group.
        group: String,
    },
    /// No subscription has this id.
    #[error("subscription {0:?} not found")]
    SubscriptionNotFound(String),
    /// No deployment has this id.
    #[error("deployment {0:?} not found")]
    DeploymentNotFound(String),
    /// No service has this name.
    #[error("service {0:?} not found")]
    ServiceNotFound(String),
    /// The service has no handler with this name.
    #[error("service {service:?} has no handler {handler:?}")]
    HandlerNotFound {
        /// The service.
        service: String,
        /// The handler asked for.
        handler: String,
    },
    /// No Kafka cluster has this name.
    #[error("kafka cluster {0:?} not found")]
    ClusterNotFound(String),
    /// A deployment cannot be removed while subscriptions use its services.
    #[error(
        "deployment {deployment} serves {service:?}, used by {subscriptions}; delete those \
         subscriptions first or remove with force"
    )]
    DeploymentInUse {
        /// The deployment.
        deployment: String,
        /// The service in use.
        service: String,
        /// The subscriptions using it, comma-separated.
        subscriptions: String,
    },
    /// Registering the deployment failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Discovery of the deployment failed.
    #[error("discovery failed: {0}")]
    Discovery(#[from] DiscoveryError),
    /// Persisting the state failed.
    #[error("cannot persist state: {0}")]
    Store(#[from] StoreError),
    /// The TLS client configuration for https deployments could not be built.
    #[error(transparent)]
    HandlerTls(#[from] HandlerTlsError),
    /// The Kafka metadata store cannot be used (unreachable, misconfigured, unreadable).
    #[error("metadata store: {0}")]
    Metadata(String),
}

fn known_clusters(known: &[String]) -> String {
    if known.is_empty() {
        "no clusters are configured ([[ingress.kafka-clusters]]) or registered \
         (POST /kafka-clusters)"
            .to_owned()
    } else {
        format!("known clusters: {}", known.join(", "))
    }
}

impl IngressError {
    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            IngressError::Spec(_)
            | IngressError::UnknownCluster { .. }
            | IngressError::Sink(_)
            | IngressError::Option(_)
            | IngressError::Start(_)
            | IngressError::ClusterSpec(_)
            | IngressError::ClusterUpdate { .. }
            | IngressError::Discovery(_) => ErrorKind::BadRequest,
            IngressError::Registry(RegistryError::NotFound { .. })
            | IngressError::SubscriptionNotFound(_)
            | IngressError::DeploymentNotFound(_)
            | IngressError::ServiceNotFound(_)
            | IngressError::ClusterNotFound(_)
            | IngressError::HandlerNotFound { .. } => ErrorKind::NotFound,
            IngressError::Registry(
                RegistryError::AlreadyRegistered { .. } | RegistryError::ServiceTypeChanged { .. },
            )
            | IngressError::Duplicate { .. }
            | IngressError::ClusterExists(_)
            | IngressError::ClusterInConfigFile { .. }
            | IngressError::ClusterInUse { .. }
            | IngressError::DeploymentInUse { .. } => ErrorKind::Conflict,
            IngressError::Registry(_) => ErrorKind::BadRequest,
            IngressError::Store(_) | IngressError::HandlerTls(_) => ErrorKind::Internal,
            IngressError::Metadata(_) => ErrorKind::Unavailable,
        }
    }
}

/// A subscription as the admin API shows it (Restate's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionView {
    /// `sub_...`.
    pub id: String,
    /// `kafka://<cluster>/<topic>`.
    pub source: String,
    /// `service://<Service>/<handler>`.
    pub sink: String,
    /// The options as given plus defaulted `group.id`/`client.id`, secrets as `***`.
    pub options: BTreeMap<String, String>,
}

/// A deployment as the admin API shows it (additional header values that look like
/// credentials are redacted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentView {
    /// `dp_...`.
    pub id: String,
    /// Base URI.
    pub uri: String,
    /// Headers sent with every invocation.
    pub additional_headers: BTreeMap<String, String>,
    /// The HTTP version invocations use (`HTTP/1.1` or `HTTP/2.0`, Restate's names).
    pub http_version: HttpVersion,
    /// When it was registered.
    pub created_at: String,
    /// Restate's protocol type: one request and one response per record.
    pub protocol_type: &'static str,
    /// Restate's service-protocol range: 0 (kafka-ingress invokes plain HTTP handlers, not
    /// Restate's service protocol).
    pub min_protocol_version: i32,
    /// See `min_protocol_version`.
    pub max_protocol_version: i32,
    /// The services it declares, in Restate's shape (with their revision).
    pub services: Vec<ServiceView>,
    /// For a Restate server: its admin API, where the services are read (kafka-ingress's
    /// own field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restate_admin_url: Option<String>,
}

/// A service as the admin API shows it (Restate 1.7's `ServiceMetadata` shape, with the
/// fields that apply to kafka-ingress).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceView {
    /// The service name.
    pub name: String,
    /// `Service`, `VirtualObject` or `Workflow` (the admin API's spelling).
    pub ty: &'static str,
    /// Its handlers in manifest order.
    pub handlers: Vec<HandlerView>,
    /// The deployment serving it (the newest one declaring it) or, inside a deployment, that
    /// deployment.
    pub deployment_id: String,
    /// Its position among the deployments declaring it, oldest first.
    pub revision: u32,
    /// Always true: every handler may be a subscription's sink.
    pub public: bool,
}

/// One handler of a [`ServiceView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandlerView {
    /// The handler name.
    pub name: String,
    /// `Exclusive`, `Shared` or `Workflow` (the effective type); absent for services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ty: Option<&'static str>,
    /// The content type records are sent with.
    pub input_description: String,
    /// Empty: kafka-ingress does not read handler output.
    pub output_description: String,
    /// The content type records are sent with (kafka-ingress's own field).
    pub input_content_type: String,
}

/// A Kafka cluster as the admin API shows it (Restate 1.7's `KafkaCluster` shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterView {
    /// Its name.
    pub name: String,
    /// Its librdkafka properties: the configured options plus `metadata.broker.list` (the
    /// `brokers`, comma-separated), secrets as `***`.
    pub properties: BTreeMap<String, String>,
    /// When it was created: the Unix epoch for clusters of the configuration file, as Restate
    /// shows them.
    pub created_at: String,
    /// Notes about the cluster (e.g. that it comes from the configuration file).
    pub info: Vec<ClusterInfo>,
}

/// One note of a [`ClusterView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterInfo {
    /// The note.
    pub message: String,
}

/// One cluster with the subscriptions that consume from it (`GET /kafka-clusters/{name}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterDetail {
    /// The cluster.
    #[serde(flatten)]
    pub cluster: ClusterView,
    /// Its subscriptions (only when asked for; Restate's field is always present).
    pub subscriptions: Vec<SubscriptionView>,
}

/// Metrics and status of one subscription, for `/metrics`.
#[derive(Debug, Clone)]
pub struct SubscriptionReport {
    /// The subscription.
    pub view: SubscriptionView,
    /// Its counters.
    pub metrics: MetricsSnapshot,
    /// Its status.
    pub status: SubscriptionStatus,
}

/// How long the cluster-wide part of a status may take.
const OVERVIEW_TIMEOUT: Duration = Duration::from_secs(5);

/// One process of the ingress, for `GET /cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessView {
    /// Its instance id.
    pub instance_id: String,
    /// Whether it is the process answering.
    pub this: bool,
    /// The subscriptions whose group it is a member of (per Kafka).
    pub subscriptions: Vec<String>,
    /// How many partitions it owns over all of them.
    pub partitions: usize,
}

/// The processes of the ingress, for `GET /cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterOverview {
    /// `local` or `kafka`.
    pub store: String,
    /// The metadata topic (`kafka` store).
    pub metadata_topic: Option<String>,
    /// The next metadata offset this process will apply (`kafka` store).
    pub applied_offset: Option<i64>,
    /// This process's instance id.
    pub instance_id: String,
    /// This process and every process that is a member of a subscription's group, by
    /// instance id. Processes are known through their groups, so with no subscription only
    /// this one is listed.
    pub processes: Vec<ProcessView>,
    /// Groups Kafka could not describe.
    pub errors: Vec<String>,
}

/// What registering did (Restate's answer: 201 for created, 200 for unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// A new deployment.
    Created,
    /// `force` and the URI was registered: that deployment was rediscovered and overwritten,
    /// keeping its id (Restate's answer: 200).
    Overwritten,
    /// The URI was registered already and `force` was not set: nothing changed and the
    /// existing deployment is returned (Restate's answer since admin API v3).
    Unchanged,
}

/// A request to register a deployment.
#[derive(Debug, Clone, Default)]
pub struct RegisterDeployment {
    /// Base URI.
    pub uri: String,
    /// Headers to send with discovery and every invocation.
    pub additional_headers: BTreeMap<String, String>,
    /// An inline manifest; discovery is skipped when given.
    pub services: Option<Vec<ServiceManifest>>,
    /// Overwrite a deployment with the same URI (keeping its id) and allow service type
    /// changes.
    pub force: bool,
    /// Restate's `breaking`: allow service type changes.
    pub breaking: bool,
    /// Restate's `dry_run`: discover and validate, answer what would be registered, change
    /// nothing.
    pub dry_run: bool,
    /// Restate's `use_http_11`: `Some(true)` = HTTP/1.1, `Some(false)` = HTTP/2 (h2c with
    /// prior knowledge on `http://`), `None` = HTTP/1.1 on `http://`, and on `https://`
    /// whatever ALPN agrees on during discovery (HTTP/1.1 for an inline manifest).
    pub use_http_11: Option<bool>,
    /// A Restate server: `uri` is its HTTP ingress and this its admin API, where the services
    /// are read (`GET <admin>/services`) instead of `GET <uri>/discover`.
    pub restate_admin_url: Option<String>,
}

struct SubscriptionEntry {
    spec: SubscriptionSpec,
    view: SubscriptionView,
    runtime: Option<SubscriptionRuntime>,
    /// The deployment URI and HTTP version the runtime invokes (a change restarts it).
    target_uri: Option<(String, HttpVersion)>,
    /// The Kafka cluster the runtime consumes with (a change of its properties restarts it).
    cluster: Option<ClusterConfig>,
    /// Why it is not running (e.g. its cluster disappeared from the configuration).
    failure: Option<String>,
    /// The metadata log offset of its create (orders the listing; 0 with the local store).
    created_offset: i64,
}

struct Inner {
    registry: DeploymentRegistry,
    /// Kafka clusters registered through the admin API, by name.
    clusters: BTreeMap<String, KafkaClusterSpec>,
    subscriptions: BTreeMap<String, SubscriptionEntry>,
    /// Creation order, for listing and persisting.
    order: Vec<String>,
    /// Entities tombstoned in the metadata log (a later put of them is refused).
    deleted: HashSet<EntityKey>,
    /// Entities whose latest metadata record was refused (to be tombstoned).
    refused: HashSet<EntityKey>,
    /// Runtimes of deleted subscriptions, stopped by the next [`reconcile`].
    retired: Vec<SubscriptionRuntime>,
}

impl Inner {
    fn new(registry: DeploymentRegistry) -> Inner {
        Inner {
            registry,
            clusters: BTreeMap::new(),
            subscriptions: BTreeMap::new(),
            order: Vec::new(),
            deleted: HashSet::new(),
            refused: HashSet::new(),
            retired: Vec::new(),
        }
    }
}

/// The running ingress.
pub struct Ingress {
    config: ServerConfig,
    handler_tls: HandlerTls,
    store: Arc<StateStore>,
    inner: Arc<Mutex<Inner>>,
    /// The Kafka metadata log, with `store = "kafka"`.
    replicated: Option<Arc<replicated::Replicated>>,
    /// The task following the metadata log.
    tailer: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The task re-reading the services of Restate-server deployments.
    refresher: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Clients for the cluster-wide status, by subscription id, with the cluster they were
    /// built from (a changed cluster gets a new client).
    overview_clusters: std::sync::Mutex<HashMap<String, (ClusterConfig, Arc<Cluster>)>>,
}

impl std::fmt::Debug for Ingress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingress")
            .field("base_dir", &self.store.base_dir())
            .finish_non_exhaustive()
    }
}

impl Ingress {
    /// Loads the persisted state from `config.base_dir` and starts every subscription (each
    /// resumes from its committed offsets). A corrupt or unreadable state file is an error.
    /// `https://` deployments are trusted through the system trust store
    /// ([`HandlerTls::system`]).
    pub async fn open(config: ServerConfig) -> Result<Ingress, IngressError> {
        Ingress::open_with(config, HandlerTls::system()?).await
    }

    /// [`Ingress::open`] trusting `https://` deployments as `handler_tls` says.
    pub async fn open_with(
        mut config: ServerConfig,
        handler_tls: HandlerTls,
    ) -> Result<Ingress, IngressError> {
        let (store, state) = StateStore::open(&config.base_dir)?;
        if config.ingress.instance_id.is_none() {
            config.ingress.instance_id = Some(store.instance_id()?);
        }
        tracing::info!(
            instance_id = config.ingress.instance_id.as_deref().unwrap_or_default(),
            "instance id (static group membership)"
        );
        if let MetadataStoreConfig::Kafka(kafka) = config.ingress.metadata_store.clone() {
            return Ingress::open_replicated(config, handler_tls, store, state, &kafka).await;
        }
        let registry = DeploymentRegistry::from_deployments(state.deployments);
        let mut inner = Inner::new(registry);
        inner.clusters = state
            .kafka_clusters
            .into_iter()
            .map(|c| (c.name.clone(), c))
            .collect();
        for spec in state.subscriptions {
            let id = spec.id.to_string();
            let directory = ClusterDirectory::new(&config, &inner.clusters);
            let entry = match prepare(&directory, &inner.registry, &spec) {
                Ok((resolved, target, cluster)) => {
                    let view = view_of(&spec, &resolved);
                    match start_runtime(&spec, resolved, &target, &handler_tls) {
                        Ok(rt) => SubscriptionEntry {
                            spec,
                            view,
                            runtime: Some(rt),
                            target_uri: Some(target.endpoint()),
                            cluster: Some(cluster),
                            failure: None,
                            created_offset: 0,
                        },
                        Err(e) => idle_entry(spec, Some(e.to_string())),
                    }
                }
                Err(e) => idle_entry(spec, Some(e.to_string())),
            };
            if let Some(f) = &entry.failure {
                tracing::error!(subscription = %id, error = %f, "cannot resume subscription");
            } else {
                tracing::info!(subscription = %id, source = %entry.view.source,
                    sink = %entry.view.sink, "subscription resumed");
            }
            inner.order.push(id.clone());
            inner.subscriptions.insert(id, entry);
        }
        Ok(Ingress {
            config,
            handler_tls,
            store: Arc::new(store),
            inner: Arc::new(Mutex::new(inner)),
            replicated: None,
            tailer: std::sync::Mutex::new(None),
            refresher: std::sync::Mutex::new(None),
            overview_clusters: Default::default(),
        })
    }

    /// `store = "kafka"`: replays the metadata log (after importing a local `state.json`),
    /// starts what it holds, and follows it.
    async fn open_replicated(
        config: ServerConfig,
        handler_tls: HandlerTls,
        store: StateStore,
        state: PersistedState,
        kafka: &crate::config::KafkaStoreConfig,
    ) -> Result<Ingress, IngressError> {
        let mut inner = Inner::new(DeploymentRegistry::default());
        let had_local = !state.deployments.is_empty()
            || !state.subscriptions.is_empty()
            || !state.kafka_clusters.is_empty();
        let replicated = replicated::Replicated::open(&config, kafka, state, &mut inner).await?;
        if had_local {
            let imported = store.state_file().with_extension("json.imported");
            std::fs::rename(store.state_file(), &imported).map_err(|source| {
                IngressError::Store(StoreError::Write {
                    path: imported.clone(),
                    source,
                })
            })?;
            tracing::info!(from = %store.state_file().display(), renamed_to = %imported.display(),
                topic = %kafka.topic, "imported the local state into the metadata topic");
        }
        reconcile(&mut inner, &config, &handler_tls).await;
        for id in &inner.order {
            if let Some(entry) = inner.subscriptions.get(id) {
                match &entry.failure {
                    Some(f) => {
                        tracing::error!(subscription = %id, error = %f, "cannot resume subscription")
                    }
                    None => tracing::info!(subscription = %id, source = %entry.view.source,
                        sink = %entry.view.sink, "subscription resumed"),
                }
            }
        }
        let inner = Arc::new(Mutex::new(inner));
        replicated.sweep_refused(&inner).await;
        let tailer = tokio::spawn(replicated.clone().tail(
            inner.clone(),
            config.clone(),
            handler_tls.clone(),
        ));
        Ok(Ingress {
            config,
            handler_tls,
            store: Arc::new(store),
            inner,
            replicated: Some(replicated),
            tailer: std::sync::Mutex::new(Some(tailer)),
            refresher: std::sync::Mutex::new(None),
            overview_clusters: Default::default(),
        })
    }

    /// The configuration the ingress runs with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Creates, starts and persists a subscription.
    pub async fn create_subscription(
        &self,
        source: &str,
        sink: &str,
        options: BTreeMap<String, String>,
    ) -> Result<SubscriptionView, IngressError> {
        let source: Source = source.parse()?;
        let sink: Sink = sink.parse()?;
        let spec = SubscriptionSpec {
            id: SubscriptionId::generate(),
            source,
            sink,
            options,
            paused: false,
        };
        let mut inner = self.inner.lock().await;
        let directory = ClusterDirectory::new(&self.config, &inner.clusters);
        let (resolved, target, cluster) = prepare(&directory, &inner.registry, &spec)?;
        if let Some(duplicate) = inner.find_duplicate(&self.config, &spec) {
            return Err(duplicate.into());
        }
        if let Some(replicated) = &self.replicated {
            drop(inner);
            let id = spec.id.to_string();
            replicated
                .submit(Command::PutSubscription {
                    op: PutOp::Create,
                    spec,
                    created_offset: None,
                })
                .await?;
            tracing::info!(subscription = %id, "subscription created (metadata log)");
            return self.get_subscription(&id).await;
        }
        let view = view_of(&spec, &resolved);
        let runtime = start_runtime(&spec, resolved, &target, &self.handler_tls)?;
        let id = spec.id.to_string();
        inner.order.push(id.clone());
        inner.subscriptions.insert(
            id.clone(),
            SubscriptionEntry {
                spec,
                view: view.clone(),
                runtime: Some(runtime),
                target_uri: Some(target.endpoint()),
                cluster: Some(cluster),
                failure: None,
                created_offset: 0,
            },
        );
        if let Err(e) = self.persist(&inner).await {
            inner.order.retain(|o| o != &id);
            if let Some(entry) = inner.subscriptions.remove(&id) {
                if let Some(rt) = entry.runtime {
                    rt.stop().await;
                }
            }
            return Err(e);
        }
        tracing::info!(subscription = %id, source = %view.source, sink = %view.sink,
            "subscription created");
        Ok(view)
    }

    /// Every subscription, in creation order, optionally filtered by exact sink/source.
    pub async fn list_subscriptions(
        &self,
        sink: Option<&str>,
        source: Option<&str>,
    ) -> Vec<SubscriptionView> {
        let inner = self.inner.lock().await;
        inner
            .order
            .iter()
            .filter_map(|id| inner.subscriptions.get(id))
            .map(|e| &e.view)
            .filter(|v| sink.is_none_or(|s| v.sink == s))
            .filter(|v| source.is_none_or(|s| v.source == s))
            .cloned()
            .collect()
    }

    /// One subscription.
    pub async fn get_subscription(&self, given: &str) -> Result<SubscriptionView, IngressError> {
        let id = &self.subscription_key(given).await?;
        let inner = self.inner.lock().await;
        inner
            .subscriptions
            .get(id)
            .map(|e| e.view.clone())
            .ok_or_else(|| IngressError::SubscriptionNotFound(id.to_owned()))
    }

    /// Deletes a subscription: it is removed from the persisted state at once, and its
    /// runtime drains, commits and leaves the group in the background.
    pub async fn delete_subscription(&self, given: &str) -> Result<(), IngressError> {
        let id = &self.subscription_key(given).await?;
        if let Some(replicated) = &self.replicated {
            if !self.inner.lock().await.subscriptions.contains_key(id) {
                return Err(IngressError::SubscriptionNotFound(id.to_owned()));
            }
            replicated
                .submit(Command::Delete(EntityKey::Subscription(id.to_owned())))
                .await?;
            tracing::info!(subscription = %id, "subscription deleted (metadata log)");
            return Ok(());
        }
        let mut inner = self.inner.lock().await;
        let entry = inner
            .subscriptions
            .remove(id)
            .ok_or_else(|| IngressError::SubscriptionNotFound(id.to_owned()))?;
        let position = inner.order.iter().position(|o| o == id);
        inner.order.retain(|o| o != id);
        if let Err(e) = self.persist(&inner).await {
            if let Some(p) = position {
                inner.order.insert(p, id.to_owned());
            }
            inner.subscriptions.insert(id.to_owned(), entry);
            return Err(e);
        }
        drop(inner);
        tracing::info!(subscription = %id, "subscription deleted");
        if let Some(rt) = entry.runtime {
            tokio::spawn(async move { rt.stop().await });
        }
        Ok(())
    }

    /// Pauses (`true`) or resumes (`false`) a subscription; persisted.
    pub async fn set_paused(&self, given: &str, paused: bool) -> Result<(), IngressError> {
        let id = &self.subscription_key(given).await?;
        if let Some(replicated) = &self.replicated {
            let (mut spec, created_offset) = {
                let inner = self.inner.lock().await;
                let entry = inner
                    .subscriptions
                    .get(id)
                    .ok_or_else(|| IngressError::SubscriptionNotFound(id.to_owned()))?;
                (entry.spec.clone(), entry.created_offset)
            };
            spec.paused = paused;
            replicated
                .submit(Command::PutSubscription {
                    op: PutOp::Update,
                    spec,
                    created_offset: Some(created_offset),
                })
                .await?;
            tracing::info!(subscription = %id, paused, "subscription pause state changed (metadata log)");
            return Ok(());
        }
        let mut inner = self.inner.lock().await;
        let entry = inner
            .subscriptions
            .get_mut(id)
            .ok_or_else(|| IngressError::SubscriptionNotFound(id.to_owned()))?;
        let before = entry.spec.paused;
        entry.spec.paused = paused;
        if let Some(rt) = &entry.runtime {
            if paused {
                rt.pause();
            } else {
                rt.resume();
            }
        }
        if let Err(e) = self.persist(&inner).await {
            if let Some(entry) = inner.subscriptions.get_mut(id) {
                entry.spec.paused = before;
                if let Some(rt) = &entry.runtime {
                    if before {
                        rt.pause();
                    } else {
                        rt.resume();
                    }
                }
            }
            return Err(e);
        }
        tracing::info!(subscription = %id, paused, "subscription pause state changed");
        Ok(())
    }

    /// The runtime status of a subscription.
    /// With `store = "kafka"` it also holds the group across every process, from Kafka.
    pub async fn subscription_status(
        &self,
        given: &str,
    ) -> Result<SubscriptionStatus, IngressError> {
        let id = &self.subscription_key(given).await?;
        let (mut status, spec) = {
            let inner = self.inner.lock().await;
            let entry = inner
                .subscriptions
                .get(id)
                .ok_or_else(|| IngressError::SubscriptionNotFound(id.to_owned()))?;
            (status_of(entry), entry.spec.clone())
        };
        if self.replicated.is_some() {
            status.cluster = Some(match self.group_overview(&spec).await {
                Ok(overview) => GroupStatus {
                    overview: Some(overview),
                    error: None,
                },
                Err(error) => GroupStatus {
                    overview: None,
                    error: Some(error),
                },
            });
        }
        Ok(status)
    }

    /// What Kafka says about the consumer group of `spec` (bounded by [`OVERVIEW_TIMEOUT`]).
    async fn group_overview(&self, spec: &SubscriptionSpec) -> Result<GroupOverview, String> {
        let cluster_config = {
            let inner = self.inner.lock().await;
            ClusterDirectory::new(&self.config, &inner.clusters)
                .get(&spec.source.cluster)
                .ok_or_else(|| format!("unknown Kafka cluster {:?}", spec.source.cluster))?
        };
        let resolved =
            resolve(&cluster_config, &spec.options, spec.id.as_str()).map_err(|e| e.to_string())?;
        let id = spec.id.to_string();
        let cached = crate::sync::lock(&self.overview_clusters)
            .get(&id)
            .filter(|(built_from, _)| *built_from == cluster_config)
            .map(|(_, cluster)| cluster.clone());
        let cluster = match cached {
            Some(cluster) => cluster,
            None => {
                let settings = &resolved.settings;
                let connector = connector_for(&settings.security, settings.socket_timeout)
                    .map_err(|e| e.to_string())?;
                let cluster = Arc::new(Cluster::new(
                    ClusterSettings::from_consumer_settings(settings),
                    connector,
                ));
                crate::sync::lock(&self.overview_clusters)
                    .insert(id, (cluster_config, cluster.clone()));
                cluster
            }
        };
        let group = resolved.settings.group_id.clone();
        tokio::time::timeout(
            OVERVIEW_TIMEOUT,
            describe_group(&cluster, &group, &spec.source.topic),
        )
        .await
        .map_err(|_| {
            format!(
                "Kafka did not describe group {group:?} within {}s",
                OVERVIEW_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("cannot describe group {group:?}: {e}"))
    }

    /// This process and, with `store = "kafka"`, every process Kafka knows as a member of a
    /// subscription's group.
    pub async fn cluster_overview(&self) -> ClusterOverview {
        let instance_id = self.config.ingress.instance_id.clone().unwrap_or_default();
        let specs: Vec<SubscriptionSpec> = {
            let inner = self.inner.lock().await;
            inner
                .order
                .iter()
                .filter_map(|id| inner.subscriptions.get(id))
                .map(|e| e.spec.clone())
                .collect()
        };
        let mut processes: BTreeMap<String, ProcessView> = BTreeMap::new();
        processes.insert(
            instance_id.clone(),
            ProcessView {
                instance_id: instance_id.clone(),
                this: true,
                subscriptions: Vec::new(),
                partitions: 0,
            },
        );
        let mut errors = Vec::new();
        let (store, topic, applied) = match (&self.replicated, &self.config.ingress.metadata_store)
        {
            (Some(replicated), MetadataStoreConfig::Kafka(kafka)) => (
                "kafka",
                Some(kafka.topic.clone()),
                Some(replicated.applied_offset()),
            ),
            _ => ("local", None, None),
        };
        if self.replicated.is_some() {
            // One group after the other: each is bounded by OVERVIEW_TIMEOUT.
            for spec in &specs {
                let sub = spec.id.to_string();
                let shown = public_id(SUBSCRIPTION_ID_PREFIX, &sub);
                let overview = self.group_overview(spec).await;
                match overview {
                    Ok(overview) => {
                        let suffix = format!("-{sub}");
                        for member in overview.members {
                            let Some(process) = member
                                .instance_id
                                .as_deref()
                                .and_then(|i| i.strip_suffix(&suffix))
                            else {
                                continue;
                            };
                            let view = processes.entry(process.to_owned()).or_insert_with(|| {
                                ProcessView {
                                    instance_id: process.to_owned(),
                                    this: false,
                                    subscriptions: Vec::new(),
                                    partitions: 0,
                                }
                            });
                            view.subscriptions.push(shown.clone());
                            view.partitions += member.partitions.len();
                        }
                    }
                    Err(e) => errors.push(format!("{shown}: {e}")),
                }
            }
        }
        ClusterOverview {
            store: store.to_owned(),
            metadata_topic: topic,
            applied_offset: applied,
            instance_id,
            processes: processes.into_values().collect(),
            errors,
        }
    }

    /// Metrics and status of every subscription.
    pub async fn reports(&self) -> Vec<SubscriptionReport> {
        let inner = self.inner.lock().await;
        inner
            .order
            .iter()
            .filter_map(|id| inner.subscriptions.get(id))
            .map(|e| SubscriptionReport {
                view: e.view.clone(),
                metrics: e
                    .runtime
                    .as_ref()
                    .map(|rt| rt.metrics().snapshot())
                    .unwrap_or_else(|| {
                        crate::engine::metrics::SubscriptionMetrics::default().snapshot()
                    }),
                status: status_of(e),
            })
            .collect()
    }

    /// Registers a deployment (discovering its services unless given inline) and persists it.
    pub async fn register_deployment(
        &self,
        request: RegisterDeployment,
    ) -> Result<(DeploymentView, Registration), IngressError> {
        if !request.force {
            // Restate answers a known URI without force at once: no discovery, no change.
            let uri = crate::deployments::discovery::normalize_deployment_uri(&request.uri)
                .map_err(|e| IngressError::Registry(RegistryError::from(e)))?;
            let inner = self.inner.lock().await;
            if let Some(existing) = inner.registry.list().iter().find(|d| d.uri == uri) {
                return Ok((
                    deployment_view(&inner.registry, existing),
                    Registration::Unchanged,
                ));
            }
        }
        let replace = request.force || request.breaking;
        let fixed = request.use_http_11.map(|http_11| {
            if http_11 {
                HttpVersion::Http1
            } else {
                HttpVersion::Http2
            }
        });
        let (manifest, http_version) = self.find_services(&request, fixed).await?;
        self.register_found(request, manifest, http_version, replace)
            .await
    }

    /// The services `request` registers and the HTTP version to invoke them with: inline,
    /// from a Restate server's admin API, or by discovery.
    async fn find_services(
        &self,
        request: &RegisterDeployment,
        fixed: Option<HttpVersion>,
    ) -> Result<(EndpointManifest, HttpVersion), IngressError> {
        if let Some(services) = &request.services {
            // Nothing to negotiate with: the inline manifest's deployment is not asked.
            return Ok((
                EndpointManifest {
                    services: services.clone(),
                },
                fixed.unwrap_or_default(),
            ));
        }
        if let Some(admin) = &request.restate_admin_url {
            let manifest = discover_restate(
                admin,
                &request.additional_headers,
                &self.handler_tls,
                DISCOVERY_TIMEOUT,
            )
            .await?;
            return Ok((manifest, fixed.unwrap_or_default()));
        }
        let preference = match fixed {
            Some(version) => VersionPreference::Fixed(version),
            None if is_https(request.uri.trim()) => VersionPreference::Negotiate,
            None => VersionPreference::Fixed(HttpVersion::Http1),
        };
        let found = discover(
            &request.uri,
            &request.additional_headers,
            preference,
            &self.handler_tls,
            DISCOVERY_TIMEOUT,
        )
        .await?;
        Ok((found.manifest, found.http_version))
    }

    /// Registers (or, with `replace` and a known URI, overwrites) a deployment serving
    /// `manifest`.
    async fn register_found(
        &self,
        request: RegisterDeployment,
        manifest: EndpointManifest,
        http_version: HttpVersion,
        replace: bool,
    ) -> Result<(DeploymentView, Registration), IngressError> {
        let outcome = |overwritten: bool| {
            if overwritten {
                Registration::Overwritten
            } else {
                Registration::Created
            }
        };
        let restate_admin_url = request
            .restate_admin_url
            .as_deref()
            .map(normalize_deployment_uri)
            .transpose()
            .map_err(|e| IngressError::Registry(RegistryError::from(e)))?;
        let mut inner = self.inner.lock().await;
        let mut deployment = inner.registry.new_deployment(
            &request.uri,
            request.additional_headers,
            manifest,
            http_version,
            restate_admin_url,
        )?;
        let overwritten = replace && inner.registry.take_over_id(&mut deployment);
        // The verdict (the log's too, unless another write comes first).
        let mut next = inner.registry.clone();
        next.insert(deployment.clone(), replace)?;
        if request.dry_run {
            return Ok((deployment_view(&next, &deployment), outcome(overwritten)));
        }
        if let Some(replicated) = &self.replicated {
            drop(inner);
            replicated
                .submit(Command::PutDeployment {
                    deployment: deployment.clone(),
                    force: replace,
                })
                .await?;
            tracing::info!(deployment = %deployment.id, uri = %deployment.uri, overwritten,
                "deployment registered (metadata log)");
            let inner = self.inner.lock().await;
            return Ok((
                deployment_view(&inner.registry, &deployment),
                outcome(overwritten),
            ));
        }
        let before = std::mem::replace(&mut inner.registry, next);
        if let Err(e) = self.persist(&inner).await {
            inner.registry = before;
            return Err(e);
        }
        tracing::info!(deployment = %deployment.id, uri = %deployment.uri, overwritten,
            http_version = %deployment.http_version,
            services = deployment.services.len(), "deployment registered");
        // Subscriptions follow their service to the newest deployment (Restate semantics);
        // ones that could not start before (no such service yet) start now.
        reconcile(&mut inner, &self.config, &self.handler_tls).await;
        Ok((
            deployment_view(&inner.registry, &deployment),
            outcome(overwritten),
        ))
    }

    /// Every deployment, oldest first.
    pub async fn list_deployments(&self) -> Vec<DeploymentView> {
        let inner = self.inner.lock().await;
        inner
            .registry
            .list()
            .iter()
            .map(|d| deployment_view(&inner.registry, d))
            .collect()
    }

    /// One deployment.
    pub async fn get_deployment(&self, given: &str) -> Result<DeploymentView, IngressError> {
        let id = &self.deployment_key(given).await?;
        let inner = self.inner.lock().await;
        inner
            .registry
            .get(id)
            .map(|d| deployment_view(&inner.registry, d))
            .ok_or_else(|| IngressError::DeploymentNotFound(id.to_owned()))
    }

    /// Removes a deployment; refused while subscriptions use its services unless `force`.
    pub async fn remove_deployment(&self, given: &str, force: bool) -> Result<(), IngressError> {
        let id = &self.deployment_key(given).await?;
        let mut inner = self.inner.lock().await;
        let deployment = inner
            .registry
            .get(id)
            .cloned()
            .ok_or_else(|| IngressError::DeploymentNotFound(id.to_owned()))?;
        if !force {
            for service in inner
                .registry
                .services()
                .into_iter()
                .filter(|s| s.deployment_id == deployment.id)
            {
                let users: Vec<&str> = inner
                    .order
                    .iter()
                    .filter_map(|sid| inner.subscriptions.get(sid))
                    .filter(|e| e.spec.sink.service == service.name)
                    .map(|e| e.view.id.as_str())
                    .collect();
                if !users.is_empty() {
                    return Err(IngressError::DeploymentInUse {
                        deployment: given.to_owned(),
                        service: service.name,
                        subscriptions: users.join(", "),
                    });
                }
            }
        }
        if let Some(replicated) = &self.replicated {
            drop(inner);
            replicated
                .submit(Command::Delete(EntityKey::Deployment(id.to_owned())))
                .await?;
            tracing::info!(deployment = %id, "deployment removed (metadata log)");
            return Ok(());
        }
        let before = inner.registry.clone();
        inner.registry.remove(id)?;
        if let Err(e) = self.persist(&inner).await {
            inner.registry = before;
            return Err(e);
        }
        tracing::info!(deployment = %id, "deployment removed");
        // Subscriptions of its services move to an older deployment serving them, or (removed
        // with force) stop with the reason in their status.
        reconcile(&mut inner, &self.config, &self.handler_tls).await;
        Ok(())
    }

    /// Every service, by name.
    pub async fn list_services(&self) -> Vec<ServiceView> {
        let inner = self.inner.lock().await;
        inner
            .registry
            .services()
            .into_iter()
            .map(|s| service_view(&inner.registry, s))
            .collect()
    }

    /// One service.
    pub async fn get_service(&self, name: &str) -> Result<ServiceView, IngressError> {
        let inner = self.inner.lock().await;
        inner
            .registry
            .service(name)
            .map(|s| service_view(&inner.registry, s))
            .ok_or_else(|| IngressError::ServiceNotFound(name.to_owned()))
    }

    /// Re-reads the services of every deployment that is a Restate server; a changed list
    /// overwrites the deployment (same id) and the subscriptions follow: one whose service
    /// or handler disappeared stops, `failed` with the reason. An unreachable admin API keeps
    /// the services known (and is logged).
    pub async fn refresh_restate_deployments(&self) {
        let restate: Vec<Deployment> = {
            let inner = self.inner.lock().await;
            inner
                .registry
                .list()
                .iter()
                .filter(|d| d.restate_admin_url.is_some())
                .cloned()
                .collect()
        };
        for d in restate {
            let Some(admin) = d.restate_admin_url.clone() else {
                continue;
            };
            let manifest = match discover_restate(
                &admin,
                &d.additional_headers,
                &self.handler_tls,
                DISCOVERY_TIMEOUT,
            )
            .await
            {
                Ok(manifest) => manifest,
                Err(e) => {
                    tracing::warn!(deployment = %d.id, error = %e,
                        "cannot refresh the services of a Restate deployment; keeping the ones known");
                    continue;
                }
            };
            if manifest.services == d.services {
                continue;
            }
            let request = RegisterDeployment {
                uri: d.uri.clone(),
                additional_headers: d.additional_headers.clone(),
                force: true,
                restate_admin_url: Some(admin),
                ..RegisterDeployment::default()
            };
            match self
                .register_found(request, manifest, d.http_version, true)
                .await
            {
                Ok(_) => tracing::info!(deployment = %d.id, uri = %d.uri,
                    "the services of a Restate deployment changed; updated"),
                Err(e) => tracing::warn!(deployment = %d.id, error = %e,
                    "cannot update the services of a Restate deployment"),
            }
        }
    }

    /// Starts re-reading Restate-server deployments every `restate-refresh-interval-ms`
    /// (not at all for 0); stopped by [`Ingress::shutdown`].
    pub fn start_restate_refresh(self: &Arc<Self>) {
        let every = self
            .config
            .ingress
            .restate_refresh_interval_ms
            .unwrap_or(crate::config::DEFAULT_RESTATE_REFRESH_MS);
        if every == 0 {
            return;
        }
        let weak = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(every));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(ingress) = weak.upgrade() else {
                    return;
                };
                ingress.refresh_restate_deployments().await;
            }
        });
        *crate::sync::lock(&self.refresher) = Some(task);
    }

    /// Stops every subscription gracefully (drain within a bound, commit, leave the group).
    pub async fn shutdown(&self) {
        if let Some(tailer) = crate::sync::lock(&self.tailer).take() {
            tailer.abort();
        }
        if let Some(refresher) = crate::sync::lock(&self.refresher).take() {
            refresher.abort();
        }
        let runtimes: Vec<SubscriptionRuntime> = {
            let mut inner = self.inner.lock().await;
            inner
                .subscriptions
                .values_mut()
                .filter_map(|e| e.runtime.take())
                .collect()
        };
        let mut stops = tokio::task::JoinSet::new();
        for rt in runtimes {
            stops.spawn(async move { rt.stop().await });
        }
        while stops.join_next().await.is_some() {}
    }

    /// The id of the subscription `given` names: its id, or the Restate-format alias shown
    /// for an id made before kafka-ingress used Restate's format ([`public_id`]).
    async fn subscription_key(&self, given: &str) -> Result<String, IngressError> {
        let inner = self.inner.lock().await;
        if inner.subscriptions.contains_key(given) {
            return Ok(given.to_owned());
        }
        inner
            .subscriptions
            .iter()
            .find(|(_, e)| e.view.id == given)
            .map(|(id, _)| id.clone())
            .ok_or_else(|| IngressError::SubscriptionNotFound(given.to_owned()))
    }

    /// The id of the deployment `given` names: its id or its alias (see
    /// [`Ingress::subscription_key`]).
    async fn deployment_key(&self, given: &str) -> Result<String, IngressError> {
        let inner = self.inner.lock().await;
        inner
            .registry
            .list()
            .iter()
            .find(|d| d.id == given)
            .or_else(|| {
                inner
                    .registry
                    .list()
                    .iter()
                    .find(|d| public_id(DEPLOYMENT_ID_PREFIX, &d.id) == given)
            })
            .map(|d| d.id.clone())
            .ok_or_else(|| IngressError::DeploymentNotFound(given.to_owned()))
    }

    async fn persist(&self, inner: &Inner) -> Result<(), IngressError> {
        let mut kafka_clusters: Vec<KafkaClusterSpec> = inner.clusters.values().cloned().collect();
        kafka_clusters.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        let state = PersistedState {
            kafka_clusters,
            deployments: inner.registry.list().to_vec(),
            subscriptions: inner
                .order
                .iter()
                .filter_map(|id| inner.subscriptions.get(id))
                .map(|e| e.spec.clone())
                .collect(),
            ..PersistedState::default()
        };
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.save(&state))
            .await
            .map_err(|e| {
                IngressError::Store(StoreError::Write {
                    path: std::path::PathBuf::from("state.json"),
                    source: std::io::Error::other(e.to_string()),
                })
            })??;
        Ok(())
    }
}

/// Makes the runtimes follow the desired state: stops the ones of deleted subscriptions,
/// applies pause and resume, restarts subscriptions whose target moved to another deployment,
/// and starts the ones that were waiting for their service (or are new).
async fn reconcile(inner: &mut Inner, config: &ServerConfig, tls: &HandlerTls) {
    for rt in inner.retired.drain(..) {
        tokio::spawn(async move { rt.stop().await });
    }
    let ids = inner.order.clone();
    for id in ids {
        let Some(entry) = inner.subscriptions.get_mut(&id) else {
            continue;
        };
        let directory = ClusterDirectory::new(config, &inner.clusters);
        let (resolved, target, cluster) = match prepare(&directory, &inner.registry, &entry.spec) {
            Ok(prepared) => prepared,
            Err(e) => {
                // Its cluster or service is gone (removed with force): stop, and say why.
                let failure = match &e {
                    IngressError::UnknownCluster { cluster, .. } => format!(
                        "its Kafka cluster {cluster:?} does not exist: it was removed \
                         (DELETE /kafka-clusters/{cluster}?force=true) or is missing from the \
                         configuration file; the subscription resumes from its committed \
                         offsets once a cluster of that name is registered again"
                    ),
                    _ => e.to_string(),
                };
                if entry.failure.as_ref() != Some(&failure) {
                    tracing::error!(subscription = %id, error = %failure,
                        "subscription cannot run");
                }
                if let Some(old) = entry.runtime.take() {
                    old.stop().await;
                }
                entry.view = spec_view(&entry.spec);
                entry.failure = Some(failure);
                entry.target_uri = None;
                entry.cluster = None;
                continue;
            }
        };
        let unchanged = entry.runtime.is_some()
            && entry.view == view_of(&entry.spec, &resolved)
            && entry.target_uri == Some(target.endpoint())
            && entry.cluster.as_ref() == Some(&cluster);
        if unchanged {
            if let Some(rt) = &entry.runtime {
                sync_paused(rt, entry.spec.paused);
            }
            continue;
        }
        if let Some(old) = entry.runtime.take() {
            old.stop().await;
        }
        entry.view = view_of(&entry.spec, &resolved);
        match start_runtime(&entry.spec, resolved, &target, tls) {
            Ok(rt) => {
                tracing::info!(subscription = %id, uri = %target.base_uri,
                    "subscription (re)started on its service's deployment");
                entry.runtime = Some(rt);
                entry.failure = None;
                entry.target_uri = Some(target.endpoint());
                entry.cluster = Some(cluster);
            }
            Err(e) => entry.failure = Some(e.to_string()),
        }
    }
}

fn sync_paused(rt: &SubscriptionRuntime, paused: bool) {
    if rt.is_paused() != paused {
        if paused {
            rt.pause();
        } else {
            rt.resume();
        }
    }
}

/// The librdkafka property of static group membership.
const GROUP_INSTANCE_ID: &str = "group.instance.id";

/// Resolves a spec against the clusters and the registry: its cluster, its options (cluster
/// defaults < cluster options < subscription options) and its handler.
fn prepare(
    clusters: &ClusterDirectory<'_>,
    registry: &DeploymentRegistry,
    spec: &SubscriptionSpec,
) -> Result<(Resolved, SinkTarget, ClusterConfig), IngressError> {
    let config = clusters.config();
    let cluster =
        clusters
            .get(&spec.source.cluster)
            .ok_or_else(|| IngressError::UnknownCluster {
                cluster: spec.source.cluster.clone(),
                known: clusters.names(),
            })?;
    let target = registry.resolve_sink(&spec.sink.service, &spec.sink.handler)?;
    let mut resolved = resolve(&cluster, &spec.options, spec.id.as_str())?;
    // Static membership by default: a restarted process takes its partitions back without a
    // rebalance. Setting `group.instance.id` (even to "", i.e. dynamic) opts out.
    let user_set = |options: &std::collections::BTreeMap<String, String>| {
        options.contains_key(GROUP_INSTANCE_ID)
    };
    if !user_set(&spec.options) && !user_set(&cluster.options) {
        if let Some(instance) = &config.ingress.instance_id {
            resolved.settings.group_instance_id = Some(format!("{instance}-{}", spec.id));
        }
    }
    for warning in &resolved.warnings {
        tracing::warn!(subscription = %spec.id, "{warning}");
    }
    Ok((resolved, target, cluster))
}

fn view_of(spec: &SubscriptionSpec, resolved: &Resolved) -> SubscriptionView {
    SubscriptionView {
        id: public_id(SUBSCRIPTION_ID_PREFIX, spec.id.as_str()),
        source: spec.source.to_string(),
        sink: spec.sink.to_string(),
        options: resolved.effective_options().clone(),
    }
}

fn start_runtime(
    spec: &SubscriptionSpec,
    resolved: Resolved,
    target: &SinkTarget,
    tls: &HandlerTls,
) -> Result<SubscriptionRuntime, IngressError> {
    SubscriptionRuntime::start(SubscriptionConfig {
        id: spec.id.to_string(),
        topic: spec.source.topic.clone(),
        settings: resolved.settings,
        target: target.handler_target(),
        mode: target.dispatch_mode(),
        http_version: target.http_version,
        tls: tls.clone(),
        paused: spec.paused,
    })
    .map_err(|e| IngressError::Start(e.to_string()))
}

/// A subscription's view from its spec alone (options as given, secrets redacted), for one
/// that is not running.
fn spec_view(spec: &SubscriptionSpec) -> SubscriptionView {
    SubscriptionView {
        id: public_id(SUBSCRIPTION_ID_PREFIX, spec.id.as_str()),
        source: spec.source.to_string(),
        sink: spec.sink.to_string(),
        options: redact_options(&spec.options),
    }
}

/// An entry without a runtime: `failure` says why, `None` = not started yet.
fn idle_entry(spec: SubscriptionSpec, failure: Option<String>) -> SubscriptionEntry {
    SubscriptionEntry {
        view: spec_view(&spec),
        spec,
        runtime: None,
        target_uri: None,
        cluster: None,
        failure,
        created_offset: 0,
    }
}

fn status_of(entry: &SubscriptionEntry) -> SubscriptionStatus {
    match &entry.runtime {
        Some(rt) => SubscriptionStatus {
            id: entry.view.id.clone(),
            ..rt.status()
        },
        None => SubscriptionStatus {
            id: entry.view.id.clone(),
            state: RuntimeState::Failed {
                reason: entry
                    .failure
                    .clone()
                    .unwrap_or_else(|| "not running".to_owned()),
            },
            error: None,
            partitions: Vec::new(),
            cluster: None,
        },
    }
}

/// Header names whose values are credentials and never shown.
fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "authorization"
        || n == "proxy-authorization"
        || n == "cookie"
        || n.contains("token")
        || n.contains("secret")
        || n.contains("password")
        || n.contains("api-key")
        || n.contains("apikey")
}

/// Restate's spelling of a service type in the admin API.
fn service_type_name(ty: ServiceType) -> &'static str {
    match ty {
        ServiceType::Service => "Service",
        ServiceType::VirtualObject => "VirtualObject",
        ServiceType::Workflow => "Workflow",
    }
}

fn service_view(registry: &DeploymentRegistry, s: ServiceInfo) -> ServiceView {
    ServiceView {
        ty: service_type_name(s.ty),
        revision: registry.revision(&s.deployment_id, &s.name),
        handlers: s
            .handlers
            .into_iter()
            .map(|h| HandlerView {
                name: h.name,
                ty: h.ty.map(|t| match t {
                    HandlerType::Exclusive => "Exclusive",
                    HandlerType::Shared => "Shared",
                    HandlerType::Workflow => "Workflow",
                }),
                input_description: h.input_content_type.clone(),
                output_description: String::new(),
                input_content_type: h.input_content_type,
            })
            .collect(),
        name: s.name,
        deployment_id: public_id(DEPLOYMENT_ID_PREFIX, &s.deployment_id),
        public: true,
    }
}

fn deployment_view(registry: &DeploymentRegistry, d: &Deployment) -> DeploymentView {
    DeploymentView {
        id: public_id(DEPLOYMENT_ID_PREFIX, &d.id),
        uri: d.uri.clone(),
        additional_headers: d
            .additional_headers
            .iter()
            .map(|(k, v)| {
                let v = if is_secret_header(k) {
                    "***".to_owned()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect(),
        http_version: d.http_version,
        created_at: d.created_at.clone(),
        restate_admin_url: d.restate_admin_url.clone(),
        protocol_type: "RequestResponse",
        min_protocol_version: 0,
        max_protocol_version: 0,
        services: d
            .services
            .iter()
            .map(|s| service_view(registry, service_info(d, s)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_headers_are_redacted() {
        let d = Deployment {
            id: "dp_1".into(),
            uri: "http://h:9080".into(),
            additional_headers: BTreeMap::from([
                ("Authorization".to_owned(), "Bearer abc".to_owned()),
                ("x-api-key".to_owned(), "k".to_owned()),
                ("x-tenant".to_owned(), "blue".to_owned()),
            ]),
            services: Vec::new(),
            http_version: HttpVersion::Http1,
            created_at: "2026-01-01T00:00:00Z".into(),
            restate_admin_url: None,
        };
        let v = deployment_view(&DeploymentRegistry::default(), &d);
        assert_eq!(v.additional_headers["Authorization"], "***");
        assert_eq!(v.additional_headers["x-api-key"], "***");
        assert_eq!(v.additional_headers["x-tenant"], "blue");
    }
}
