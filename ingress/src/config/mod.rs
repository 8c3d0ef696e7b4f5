//! Loading of the server configuration (`restate.toml` and `RESTATE_*` environment variables).
//!
//! The file has the shape of Restate's configuration so a Restate user's `restate.toml` loads
//! unchanged: `base-dir`, `[admin] bind-address` and `[[ingress.kafka-clusters]]`. Restate's
//! other sections are ignored (with a debug note), because a real `restate.toml` has many.
//!
//! A cluster table holds `name`, `brokers` and any librdkafka property. TOML turns an
//! unquoted dotted key (`sasl.username = "me"`) into nested tables, so nested tables are
//! flattened back into dotted names; quoted keys (`"sasl.username" = "me"`) work as well.
//! Values may be strings, integers, floats, booleans or arrays of those (joined with `,`);
//! they are normalised to librdkafka's string syntax and checked by the option translator.
//!
//! Environment variables override the file field by field: `RESTATE_` prefix, `__` between
//! nesting levels, `_` becomes `-` inside a key. Values are inline TOML; a value that is not
//! valid TOML is taken as a plain string (`RESTATE_ADMIN__BIND_ADDRESS=127.0.0.1:9070`),
//! except that a value starting with `[` or `{` must be valid TOML (so a typo in
//! `RESTATE_INGRESS__KAFKA_CLUSTERS` is reported with its column instead of becoming a
//! string). An array from the environment replaces the file's array as a whole.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::options::{self, redact_options, OptionUse};

/// Default `base-dir`.
pub const DEFAULT_BASE_DIR: &str = "kafka-ingress-data";
/// Default `[admin] bind-address`.
pub const DEFAULT_ADMIN_BIND_ADDRESS: &str = "0.0.0.0:9070";
/// Prefix of the environment variables that override the file.
pub const ENV_PREFIX: &str = "RESTATE_";

/// The whole server configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Where subscriptions and deployments are persisted.
    pub base_dir: PathBuf,
    /// The admin API settings.
    pub admin: AdminConfig,
    /// The Kafka clusters subscriptions can consume from.
    pub ingress: IngressConfig,
    /// Non-fatal findings (ignored librdkafka properties), to be logged once at start-up.
    pub warnings: Vec<String>,
}

/// `[admin]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// `bind-address`: where the admin API listens.
    pub bind_address: SocketAddr,
}

/// `[ingress]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IngressConfig {
    /// `[[ingress.kafka-clusters]]`, in the order given; names are unique.
    pub kafka_clusters: Vec<ClusterConfig>,
    /// `instance-id`: this process's stable member identity (default: the one persisted in
    /// the base dir). Subscriptions use `<instance-id>-<subscription id>` as their
    /// `group.instance.id` unless they set one.
    pub instance_id: Option<String>,
    /// `[ingress.metadata-store]`: where deployments and subscriptions live.
    pub metadata_store: MetadataStoreConfig,
    /// `restate-refresh-interval-ms`: how often the services of deployments that are Restate
    /// servers are read again from their admin API (`None`: every
    /// [`DEFAULT_RESTATE_REFRESH_MS`] ms; `Some(0)`: only on re-registration).
    pub restate_refresh_interval_ms: Option<u64>,
}

/// The default of `restate-refresh-interval-ms`.
pub const DEFAULT_RESTATE_REFRESH_MS: u64 = 60_000;

/// The default name of the metadata topic of `store = "kafka"`.
pub const DEFAULT_METADATA_TOPIC: &str = "__kafka_ingress_metadata";

/// `[ingress.metadata-store]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MetadataStoreConfig {
    /// `store = "local"` (the default): `<base-dir>/state.json`, one process.
    #[default]
    Local,
    /// `store = "kafka"`: a compacted single-partition topic shared by every process.
    Kafka(KafkaStoreConfig),
}

/// The settings of `store = "kafka"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaStoreConfig {
    /// `cluster`: the `[[ingress.kafka-clusters]]` entry holding the topic (its options, TLS
    /// and SASL included, are used to reach it).
    pub cluster: String,
    /// `topic` (default [`DEFAULT_METADATA_TOPIC`]).
    pub topic: String,
    /// `replication-factor` used when the topic is created (default: the broker's).
    pub replication_factor: Option<i16>,
    /// `min-insync-replicas` set on the topic when it is created (default: the broker's).
    pub min_insync_replicas: Option<i16>,
}

