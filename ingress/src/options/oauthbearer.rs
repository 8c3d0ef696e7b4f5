//! `sasl.mechanism=OAUTHBEARER` settings, as librdkafka names and parses them: an OIDC
//! client-credentials token endpoint (`sasl.oauthbearer.method=oidc`), or an unsecured JWT
//! for development brokers (`enable.sasl.oauthbearer.unsecure.jwt=true` with
//! `sasl.oauthbearer.config`). Plain data: fetching tokens is `kafka::oauthbearer`'s job.

use super::redact::Secret;
use super::OptionError;

/// Where OAUTHBEARER tokens come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OauthBearerSettings {
    /// Client credentials grant at an OIDC token endpoint.
    Oidc(OidcSettings),
    /// A self-made unsigned JWT (`alg: none`), accepted only by brokers configured with
    /// Kafka's unsecured validator.
    Unsecured(UnsecuredJwt),
}

impl OauthBearerSettings {
    /// The SASL extensions sent with the token (RFC 7628 `key=value` pairs).
    pub fn extensions(&self) -> &[(String, String)] {
        match self {
            OauthBearerSettings::Oidc(o) => &o.extensions,
            OauthBearerSettings::Unsecured(u) => &u.extensions,
        }
    }
}

/// `sasl.oauthbearer.method=oidc`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OidcSettings {
    /// `sasl.oauthbearer.token.endpoint.url`.
    pub token_endpoint: String,
    /// `sasl.oauthbearer.client.id`.
    pub client_id: String,
    /// `sasl.oauthbearer.client.secret`.
    pub client_secret: Secret,
    /// `sasl.oauthbearer.scope` (sent as the `scope` form field when set).
    pub scope: Option<String>,
    /// `sasl.oauthbearer.extensions`.
    pub extensions: Vec<(String, String)>,
    /// `https.ca.location`: CA file or directory for an `https://` token endpoint (unset: the
    /// system trust store).
    pub ca_location: Option<String>,
    /// `https.ca.pem`: CA certificate(s) inline for the token endpoint.
    pub ca_pem: Option<String>,
}

/// `sasl.oauthbearer.config` for an unsecured JWT: `principal=<p> [principalClaimName=sub]
/// [scopeClaimName=scope] [scope=a,b] [lifeSeconds=3600] [extension_<name>=<value> ...]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnsecuredJwt {
    /// The principal (`principal=`).
    pub principal: String,
    /// The claim carrying it (`principalClaimName=`, default `sub`).
    pub principal_claim: String,
    /// The claim carrying the scope (`scopeClaimName=`, default `scope`).
    pub scope_claim: String,
    /// The scope values (`scope=a,b`).
    pub scope: Vec<String>,
    /// Token lifetime in seconds (`lifeSeconds=`, default 3600).
    pub lifetime_secs: u64,
    /// SASL extensions (`extension_<name>=<value>`).
    pub extensions: Vec<(String, String)>,
}

fn inconsistent(reason: impl Into<String>) -> OptionError {
    OptionError::Inconsistent(reason.into())
}

/// RFC 7628: an extension key is ALPHA only, `auth` is reserved; a value is visible ASCII,
/// space or tab.
fn check_extension(origin: &str, key: &str, value: &str) -> Result<(), OptionError> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(inconsistent(format!(
            "{origin}: extension name {key:?} must be letters only (RFC 7628)"
        )));
    }
    if key == "auth" {
        return Err(inconsistent(format!(
            "{origin}: extension name \"auth\" is reserved"
        )));
    }
    if !value
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || (0x21..=0x7e).contains(&b))
    {
        return Err(inconsistent(format!(
            "{origin}: the value of extension {key:?} must be printable ASCII"
        )));
    }
    Ok(())
}

/// Parses `sasl.oauthbearer.extensions`: comma-separated `key=value` pairs.
pub fn parse_extensions(value: &str) -> Result<Vec<(String, String)>, OptionError> {
    let origin = "sasl.oauthbearer.extensions";
    let mut out = Vec::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(inconsistent(format!(
                "{origin}: expected key=value pairs separated by commas, got {pair:?}"
            )));
        };
        check_extension(origin, key, value)?;
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

