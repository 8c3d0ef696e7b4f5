//! The librdkafka option translator.
//!
//! Restate users configure the Kafka ingress with librdkafka properties (cluster-wide in
//! `restate.toml`, per subscription in the admin API). This client is not librdkafka, so the
//! translator turns those string options into one typed [`ConsumerSettings`], keeping
//! librdkafka's names, aliases, value syntax, defaults and error messages so existing
//! configurations keep working and mistakes are reported the way users know.
//!
//! Classification of a name:
//! - acted on: the consumer, group, fetch and security properties listed in
//!   [`ACTED_ON_PROPERTIES`]; their values are checked and used.
//! - the ingress's own options under `ingress.` ([`INGRESS_OPTIONS`]); an unknown
//!   `ingress.*` name is an error.
//! - any other real librdkafka property is accepted, its value checked, and reported back
//!   as an ignored warning (`enable.auto.commit`/`enable.auto.offset.store` with a warning
//!   that the ingress owns commits).
//! - callbacks and pointers (`see dedicated API`) are rejected as librdkafka does.
//! - anything else: `No such configuration property: "<name>"`.
//!
//! Merge order: librdkafka defaults < cluster options < subscription options. Within one
//! layer a property and its alias must not both be set (their order is not meaningful in a
//! TOML table or a JSON object).
//!
//! Decisions where librdkafka and the spec are silent:
//! - Broker prefixes (`SASL_SSL://host:9093`) set `security.protocol`. All prefixed brokers
//!   of one list must name the same protocol. An explicit `security.protocol` must agree with
//!   the prefix; a disagreement is an error rather than a silent choice.
//! - The cluster's `brokers` are the bootstrap servers; `bootstrap.servers` (or
//!   `metadata.broker.list`) may replace `brokers` at cluster level but not be given with it,
//!   and a subscription cannot name other brokers than its cluster's.
//! - With a SASL protocol and no `sasl.mechanism`, librdkafka would use GSSAPI; that is not
//!   supported yet, so it is an error asking for an explicit mechanism.
//! - `ssl.ca.location=probe` (what Restate sets) means the system trust store, as does
//!   leaving both `ssl.ca.location` and `ssl.ca.pem` unset.
//! - `auto.commit.interval.ms=0` means no periodic commits (only on revoke and shutdown), as
//!   in librdkafka where 0 disables the auto-commit timer.
//! - Errors name the property as the user wrote it (librdkafka names the alias target).
//! - Integers are decimal (librdkafka's `strtol` also takes hex and trailing garbage).

#[rustfmt::skip]
mod librdkafka_table;
mod broker;
mod oauthbearer;
mod redact;
mod table;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

pub use broker::{parse_broker, parse_broker_list, BrokerAddr, BrokerList, DEFAULT_BROKER_PORT};
pub use oauthbearer::{OauthBearerSettings, OidcSettings, UnsecuredJwt};
pub use redact::{is_secret_option, redact_options, Secret, REDACTED};

use crate::config::ClusterConfig;
use table::{PropertyDef, PropertyKind, Role};

/// The `client.id` used when none is configured.
pub const DEFAULT_CLIENT_ID: &str = "kafka-ingress";

/// librdkafka properties (canonical names) that this client acts on.
pub const ACTED_ON_PROPERTIES: &[&str] = &[
    "auto.commit.interval.ms",
    "auto.offset.reset",
    "client.id",
    "client.rack",
    "enable.sasl.oauthbearer.unsecure.jwt",
    "enable.ssl.certificate.verification",
    "fetch.max.bytes",
    "fetch.message.max.bytes",
    "fetch.min.bytes",
    "fetch.wait.max.ms",
    "group.id",
    "group.instance.id",
    "group.protocol",
    "group.remote.assignor",
    "heartbeat.interval.ms",
    "https.ca.location",
    "https.ca.pem",
    "isolation.level",
    "max.poll.interval.ms",
    "metadata.broker.list",
    "metadata.max.age.ms",
    "partition.assignment.strategy",
    "reconnect.backoff.max.ms",
    "reconnect.backoff.ms",
    "sasl.mechanisms",
    "sasl.oauthbearer.client.id",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.config",
    "sasl.oauthbearer.extensions",
    "sasl.oauthbearer.method",
    "sasl.oauthbearer.scope",
    "sasl.oauthbearer.token.endpoint.url",
    "sasl.password",
    "sasl.username",
    "security.protocol",
    "session.timeout.ms",
    "socket.timeout.ms",
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.certificate.location",
    "ssl.endpoint.identification.algorithm",
    "ssl.key.location",
    "ssl.key.password",
];

/// Properties ignored with a specific warning because the ingress owns offset commits.
const COMMIT_OWNED_PROPERTIES: &[&str] = &[
    "auto.commit.enable",
    "enable.auto.commit",
    "enable.auto.offset.store",
];

/// The ingress's own options: name, value syntax, default (as shown in docs).
pub const INGRESS_OPTIONS: &[(&str, &str, &str)] = &[
    (
        "ingress.max-in-flight",
        "integer 1 .. 1000000",
        "100 (records in flight per partition)",
    ),
    (
        "ingress.retry.initial-interval-ms",
        "integer 1 .. 86400000",
        "100",
    ),
    (
        "ingress.retry.max-interval-ms",
        "integer 1 .. 86400000",
        "10000",
    ),
    (
        "ingress.retry.max-attempts",
        "integer 1 .. 2147483647 | unlimited",
        "unlimited",
    ),
    ("ingress.on-failure", "retry | dead-letter | skip", "retry"),
    (
        "ingress.dead-letter.topic",
        "string",
        "(none; required with on-failure=dead-letter)",
    ),
    (
        "ingress.request-timeout-ms",
        "integer 1 .. 86400000",
        "60000",
    ),
    (
        "ingress.commit-delay-ms",
        "integer 0 .. 60000 (0: only every auto.commit.interval.ms)",
        "100",
    ),
    (
        "ingress.adaptive-concurrency",
        "auto | true | false (auto: adaptive over HTTP/1.1, fixed over HTTP/2; false: always ingress.max-in-flight)",
        "auto",
    ),
];

