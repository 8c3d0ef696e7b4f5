//! Parsing of broker lists: `[proto://]host[:port]` entries, comma-separated or as an array.
//!
//! librdkafka accepts a `PLAINTEXT://`, `SSL://`, `SASL_PLAINTEXT://` or `SASL_SSL://` prefix
//! on each broker (Restate's docs use `PLAINTEXT://broker:9092`). The prefix selects the
//! security protocol; see the `options` module docs for how it combines with
//! `security.protocol`. A missing port defaults to 9092, as in librdkafka.

use std::fmt;

use super::{OptionError, SecurityProtocol};

/// The port used when a broker entry has none (librdkafka's default).
pub const DEFAULT_BROKER_PORT: u16 = 9092;

/// One bootstrap broker: host name or IP address, and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BrokerAddr {
    /// Host name, IPv4 address, or IPv6 address without brackets.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for BrokerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A parsed broker list and the security protocol its prefixes agree on, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerList {
    /// The brokers, in the order given, without duplicates.
    pub brokers: Vec<BrokerAddr>,
    /// The protocol named by the `proto://` prefixes (all prefixed entries agree).
    pub prefix_protocol: Option<SecurityProtocol>,
}

/// Parses broker entries; each entry may itself be a comma-separated list.
pub fn parse_broker_list<'a>(
    entries: impl IntoIterator<Item = &'a str>,
) -> Result<BrokerList, OptionError> {
    let mut brokers: Vec<BrokerAddr> = Vec::new();
    let mut prefix_protocol: Option<(SecurityProtocol, String)> = None;
    for entry in entries {
        for item in entry.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (protocol, addr) = parse_broker(item)?;
            if let Some(protocol) = protocol {
                match &prefix_protocol {
                    Some((first, first_item)) if *first != protocol => {
                        return Err(OptionError::ConflictingBrokerProtocols {
                            first: first_item.clone(),
                            second: item.to_owned(),
                        });
                    }
                    Some(_) => {}
                    None => prefix_protocol = Some((protocol, item.to_owned())),
                }
            }
            if !brokers.contains(&addr) {
                brokers.push(addr);
            }
        }
    }
    Ok(BrokerList {
        brokers,
        prefix_protocol: prefix_protocol.map(|(protocol, _)| protocol),
    })
}

/// Parses one `[proto://]host[:port]` entry.
pub fn parse_broker(item: &str) -> Result<(Option<SecurityProtocol>, BrokerAddr), OptionError> {
    let invalid = |reason: &str| OptionError::InvalidBroker {
        broker: item.to_owned(),
        reason: reason.to_owned(),
    };
    let (protocol, rest) = match item.split_once("://") {
        Some((proto, rest)) => {
            let protocol = SecurityProtocol::parse(proto).ok_or_else(|| {
                invalid(&format!(
                    "unsupported protocol \"{proto}\" (expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)"
                ))
            })?;
            (Some(protocol), rest)
        }
        None => (None, item),
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| invalid("missing \"]\" after IPv6 address"))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| invalid("expected \":port\" after \"]\""))?,
            ),
        };
        (host, port)
    } else {
        match rest.split_once(':') {
            Some((host, port)) if !port.contains(':') => (host, Some(port)),
            Some(_) => {
                return Err(invalid(
                    "IPv6 addresses must be written in brackets, e.g. [::1]:9092",
                ))
            }
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(invalid("empty host"));
    }
    if host.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(invalid("invalid host"));
    }
    let port = match port {
        None => DEFAULT_BROKER_PORT,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => return Err(invalid("port must be a number from 1 to 65535")),
        },
    };
    Ok((
        protocol,
        BrokerAddr {
            host: host.to_owned(),
            port,
        },
    ))
}
