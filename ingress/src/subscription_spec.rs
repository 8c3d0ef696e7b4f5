//! What a subscription is, as created through the admin API and persisted: its id, source
//! (`kafka://<cluster>/<topic>`), sink (`service://<Service>/<handler>`) and raw options.
//!
//! Parsing only checks syntax; whether the cluster exists, the sink resolves and the options
//! are valid is decided by the config, the deployment registry and the option translator.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::restate_id;

/// The prefix of subscription ids.
pub const SUBSCRIPTION_ID_PREFIX: &str = "sub_";

/// The longest id part accepted after the prefix; generous so ids made elsewhere (e.g. by
/// Restate, which uses fewer characters) still parse.
const MAX_ID_CHARS: usize = 64;

/// The longest Kafka topic name (Kafka's `Topic.MAX_NAME_LENGTH`).
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Which part of a subscription an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecField {
    /// The id.
    Id,
    /// The `source` URI.
    Source,
    /// The `sink` URI.
    Sink,
}

impl SpecField {
    /// The field's name in the admin API: `id`, `source` or `sink`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecField::Id => "id",
            SpecField::Source => "source",
            SpecField::Sink => "sink",
        }
    }
}

impl fmt::Display for SpecField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A syntactically invalid id, source or sink.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field} {value:?}: {reason}")]
pub struct SpecError {
    /// The field.
    pub field: SpecField,
    /// The value as given.
    pub value: String,
    /// Why, e.g. `expected kafka://<cluster>/<topic>`.
    pub reason: String,
}

impl SpecError {
    fn new(field: SpecField, value: &str, reason: impl Into<String>) -> Self {
        SpecError {
            field,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }

    /// The admin API field the error is about: `"id"`, `"source"` or `"sink"`.
    pub fn field(&self) -> &'static str {
        self.field.as_str()
    }
}

/// A subscription id: `sub_` followed by random base62 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriptionId(String);

impl SubscriptionId {
    /// A fresh id in Restate's format: `sub_1` + 22 base62 characters (a ULID).
    pub fn generate() -> Self {
        SubscriptionId(restate_id(SUBSCRIPTION_ID_PREFIX))
    }

    /// Parses an id: the `sub_` prefix, then 1 to 64 ASCII letters or digits.
    pub fn parse(s: &str) -> Result<Self, SpecError> {
        let err = |reason: &str| SpecError::new(SpecField::Id, s, reason);
        let rest = s
            .strip_prefix(SUBSCRIPTION_ID_PREFIX)
            .ok_or_else(|| err("a subscription id starts with \"sub_\""))?;
        if rest.is_empty() || rest.len() > MAX_ID_CHARS {
            return Err(err(&format!(
                "expected 1 to {MAX_ID_CHARS} characters after \"sub_\" (generated ids have \
                 23)"
            )));
        }
        if !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(err("only ASCII letters and digits may follow \"sub_\""));
        }
        Ok(SubscriptionId(s.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SubscriptionId {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SubscriptionId::parse(s)
    }
}

/// A subscription's source: a topic on a named cluster, `kafka://<cluster>/<topic>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source {
    /// The cluster name (`[[ingress.kafka-clusters]] name`).
    pub cluster: String,
    /// The topic.
    pub topic: String,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kafka://{}/{}", self.cluster, self.topic)
    }
}

impl FromStr for Source {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = "expected kafka://<cluster>/<topic>";
        let err = |reason: String| SpecError::new(SpecField::Source, s, reason);
        let (cluster, topic) = split_uri(s, "kafka", expected).map_err(err)?;
        check_segment(cluster, "cluster name").map_err(err)?;
        check_topic(topic).map_err(err)?;
        Ok(Source {
            cluster: cluster.to_owned(),
            topic: topic.to_owned(),
        })
    }
}

/// A subscription's sink: a handler of a registered service, `service://<Service>/<handler>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sink {
    /// Service, virtual object or workflow name.
    pub service: String,
    /// Handler name.
    pub handler: String,
}

impl fmt::Display for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "service://{}/{}", self.service, self.handler)
    }
}