/// Default `ingress.max-in-flight`.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 100;
/// Default `ingress.retry.initial-interval-ms`.
pub const DEFAULT_RETRY_INITIAL_INTERVAL_MS: u64 = 100;
/// Default `ingress.retry.max-interval-ms`.
pub const DEFAULT_RETRY_MAX_INTERVAL_MS: u64 = 10_000;
/// Default `ingress.request-timeout-ms`.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 60_000;
/// Default `ingress.commit-delay-ms`.
pub const DEFAULT_COMMIT_DELAY_MS: u64 = 100;

/// Why an option (or a combination of options) is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// The name is neither a librdkafka property nor an `ingress.*` option.
    #[error("No such configuration property: \"{name}\"")]
    Unknown {
        /// The name as given.
        name: String,
    },
    /// The value does not parse for the property's type.
    #[error("Invalid value for configuration property \"{name}\"")]
    InvalidValue {
        /// The name as given.
        name: String,
    },
    /// A numeric value is outside the property's range.
    #[error(
        "Configuration property \"{name}\" value {value} is outside allowed range {min}..{max}"
    )]
    OutOfRange {
        /// The name as given.
        name: String,
        /// The parsed value, as text.
        value: String,
        /// Smallest allowed value, as text.
        min: String,
        /// Largest allowed value, as text.
        max: String,
    },
    /// A callback/pointer property that only librdkafka's C API can set.
    #[error("Property \"{name}\" must be set through dedicated .._set_..() function")]
    DedicatedApi {
        /// The name as given.
        name: String,
    },
    /// A valid librdkafka setting that this client does not implement yet.
    #[error("Configuration property \"{name}\" value \"{value}\" is not supported yet: {hint}")]
    NotSupported {
        /// The name as given.
        name: String,
        /// The value (never a secret).
        value: String,
        /// What to do instead.
        hint: String,
    },
    /// A property and its alias are both set in the same place.
    #[error("Configuration property \"{first}\" is set twice, also as its alias \"{second}\"")]
    DuplicateAlias {
        /// One name.
        first: String,
        /// The other name.
        second: String,
    },
    /// A broker entry does not parse.
    #[error("Invalid broker address \"{broker}\": {reason}")]
    InvalidBroker {
        /// The entry as given.
        broker: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two broker entries name different `proto://` prefixes.
    #[error("Broker \"{first}\" and broker \"{second}\" use different security protocols")]
    ConflictingBrokerProtocols {
        /// The first prefixed entry.
        first: String,
        /// The disagreeing entry.
        second: String,
    },
    /// `security.protocol` disagrees with the brokers' `proto://` prefix.
    #[error("Configuration property \"security.protocol\" value \"{option}\" conflicts with the {prefix}:// prefix of the brokers")]
    ProtocolPrefixConflict {
        /// The option's value.
        option: String,
        /// The prefix's protocol.
        prefix: String,
    },
    /// Neither `brokers` nor `bootstrap.servers` names any broker.
    #[error("No bootstrap brokers configured: set \"brokers\" on the cluster")]
    NoBrokers,
    /// The cluster sets both `brokers` and a bootstrap property.
    #[error("Configuration property \"{name}\" cannot be set together with \"brokers\"")]
    BrokersTwice {
        /// The bootstrap property name as given.
        name: String,
    },
    /// A property that only the cluster configuration may set.
    #[error("Configuration property \"{name}\" cannot be set per subscription: a subscription uses its cluster's brokers")]
    ClusterOnly {
        /// The name as given.
        name: String,
    },
    /// A combination of valid values that cannot work together.
    #[error("{0}")]
    Inconsistent(String),
}

/// What the translator does with a (valid) option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionUse {
    /// A librdkafka property this client acts on (canonical name).
    ActedOn(&'static str),
    /// One of the ingress's own `ingress.*` options.
    Ingress,
    /// A real librdkafka property that is accepted but not acted on; the warning says so.
    Ignored(String),
}

/// Checks one option's name and value, without looking at other options.
pub fn check_option(name: &str, value: &str) -> Result<OptionUse, OptionError> {
    if name.starts_with("ingress.") {
        check_ingress_option(name, value)?;
        return Ok(OptionUse::Ingress);
    }
    let def = lookup(name)?;
    check_value(name, value, def)?;
    if def.name == "sasl.mechanisms" {
        parse_sasl_mechanism(name, value)?;
    }
    if def.name == "partition.assignment.strategy" {
        parse_assignment_strategies(name, value)?;
    }
    if ACTED_ON_PROPERTIES.contains(&def.name) {
        return Ok(OptionUse::ActedOn(def.name));
    }
    Ok(OptionUse::Ignored(ignored_warning(name, def)))
}

/// The warning for an accepted but ignored property.
fn ignored_warning(name: &str, def: &PropertyDef) -> String {
    let mut warning = if COMMIT_OWNED_PROPERTIES.contains(&def.name) {
        format!(
            "Configuration property {name} is ignored: the ingress owns offset commits \
             (it commits the lowest unfinished offset every auto.commit.interval.ms)"
        )
    } else if def.role == Role::Producer {
        format!(
            "Configuration property {name} is a producer property and will be ignored by this consumer instance"
        )
    } else {
        format!("Configuration property {name} is not supported by kafka-ingress and is ignored")
    };
    if def.deprecated {
        warning.push_str(" (it is also deprecated in librdkafka)");
    }
    warning
}

/// Finds the canonical definition of a librdkafka property, or the librdkafka error.
fn lookup(name: &str) -> Result<&'static PropertyDef, OptionError> {
    let def = table::lookup_canonical(name).ok_or_else(|| OptionError::Unknown {
        name: name.to_owned(),
    })?;
    if def.kind == PropertyKind::DedicatedApi {
        return Err(OptionError::DedicatedApi {
            name: name.to_owned(),
        });
    }
    Ok(def)
}

