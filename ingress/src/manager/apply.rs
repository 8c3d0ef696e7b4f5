//! The state machine of the Kafka metadata log: how one record changes the desired state.
//!
//! Every process applies the same records in the same (offset) order with these rules, so
//! every process reaches the same state and the same verdicts:
//! - a subscription create is refused while a live subscription has the same source, sink and
//!   `group.id` (the first in the log wins); a create of a live id is a duplicate append, a
//!   no-op;
//! - an update applies to a live subscription, is refused once the subscription was deleted
//!   in this replay, and inserts the subscription when its create was compacted away;
//! - a deployment is added as [`DeploymentRegistry::insert`] says (same URI needs force);
//! - a Kafka cluster create is refused while another registration holds its name (the first
//!   wins; records are keyed by registration id, so the loser's tombstone never hits the
//!   winner); an update replaces a live registration's properties and is refused once it was
//!   deleted;
//! - a tombstone removes its entity.
//!
//! A refused record stays the latest record of its key until someone tombstones it; if it
//! stayed, compaction could later remove what refused it (the earlier tombstone or the
//! winning create's conflict) and a process replaying from scratch would accept it. So the
//! writer tombstones its refused record, and every process tombstones refused keys whose
//! latest record is still the refused one after catching up. A refused key is never live, so
//! that tombstone changes nothing for anyone.
//!
//! [`DeploymentRegistry::insert`]: crate::deployments::registry::DeploymentRegistry::insert

use crate::config::ServerConfig;
use crate::deployments::registry::RegistryError;
use crate::metadata::{Command, EntityKey, PutOp};
use crate::options::resolve;
use crate::subscription_spec::SubscriptionSpec;

use super::{idle_entry, ClusterDirectory, IngressError, Inner};

/// Why a record was refused by the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Rejection {
    /// A live subscription has the same source, sink and group.
    Duplicate {
        existing: String,
        source_uri: String,
        sink_uri: String,
        group: String,
    },
    /// The registry refused the deployment.
    Registry(RegistryError),
    /// The entity was deleted earlier in the log.
    Deleted(EntityKey),
    /// Another registration holds the Kafka cluster name.
    ClusterExists { name: String },
    /// The Kafka cluster registration was deleted earlier in the log.
    ClusterDeleted { name: String },
}

impl From<Rejection> for IngressError {
    fn from(r: Rejection) -> Self {
        match r {
            Rejection::Duplicate {
                existing,
                source_uri,
                sink_uri,
                group,
            } => IngressError::Duplicate {
                existing,
                source_uri,
                sink_uri,
                group,
            },
            Rejection::Registry(e) => IngressError::Registry(e),
            Rejection::Deleted(EntityKey::Subscription(id)) => {
                IngressError::SubscriptionNotFound(id)
            }
            Rejection::Deleted(EntityKey::Deployment(id)) => IngressError::DeploymentNotFound(id),
            Rejection::Deleted(EntityKey::KafkaCluster(id)) => IngressError::ClusterNotFound(id),
            Rejection::ClusterExists { name } => IngressError::ClusterExists(name),
            Rejection::ClusterDeleted { name } => IngressError::ClusterNotFound(name),
        }
    }
}

/// The consumer group a subscription joins (its `group.id`, defaulting to its id).
pub(super) fn group_of(clusters: &ClusterDirectory<'_>, spec: &SubscriptionSpec) -> String {
    clusters
        .get(&spec.source.cluster)
        .and_then(|cluster| resolve(&cluster, &spec.options, spec.id.as_str()).ok())
        .map(|resolved| resolved.settings.group_id)
        .or_else(|| spec.options.get("group.id").cloned())
        .unwrap_or_else(|| spec.id.to_string())
}

impl Inner {
    /// The live subscription `spec` would duplicate (same source, sink and group).
    pub(super) fn find_duplicate(
        &self,
        config: &ServerConfig,
        spec: &SubscriptionSpec,
    ) -> Option<Rejection> {
        let clusters = ClusterDirectory::new(config, &self.clusters);
        let group = group_of(&clusters, spec);
        self.subscriptions
            .values()
            .find(|e| {
                e.spec.id != spec.id
                    && e.spec.source == spec.source
                    && e.spec.sink == spec.sink
                    && group_of(&clusters, &e.spec) == group
            })
            .map(|e| Rejection::Duplicate {
                existing: e.view.id.clone(),
                source_uri: e.view.source.clone(),
                sink_uri: e.view.sink.clone(),
                group: group.clone(),
            })
    }

