//! The records of the Kafka metadata topic: one per entity, keyed by the entity, with a JSON
//! command as value; a tombstone (no value) deletes the entity.
//!
//! Key: `subscription/<id>`, `deployment/<id>` or `kafka-cluster/<id>` (a registration id,
//! not the name: see [`KafkaClusterSpec::id`]). Value: `{"format": 1, "request_id": ..,
//! "op": "create" | "update", "subscription" | "deployment" | "kafka_cluster": {..}, ..}`. The format is
//! checked first, so a record written by a newer kafka-ingress stops start-up with its
//! version named instead of a confusing shape error.

use serde::{Deserialize, Serialize};

use crate::cluster_spec::KafkaClusterSpec;
use crate::deployments::Deployment;
use crate::subscription_spec::SubscriptionSpec;

/// The record format this build reads and writes.
pub const RECORD_FORMAT: u32 = 1;

const SUBSCRIPTION_PREFIX: &str = "subscription/";
const DEPLOYMENT_PREFIX: &str = "deployment/";
const KAFKA_CLUSTER_PREFIX: &str = "kafka-cluster/";

/// The entity a record is about (its key).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntityKey {
    /// `subscription/<id>`.
    Subscription(String),
    /// `deployment/<id>`.
    Deployment(String),
    /// `kafka-cluster/<registration id>`.
    KafkaCluster(String),
}

impl EntityKey {
    /// The record key.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            EntityKey::Subscription(id) => format!("{SUBSCRIPTION_PREFIX}{id}"),
            EntityKey::Deployment(id) => format!("{DEPLOYMENT_PREFIX}{id}"),
            EntityKey::KafkaCluster(id) => format!("{KAFKA_CLUSTER_PREFIX}{id}"),
        }
        .into_bytes()
    }

    /// Parses a record key.
    pub fn decode(key: &[u8]) -> Result<EntityKey, RecordError> {
        let text = std::str::from_utf8(key).map_err(|_| RecordError::Key(lossy(key)))?;
        let entity = if let Some(id) = text.strip_prefix(SUBSCRIPTION_PREFIX) {
            EntityKey::Subscription(id.to_owned())
        } else if let Some(id) = text.strip_prefix(DEPLOYMENT_PREFIX) {
            EntityKey::Deployment(id.to_owned())
        } else if let Some(id) = text.strip_prefix(KAFKA_CLUSTER_PREFIX) {
            EntityKey::KafkaCluster(id.to_owned())
        } else {
            return Err(RecordError::Key(text.to_owned()));
        };
        match &entity {
            EntityKey::Subscription(id)
            | EntityKey::Deployment(id)
            | EntityKey::KafkaCluster(id)
                if id.is_empty() =>
            {
                Err(RecordError::Key(text.to_owned()))
            }
            _ => Ok(entity),
        }
    }
}

impl std::fmt::Display for EntityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.encode()))
    }
}

/// Whether a put creates the entity or replaces a live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PutOp {
    /// A new entity: refused if it conflicts with a live one.
    Create,
    /// A new version of an existing entity (e.g. paused): refused once it was deleted.
    Update,
}

/// What a record asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Create or update a subscription.
    PutSubscription {
        /// Create or update.
        op: PutOp,
        /// The whole subscription.
        spec: SubscriptionSpec,
        /// For an update: the offset of the subscription's create, which orders listings
        /// (compaction may remove the create record itself).
        created_offset: Option<i64>,
    },
    /// Register a deployment (a replacement of the same URI needs `force`).
    PutDeployment {
        /// The whole deployment, id and creation time included, so every process applies
        /// the same one.
        deployment: Deployment,
        /// Replace deployments with the same URI and allow service type changes.
        force: bool,
    },
    /// Register a Kafka cluster (create) or replace its properties (update).
    PutKafkaCluster {
        /// Create or update.
        op: PutOp,
        /// The whole registration.
        cluster: KafkaClusterSpec,
    },
    /// Delete an entity (a tombstone).
    Delete(EntityKey),
}

impl Command {
    /// The entity the command is about.
    pub fn key(&self) -> EntityKey {
        match self {
            Command::PutSubscription { spec, .. } => EntityKey::Subscription(spec.id.to_string()),
            Command::PutDeployment { deployment, .. } => {
                EntityKey::Deployment(deployment.id.clone())
            }
            Command::PutKafkaCluster { cluster, .. } => EntityKey::KafkaCluster(cluster.id.clone()),
            Command::Delete(key) => key.clone(),
        }
    }
}