/// Checks a value against a property's type and range.
fn check_value(name: &str, value: &str, def: &PropertyDef) -> Result<(), OptionError> {
    match def.kind {
        PropertyKind::String | PropertyKind::PatternList | PropertyKind::DedicatedApi => Ok(()),
        PropertyKind::Integer { min, max } => parse_int(name, value, min, max).map(|_| ()),
        PropertyKind::Float { min, max } => parse_float(name, value, min, max).map(|_| ()),
        PropertyKind::Boolean => parse_bool(name, value).map(|_| ()),
        PropertyKind::Enum(values) => parse_enum(name, value, values).map(|_| ()),
        PropertyKind::Flags(flags) => {
            for flag in value.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                parse_enum(name, flag, flags)?;
            }
            Ok(())
        }
    }
}

fn invalid(name: &str) -> OptionError {
    OptionError::InvalidValue {
        name: name.to_owned(),
    }
}

/// Parses a decimal integer and checks it against `min..max` (inclusive).
pub(crate) fn parse_int(name: &str, value: &str, min: i64, max: i64) -> Result<i64, OptionError> {
    let parsed: i64 = value.trim().parse().map_err(|_| invalid(name))?;
    if parsed < min || parsed > max {
        return Err(OptionError::OutOfRange {
            name: name.to_owned(),
            value: parsed.to_string(),
            min: min.to_string(),
            max: max.to_string(),
        });
    }
    Ok(parsed)
}

/// Parses a finite float and checks it against `min..max` (inclusive).
pub(crate) fn parse_float(name: &str, value: &str, min: f64, max: f64) -> Result<f64, OptionError> {
    let parsed: f64 = value.trim().parse().map_err(|_| invalid(name))?;
    if !parsed.is_finite() {
        return Err(invalid(name));
    }
    if parsed < min || parsed > max {
        return Err(OptionError::OutOfRange {
            name: name.to_owned(),
            value: parsed.to_string(),
            min: min.to_string(),
            max: max.to_string(),
        });
    }
    Ok(parsed)
}

/// Parses a librdkafka boolean: `true/t/1` or `false/f/0`, case-insensitive.
pub(crate) fn parse_bool(name: &str, value: &str) -> Result<bool, OptionError> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("t") || value == "1" {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") || value.eq_ignore_ascii_case("f") || value == "0"
    {
        Ok(false)
    } else {
        Err(invalid(name))
    }
}

/// Parses an enum value case-insensitively; returns the canonical spelling.
pub(crate) fn parse_enum(
    name: &str,
    value: &str,
    values: &'static [&'static str],
) -> Result<&'static str, OptionError> {
    let value = value.trim();
    values
        .iter()
        .copied()
        .find(|v| v.eq_ignore_ascii_case(value))
        .ok_or_else(|| invalid(name))
}

/// The security protocol used to talk to brokers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    /// Plain TCP.
    #[default]
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL over plain TCP.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Parses `plaintext|ssl|sasl_plaintext|sasl_ssl`, case-insensitive.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "plaintext" => Some(Self::Plaintext),
            "ssl" => Some(Self::Ssl),
            "sasl_plaintext" => Some(Self::SaslPlaintext),
            "sasl_ssl" => Some(Self::SaslSsl),
            _ => None,
        }
    }

    /// librdkafka's lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plaintext => "plaintext",
            Self::Ssl => "ssl",
            Self::SaslPlaintext => "sasl_plaintext",
            Self::SaslSsl => "sasl_ssl",
        }
    }

    /// Whether the connection is wrapped in TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    /// Whether the connection authenticates with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// A SASL mechanism this client implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    /// `PLAIN`.
    Plain,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `OAUTHBEARER` (RFC 7628).
    OauthBearer,
}

impl SaslMechanism {
    /// The mechanism's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
            Self::OauthBearer => "OAUTHBEARER",
        }
    }
}

/// A parsed `sasl.mechanism`: supported, or known to librdkafka but not supported yet.
enum ParsedMechanism {
    Supported(SaslMechanism),
    Unsupported(&'static str),
}

fn parse_sasl_mechanism(name: &str, value: &str) -> Result<ParsedMechanism, OptionError> {
    match value.trim().to_ascii_uppercase().as_str() {
        "PLAIN" => Ok(ParsedMechanism::Supported(SaslMechanism::Plain)),
        "SCRAM-SHA-256" => Ok(ParsedMechanism::Supported(SaslMechanism::ScramSha256)),
        "SCRAM-SHA-512" => Ok(ParsedMechanism::Supported(SaslMechanism::ScramSha512)),
        "GSSAPI" => Ok(ParsedMechanism::Unsupported("GSSAPI")),
        "OAUTHBEARER" => Ok(ParsedMechanism::Supported(SaslMechanism::OauthBearer)),
        _ => Err(invalid(name)),
    }
}

/// Credentials for SASL authentication; `Debug` never shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslSettings {
    /// The mechanism.
    pub mechanism: SaslMechanism,
    /// `sasl.username` (empty for OAUTHBEARER).
    pub username: Secret,
    /// `sasl.password` (empty for OAUTHBEARER).
    pub password: Secret,
    /// Where OAUTHBEARER tokens come from; `Some` exactly for that mechanism.
    pub oauthbearer: Option<OauthBearerSettings>,
}

/// `ssl.endpoint.identification.algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointIdentification {
    /// Do not check the broker's host name against its certificate.
    None,
    /// Check the host name (librdkafka's default).
    Https,
}

/// TLS settings; key material is wrapped in [`Secret`] so `Debug` never shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `ssl.ca.location`: CA file or directory; `None` (or `probe`) = system trust store.
    pub ca_location: Option<String>,
    /// `ssl.ca.pem`: CA certificate(s) in PEM.
    pub ca_pem: Option<String>,
    /// `ssl.certificate.location`: client certificate (PEM) for mutual TLS.
    pub certificate_location: Option<String>,
    /// `ssl.key.location`: client private key (PEM) for mutual TLS.
    pub key_location: Option<Secret>,
    /// `ssl.key.password`: password of an encrypted private key.
    pub key_password: Option<Secret>,
    /// `ssl.endpoint.identification.algorithm` (default `https`).
    pub endpoint_identification: EndpointIdentification,
    /// `enable.ssl.certificate.verification` (default `true`).
    pub verify_certificates: bool,
}

