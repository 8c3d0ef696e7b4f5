//! Kafka clusters: the configuration file's (`[[ingress.kafka-clusters]]`, read-only here) and
//! the ones registered through the admin API (Restate 1.7's `/kafka-clusters`), which are
//! persisted and replicated like subscriptions. A registered cluster shadows a configured one
//! of the same name (as in Restate, the registry wins).

use std::collections::BTreeMap;

use crate::cluster_spec::KafkaClusterSpec;
use crate::config::{ClusterConfig, ServerConfig};
use crate::metadata::{Command, EntityKey, PutOp};
use crate::options::{is_secret_option, redact_options, resolve, REDACTED};

use super::{reconcile, ClusterDetail, ClusterInfo, ClusterView, Ingress, IngressError};

/// Where `kafka://<name>/...` resolves: registered clusters first, then configured ones.
#[derive(Clone, Copy)]
pub(super) struct ClusterDirectory<'a> {
    config: &'a ServerConfig,
    registered: &'a BTreeMap<String, KafkaClusterSpec>,
}

impl<'a> ClusterDirectory<'a> {
    /// The directory over `config`'s clusters and the `registered` ones.
    pub(super) fn new(
        config: &'a ServerConfig,
        registered: &'a BTreeMap<String, KafkaClusterSpec>,
    ) -> Self {
        ClusterDirectory { config, registered }
    }

    /// The server configuration.
    pub(super) fn config(&self) -> &'a ServerConfig {
        self.config
    }

    /// The cluster `name` as the option translator takes it.
    pub(super) fn get(&self, name: &str) -> Option<ClusterConfig> {
        self.registered
            .get(name)
            .map(KafkaClusterSpec::config)
            .or_else(|| self.config.ingress.cluster(name).cloned())
    }

    /// Every cluster name: configured ones in file order, then registered ones by name.
    pub(super) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .config
            .ingress
            .cluster_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        for name in self.registered.keys() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }
}

/// A configuration-file cluster in Restate's shape.
fn config_view(c: &ClusterConfig) -> ClusterView {
    let mut properties = c.redacted_options();
    if !c.brokers.is_empty() {
        properties.insert("metadata.broker.list".to_owned(), c.brokers.join(","));
    }
    ClusterView {
        name: c.name.clone(),
        properties,
        created_at: "1970-01-01T00:00:00Z".to_owned(),
        info: vec![ClusterInfo {
            message: "defined in the configuration file ([[ingress.kafka-clusters]]): \
                      read-only through the admin API"
                .to_owned(),
        }],
    }
}

/// A registered cluster in Restate's shape.
fn registered_view(config: &ServerConfig, c: &KafkaClusterSpec) -> ClusterView {
    let mut info = Vec::new();
    if config.ingress.cluster(&c.name).is_some() {
        info.push(ClusterInfo {
            message: "shadows the configuration file's cluster of the same name \
                      ([[ingress.kafka-clusters]]), which is not used"
                .to_owned(),
        });
    }
    ClusterView {
        name: c.name.clone(),
        properties: redact_options(&c.properties),
        created_at: c.created_at.clone(),
        info,
    }
}

impl Ingress {
    /// Every cluster: the configuration file's (in file order, unless a registered one has
    /// the name), then the registered ones, oldest first.
    pub async fn clusters(&self) -> Vec<ClusterView> {
        let inner = self.inner.lock().await;
        let mut registered: Vec<&KafkaClusterSpec> = inner.clusters.values().collect();
        registered.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        self.config
            .ingress
            .kafka_clusters
            .iter()
            .filter(|c| !inner.clusters.contains_key(&c.name))
            .map(config_view)
            .chain(
                registered
                    .into_iter()
                    .map(|c| registered_view(&self.config, c)),
            )
            .collect()
    }

    /// One cluster, with the subscriptions consuming from it if `include_subscriptions`.
    pub async fn cluster(
        &self,
        name: &str,
        include_subscriptions: bool,
    ) -> Result<ClusterDetail, IngressError> {
        let inner = self.inner.lock().await;
        let cluster = match inner.clusters.get(name) {
            Some(registered) => registered_view(&self.config, registered),
            None => config_view(
                self.config
                    .ingress
                    .cluster(name)
                    .ok_or_else(|| IngressError::ClusterNotFound(name.to_owned()))?,
            ),
        };
        let subscriptions = if include_subscriptions {
            inner
                .order
                .iter()
                .filter_map(|id| inner.subscriptions.get(id))
                .filter(|e| e.spec.source.cluster == name)
                .map(|e| e.view.clone())
                .collect()
        } else {
            Vec::new()
        };
        Ok(ClusterDetail {
            cluster,
            subscriptions,
        })
    }