impl IngressConfig {
    /// The cluster with this name.
    pub fn cluster(&self, name: &str) -> Option<&ClusterConfig> {
        self.kafka_clusters.iter().find(|c| c.name == name)
    }

    /// All cluster names, in configuration order (for "unknown cluster" errors).
    pub fn cluster_names(&self) -> Vec<&str> {
        self.kafka_clusters
            .iter()
            .map(|c| c.name.as_str())
            .collect()
    }
}

/// One `[[ingress.kafka-clusters]]` entry; `Debug` redacts secret options.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ClusterConfig {
    /// The name subscriptions use in `kafka://<name>/<topic>`.
    pub name: String,
    /// Bootstrap brokers, `[proto://]host:port`.
    pub brokers: Vec<String>,
    /// librdkafka properties and `ingress.*` options (dotted names, librdkafka value syntax).
    pub options: BTreeMap<String, String>,
}

impl ClusterConfig {
    /// The options with secrets replaced by `***`, for API responses and logs.
    pub fn redacted_options(&self) -> BTreeMap<String, String> {
        redact_options(&self.options)
    }
}

impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("name", &self.name)
            .field("brokers", &self.brokers)
            .field("options", &self.redacted_options())
            .finish()
    }
}

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// The configuration file (its path as given).
    File(PathBuf),
    /// An environment variable (its name).
    Env(String),
    /// Built-in defaults.
    Defaults,
}

impl fmt::Display for ConfigOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigOrigin::File(path) => write!(f, "{}", path.display()),
            ConfigOrigin::Env(var) => write!(f, "environment variable {var}"),
            ConfigOrigin::Defaults => f.write_str("defaults"),
        }
    }
}