impl FromStr for Sink {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = "expected service://<Service>/<handler>";
        let err = |reason: String| SpecError::new(SpecField::Sink, s, reason);
        let (service, handler) = split_uri(s, "service", expected).map_err(err)?;
        check_segment(service, "service name").map_err(err)?;
        check_segment(handler, "handler name").map_err(err)?;
        Ok(Sink {
            service: service.to_owned(),
            handler: handler.to_owned(),
        })
    }
}

/// Splits `<scheme>://<a>/<b>` (scheme case-insensitive, as URI schemes are) into `a` and `b`.
fn split_uri<'a>(s: &'a str, scheme: &str, expected: &str) -> Result<(&'a str, &'a str), String> {
    let Some((got, rest)) = s.split_once("://") else {
        return Err(expected.to_owned());
    };
    if !got.eq_ignore_ascii_case(scheme) {
        return Err(format!("unsupported scheme {got:?}, {expected}"));
    }
    let mut parts = rest.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), None) => Ok((a, b)),
        _ => Err(expected.to_owned()),
    }
}

fn check_segment(segment: &str, what: &str) -> Result<(), String> {
    if segment.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if segment
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
    {
        return Err(format!(
            "the {what} {segment:?} contains whitespace, a control character, '?' or '#'"
        ));
    }
    Ok(())
}

/// Kafka's topic name rule: 1 to 249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
fn check_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("the topic name is empty".to_owned());
    }
    if topic == "." || topic == ".." {
        return Err(format!("{topic:?} is not a valid Kafka topic name"));
    }
    if topic.len() > MAX_TOPIC_NAME_LEN {
        return Err(format!(
            "the topic name is {} characters long, Kafka allows at most {MAX_TOPIC_NAME_LEN}",
            topic.len()
        ));
    }
    if let Some(c) = topic
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "the topic name {topic:?} contains {c:?}; Kafka topic names use only ASCII \
             letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// Serializes through `Display`, deserializes through `FromStr`: ids, sources and sinks are
/// URI strings in JSON.
macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_serde!(SubscriptionId);
string_serde!(Source);
string_serde!(Sink);