/// A command with the id of the request that wrote it (tombstones carry none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataRecord {
    /// The writer's request id, to hand the outcome back to the waiting request.
    pub request_id: Option<String>,
    /// What to apply.
    pub command: Command,
}

#[derive(Serialize, Deserialize)]
struct Value {
    format: u32,
    #[serde(default)]
    request_id: Option<String>,
    op: PutOp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subscription: Option<SubscriptionSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_offset: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deployment: Option<Deployment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kafka_cluster: Option<KafkaClusterSpec>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    force: bool,
}

/// Why a metadata record cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The key is missing or not `subscription/<id>` / `deployment/<id>` /
    /// `kafka-cluster/<id>`.
    #[error("record key {0:?} is not subscription/<id>, deployment/<id> or kafka-cluster/<id>")]
    Key(String),
    /// The value names a format this build does not read.
    #[error(
        "record format {found} is not supported by this kafka-ingress (it reads format \
         {RECORD_FORMAT}); upgrade this process to the version that wrote it"
    )]
    UnsupportedFormat {
        /// The format in the record.
        found: u32,
    },
    /// The value is not a metadata command.
    #[error("record value is not a metadata command: {0}")]
    Value(String),
    /// The value's entity does not match the key.
    #[error("record key {key} does not match the id in its value ({value_id})")]
    KeyMismatch {
        /// The key.
        key: String,
        /// The id in the value.
        value_id: String,
    },
}

impl MetadataRecord {
    /// The record's key and value (`None` = tombstone).
    pub fn encode(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        let key = self.command.key().encode();
        let value = match &self.command {
            Command::Delete(_) => return (key, None),
            Command::PutSubscription {
                op,
                spec,
                created_offset,
            } => Value {
                format: RECORD_FORMAT,
                request_id: self.request_id.clone(),
                op: *op,
                subscription: Some(spec.clone()),
                created_offset: *created_offset,
                deployment: None,
                kafka_cluster: None,
                force: false,
            },
            Command::PutDeployment { deployment, force } => Value {
                format: RECORD_FORMAT,
                request_id: self.request_id.clone(),
                op: PutOp::Create,
                subscription: None,
                created_offset: None,
                deployment: Some(deployment.clone()),
                kafka_cluster: None,
                force: *force,
            },
            Command::PutKafkaCluster { op, cluster } => Value {
                format: RECORD_FORMAT,
                request_id: self.request_id.clone(),
                op: *op,
                subscription: None,
                created_offset: None,
                deployment: None,
                kafka_cluster: Some(cluster.clone()),
                force: false,
            },
        };
        // Plain data: serializing cannot fail; an empty object would fail decoding loudly.
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        (key, Some(bytes))
    }