impl Default for TlsSettings {
    /// librdkafka's defaults: system CA store, no client certificate, hostname verification.
    fn default() -> Self {
        TlsSettings {
            ca_location: None,
            ca_pem: None,
            certificate_location: None,
            key_location: None,
            key_password: None,
            endpoint_identification: EndpointIdentification::Https,
            verify_certificates: true,
        }
    }
}

/// How to connect and authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecuritySettings {
    /// `security.protocol` (or the broker prefix).
    pub protocol: SecurityProtocol,
    /// Present when the protocol uses SASL.
    pub sasl: Option<SaslSettings>,
    /// Present when the protocol uses TLS.
    pub tls: Option<TlsSettings>,
}

/// `auto.offset.reset`: where to start when the group has no committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoOffsetReset {
    /// `smallest|earliest|beginning`.
    Earliest,
    /// `largest|latest|end` (default).
    Latest,
    /// `error`: report an error instead of choosing.
    Error,
}

/// `isolation.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// Deliver records of aborted transactions too.
    ReadUncommitted,
    /// Skip aborted transactional records (default).
    ReadCommitted,
}

/// One entry of `partition.assignment.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentStrategy {
    /// `range` (eager).
    Range,
    /// `roundrobin` (eager).
    RoundRobin,
    /// `cooperative-sticky` (incremental).
    CooperativeSticky,
}

impl AssignmentStrategy {
    /// The protocol name used in JoinGroup.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Range => "range",
            Self::RoundRobin => "roundrobin",
            Self::CooperativeSticky => "cooperative-sticky",
        }
    }
}

fn parse_assignment_strategies(
    name: &str,
    value: &str,
) -> Result<Vec<AssignmentStrategy>, OptionError> {
    let mut strategies = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let strategy = match item.to_ascii_lowercase().as_str() {
            "range" => AssignmentStrategy::Range,
            "roundrobin" => AssignmentStrategy::RoundRobin,
            "cooperative-sticky" => AssignmentStrategy::CooperativeSticky,
            _ => return Err(invalid(name)),
        };
        if !strategies.contains(&strategy) {
            strategies.push(strategy);
        }
    }
    if strategies.is_empty() {
        return Err(invalid(name));
    }
    let cooperative = strategies.contains(&AssignmentStrategy::CooperativeSticky);
    if cooperative && strategies.len() > 1 {
        return Err(OptionError::Inconsistent(format!(
            "Configuration property \"{name}\": a mix of COOPERATIVE and EAGER rebalance protocols is not supported"
        )));
    }
    Ok(strategies)
}

/// What to do with a record whose delivery failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnFailure {
    /// Keep retrying (default); only that record (or key) waits.
    Retry,
    /// Produce the record to this topic, then move on.
    DeadLetter {
        /// `ingress.dead-letter.topic`.
        topic: String,
    },
    /// Log, count, move on.
    Skip,
}

/// Backoff between delivery attempts: exponential (factor 2) from `initial_interval` up to
/// `max_interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// `ingress.retry.initial-interval-ms` (default 100 ms).
    pub initial_interval: Duration,
    /// `ingress.retry.max-interval-ms` (default 10 s).
    pub max_interval: Duration,
    /// `ingress.retry.max-attempts`: total attempts including the first; `None` = unlimited.
    pub max_attempts: Option<u32>,
}

/// The ingress's own per-subscription options (`ingress.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressOptions {
    /// `ingress.max-in-flight`: records being delivered at once per partition (default 100).
    /// For keyed handlers this bounds the sum over all keys of the partition.
    pub max_in_flight: u32,
    /// `ingress.adaptive-concurrency`: whether the in-flight limit of each partition adapts
    /// between 2 and `max_in_flight` to what the handler serves without queueing; `None`
    /// (`auto`, the default): over HTTP/1.1, where each concurrent request is a connection,
    /// and not over HTTP/2, where they share one.
    pub adaptive_concurrency: Option<bool>,
    /// Backoff and attempt limit.
    pub retry: RetryPolicy,
    /// `ingress.on-failure` (+ `ingress.dead-letter.topic`).
    pub on_failure: OnFailure,
    /// `ingress.request-timeout-ms`: timeout of one HTTP invocation (default 60 s).
    pub request_timeout: Duration,
    /// `ingress.commit-delay-ms`: how soon after a partition's watermark moves its offset is
    /// committed (default 100 ms, coalescing every partition into one OffsetCommit); `None`
    /// (0) commits only every `auto.commit.interval.ms`.
    pub commit_delay: Option<Duration>,
}

/// `group.protocol`: which consumer group protocol the member speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupProtocol {
    /// JoinGroup/SyncGroup with client-side assignors (librdkafka's default).
    Classic,
    /// KIP-848: ConsumerGroupHeartbeat, assignments computed by the broker (Kafka 4.0+).
    Consumer,
}

/// Everything the consumer needs, typed, after merging defaults, cluster and subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSettings {
    /// Bootstrap brokers (the cluster's `brokers`).
    pub bootstrap: Vec<BrokerAddr>,
    /// Protocol, SASL and TLS settings.
    pub security: SecuritySettings,
    /// `group.id` (default: the subscription id).
    pub group_id: String,
    /// `group.instance.id` for static membership.
    pub group_instance_id: Option<String>,
    /// `group.protocol`: the classic protocol (client-side assignors) or KIP-848.
    pub group_protocol: GroupProtocol,
    /// `group.remote.assignor` (KIP-848 only; `None`: the broker's default).
    pub group_remote_assignor: Option<String>,
    /// `client.id` (default `kafka-ingress`).
    pub client_id: String,
    /// `client.rack` for rack-aware fetching.
    pub client_rack: Option<String>,
    /// `auto.offset.reset` (default latest).
    pub auto_offset_reset: AutoOffsetReset,
    /// `isolation.level` (default read_committed).
    pub isolation_level: IsolationLevel,
    /// `session.timeout.ms` (default 45 s).
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (default 3 s).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` (default 300 s): the rebalance timeout sent in JoinGroup.
    pub max_poll_interval: Duration,
    /// `fetch.wait.max.ms` (default 500 ms).
    pub fetch_wait_max: Duration,
    /// `fetch.min.bytes` (default 1).
    pub fetch_min_bytes: i32,
    /// `fetch.max.bytes` (default 52428800).
    pub fetch_max_bytes: i32,
    /// `max.partition.fetch.bytes` / `fetch.message.max.bytes` (default 1048576).
    pub max_partition_fetch_bytes: i32,
    /// `partition.assignment.strategy` in preference order (default range, roundrobin).
    pub assignment_strategies: Vec<AssignmentStrategy>,
    /// `auto.commit.interval.ms` (default 5 s); `None` when 0 (commit only on revoke/shutdown).
    pub auto_commit_interval: Option<Duration>,
    /// `reconnect.backoff.ms` (default 100 ms).
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms` (default 10 s).
    pub reconnect_backoff_max: Duration,
    /// `metadata.max.age.ms` (default 900 s).
    pub metadata_max_age: Duration,
    /// `socket.timeout.ms` (default 60 s): timeout of one broker request.
    pub socket_timeout: Duration,
    /// The `ingress.*` options.
    pub ingress: IngressOptions,
}

