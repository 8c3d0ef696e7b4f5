//! Secret handling: which option names are secret, and a wrapper that never prints its value.
//!
//! Subscriptions and clusters are shown by the admin API and logged; anything that could be a
//! credential is replaced by `***` everywhere it leaves the process.

use std::collections::BTreeMap;
use std::fmt;

/// The text shown instead of a secret value.
pub const REDACTED: &str = "***";

/// Whether an option's value must be hidden: `*password*`, `*secret*`, `*passphrase*`,
/// `sasl.username`, `sasl.jaas.config`, `ssl.key.*`, `*oauthbearer*` and the key and trust
/// store locations (case-insensitive; Restate 1.7's list is a subset).
pub fn is_secret_option(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("password")
        || name.contains("secret")
        || name.contains("passphrase")
        || name.contains("token.endpoint.url")
        || name.ends_with("keystore.location")
        || name.ends_with("truststore.location")
        || name == "sasl.username"
        || name == "sasl.jaas.config"
        || name.starts_with("ssl.key.")
        || name.contains("oauthbearer")
}

/// Returns a copy of `options` with every secret value replaced by `***`.
pub fn redact_options(options: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    options
        .iter()
        .map(|(name, value)| {
            let shown = if is_secret_option(name) {
                REDACTED.to_owned()
            } else {
                value.clone()
            };
            (name.clone(), shown)
        })
        .collect()
}

/// A string (password, user name, key) whose `Debug` output is `***`.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself; use only to hand it to the protocol, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}