/// A subscription as persisted: the user's request plus its id and pause state. Options are
/// stored raw (as given, secrets included) so a restart resolves them exactly as before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionSpec {
    /// The id.
    pub id: SubscriptionId,
    /// Where records come from.
    pub source: Source,
    /// Which handler they go to.
    pub sink: Sink,
    /// The subscription's librdkafka and `ingress.*` options, as given.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Paused through the admin API: not consuming until resumed.
    #[serde(default)]
    pub paused: bool,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn generated_ids_parse_and_differ() {
        let a = SubscriptionId::generate();
        let b = SubscriptionId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 4 + 1 + 22);
        assert_eq!(SubscriptionId::parse(a.as_str()).unwrap(), a);
        assert_eq!(a.to_string().parse::<SubscriptionId>().unwrap(), a);
        // Restate-made ids are shorter; they parse too.
        assert!(SubscriptionId::parse("sub_11XHoawNBdv97bcLEeAyRY2").is_ok());
    }

    #[test]
    fn bad_ids_name_the_field_and_reason() {
        for (id, reason) in [
            ("dp_abc", "starts with \"sub_\""),
            ("sub_", "expected 1 to 64 characters"),
            ("sub_abc-def", "only ASCII letters and digits"),
            ("sub_ä", "only ASCII letters and digits"),
            ("SUB_abc", "starts with"),
        ] {
            let e = SubscriptionId::parse(id).unwrap_err();
            assert_eq!(e.field(), "id");
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("invalid id {id:?}: ")) && msg.contains(reason),
                "{msg}"
            );
        }
        assert!(SubscriptionId::parse(&format!("sub_{}", "a".repeat(65))).is_err());
        assert!(SubscriptionId::parse(&format!("sub_{}", "a".repeat(64))).is_ok());
    }

    #[test]
    fn source_round_trips() {
        let s: Source = "kafka://my-cluster/orders.v1_x-y".parse().unwrap();
        assert_eq!(s.cluster, "my-cluster");
        assert_eq!(s.topic, "orders.v1_x-y");
        assert_eq!(s.to_string(), "kafka://my-cluster/orders.v1_x-y");
        let upper: Source = "KAFKA://c/t".parse().unwrap();
        assert_eq!(upper.to_string(), "kafka://c/t");
    }

    #[test]
    fn source_errors() {
        for (value, reason) in [
            ("x", "expected kafka://<cluster>/<topic>"),
            ("kafka://c", "expected kafka://<cluster>/<topic>"),
            ("kafka://c/t/u", "expected kafka://<cluster>/<topic>"),
            (
                "http://c/t",
                "unsupported scheme \"http\", expected kafka://<cluster>/<topic>",
            ),
            ("kafka:///t", "the cluster name is empty"),
            ("kafka://c/", "the topic name is empty"),
            ("kafka://c/.", "\".\" is not a valid Kafka topic name"),
            ("kafka://c/..", "\"..\" is not a valid Kafka topic name"),
            ("kafka://c/a b", "contains ' '"),
            ("kafka://c/a?b", "contains '?'"),
            (
                "kafka://my cluster/t",
                "the cluster name \"my cluster\" contains",
            ),
        ] {
            let e = value.parse::<Source>().unwrap_err();
            assert_eq!(e.field(), "source");
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("invalid source {value:?}: ")) && msg.contains(reason),
                "{value}: {msg}"
            );
        }
        assert_eq!(
            "x".parse::<Source>().unwrap_err().to_string(),
            "invalid source \"x\": expected kafka://<cluster>/<topic>"
        );
    }

    #[test]
    fn topic_length_limit_is_kafkas() {
        let ok = format!("kafka://c/{}", "t".repeat(249));
        assert!(ok.parse::<Source>().is_ok());
        let long = format!("kafka://c/{}", "t".repeat(250));
        let e = long.parse::<Source>().unwrap_err();
        assert!(e.reason.contains("250 characters long"), "{e}");
        // Multi-byte characters are rejected by the charset rule, not miscounted.
        assert!("kafka://c/tö".parse::<Source>().is_err());
    }

    #[test]
    fn sink_round_trips_and_errors() {
        let s: Sink = "service://Greeter/greet".parse().unwrap();
        assert_eq!(
            (s.service.as_str(), s.handler.as_str()),
            ("Greeter", "greet")
        );
        assert_eq!(s.to_string(), "service://Greeter/greet");
        for (value, reason) in [
            ("Greeter/greet", "expected service://<Service>/<handler>"),
            (
                "kafka://Greeter/greet",
                "unsupported scheme \"kafka\", expected service://<Service>/<handler>",
            ),
            (
                "service://Greeter",
                "expected service://<Service>/<handler>",
            ),
            ("service://Greeter/greet/x", "expected service://"),
            ("service:///greet", "the service name is empty"),
            ("service://Greeter/", "the handler name is empty"),
            (
                "service://Gree ter/greet",
                "the service name \"Gree ter\" contains",
            ),
        ] {
            let e = value.parse::<Sink>().unwrap_err();
            assert_eq!(e.field(), "sink");
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("invalid sink {value:?}: ")) && msg.contains(reason),
                "{value}: {msg}"
            );
        }
    }

    #[test]
    fn spec_serializes_uris_as_strings() {
        let spec = SubscriptionSpec {
            id: SubscriptionId::parse("sub_abc123").unwrap(),
            source: "kafka://c/orders".parse().unwrap(),
            sink: "service://Counter/add".parse().unwrap(),
            options: BTreeMap::from([("auto.offset.reset".into(), "earliest".into())]),
            paused: true,
        };
        let v = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            v,
            json!({"id": "sub_abc123", "source": "kafka://c/orders",
                   "sink": "service://Counter/add",
                   "options": {"auto.offset.reset": "earliest"}, "paused": true})
        );
        assert_eq!(serde_json::from_value::<SubscriptionSpec>(v).unwrap(), spec);
        // options and paused default.
        let minimal: SubscriptionSpec = serde_json::from_value(json!({
            "id": "sub_x", "source": "kafka://c/t", "sink": "service://S/h"
        }))
        .unwrap();
        assert!(minimal.options.is_empty() && !minimal.paused);
    }

    #[test]
    fn invalid_uris_fail_deserialization_with_the_reason() {
        let e = serde_json::from_value::<SubscriptionSpec>(json!({
            "id": "sub_x", "source": "kafka://c/a b", "sink": "service://S/h"
        }))
        .unwrap_err();
        assert!(
            e.to_string().contains("invalid source \"kafka://c/a b\""),
            "{e}"
        );
    }
}