/// The outcome of [`resolve`]: typed settings, warnings, and the options to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The typed settings.
    pub settings: ConsumerSettings,
    /// One line per accepted-but-ignored property (and other non-fatal findings).
    pub warnings: Vec<String>,
    effective: BTreeMap<String, String>,
}

impl Resolved {
    /// The subscription's options as given plus the defaulted `group.id` and `client.id`,
    /// secrets shown as `***`: what the admin API returns.
    pub fn effective_options(&self) -> &BTreeMap<String, String> {
        &self.effective
    }
}

/// One option value after alias resolution.
#[derive(Debug, Clone)]
struct Entry {
    /// The name as the user wrote it.
    given: String,
    value: String,
}

/// Canonicalizes one layer's names, checks every value, collects warnings.
fn normalize_layer(
    options: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, Entry>, OptionError> {
    let mut out: BTreeMap<String, Entry> = BTreeMap::new();
    for (name, value) in options {
        let canonical = match check_option(name, value)? {
            OptionUse::ActedOn(canonical) => canonical.to_owned(),
            OptionUse::Ingress => name.clone(),
            OptionUse::Ignored(warning) => {
                if !warnings.contains(&warning) {
                    warnings.push(warning);
                }
                canonical_name(name)
            }
        };
        if let Some(previous) = out.get(&canonical) {
            return Err(OptionError::DuplicateAlias {
                first: previous.given.clone(),
                second: name.clone(),
            });
        }
        out.insert(
            canonical,
            Entry {
                given: name.clone(),
                value: value.clone(),
            },
        );
    }
    Ok(out)
}

fn canonical_name(name: &str) -> String {
    table::lookup_canonical(name)
        .map(|def| def.name.to_owned())
        .unwrap_or_else(|| name.to_owned())
}

const BOOTSTRAP: &str = "metadata.broker.list";

/// Checks a cluster's own options (names, values, brokers) at configuration load.
///
/// Returns the warnings for ignored properties.
pub fn check_cluster_options(cluster: &ClusterConfig) -> Result<Vec<String>, OptionError> {
    let mut warnings = Vec::new();
    let layer = normalize_layer(&cluster.options, &mut warnings)?;
    cluster_bootstrap(cluster, &layer)?;
    Ok(warnings)
}

/// The cluster's bootstrap brokers: `brokers`, or the `bootstrap.servers` option.
fn cluster_bootstrap(
    cluster: &ClusterConfig,
    layer: &BTreeMap<String, Entry>,
) -> Result<BrokerList, OptionError> {
    let from_option = layer.get(BOOTSTRAP);
    let list = match from_option {
        Some(entry) if !cluster.brokers.is_empty() => {
            return Err(OptionError::BrokersTwice {
                name: entry.given.clone(),
            })
        }
        Some(entry) => parse_broker_list([entry.value.as_str()])?,
        None => parse_broker_list(cluster.brokers.iter().map(String::as_str))?,
    };
    if list.brokers.is_empty() {
        return Err(OptionError::NoBrokers);
    }
    Ok(list)
}

/// Merges librdkafka defaults < cluster options < subscription options into typed settings.
///
/// `subscription_id` is the default `group.id`.
pub fn resolve(
    cluster: &ClusterConfig,
    subscription_options: &BTreeMap<String, String>,
    subscription_id: &str,
) -> Result<Resolved, OptionError> {
    let mut warnings = Vec::new();
    let cluster_layer = normalize_layer(&cluster.options, &mut warnings)?;
    let sub_layer = normalize_layer(subscription_options, &mut warnings)?;
    if let Some(entry) = sub_layer.get(BOOTSTRAP) {
        return Err(OptionError::ClusterOnly {
            name: entry.given.clone(),
        });
    }
    let brokers = cluster_bootstrap(cluster, &cluster_layer)?;
    let mut merged = cluster_layer;
    merged.extend(sub_layer);
    let m = Merged(&merged);

    let security = resolve_security(&m, brokers.prefix_protocol, &mut warnings)?;

    let group_id = match m.get("group.id") {
        Some(e) if e.value.trim().is_empty() => return Err(invalid(&e.given)),
        Some(e) => e.value.clone(),
        None => subscription_id.to_owned(),
    };
    let client_id = match m.get("client.id") {
        Some(e) if e.value.trim().is_empty() => return Err(invalid(&e.given)),
        Some(e) => e.value.clone(),
        None => DEFAULT_CLIENT_ID.to_owned(),
    };
    let group_protocol = match m.enum_value("group.protocol")? {
        Some("consumer") => GroupProtocol::Consumer,
        _ => GroupProtocol::Classic,
    };
    if group_protocol == GroupProtocol::Consumer {
        // As librdkafka: with KIP-848 the broker owns these; setting them is a mistake to name.
        for (name, owner) in [
            (
                "session.timeout.ms",
                "the broker's group.consumer.session.timeout.ms",
            ),
            (
                "heartbeat.interval.ms",
                "the broker's group.consumer.heartbeat.interval.ms",
            ),
            (
                "partition.assignment.strategy",
                "the broker's assignor (choose one with group.remote.assignor)",
            ),
            ("group.protocol.type", "the protocol itself"),
        ] {
            if let Some(e) = m.get(name) {
                return Err(OptionError::Inconsistent(format!(
                    "`{}` cannot be set with `group.protocol=consumer`: {owner} decides it",
                    e.given
                )));
            }
        }
    }
    let group_remote_assignor = match m.get("group.remote.assignor") {
        Some(e) if e.value.trim().is_empty() => return Err(invalid(&e.given)),
        Some(e) if group_protocol == GroupProtocol::Consumer => Some(e.value.trim().to_owned()),
        Some(e) => {
            warnings.push(format!(
                "`{}` has no effect with group.protocol=classic (it names the broker-side \
                 assignor of group.protocol=consumer)",
                e.given
            ));
            None
        }
        None => None,
    };

    let auto_offset_reset = match m.enum_value("auto.offset.reset")? {
        Some("smallest" | "earliest" | "beginning") => AutoOffsetReset::Earliest,
        Some("error") => AutoOffsetReset::Error,
        _ => AutoOffsetReset::Latest,
    };
    let isolation_level = match m.enum_value("isolation.level")? {
        Some("read_uncommitted") => IsolationLevel::ReadUncommitted,
        _ => IsolationLevel::ReadCommitted,
    };
    let assignment_strategies = match m.get("partition.assignment.strategy") {
        Some(e) => parse_assignment_strategies(&e.given, &e.value)?,
        None => vec![AssignmentStrategy::Range, AssignmentStrategy::RoundRobin],
    };

    let session_timeout = m.millis("session.timeout.ms", 45_000)?;
    let max_poll_interval = m.millis("max.poll.interval.ms", 300_000)?;
    if max_poll_interval < session_timeout {
        return Err(OptionError::Inconsistent(
            "`max.poll.interval.ms`must be >= `session.timeout.ms`".to_owned(),
        ));
    }
    let fetch_max_bytes = m.int("fetch.max.bytes", 52_428_800)?;
    let max_partition_fetch_bytes = m.int("fetch.message.max.bytes", 1_048_576)?;
    if fetch_max_bytes < max_partition_fetch_bytes {
        return Err(OptionError::Inconsistent(
            "`fetch.max.bytes` must be >= `fetch.message.max.bytes`".to_owned(),
        ));
    }
    let auto_commit_ms = m.int("auto.commit.interval.ms", 5_000)?;

    let settings = ConsumerSettings {
        bootstrap: brokers.brokers,
        security,
        group_id: group_id.clone(),
        group_instance_id: m.non_empty_string("group.instance.id"),
        group_protocol,
        group_remote_assignor,
        client_id: client_id.clone(),
        client_rack: m.non_empty_string("client.rack"),
        auto_offset_reset,
        isolation_level,
        session_timeout,
        heartbeat_interval: m.millis("heartbeat.interval.ms", 3_000)?,
        max_poll_interval,
        fetch_wait_max: m.millis("fetch.wait.max.ms", 500)?,
        fetch_min_bytes: to_i32(m.int("fetch.min.bytes", 1)?),
        fetch_max_bytes: to_i32(fetch_max_bytes),
        max_partition_fetch_bytes: to_i32(max_partition_fetch_bytes),
        assignment_strategies,
        auto_commit_interval: (auto_commit_ms > 0).then(|| millis(auto_commit_ms)),
        reconnect_backoff: m.millis("reconnect.backoff.ms", 100)?,
        reconnect_backoff_max: m.millis("reconnect.backoff.max.ms", 10_000)?,
        metadata_max_age: m.millis("metadata.max.age.ms", 900_000)?,
        socket_timeout: m.millis("socket.timeout.ms", 60_000)?,
        ingress: resolve_ingress(&m, &mut warnings)?,
    };

    let mut effective = subscription_options.clone();
    if !sub_layer_has(subscription_options, "group.id") {
        effective.insert("group.id".to_owned(), group_id);
    }
    if !sub_layer_has(subscription_options, "client.id") {
        effective.insert("client.id".to_owned(), client_id);
    }
    Ok(Resolved {
        settings,
        warnings,
        effective: redact_options(&effective),
    })
}

fn sub_layer_has(options: &BTreeMap<String, String>, canonical: &str) -> bool {
    options.keys().any(|k| canonical_name(k) == canonical)
}

fn to_i32(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn millis(value: i64) -> Duration {
    Duration::from_millis(u64::try_from(value).unwrap_or(0))
}

/// Typed access to the merged options (canonical names).
struct Merged<'a>(&'a BTreeMap<String, Entry>);

impl Merged<'_> {
    fn get(&self, canonical: &str) -> Option<&Entry> {
        self.0.get(canonical)
    }

    fn int(&self, canonical: &str, default: i64) -> Result<i64, OptionError> {
        let Some(entry) = self.get(canonical) else {
            return Ok(default);
        };
        let (min, max) = match lookup(canonical)?.kind {
            PropertyKind::Integer { min, max } => (min, max),
            _ => (i64::MIN, i64::MAX),
        };
        parse_int(&entry.given, &entry.value, min, max)
    }

    fn millis(&self, canonical: &str, default: i64) -> Result<Duration, OptionError> {
        self.int(canonical, default).map(millis)
    }

    fn bool(&self, canonical: &str, default: bool) -> Result<bool, OptionError> {
        match self.get(canonical) {
            Some(entry) => parse_bool(&entry.given, &entry.value),
            None => Ok(default),
        }
    }

    fn enum_value(&self, canonical: &str) -> Result<Option<&'static str>, OptionError> {
        let Some(entry) = self.get(canonical) else {
            return Ok(None);
        };
        match lookup(canonical)?.kind {
            PropertyKind::Enum(values) => parse_enum(&entry.given, &entry.value, values).map(Some),
            _ => Ok(None),
        }
    }

    fn non_empty_string(&self, canonical: &str) -> Option<String> {
        self.get(canonical)
            .map(|e| e.value.trim().to_owned())
            .filter(|v| !v.is_empty())
    }
}

