//! A Kafka cluster registered at runtime (`POST /kafka-clusters`, Restate 1.7's API): a name
//! and librdkafka properties, persisted by the metadata store like subscriptions and
//! deployments. Clusters of the configuration file stay [`ClusterConfig`]s; both resolve to
//! a [`ClusterConfig`] for the option translator.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::ClusterConfig;
use crate::options::{self, redact_options, OptionError, OptionUse};

/// The longest cluster name accepted.
pub const MAX_CLUSTER_NAME: usize = 128;

/// A cluster registered through the admin API. `Debug` redacts secret properties.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaClusterSpec {
    /// A unique id of this registration (`kc_...`): the metadata log's key, so a name can be
    /// registered again after a delete and two concurrent creates of one name never
    /// tombstone each other.
    pub id: String,
    /// The name subscriptions use in `kafka://<name>/<topic>`.
    pub name: String,
    /// librdkafka properties (`bootstrap.servers` or `metadata.broker.list` required).
    pub properties: BTreeMap<String, String>,
    /// When it was registered (RFC 3339, UTC).
    pub created_at: String,
}

impl fmt::Debug for KafkaClusterSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaClusterSpec")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("properties", &redact_options(&self.properties))
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// Why a cluster registration is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterSpecError {
    /// The name cannot be used.
    #[error(
        "invalid kafka cluster name {name:?}: use 1 to {MAX_CLUSTER_NAME} characters of \
         [A-Za-z0-9._-], starting with a letter or digit (it appears in kafka://<name>/<topic> \
         and must be a URI host, as Restate requires)"
    )]
    Name {
        /// The name given.
        name: String,
    },
    /// A property is unknown or invalid, or the brokers are missing.
    #[error("invalid properties of kafka cluster {cluster:?}: {error}")]
    Property {
        /// The cluster.
        cluster: String,
        /// The option translator's message.
        error: OptionError,
    },
}

impl KafkaClusterSpec {
    /// A new registration (fresh id, created now) after checking the name and properties;
    /// returns it with the warnings for accepted-but-ignored properties.
    pub fn new(
        name: &str,
        properties: BTreeMap<String, String>,
    ) -> Result<(KafkaClusterSpec, Vec<String>), ClusterSpecError> {
        check_cluster_name(name)?;
        let spec = KafkaClusterSpec {
            id: crate::ids::random_id("kc_"),
            name: name.to_owned(),
            properties,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        let warnings = spec.check_properties()?;
        Ok((spec, warnings))
    }

    /// Checks every property as the configuration file's are checked (names, values, one
    /// bootstrap list); returns the warnings for ignored ones.
    pub fn check_properties(&self) -> Result<Vec<String>, ClusterSpecError> {
        let wrap = |error: OptionError| ClusterSpecError::Property {
            cluster: self.name.clone(),
            error,
        };
        let mut warnings = Vec::new();
        for (name, value) in &self.properties {
            if let OptionUse::Ignored(warning) = options::check_option(name, value).map_err(wrap)? {
                warnings.push(warning);
            }
        }
        warnings.extend(options::check_cluster_options(&self.config()).map_err(wrap)?);
        warnings.dedup();
        Ok(warnings)
    }

    /// The cluster as the option translator takes it (the brokers are a property).
    pub fn config(&self) -> ClusterConfig {
        ClusterConfig {
            name: self.name.clone(),
            brokers: Vec::new(),
            options: self.properties.clone(),
        }
    }
}

/// Checks a runtime cluster name: `[A-Za-z0-9][A-Za-z0-9._-]*`, at most
/// [`MAX_CLUSTER_NAME`] characters (a valid URI host, as Restate's CLI needs).
pub fn check_cluster_name(name: &str) -> Result<(), ClusterSpecError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_CLUSTER_NAME
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(ClusterSpecError::Name {
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn names_must_be_uri_hosts() {
        for ok in ["local", "prod-eu.1", "a_b", "9"] {
            check_cluster_name(ok).unwrap();
        }
        for bad in ["", "bad name!", "-x", "a/b", "a:9092", &"x".repeat(129)] {
            let e = check_cluster_name(bad).unwrap_err();
            assert!(e.to_string().contains("invalid kafka cluster name"), "{e}");
        }
    }

    #[test]
    fn properties_are_checked_by_the_option_translator() {
        let (spec, warnings) =
            KafkaClusterSpec::new("c", props(&[("bootstrap.servers", "h:9092")])).unwrap();
        assert!(spec.id.starts_with("kc_"));
        assert!(warnings.is_empty());
        chrono::DateTime::parse_from_rfc3339(&spec.created_at).unwrap();

        let e = KafkaClusterSpec::new("c", props(&[("security.protocol", "plaintext")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("kafka cluster \"c\""), "{e}");
        let e = KafkaClusterSpec::new(
            "c",
            props(&[("bootstrap.servers", "h:9092"), ("no.such.option", "1")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no.such.option"), "{e}");
        let e = KafkaClusterSpec::new(
            "c",
            props(&[
                ("bootstrap.servers", "h:1"),
                ("metadata.broker.list", "h:2"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("kafka cluster \"c\""), "{e}");
    }

    #[test]
    fn debug_hides_secrets() {
        let (spec, _) = KafkaClusterSpec::new(
            "c",
            props(&[
                ("bootstrap.servers", "h:9092"),
                ("sasl.password", "hunter2"),
            ]),
        )
        .unwrap();
        let shown = format!("{spec:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("***"),
            "{shown}"
        );
    }
}