    /// Reads a record; every malformed key or value is an error.
    pub fn decode(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<MetadataRecord, RecordError> {
        let key = EntityKey::decode(key.unwrap_or_default())?;
        let Some(value) = value else {
            return Ok(MetadataRecord {
                request_id: None,
                command: Command::Delete(key),
            });
        };
        #[derive(Deserialize)]
        struct FormatOnly {
            format: u32,
        }
        let probe: FormatOnly =
            serde_json::from_slice(value).map_err(|e| RecordError::Value(e.to_string()))?;
        if probe.format != RECORD_FORMAT {
            return Err(RecordError::UnsupportedFormat {
                found: probe.format,
            });
        }
        let v: Value =
            serde_json::from_slice(value).map_err(|e| RecordError::Value(e.to_string()))?;
        let mismatch = |value_id: &str| RecordError::KeyMismatch {
            key: key.to_string(),
            value_id: value_id.to_owned(),
        };
        let command = match (&key, v.subscription, v.deployment, v.kafka_cluster) {
            (EntityKey::Subscription(id), Some(spec), None, None) => {
                if spec.id.as_str() != id {
                    return Err(mismatch(spec.id.as_str()));
                }
                Command::PutSubscription {
                    op: v.op,
                    spec,
                    created_offset: v.created_offset,
                }
            }
            (EntityKey::Deployment(id), None, Some(deployment), None) => {
                if &deployment.id != id {
                    return Err(mismatch(&deployment.id));
                }
                Command::PutDeployment {
                    deployment,
                    force: v.force,
                }
            }
            (EntityKey::KafkaCluster(id), None, None, Some(cluster)) => {
                if &cluster.id != id {
                    return Err(mismatch(&cluster.id));
                }
                Command::PutKafkaCluster { op: v.op, cluster }
            }
            _ => {
                return Err(RecordError::Value(format!(
                    "a {key} record must hold exactly its own entity"
                )))
            }
        };
        Ok(MetadataRecord {
            request_id: v.request_id,
            command,
        })
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeMap;

    use super::*;
    use crate::http_client::HttpVersion;
    use crate::subscription_spec::SubscriptionId;

    fn spec() -> SubscriptionSpec {
        SubscriptionSpec {
            id: SubscriptionId::generate(),
            source: "kafka://k/orders".parse().unwrap(),
            sink: "service://Counter/add".parse().unwrap(),
            options: BTreeMap::from([("auto.offset.reset".into(), "earliest".into())]),
            paused: true,
        }
    }

    #[test]
    fn every_command_round_trips() {
        let deployment = Deployment {
            id: "dp_abc".into(),
            uri: "http://h:9080".into(),
            additional_headers: BTreeMap::new(),
            services: Vec::new(),
            http_version: HttpVersion::Http1,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            restate_admin_url: None,
        };
        let s = spec();
        for record in [
            MetadataRecord {
                request_id: Some("r1".into()),
                command: Command::PutSubscription {
                    op: PutOp::Create,
                    spec: s.clone(),
                    created_offset: None,
                },
            },
            MetadataRecord {
                request_id: Some("r2".into()),
                command: Command::PutSubscription {
                    op: PutOp::Update,
                    spec: s.clone(),
                    created_offset: Some(7),
                },
            },
            MetadataRecord {
                request_id: Some("r3".into()),
                command: Command::PutDeployment {
                    deployment,
                    force: true,
                },
            },
            MetadataRecord {
                request_id: None,
                command: Command::Delete(EntityKey::Subscription(s.id.to_string())),
            },
            MetadataRecord {
                request_id: None,
                command: Command::Delete(EntityKey::Deployment("dp_abc".into())),
            },
            MetadataRecord {
                request_id: Some("r4".into()),
                command: Command::PutKafkaCluster {
                    op: PutOp::Update,
                    cluster: KafkaClusterSpec {
                        id: "kc_1".into(),
                        name: "prod".into(),
                        properties: BTreeMap::from([("bootstrap.servers".into(), "h:9092".into())]),
                        created_at: "2026-01-01T00:00:00.000Z".into(),
                    },
                },
            },
            MetadataRecord {
                request_id: None,
                command: Command::Delete(EntityKey::KafkaCluster("kc_1".into())),
            },
        ] {
            let (key, value) = record.encode();
            assert_eq!(
                MetadataRecord::decode(Some(&key), value.as_deref()).unwrap(),
                record
            );
        }
    }

    #[test]
    fn malformed_records_are_errors_that_say_why() {
        let s = spec();
        let key = EntityKey::Subscription(s.id.to_string()).encode();
        type Case<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, &'a str);
        let cases: [Case; 8] = [
            (None, Some(b"{}"), "record key \"\""),
            (Some(b"topic/x"), None, "is not subscription/<id>"),
            (Some(b"subscription/"), None, "is not subscription/<id>"),
            (Some(b"kafka-cluster/"), None, "kafka-cluster/<id>"),
            (Some(&key), Some(b"not json"), "not a metadata command"),
            (
                Some(&key),
                Some(br#"{"format":2,"op":"create"}"#),
                "format 2 is not supported",
            ),
            (
                Some(&key),
                Some(br#"{"format":1,"op":"create"}"#),
                "exactly its own entity",
            ),
            (
                Some(b"subscription/sub_other"),
                Some(&{
                    let (_, v) = MetadataRecord {
                        request_id: None,
                        command: Command::PutSubscription {
                            op: PutOp::Create,
                            spec: s.clone(),
                            created_offset: None,
                        },
                    }
                    .encode();
                    v.unwrap()
                }),
                "does not match",
            ),
        ];
        for (key, value, expected) in cases {
            let e = MetadataRecord::decode(key, value).unwrap_err().to_string();
            assert!(e.contains(expected), "{e}");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed & 0xff) as u8
                })
                .collect();
            let _ = MetadataRecord::decode(Some(&bytes), Some(&bytes));
            let _ = MetadataRecord::decode(Some(b"deployment/dp_x"), Some(&bytes));
            let _ = MetadataRecord::decode(Some(b"kafka-cluster/kc_x"), Some(&bytes));
        }
    }
}