/// Why the configuration cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file or an environment value is not valid TOML.
    #[error("{origin}:{line}:{column}: invalid TOML: {message}")]
    Syntax {
        /// The file or variable.
        origin: ConfigOrigin,
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A field has a wrong type or value.
    #[error("{origin}: {field}: {message}")]
    Invalid {
        /// The file or variable the field came from.
        origin: ConfigOrigin,
        /// The field path, e.g. `ingress.kafka-clusters[1].name`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl ServerConfig {
    /// Loads the optional file, then applies `RESTATE_*` variables from `env` on top.
    ///
    /// `env` is passed in (usually `std::env::vars()`) so tests need not touch the process
    /// environment.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ServerConfig, ConfigError> {
        match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                Self::from_toml_str(path, &text, env)
            }
            None => Self::build(Table::new(), None, env),
        }
    }

    /// Like [`ServerConfig::load`] with the file's text already read; `path` names it in errors.
    pub fn from_toml_str(
        path: &Path,
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ServerConfig, ConfigError> {
        let origin = ConfigOrigin::File(path.to_owned());
        let table = parse_toml_table(text, &origin)?;
        Self::build(table, Some(origin), env)
    }

    fn build(
        mut tree: Table,
        file: Option<ConfigOrigin>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ServerConfig, ConfigError> {
        let mut overrides = Vec::new();
        for (var, value) in env {
            if let Some(path) = apply_env_var(&mut tree, &var, &value)? {
                overrides.push((path, var));
            }
        }
        let origins = Origins {
            file: file.unwrap_or(ConfigOrigin::Defaults),
            overrides,
        };
        extract(&tree, &origins)
    }
}

/// The `RESTATE_*` variables this program reads, as key paths.
const SUPPORTED_ENV_PATHS: &[&[&str]] = &[
    &["base-dir"],
    &["admin", "bind-address"],
    &["ingress", "kafka-clusters"],
];

/// Paths whose value is a plain string: an env value is used verbatim unless it is a
/// quoted TOML string.
const STRING_PATHS: &[&[&str]] = &[&["base-dir"], &["admin", "bind-address"]];

/// Turns `RESTATE_INGRESS__KAFKA_CLUSTERS` into `["ingress", "kafka-clusters"]`.
pub fn env_var_key_path(var: &str) -> Option<Vec<String>> {
    let rest = var.strip_prefix(ENV_PREFIX)?;
    if rest.is_empty() {
        return None;
    }
    Some(
        rest.split("__")
            .map(|segment| segment.to_ascii_lowercase().replace('_', "-"))
            .collect(),
    )
}

/// Parses an environment value as an inline TOML value, falling back to a plain string.
///
/// `var` names the variable in syntax errors (reported for values starting with `[`/`{`).
pub fn parse_env_value(var: &str, value: &str) -> Result<Value, ConfigError> {
    const KEY: &str = "value = ";
    let wrapped = format!("{KEY}{value}");
    match toml::from_str::<Table>(&wrapped) {
        Ok(mut table) => Ok(table
            .remove("value")
            .unwrap_or_else(|| Value::String(value.to_owned()))),
        Err(err) => {
            let trimmed = value.trim_start();
            if trimmed.starts_with('[') || trimmed.starts_with('{') {
                let (line, column) = err
                    .span()
                    .map(|span| line_column(&wrapped, span.start))
                    .unwrap_or((1, 1));
                let column = if line == 1 {
                    column.saturating_sub(KEY.len()).max(1)
                } else {
                    column
                };
                Err(ConfigError::Syntax {
                    origin: ConfigOrigin::Env(var.to_owned()),
                    line,
                    column,
                    message: err.message().trim().to_owned(),
                })
            } else {
                Ok(Value::String(value.to_owned()))
            }
        }
    }
}

/// Applies one variable to the tree; returns the key path it set, if it is one we read.
fn apply_env_var(
    tree: &mut Table,
    var: &str,
    value: &str,
) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(path) = env_var_key_path(var) else {
        return Ok(None);
    };
    if !SUPPORTED_ENV_PATHS.iter().any(|p| path_eq(p, &path)) {
        tracing::debug!(
            var,
            "ignoring environment variable not used by kafka-ingress"
        );
        return Ok(None);
    }
    let value = if STRING_PATHS.iter().any(|p| path_eq(p, &path)) {
        match parse_env_value(var, value) {
            Ok(Value::String(s)) => Value::String(s),
            _ => Value::String(value.to_owned()),
        }
    } else {
        parse_env_value(var, value)?
    };
    let mut table = tree;
    let (last, parents) = match path.split_last() {
        Some(split) => split,
        None => return Ok(None),
    };
    for segment in parents {
        let entry = table
            .entry(segment.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        table = match entry {
            Value::Table(t) => t,
            _ => return Ok(None),
        };
    }
    table.insert(last.clone(), value);
    Ok(Some(path))
}

fn path_eq(expected: &[&str], path: &[String]) -> bool {
    expected.len() == path.len() && expected.iter().zip(path).all(|(a, b)| *a == b.as_str())
}

/// Parses a TOML document; syntax errors carry line and column.
fn parse_toml_table(text: &str, origin: &ConfigOrigin) -> Result<Table, ConfigError> {
    toml::from_str::<Table>(text).map_err(|err| {
        let (line, column) = err
            .span()
            .map(|span| line_column(text, span.start))
            .unwrap_or((1, 1));
        ConfigError::Syntax {
            origin: origin.clone(),
            line,
            column,
            message: err.message().trim().to_owned(),
        }
    })
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Which source each field came from: the file, unless an env var set it (or a parent).
struct Origins {
    file: ConfigOrigin,
    overrides: Vec<(Vec<String>, String)>,
}

impl Origins {
    fn of(&self, path: &[&str]) -> ConfigOrigin {
        self.overrides
            .iter()
            .rev()
            .find(|(p, _)| p.len() <= path.len() && p.iter().zip(path).all(|(a, b)| a == b))
            .map(|(_, var)| ConfigOrigin::Env(var.clone()))
            .unwrap_or_else(|| self.file.clone())
    }

    fn error(
        &self,
        path: &[&str],
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            origin: self.of(path),
            field: field.into(),
            message: message.into(),
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

fn extract(tree: &Table, origins: &Origins) -> Result<ServerConfig, ConfigError> {
    let mut base_dir = PathBuf::from(DEFAULT_BASE_DIR);
    let mut bind_address = None;
    let mut clusters = Vec::new();
    let mut instance_id = None;
    let mut metadata_store = MetadataStoreConfig::Local;
    let mut restate_refresh_interval_ms = None;
    let mut warnings = Vec::new();
    for (key, value) in tree {
        match key.as_str() {
            "base-dir" => match value {
                Value::String(s) if !s.is_empty() => base_dir = PathBuf::from(s),
                Value::String(_) => {
                    return Err(origins.error(&["base-dir"], "base-dir", "must not be empty"))
                }
                other => {
                    return Err(origins.error(
                        &["base-dir"],
                        "base-dir",
                        format!("expected a string, found {}", type_name(other)),
                    ))
                }
            },
            "admin" => bind_address = extract_admin(value, origins)?,
            "ingress" => {
                (
                    clusters,
                    instance_id,
                    metadata_store,
                    restate_refresh_interval_ms,
                ) = extract_ingress(value, origins, &mut warnings)?;
            }
            other => tracing::debug!(
                key = other,
                "ignoring configuration section not used by kafka-ingress"
            ),
        }
    }
    let bind_address = match bind_address {
        Some(address) => address,
        None => parse_bind_address(DEFAULT_ADMIN_BIND_ADDRESS, origins)?,
    };
    Ok(ServerConfig {
        base_dir,
        admin: AdminConfig { bind_address },
        ingress: IngressConfig {
            kafka_clusters: clusters,
            instance_id,
            metadata_store,
            restate_refresh_interval_ms,
        },
        warnings,
    })
}

fn parse_bind_address(text: &str, origins: &Origins) -> Result<SocketAddr, ConfigError> {
    text.trim().parse().map_err(|_| {
        origins.error(
            &["admin", "bind-address"],
            "admin.bind-address",
            format!("invalid socket address \"{text}\" (expected ip:port, e.g. 0.0.0.0:9070)"),
        )
    })
}

fn extract_admin(value: &Value, origins: &Origins) -> Result<Option<SocketAddr>, ConfigError> {
    let Value::Table(admin) = value else {
        return Err(origins.error(
            &["admin"],
            "admin",
            format!("expected a table, found {}", type_name(value)),
        ));
    };
    let mut address = None;
    for (key, value) in admin {
        if key == "bind-address" {
            let Value::String(text) = value else {
                return Err(origins.error(
                    &["admin", "bind-address"],
                    "admin.bind-address",
                    format!("expected a string, found {}", type_name(value)),
                ));
            };
            address = Some(parse_bind_address(text, origins)?);
        } else {
            tracing::debug!(key = %key, "ignoring [admin] key not used by kafka-ingress");
        }
    }
    Ok(address)
}

/// What `[ingress]` holds: clusters, instance id, metadata store, Restate refresh interval.
type IngressSection = (
    Vec<ClusterConfig>,
    Option<String>,
    MetadataStoreConfig,
    Option<u64>,
);

fn extract_ingress(
    value: &Value,
    origins: &Origins,
    warnings: &mut Vec<String>,
) -> Result<IngressSection, ConfigError> {
    let Value::Table(ingress) = value else {
        return Err(origins.error(
            &["ingress"],
            "ingress",
            format!("expected a table, found {}", type_name(value)),
        ));
    };
    let mut clusters: Vec<ClusterConfig> = Vec::new();
    let mut instance_id = None;
    let mut metadata_store = MetadataStoreConfig::Local;
    let mut refresh = None;
    for (key, value) in ingress {
        if key == "restate-refresh-interval-ms" {
            let path = ["ingress", "restate-refresh-interval-ms"];
            match value {
                Value::Integer(ms) if *ms >= 0 => refresh = Some(*ms as u64),
                other => {
                    return Err(origins.error(
                        &path,
                        "ingress.restate-refresh-interval-ms",
                        format!(
                            "expected milliseconds (an integer >= 0; 0 = only on \
                             re-registration), found {}",
                            match other {
                                Value::Integer(ms) => ms.to_string(),
                                other => type_name(other).to_owned(),
                            }
                        ),
                    ))
                }
            }
            continue;
        }
        if key == "metadata-store" {
            metadata_store = extract_metadata_store(value, origins)?;
            continue;
        }
        if key == "instance-id" {
            let path = ["ingress", "instance-id"];
            match value {
                Value::String(id) if crate::store::valid_instance_id(id) => {
                    instance_id = Some(id.clone());
                }
                Value::String(id) => {
                    return Err(origins.error(
                        &path,
                        "ingress.instance-id",
                        format!(
                            "invalid instance id \"{id}\" (1-200 characters of A-Z a-z 0-9 . _ -)"
                        ),
                    ))
                }
                other => {
                    return Err(origins.error(
                        &path,
                        "ingress.instance-id",
                        format!("expected a string, found {}", type_name(other)),
                    ))
                }
            }
            continue;
        }
        if key != "kafka-clusters" {
            tracing::debug!(key = %key, "ignoring [ingress] key not used by kafka-ingress");
            continue;
        }
        let path = ["ingress", "kafka-clusters"];
        let Value::Array(items) = value else {
            return Err(origins.error(
                &path,
                "ingress.kafka-clusters",
                format!("expected an array of tables, found {}", type_name(value)),
            ));
        };
        for (index, item) in items.iter().enumerate() {
            let field = format!("ingress.kafka-clusters[{index}]");
            let cluster = extract_cluster(item, &field, origins, warnings)?;
            if clusters.iter().any(|c| c.name == cluster.name) {
                return Err(origins.error(
                    &path,
                    format!("{field}.name"),
                    format!("duplicate cluster name \"{}\"", cluster.name),
                ));
            }
            clusters.push(cluster);
        }
    }
    if let MetadataStoreConfig::Kafka(store) = &metadata_store {
        if !clusters.iter().any(|c| c.name == store.cluster) {
            let known: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
            return Err(origins.error(
                &["ingress", "metadata-store", "cluster"],
                "ingress.metadata-store.cluster",
                format!(
                    "unknown Kafka cluster \"{}\" (configured: {})",
                    store.cluster,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
    }
    Ok((clusters, instance_id, metadata_store, refresh))
}

/// `[ingress.metadata-store]`: `store`, and for `store = "kafka"` `cluster`, `topic`,
/// `replication-factor`, `min-insync-replicas`. Unknown keys are errors: a typo here would
/// silently split a cluster of processes into single ones.
fn extract_metadata_store(
    value: &Value,
    origins: &Origins,
) -> Result<MetadataStoreConfig, ConfigError> {
    let base = ["ingress", "metadata-store"];
    let Value::Table(table) = value else {
        return Err(origins.error(
            &base,
            "ingress.metadata-store",
            format!("expected a table, found {}", type_name(value)),
        ));
    };
    let err = |key: &str, message: String| {
        origins.error(
            &["ingress", "metadata-store", key],
            format!("ingress.metadata-store.{key}"),
            message,
        )
    };
    let string = |key: &str| -> Result<Option<String>, ConfigError> {
        match table.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
            Some(Value::String(_)) => Err(err(key, "must not be empty".to_owned())),
            Some(other) => Err(err(
                key,
                format!("expected a string, found {}", type_name(other)),
            )),
        }
    };
    let small_int = |key: &str| -> Result<Option<i16>, ConfigError> {
        match table.get(key) {
            None => Ok(None),
            Some(Value::Integer(n)) if (1..=i64::from(i16::MAX)).contains(n) => {
                Ok(i16::try_from(*n).ok())
            }
            Some(Value::Integer(n)) => Err(err(key, format!("{n} is not a positive count"))),
            Some(other) => Err(err(
                key,
                format!("expected an integer, found {}", type_name(other)),
            )),
        }
    };
    for key in table.keys() {
        if !matches!(
            key.as_str(),
            "store" | "cluster" | "topic" | "replication-factor" | "min-insync-replicas"
        ) {
            return Err(err(
                key,
                "unknown key (expected store, cluster, topic, replication-factor, \
                 min-insync-replicas)"
                    .to_owned(),
            ));
        }
    }
    match string("store")?.as_deref() {
        None | Some("local") => {
            if let Some(key) = [
                "cluster",
                "topic",
                "replication-factor",
                "min-insync-replicas",
            ]
            .into_iter()
            .find(|k| table.contains_key(*k))
            {
                return Err(err(key, "only used with store = \"kafka\"".to_owned()));
            }
            Ok(MetadataStoreConfig::Local)
        }
        Some("kafka") => {
            let cluster = string("cluster")?.ok_or_else(|| {
                err(
                    "cluster",
                    "missing: store = \"kafka\" needs the name of an [[ingress.kafka-clusters]] \
                     entry"
                        .to_owned(),
                )
            })?;
            let topic = string("topic")?.unwrap_or_else(|| DEFAULT_METADATA_TOPIC.to_owned());
            if topic.len() > 249
                || !topic
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                || topic == "."
                || topic == ".."
            {
                return Err(err(
                    "topic",
                    format!(
                        "invalid topic name \"{topic}\" (1-249 characters of A-Z a-z 0-9 . _ -)"
                    ),
                ));
            }
            Ok(MetadataStoreConfig::Kafka(KafkaStoreConfig {
                cluster,
                topic,
                replication_factor: small_int("replication-factor")?,
                min_insync_replicas: small_int("min-insync-replicas")?,
            }))
        }
        Some(other) => Err(err(
            "store",
            format!("unknown store \"{other}\" (expected \"local\" or \"kafka\")"),
        )),
    }
}

fn extract_cluster(
    item: &Value,
    field: &str,
    origins: &Origins,
    warnings: &mut Vec<String>,
) -> Result<ClusterConfig, ConfigError> {
    let path = ["ingress", "kafka-clusters"];
    let err = |suffix: &str, message: String| {
        let field = if suffix.is_empty() {
            field.to_owned()
        } else {
            format!("{field}.{suffix}")
        };
        origins.error(&path, field, message)
    };
    let Value::Table(table) = item else {
        return Err(err(
            "",
            format!("expected a table, found {}", type_name(item)),
        ));
    };
    let name = match table.get("name") {
        None => return Err(err("name", "missing field".to_owned())),
        Some(Value::String(name)) => name.clone(),
        Some(other) => {
            return Err(err(
                "name",
                format!("expected a string, found {}", type_name(other)),
            ))
        }
    };
    if name.is_empty() || name.contains(|c: char| c == '/' || c.is_whitespace()) {
        return Err(err(
            "name",
            format!("invalid cluster name \"{name}\": must be non-empty, without '/' or spaces"),
        ));
    }
    let brokers = match table.get("brokers") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(err(
                    &format!("brokers[{i}]"),
                    format!("expected a string, found {}", type_name(other)),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(err(
                "brokers",
                format!("expected an array of strings, found {}", type_name(other)),
            ))
        }
    };
    let mut flat = Vec::new();
    for (key, value) in table {
        if key == "name" || key == "brokers" {
            continue;
        }
        flatten_option(key, value, &mut flat);
    }
    let mut options = BTreeMap::new();
    for (name, value) in flat {
        let value = option_value(&value).map_err(|message| err(&name, message))?;
        if options.contains_key(&name) {
            return Err(err(
                &name,
                "set twice (as a quoted and as a dotted key)".to_owned(),
            ));
        }
        match options::check_option(&name, &value) {
            Ok(OptionUse::Ignored(warning)) => {
                if !warnings.contains(&warning) {
                    warnings.push(warning);
                }
            }
            Ok(_) => {}
            Err(e) => return Err(err(&name, e.to_string())),
        }
        options.insert(name, value);
    }
    let cluster = ClusterConfig {
        name,
        brokers,
        options,
    };
    options::check_cluster_options(&cluster).map_err(|e| match &e {
        options::OptionError::DuplicateAlias { second, .. } => err(second, e.to_string()),
        _ => err("brokers", e.to_string()),
    })?;
    Ok(cluster)
}

/// Flattens nested tables (from unquoted dotted keys) into dotted option names.
fn flatten_option(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Table(table) => {
            for (key, value) in table {
                flatten_option(&format!("{prefix}.{key}"), value, out);
            }
        }
        other => out.push((prefix.to_owned(), other.clone())),
    }
}

/// Normalises a TOML value to librdkafka's string syntax.
fn option_value(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Integer(i) => Ok(i.to_string()),
        Value::Float(f) => Ok(f.to_string()),
        Value::Boolean(b) => Ok(b.to_string()),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Array(_) | Value::Table(_) => {
                    Err("expected an array of strings, numbers or booleans".to_owned())
                }
                other => option_value(other),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|items| items.join(",")),
        other => Err(format!(
            "expected a string, number or boolean, found {}",
            type_name(other)
        )),
    }
}