const SASL_SETTINGS: &[&str] = &[
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "sasl.oauthbearer.method",
    "sasl.oauthbearer.config",
    "enable.sasl.oauthbearer.unsecure.jwt",
    "sasl.oauthbearer.client.id",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.token.endpoint.url",
    "sasl.oauthbearer.scope",
    "sasl.oauthbearer.extensions",
    "https.ca.location",
    "https.ca.pem",
];
const TLS_SETTINGS: &[&str] = &[
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "enable.ssl.certificate.verification",
];

fn resolve_security(
    m: &Merged<'_>,
    prefix: Option<SecurityProtocol>,
    warnings: &mut Vec<String>,
) -> Result<SecuritySettings, OptionError> {
    let option = match m.get("security.protocol") {
        Some(e) => Some(SecurityProtocol::parse(&e.value).ok_or_else(|| invalid(&e.given))?),
        None => None,
    };
    let protocol = match (option, prefix) {
        (Some(option), Some(prefix)) if option != prefix => {
            return Err(OptionError::ProtocolPrefixConflict {
                option: option.as_str().to_owned(),
                prefix: prefix.as_str().to_ascii_uppercase(),
            })
        }
        (Some(p), _) | (None, Some(p)) => p,
        (None, None) => SecurityProtocol::Plaintext,
    };

    let sasl = if protocol.uses_sasl() {
        let mechanism = match m.get("sasl.mechanisms") {
            Some(e) => match parse_sasl_mechanism(&e.given, &e.value)? {
                ParsedMechanism::Supported(mechanism) => mechanism,
                ParsedMechanism::Unsupported(which) => {
                    return Err(OptionError::NotSupported {
                        name: e.given.clone(),
                        value: which.to_owned(),
                        hint: "use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER".to_owned(),
                    })
                }
            },
            None => {
                return Err(OptionError::NotSupported {
                    name: "sasl.mechanism".to_owned(),
                    value: "GSSAPI".to_owned(),
                    hint: "librdkafka's default mechanism GSSAPI is not implemented; set sasl.mechanism to PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER".to_owned(),
                })
            }
        };
        let username = m.get("sasl.username").map(|e| e.value.as_str());
        let password = m.get("sasl.password").map(|e| e.value.as_str());
        match (username, password) {
            _ if mechanism == SaslMechanism::OauthBearer => Some(SaslSettings {
                mechanism,
                username: Secret::default(),
                password: Secret::default(),
                oauthbearer: Some(resolve_oauthbearer(m)?),
            }),
            (Some(username), Some(password)) if !username.is_empty() => Some(SaslSettings {
                mechanism,
                username: Secret::new(username),
                password: Secret::new(password),
                oauthbearer: None,
            }),
            _ => {
                return Err(OptionError::Inconsistent(
                    "`sasl.username` and `sasl.password` must be set".to_owned(),
                ))
            }
        }
    } else {
        unused_warnings(m, SASL_SETTINGS, protocol, "SASL", warnings);
        None
    };

    let tls = if protocol.uses_tls() {
        let endpoint_identification = match m.enum_value("ssl.endpoint.identification.algorithm")? {
            Some("none") => EndpointIdentification::None,
            _ => EndpointIdentification::Https,
        };
        let ca_location = m
            .non_empty_string("ssl.ca.location")
            .filter(|v| !v.eq_ignore_ascii_case("probe"));
        Some(TlsSettings {
            ca_location,
            ca_pem: m.non_empty_string("ssl.ca.pem"),
            certificate_location: m.non_empty_string("ssl.certificate.location"),
            key_location: m.non_empty_string("ssl.key.location").map(Secret::new),
            key_password: m
                .get("ssl.key.password")
                .map(|e| Secret::new(e.value.as_str())),
            endpoint_identification,
            verify_certificates: m.bool("enable.ssl.certificate.verification", true)?,
        })
    } else {
        unused_warnings(m, TLS_SETTINGS, protocol, "TLS", warnings);
        None
    };
    Ok(SecuritySettings {
        protocol,
        sasl,
        tls,
    })
}