    /// Applies the record at `offset` to the desired state (runtimes follow in
    /// [`super::reconcile`]).
    pub(super) fn apply(
        &mut self,
        config: &ServerConfig,
        offset: i64,
        command: Command,
    ) -> Result<(), Rejection> {
        let key = command.key();
        let result = self.apply_command(config, offset, command);
        if result.is_err() {
            self.refused.insert(key);
        } else {
            self.refused.remove(&key);
        }
        result
    }

    fn apply_command(
        &mut self,
        config: &ServerConfig,
        offset: i64,
        command: Command,
    ) -> Result<(), Rejection> {
        match command {
            Command::PutSubscription {
                op,
                spec,
                created_offset,
            } => {
                let key = EntityKey::Subscription(spec.id.to_string());
                let id = spec.id.to_string();
                if self.deleted.contains(&key) {
                    return Err(Rejection::Deleted(key));
                }
                if let Some(entry) = self.subscriptions.get_mut(&id) {
                    if op == PutOp::Update {
                        entry.spec = spec;
                    }
                    return Ok(());
                }
                if op == PutOp::Create {
                    if let Some(duplicate) = self.find_duplicate(config, &spec) {
                        return Err(duplicate);
                    }
                }
                let created = match op {
                    PutOp::Create => offset,
                    PutOp::Update => created_offset.unwrap_or(offset),
                };
                let mut entry = idle_entry(spec, None);
                entry.created_offset = created;
                let position = self
                    .order
                    .iter()
                    .position(|other| {
                        self.subscriptions
                            .get(other)
                            .is_some_and(|e| e.created_offset > created)
                    })
                    .unwrap_or(self.order.len());
                self.order.insert(position, id.clone());
                self.subscriptions.insert(id, entry);
                Ok(())
            }
            Command::PutDeployment { deployment, force } => {
                let key = EntityKey::Deployment(deployment.id.clone());
                if self.deleted.contains(&key) {
                    return Err(Rejection::Deleted(key));
                }
                self.registry
                    .insert(deployment, force)
                    .map_err(Rejection::Registry)
            }
            Command::PutKafkaCluster { op, cluster } => {
                let key = EntityKey::KafkaCluster(cluster.id.clone());
                if self.deleted.contains(&key) {
                    return Err(Rejection::ClusterDeleted { name: cluster.name });
                }
                if self.clusters.values().any(|c| c.id == cluster.id) {
                    if op == PutOp::Update {
                        self.clusters.retain(|_, c| c.id != cluster.id);
                        self.clusters.insert(cluster.name.clone(), cluster);
                    }
                    return Ok(());
                }
                if self.clusters.contains_key(&cluster.name) {
                    return Err(Rejection::ClusterExists { name: cluster.name });
                }
                self.clusters.insert(cluster.name.clone(), cluster);
                Ok(())
            }
            Command::Delete(key) => {
                match &key {
                    EntityKey::KafkaCluster(id) => self.clusters.retain(|_, c| &c.id != id),
                    EntityKey::Subscription(id) => {
                        self.order.retain(|o| o != id);
                        if let Some(entry) = self.subscriptions.remove(id) {
                            self.retired.extend(entry.runtime);
                        }
                    }
                    EntityKey::Deployment(id) => {
                        // Already gone is fine: a duplicate tombstone.
                        let _ = self.registry.remove(id);
                    }
                }
                self.deleted.insert(key);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::deployments::manifest::EndpointManifest;
    use crate::deployments::registry::DeploymentRegistry;
    use crate::http_client::HttpVersion;
    use crate::subscription_spec::SubscriptionId;

    fn config() -> ServerConfig {
        ServerConfig::from_toml_str(
            Path::new("restate.toml"),
            "[[ingress.kafka-clusters]]\nname = \"c\"\nbrokers = [\"h:9092\"]\n",
            Vec::new(),
        )
        .unwrap()
    }

    fn spec(group: Option<&str>) -> SubscriptionSpec {
        let mut options = BTreeMap::new();
        if let Some(g) = group {
            options.insert("group.id".to_owned(), g.to_owned());
        }
        SubscriptionSpec {
            id: SubscriptionId::generate(),
            source: "kafka://c/orders".parse().unwrap(),
            sink: "service://Svc/h".parse().unwrap(),
            options,
            paused: false,
        }
    }

    fn create(spec: &SubscriptionSpec) -> Command {
        Command::PutSubscription {
            op: PutOp::Create,
            spec: spec.clone(),
            created_offset: None,
        }
    }

    fn update(spec: &SubscriptionSpec, created: i64) -> Command {
        Command::PutSubscription {
            op: PutOp::Update,
            spec: spec.clone(),
            created_offset: Some(created),
        }
    }

    fn delete(spec: &SubscriptionSpec) -> Command {
        Command::Delete(EntityKey::Subscription(spec.id.to_string()))
    }

    fn listed(inner: &Inner) -> Vec<String> {
        inner.order.clone()
    }

    /// Applies `log` (offset = index) to a fresh state; returns it and the verdicts.
    fn replay(log: &[Command]) -> (Inner, Vec<bool>) {
        let config = config();
        let mut inner = Inner::new(DeploymentRegistry::default());
        let verdicts = log
            .iter()
            .enumerate()
            .map(|(offset, c)| inner.apply(&config, offset as i64, c.clone()).is_ok())
            .collect();
        (inner, verdicts)
    }

    #[test]
    fn the_first_create_of_a_source_sink_and_group_wins() {
        let (a, b) = (spec(Some("g")), spec(Some("g")));
        let (inner, verdicts) = replay(&[create(&a), create(&b)]);
        assert_eq!(verdicts, [true, false]);
        assert_eq!(listed(&inner), [a.id.to_string()]);
        assert!(inner
            .refused
            .contains(&EntityKey::Subscription(b.id.to_string())));
        // Without group.id each subscription is its own group: no conflict.
        let (c, d) = (spec(None), spec(None));
        let (_, verdicts) = replay(&[create(&c), create(&d)]);
        assert_eq!(verdicts, [true, true]);
    }

    #[test]
    fn a_duplicate_append_is_a_no_op() {
        let a = spec(Some("g"));
        let (inner, verdicts) = replay(&[create(&a), create(&a)]);
        assert_eq!(verdicts, [true, true]);
        assert_eq!(listed(&inner), [a.id.to_string()]);
    }

    #[test]
    fn updates_of_deleted_subscriptions_are_refused_and_tombstones_fix_them() {
        let a = spec(None);
        let mut paused = a.clone();
        paused.paused = true;
        let (inner, verdicts) = replay(&[create(&a), delete(&a), update(&paused, 0)]);
        assert_eq!(verdicts, [true, true, false]);
        assert!(listed(&inner).is_empty());
        assert!(inner
            .refused
            .contains(&EntityKey::Subscription(a.id.to_string())));
        // The refused key's tombstone: accepted, and nothing is left refused.
        let (inner, verdicts) = replay(&[create(&a), delete(&a), update(&paused, 0), delete(&a)]);
        assert_eq!(verdicts, [true, true, false, true]);
        assert!(inner.refused.is_empty());
    }

    #[test]
    fn compaction_keeps_the_state_and_the_listing_order() {
        // Full log: a created, b created, a paused (update), c created.
        let (a, b, c) = (spec(None), spec(None), spec(None));
        let mut a_paused = a.clone();
        a_paused.paused = true;
        let full = [create(&a), create(&b), update(&a_paused, 0), create(&c)];
        let (whole, _) = replay(&full);
        // Compacted: a's create is gone, its update (at offset 2) remains.
        let config = config();
        let mut compacted = Inner::new(DeploymentRegistry::default());
        for (offset, command) in [(1, create(&b)), (2, update(&a_paused, 0)), (3, create(&c))] {
            compacted.apply(&config, offset, command).unwrap();
        }
        assert_eq!(listed(&whole), listed(&compacted));
        assert_eq!(
            listed(&whole),
            [a.id.to_string(), b.id.to_string(), c.id.to_string()]
        );
        assert!(compacted.subscriptions[&a.id.to_string()].spec.paused);
        assert!(whole.subscriptions[&a.id.to_string()].spec.paused);
    }

    #[test]
    fn deployments_follow_the_registry_rules() {
        let registry = DeploymentRegistry::default();
        let manifest: EndpointManifest = serde_json::from_value(serde_json::json!({
            "services": [{"name": "Svc", "ty": "SERVICE", "handlers": [{"name": "h"}]}]
        }))
        .unwrap();
        let first = registry
            .new_deployment(
                "http://h:1",
                BTreeMap::new(),
                manifest.clone(),
                HttpVersion::Http1,
                None,
            )
            .unwrap();
        let second = registry
            .new_deployment(
                "http://h:1",
                BTreeMap::new(),
                manifest,
                HttpVersion::Http1,
                None,
            )
            .unwrap();
        let put = |d: &crate::deployments::Deployment, force| Command::PutDeployment {
            deployment: d.clone(),
            force,
        };
        let (inner, verdicts) = replay(&[put(&first, false), put(&second, false)]);
        assert_eq!(verdicts, [true, false], "the same URI needs force");
        assert_eq!(inner.registry.list().len(), 1);
        let (inner, verdicts) = replay(&[put(&first, false), put(&second, true)]);
        assert_eq!(verdicts, [true, true]);
        assert_eq!(inner.registry.list()[0].id, second.id, "force replaces");
        let gone = Command::Delete(EntityKey::Deployment(first.id.clone()));
        let (inner, verdicts) = replay(&[put(&first, false), gone, put(&first, false)]);
        assert_eq!(
            verdicts,
            [true, true, false],
            "a deleted deployment stays deleted"
        );
        assert!(inner.registry.list().is_empty());
    }

    fn kafka_cluster(name: &str, brokers: &str) -> crate::cluster_spec::KafkaClusterSpec {
        crate::cluster_spec::KafkaClusterSpec::new(
            name,
            BTreeMap::from([("bootstrap.servers".to_owned(), brokers.to_owned())]),
        )
        .unwrap()
        .0
    }

    fn put_cluster(op: PutOp, c: &crate::cluster_spec::KafkaClusterSpec) -> Command {
        Command::PutKafkaCluster {
            op,
            cluster: c.clone(),
        }
    }

    #[test]
    fn kafka_clusters_first_create_wins_and_names_are_reusable_after_a_delete() {
        let (a, b) = (kafka_cluster("k", "a:1"), kafka_cluster("k", "b:1"));
        let (inner, verdicts) = replay(&[
            put_cluster(PutOp::Create, &a),
            put_cluster(PutOp::Create, &b),
        ]);
        assert_eq!(verdicts, [true, false]);
        assert_eq!(inner.clusters["k"].id, a.id);
        // The loser's key is its own registration: its tombstone leaves the winner alone.
        let loser = Command::Delete(EntityKey::KafkaCluster(b.id.clone()));
        let (inner, verdicts) = replay(&[
            put_cluster(PutOp::Create, &a),
            put_cluster(PutOp::Create, &b),
            loser,
        ]);
        assert_eq!(verdicts, [true, false, true]);
        assert_eq!(inner.clusters["k"].id, a.id);
        assert!(inner.refused.is_empty());
        // A duplicate append is a no-op; after a delete the name can be registered again,
        // and a stale update of the deleted registration is refused.
        let mut a_patched = a.clone();
        a_patched
            .properties
            .insert("bootstrap.servers".into(), "a:2".into());
        let gone = Command::Delete(EntityKey::KafkaCluster(a.id.clone()));
        let (inner, verdicts) = replay(&[
            put_cluster(PutOp::Create, &a),
            put_cluster(PutOp::Create, &a),
            gone,
            put_cluster(PutOp::Create, &b),
            put_cluster(PutOp::Update, &a_patched),
        ]);
        assert_eq!(verdicts, [true, true, true, true, false]);
        assert_eq!(inner.clusters["k"].id, b.id);
        assert_eq!(inner.clusters["k"].properties["bootstrap.servers"], "b:1");
    }

    #[test]
    fn kafka_cluster_updates_replace_the_properties_and_survive_compaction() {
        let a = kafka_cluster("k", "a:1");
        let mut patched = a.clone();
        patched
            .properties
            .insert("bootstrap.servers".into(), "a:2".into());
        let (whole, verdicts) = replay(&[
            put_cluster(PutOp::Create, &a),
            put_cluster(PutOp::Update, &patched),
        ]);
        assert_eq!(verdicts, [true, true]);
        // Compacted: only the update remains.
        let (compacted, verdicts) = replay(&[put_cluster(PutOp::Update, &patched)]);
        assert_eq!(verdicts, [true]);
        assert_eq!(whole.clusters, compacted.clusters);
        assert_eq!(whole.clusters["k"].properties["bootstrap.servers"], "a:2");
    }
}