/// Parses `sasl.oauthbearer.config` (librdkafka's unsecured-JWT syntax).
pub fn parse_unsecured_config(value: &str) -> Result<UnsecuredJwt, OptionError> {
    let origin = "sasl.oauthbearer.config";
    let mut jwt = UnsecuredJwt {
        principal: String::new(),
        principal_claim: "sub".to_owned(),
        scope_claim: "scope".to_owned(),
        scope: Vec::new(),
        lifetime_secs: 3600,
        extensions: Vec::new(),
    };
    for item in value.split_whitespace() {
        let Some((key, value)) = item.split_once('=') else {
            return Err(inconsistent(format!(
                "{origin}: expected name=value items separated by spaces, got {item:?}"
            )));
        };
        match key {
            "principal" => jwt.principal = value.to_owned(),
            "principalClaimName" => jwt.principal_claim = value.to_owned(),
            "scopeClaimName" => jwt.scope_claim = value.to_owned(),
            "scope" => {
                jwt.scope = value
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            "lifeSeconds" => {
                jwt.lifetime_secs = value.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    inconsistent(format!(
                        "{origin}: lifeSeconds must be a positive number of seconds, got {value:?}"
                    ))
                })?
            }
            _ => match key.strip_prefix("extension_") {
                Some(name) => {
                    check_extension(origin, name, value)?;
                    jwt.extensions.push((name.to_owned(), value.to_owned()));
                }
                None => {
                    return Err(inconsistent(format!(
                        "{origin}: unknown item {key:?} (principal, principalClaimName, \
                         scopeClaimName, scope, lifeSeconds, extension_<name>)"
                    )))
                }
            },
        }
    }
    if jwt.principal.is_empty() {
        return Err(inconsistent(format!(
            "{origin}: principal=<name> is required"
        )));
    }
    if jwt.principal_claim.is_empty() || jwt.scope_claim.is_empty() {
        return Err(inconsistent(format!(
            "{origin}: claim names must not be empty"
        )));
    }
    Ok(jwt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsecured_config_items_and_defaults() {
        let jwt = parse_unsecured_config(
            "principal=alice scope=read,write lifeSeconds=60 extension_traceId=abc",
        );
        let jwt = jwt.ok();
        assert_eq!(
            jwt,
            Some(UnsecuredJwt {
                principal: "alice".into(),
                principal_claim: "sub".into(),
                scope_claim: "scope".into(),
                scope: vec!["read".into(), "write".into()],
                lifetime_secs: 60,
                extensions: vec![("traceId".into(), "abc".into())],
            })
        );
    }

    #[test]
    fn unsecured_config_errors_name_the_item() {
        for (config, expected) in [
            ("scope=a", "principal=<name> is required"),
            (
                "principal=a lifeSeconds=0",
                "lifeSeconds must be a positive",
            ),
            ("principal=a colour=blue", "unknown item \"colour\""),
            ("principal=a nonsense", "expected name=value"),
            ("principal=a extension_auth=x", "\"auth\" is reserved"),
            ("principal=a extension_a1=x", "letters only"),
        ] {
            let e = parse_unsecured_config(config)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                e.contains("sasl.oauthbearer.config") && e.contains(expected),
                "{config}: {e}"
            );
        }
    }

    #[test]
    fn extensions_are_comma_separated_pairs() {
        assert_eq!(
            parse_extensions("logicalCluster=lkc-1, identityPoolId=pool-2").ok(),
            Some(vec![
                ("logicalCluster".into(), "lkc-1".into()),
                ("identityPoolId".into(), "pool-2".into())
            ])
        );
        assert_eq!(parse_extensions("").ok(), Some(Vec::new()));
        let e = parse_extensions("novalue").err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("key=value"));
        let e = parse_extensions("k=\u{7f}").err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("printable ASCII"));
    }
}