    /// Registers a Kafka cluster (`properties` are librdkafka options, checked like the
    /// configuration file's); subscriptions waiting for a cluster of this name start.
    pub async fn create_kafka_cluster(
        &self,
        name: &str,
        properties: BTreeMap<String, String>,
    ) -> Result<ClusterView, IngressError> {
        if self.config.ingress.cluster(name).is_some() {
            return Err(IngressError::ClusterInConfigFile {
                name: name.to_owned(),
                action: "created",
            });
        }
        let (spec, warnings) = KafkaClusterSpec::new(name, properties)?;
        for warning in warnings {
            tracing::warn!(kafka_cluster = %name, "{warning}");
        }
        let mut inner = self.inner.lock().await;
        if inner.clusters.contains_key(name) {
            return Err(IngressError::ClusterExists(name.to_owned()));
        }
        if let Some(replicated) = &self.replicated {
            drop(inner);
            replicated
                .submit(Command::PutKafkaCluster {
                    op: PutOp::Create,
                    cluster: spec,
                })
                .await?;
            tracing::info!(kafka_cluster = %name, "kafka cluster registered (metadata log)");
            return self.cluster(name, false).await.map(|d| d.cluster);
        }
        let view = registered_view(&self.config, &spec);
        inner.clusters.insert(name.to_owned(), spec);
        if let Err(e) = self.persist(&inner).await {
            inner.clusters.remove(name);
            return Err(e);
        }
        tracing::info!(kafka_cluster = %name, "kafka cluster registered");
        reconcile(&mut inner, &self.config, &self.handler_tls).await;
        Ok(view)
    }

    /// Replaces a registered cluster's properties (all of them, as Restate's PATCH does). A
    /// value of exactly `***` for a secret property keeps the stored value (what the admin
    /// API shows for it). The new properties must work for every subscription on the
    /// cluster; those restart with them.
    pub async fn patch_kafka_cluster(
        &self,
        name: &str,
        properties: BTreeMap<String, String>,
    ) -> Result<ClusterView, IngressError> {
        let mut inner = self.inner.lock().await;
        let Some(current) = inner.clusters.get(name).cloned() else {
            return Err(self.missing(name, "updated"));
        };
        let update_error = |reason: String| IngressError::ClusterUpdate {
            cluster: name.to_owned(),
            reason,
        };
        let mut merged = BTreeMap::new();
        for (key, value) in properties {
            let value = if value == REDACTED && is_secret_option(&key) {
                current.properties.get(&key).cloned().ok_or_else(|| {
                    update_error(format!(
                        "property {key:?} is \"{REDACTED}\" (the redacted form), but no value \
                         is stored for it to keep; send the value itself"
                    ))
                })?
            } else {
                value
            };
            merged.insert(key, value);
        }
        if merged == current.properties {
            return Ok(registered_view(&self.config, &current));
        }
        let mut next = current.clone();
        next.properties = merged;
        for warning in next.check_properties()? {
            tracing::warn!(kafka_cluster = %name, "{warning}");
        }
        let next_config = next.config();
        for entry in inner.subscriptions.values() {
            if entry.spec.source.cluster == name {
                resolve(&next_config, &entry.spec.options, entry.spec.id.as_str())
                    .map_err(|e| update_error(format!("subscription {}: {e}", entry.view.id)))?;
            }
        }
        if let Some(replicated) = &self.replicated {
            drop(inner);
            replicated
                .submit(Command::PutKafkaCluster {
                    op: PutOp::Update,
                    cluster: next,
                })
                .await?;
            tracing::info!(kafka_cluster = %name, "kafka cluster updated (metadata log)");
            return self.cluster(name, false).await.map(|d| d.cluster);
        }
        let view = registered_view(&self.config, &next);
        inner.clusters.insert(name.to_owned(), next);
        if let Err(e) = self.persist(&inner).await {
            inner.clusters.insert(name.to_owned(), current);
            return Err(e);
        }
        tracing::info!(kafka_cluster = %name, "kafka cluster updated");
        reconcile(&mut inner, &self.config, &self.handler_tls).await;
        Ok(view)
    }

    /// Removes a registered cluster; refused while subscriptions consume from it unless
    /// `force`, which stops them (their status says why; they resume if the name is
    /// registered again).
    pub async fn delete_kafka_cluster(&self, name: &str, force: bool) -> Result<(), IngressError> {
        let mut inner = self.inner.lock().await;
        let Some(current) = inner.clusters.get(name).cloned() else {
            return Err(self.missing(name, "deleted"));
        };
        let users: Vec<&str> = inner
            .order
            .iter()
            .filter_map(|id| inner.subscriptions.get(id))
            .filter(|e| e.spec.source.cluster == name)
            .map(|e| e.view.id.as_str())
            .collect();
        if !users.is_empty() {
            if !force {
                return Err(IngressError::ClusterInUse {
                    cluster: name.to_owned(),
                    subscriptions: users.join(", "),
                });
            }
            tracing::warn!(kafka_cluster = %name, subscriptions = %users.join(", "),
                "kafka cluster removed with force: its subscriptions stop");
        }
        if let Some(replicated) = &self.replicated {
            drop(inner);
            replicated
                .submit(Command::Delete(EntityKey::KafkaCluster(current.id.clone())))
                .await?;
            tracing::info!(kafka_cluster = %name, "kafka cluster removed (metadata log)");
            return Ok(());
        }
        inner.clusters.remove(name);
        if let Err(e) = self.persist(&inner).await {
            inner.clusters.insert(name.to_owned(), current);
            return Err(e);
        }
        tracing::info!(kafka_cluster = %name, "kafka cluster removed");
        reconcile(&mut inner, &self.config, &self.handler_tls).await;
        Ok(())
    }

    /// The error for a cluster that is not registered: read-only if the file defines it.
    fn missing(&self, name: &str, action: &'static str) -> IngressError {
        if self.config.ingress.cluster(name).is_some() {
            IngressError::ClusterInConfigFile {
                name: name.to_owned(),
                action,
            }
        } else {
            IngressError::ClusterNotFound(name.to_owned())
        }
    }
}