/// The OAUTHBEARER token source, as librdkafka decides it: `sasl.oauthbearer.method=oidc`
/// fetches tokens from the token endpoint; the default method needs
/// `enable.sasl.oauthbearer.unsecure.jwt=true` and builds an unsecured JWT from
/// `sasl.oauthbearer.config` (librdkafka's other default, a refresh callback, is an API).
fn resolve_oauthbearer(m: &Merged<'_>) -> Result<OauthBearerSettings, OptionError> {
    let extensions = match m.get("sasl.oauthbearer.extensions") {
        Some(e) => oauthbearer::parse_extensions(&e.value)?,
        None => Vec::new(),
    };
    if m.enum_value("sasl.oauthbearer.method")? == Some("oidc") {
        let required = |name: &str| {
            m.non_empty_string(name).ok_or_else(|| {
                OptionError::Inconsistent(format!("sasl.oauthbearer.method=oidc needs `{name}`"))
            })
        };
        let token_endpoint = required("sasl.oauthbearer.token.endpoint.url")?;
        let scheme = token_endpoint
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.scheme_str().map(str::to_ascii_lowercase));
        if !matches!(scheme.as_deref(), Some("http" | "https")) {
            return Err(OptionError::Inconsistent(format!(
                "sasl.oauthbearer.token.endpoint.url must be an http:// or https:// URL, got                  {token_endpoint:?}"
            )));
        }
        return Ok(OauthBearerSettings::Oidc(OidcSettings {
            token_endpoint,
            client_id: required("sasl.oauthbearer.client.id")?,
            client_secret: Secret::new(required("sasl.oauthbearer.client.secret")?),
            scope: m.non_empty_string("sasl.oauthbearer.scope"),
            extensions,
            ca_location: m
                .non_empty_string("https.ca.location")
                .filter(|v| !v.eq_ignore_ascii_case("probe")),
            ca_pem: m.non_empty_string("https.ca.pem"),
        }));
    }
    if !m.bool("enable.sasl.oauthbearer.unsecure.jwt", false)? {
        return Err(OptionError::Inconsistent(
            "sasl.mechanism=OAUTHBEARER needs sasl.oauthbearer.method=oidc (with              sasl.oauthbearer.token.endpoint.url, sasl.oauthbearer.client.id and              sasl.oauthbearer.client.secret), or enable.sasl.oauthbearer.unsecure.jwt=true              with sasl.oauthbearer.config for a development broker"
                .to_owned(),
        ));
    }
    let config = m.non_empty_string("sasl.oauthbearer.config").ok_or_else(|| {
        OptionError::Inconsistent(
            "enable.sasl.oauthbearer.unsecure.jwt=true needs sasl.oauthbearer.config              (e.g. \"principal=admin\")"
                .to_owned(),
        )
    })?;
    let mut jwt = oauthbearer::parse_unsecured_config(&config)?;
    jwt.extensions.extend(extensions);
    Ok(OauthBearerSettings::Unsecured(jwt))
}

