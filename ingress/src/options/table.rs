//! Types describing one librdkafka property, and lookup by name.
//!
//! The data itself lives in the generated `librdkafka_table.rs`; keeping the full table
//! (not only the properties we act on) is what lets an unknown name be told apart from a
//! real librdkafka property that this client accepts but ignores.

use super::librdkafka_table::PROPERTIES;

/// Which librdkafka configuration object a property belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Global (`rd_kafka_conf_t`) property.
    Global,
    /// Topic (`rd_kafka_topic_conf_t`) property.
    Topic,
    /// Defined in both scopes; the global definition is kept.
    Both,
}

/// Which kind of client a property applies to (librdkafka's C/P column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Consumer and producer (`*`).
    Both,
    /// Consumer only (`C`).
    Consumer,
    /// Producer only (`P`).
    Producer,
}

/// The value syntax of a property.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PropertyKind {
    /// Free-form string.
    String,
    /// Integer within an inclusive range.
    Integer {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// Floating point number within an inclusive range.
    Float {
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// `true/t/1/false/f/0`, case-insensitive.
    Boolean,
    /// One of the listed values, case-insensitive.
    Enum(&'static [&'static str]),
    /// Comma-separated subset of the listed flags, case-insensitive.
    Flags(&'static [&'static str]),
    /// Comma-separated list of regular expressions.
    PatternList,
    /// Callback or pointer that only librdkafka's C API can set.
    DedicatedApi,
}

/// One librdkafka property as listed in librdkafka's CONFIGURATION.md.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PropertyDef {
    /// Property name, e.g. `session.timeout.ms`.
    pub name: &'static str,
    /// Global, topic, or both.
    #[allow(dead_code)]
    pub scope: Scope,
    /// Consumer, producer or both.
    pub role: Role,
    /// Value syntax and range.
    pub kind: PropertyKind,
    /// librdkafka's default value, as text.
    #[allow(dead_code)]
    pub default: Option<&'static str>,
    /// The canonical property this name is an alias of.
    pub alias_of: Option<&'static str>,
    /// Whether librdkafka marks the property as deprecated.
    pub deprecated: bool,
}

/// Looks a property up by its exact (case-sensitive, as librdkafka) name.
pub(crate) fn lookup(name: &str) -> Option<&'static PropertyDef> {
    PROPERTIES
        .binary_search_by(|p| p.name.cmp(name))
        .ok()
        .and_then(|i| PROPERTIES.get(i))
}

/// Looks a property up and follows its alias to the canonical definition.
///
/// Returns the canonical definition; the value syntax of an alias is the canonical one.
pub(crate) fn lookup_canonical(name: &str) -> Option<&'static PropertyDef> {
    let def = lookup(name)?;
    match def.alias_of {
        Some(target) => lookup(target).or(Some(def)),
        None => Some(def),
    }
}

/// Every property name in the table (used by tests and documentation checks).
#[allow(dead_code)]
pub(crate) fn all() -> &'static [PropertyDef] {
    PROPERTIES
}