fn unused_warnings(
    m: &Merged<'_>,
    names: &[&str],
    protocol: SecurityProtocol,
    what: &str,
    warnings: &mut Vec<String>,
) {
    for name in names {
        // `ssl.ca.location=probe` is what Restate sets for every client; stay quiet about it.
        if let Some(e) = m
            .get(name)
            .filter(|e| !e.value.eq_ignore_ascii_case("probe"))
        {
            warnings.push(format!(
                "Configuration property {} is ignored: security.protocol is {}, which does not use {what}",
                e.given,
                protocol.as_str()
            ));
        }
    }
}

/// Value syntax of one `ingress.*` option.
fn check_ingress_option(name: &str, value: &str) -> Result<(), OptionError> {
    match name {
        "ingress.max-in-flight" => parse_int(name, value, 1, 1_000_000).map(|_| ()),
        "ingress.retry.initial-interval-ms"
        | "ingress.retry.max-interval-ms"
        | "ingress.request-timeout-ms" => parse_int(name, value, 1, 86_400_000).map(|_| ()),
        "ingress.commit-delay-ms" => parse_int(name, value, 0, 60_000).map(|_| ()),
        "ingress.adaptive-concurrency" => {
            parse_enum(name, value, &["auto", "true", "false"]).map(|_| ())
        }
        "ingress.retry.max-attempts" => parse_max_attempts(name, value).map(|_| ()),
        "ingress.on-failure" => {
            parse_enum(name, value, &["retry", "dead-letter", "skip"]).map(|_| ())
        }
        "ingress.dead-letter.topic" => {
            if valid_topic_name(value) {
                Ok(())
            } else {
                Err(invalid(name))
            }
        }
        _ => Err(OptionError::Unknown {
            name: name.to_owned(),
        }),
    }
}

/// Kafka's topic name rule: 1..=249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
fn valid_topic_name(topic: &str) -> bool {
    !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn parse_max_attempts(name: &str, value: &str) -> Result<Option<u32>, OptionError> {
    if value.trim().eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    let attempts = parse_int(name, value, 1, i64::from(i32::MAX))?;
    Ok(Some(u32::try_from(attempts).unwrap_or(u32::MAX)))
}

fn resolve_ingress(
    m: &Merged<'_>,
    warnings: &mut Vec<String>,
) -> Result<IngressOptions, OptionError> {
    let int = |name: &str, max: i64, default: i64| -> Result<i64, OptionError> {
        match m.get(name) {
            Some(e) => parse_int(&e.given, &e.value, 1, max),
            None => Ok(default),
        }
    };
    let max_in_flight = int(
        "ingress.max-in-flight",
        1_000_000,
        i64::from(DEFAULT_MAX_IN_FLIGHT),
    )?;
    let initial = int(
        "ingress.retry.initial-interval-ms",
        86_400_000,
        DEFAULT_RETRY_INITIAL_INTERVAL_MS as i64,
    )?;
    let max = int(
        "ingress.retry.max-interval-ms",
        86_400_000,
        DEFAULT_RETRY_MAX_INTERVAL_MS as i64,
    )?;
    if max < initial {
        return Err(OptionError::Inconsistent(format!(
            "Configuration property \"ingress.retry.max-interval-ms\" value {max} must be >= \"ingress.retry.initial-interval-ms\" value {initial}"
        )));
    }
    let max_attempts = match m.get("ingress.retry.max-attempts") {
        Some(e) => parse_max_attempts(&e.given, &e.value)?,
        None => None,
    };
    let topic = m.non_empty_string("ingress.dead-letter.topic");
    let on_failure = match m.get("ingress.on-failure") {
        Some(e) => parse_enum(&e.given, &e.value, &["retry", "dead-letter", "skip"])?,
        None => "retry",
    };
    let on_failure = match (on_failure, topic) {
        ("dead-letter", Some(topic)) => OnFailure::DeadLetter { topic },
        ("dead-letter", None) => {
            return Err(OptionError::Inconsistent(
                "Configuration property \"ingress.dead-letter.topic\" must be set when \"ingress.on-failure\" is dead-letter".to_owned(),
            ))
        }
        (other, topic) => {
            if topic.is_some() {
                warnings.push(format!(
                    "Configuration property ingress.dead-letter.topic is ignored: ingress.on-failure is {other}, not dead-letter"
                ));
            }
            if other == "skip" {
                OnFailure::Skip
            } else {
                OnFailure::Retry
            }
        }
    };
    let request_timeout = int(
        "ingress.request-timeout-ms",
        86_400_000,
        DEFAULT_REQUEST_TIMEOUT_MS as i64,
    )?;
    let commit_delay_ms = match m.get("ingress.commit-delay-ms") {
        Some(e) => parse_int(&e.given, &e.value, 0, 60_000)?,
        None => DEFAULT_COMMIT_DELAY_MS as i64,
    };
    let adaptive_concurrency = match m.get("ingress.adaptive-concurrency") {
        Some(e) => match parse_enum(&e.given, &e.value, &["auto", "true", "false"])? {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        None => None,
    };
    Ok(IngressOptions {
        max_in_flight: u32::try_from(max_in_flight).unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        adaptive_concurrency,
        retry: RetryPolicy {
            initial_interval: millis(initial),
            max_interval: millis(max),
            max_attempts,
        },
        on_failure,
        request_timeout: millis(request_timeout),
        commit_delay: (commit_delay_ms > 0).then(|| millis(commit_delay_ms)),
    })
}
