//! Deployment discovery: `GET <uri>/discover` -> a validated [`EndpointManifest`] and the HTTP
//! version the deployment answered with (what the invoker will then speak to it).
//!
//! `http://` and `https://` deployments; the client is [`crate::http_client`]'s, the same the
//! invoker uses, so what discovery reached the invoker reaches too.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCEPT};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};

use super::manifest::{EndpointManifest, ManifestError};
use crate::http_client::{client, error_chain, HandlerTls, HttpVersion, VersionPreference};

/// The `accept` header of discovery requests: Restate's manifest media type, then plain JSON.
pub const DISCOVER_ACCEPT: &str =
    "application/vnd.restate.endpointmanifest.v1+json, application/json";

/// The largest manifest accepted; a real one is a few KiB, this only bounds memory.
pub const MAX_MANIFEST_BYTES: usize = 16 << 20;

/// How much of an error response body is quoted in [`DiscoveryError::Status`].
const QUOTED_BODY_CHARS: usize = 200;

/// Why a deployment URI is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Not an absolute `http[s]://host[:port][/path]` URI.
    #[error("invalid deployment uri {uri:?}: {reason}")]
    Invalid {
        /// The URI as given.
        uri: String,
        /// Why.
        reason: String,
    },
}

/// Why discovery failed. Every variant names the URL it tried; header values (which may be
/// credentials) never appear.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The deployment URI is unusable.
    #[error(transparent)]
    Uri(#[from] UriError),
    /// An additional header has an invalid name or value.
    #[error("invalid additional header {name:?}: {reason}")]
    InvalidHeader {
        /// The header name.
        name: String,
        /// Why (never the value).
        reason: String,
    },
    /// No TCP connection could be made.
    #[error("cannot discover {url}: cannot connect: {reason}")]
    Connect {
        /// The discover URL.
        url: String,
        /// The connect error chain.
        reason: String,
    },
    /// The connection failed after connecting (reset, malformed response, ...).
    #[error("cannot discover {url}: request failed: {reason}")]
    Request {
        /// The discover URL.
        url: String,
        /// The error chain.
        reason: String,
    },
    /// No complete answer within the timeout.
    #[error("cannot discover {url}: no complete response within {timeout:?}")]
    Timeout {
        /// The discover URL.
        url: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The deployment answered with a non-2xx status.
    #[error("cannot discover {url}: the deployment answered {status}: {body:?}")]
    Status {
        /// The discover URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The first 200 characters of the response body.
        body: String,
    },
    /// The manifest is larger than [`MAX_MANIFEST_BYTES`].
    #[error("cannot discover {url}: the manifest is larger than {limit} bytes")]
    TooLarge {
        /// The discover URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// The body is not a manifest (not JSON, or not the manifest's shape).
    #[error("cannot discover {url}: the response is not a valid endpoint manifest: {reason}")]
    InvalidJson {
        /// The discover URL.
        url: String,
        /// serde's message, with line and column.
        reason: String,
    },
    /// The manifest parsed but breaks a rule.
    #[error("cannot discover {url}: invalid manifest: {source}")]
    InvalidManifest {
        /// The discover URL.
        url: String,
        /// The broken rule.
        source: ManifestError,
    },
}

/// `uri` with the user-info part (`user:password@`) of its authority replaced by `***@`.
fn redact_userinfo(uri: &str) -> String {
    let Some(scheme_end) = uri.find("://") else {
        return uri.to_owned();
    };
    let rest = &uri[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &uri[..scheme_end + 3], &rest[at..]),
        None => uri.to_owned(),
    }
}

/// Checks a deployment URI and returns it without trailing slashes, the form deployments are
/// stored and compared in. Must be absolute `http://` or `https://` with a host; a path prefix is allowed
/// (requests go to `<uri>/<Service>/...`), a query or fragment is not (it would end up in the
/// middle of every request URL).
pub fn normalize_deployment_uri(uri: &str) -> Result<String, UriError> {
    // Errors show the URI without any `user:password@` part: they end up in API responses.
    let shown = redact_userinfo(uri);
    let invalid = |reason: &str| UriError::Invalid {
        uri: shown.clone(),
        reason: reason.to_owned(),
    };
    let trimmed = uri.trim().trim_end_matches('/');
    if trimmed.contains(['?', '#']) {
        return Err(invalid("it must not have a query or fragment"));
    }
    let parsed: Uri = trimmed
        .parse()
        .map_err(|e: http::uri::InvalidUri| UriError::Invalid {
            uri: shown.clone(),
            reason: e.to_string(),
        })?;
    match parsed.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {}
        Some(s) => {
            return Err(invalid(&format!(
                "unsupported scheme {s:?}, expected http://host:port or https://host:port"
            )))
        }
        None => return Err(invalid("expected an absolute uri like http://host:port")),
    }
    match parsed.host() {
        Some(h) if !h.is_empty() => {}
        _ => return Err(invalid("it has no host")),
    }
    let authority = parsed.authority().map(|a| a.as_str()).unwrap_or_default();
    if authority.contains('@') {
        // Credentials in the URI would be stored and shown in API responses.
        return Err(invalid(
            "credentials in the uri are not allowed; use additional_headers",
        ));
    }
    // `http::Uri` accepts any port text; a bad one would only fail at connect time.
    let after_host = authority
        .rsplit_once(']')
        .map_or(authority, |(_, tail)| tail);
    if let Some((_, port)) = after_host.rsplit_once(':') {
        if port.parse::<u16>().is_err() {
            return Err(invalid(&format!("invalid port {port:?}")));
        }
    }
    Ok(trimmed.to_owned())
}

/// Parses an additional header; the error never quotes the value (it may be a credential).
pub(crate) fn check_header(
    name: &str,
    value: &str,
) -> Result<(HeaderName, HeaderValue), &'static str> {
    let name =
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| "not a valid HTTP header name")?;
    let value =
        HeaderValue::from_str(value).map_err(|_| "the value is not a valid HTTP header value")?;
    Ok((name, value))
}

/// A discovered deployment: its manifest and the HTTP version it answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The validated manifest.
    pub manifest: EndpointManifest,
    /// The version of the discovery response: with [`VersionPreference::Negotiate`] over TLS,
    /// what ALPN agreed on; otherwise the version asked for.
    pub http_version: HttpVersion,
}

/// Fetches and validates the manifest of the deployment at `uri`: `GET <uri>/discover` with
/// Restate's `accept` header and `additional_headers`, speaking `preference` (trusting `tls`
/// for `https://`), the whole exchange bounded by `timeout` and the body by
/// [`MAX_MANIFEST_BYTES`].
pub async fn discover(
    uri: &str,
    additional_headers: &BTreeMap<String, String>,
    preference: VersionPreference,
    tls: &HandlerTls,
    timeout: Duration,
) -> Result<Discovered, DiscoveryError> {
    let base = normalize_deployment_uri(uri)?;
    let url = format!("{base}/discover");
    let h2c = preference == VersionPreference::Fixed(HttpVersion::Http2) && !is_https(&base);
    let (http_version, body) = fetch(
        &url,
        DISCOVER_ACCEPT,
        additional_headers,
        preference,
        h2c,
        tls,
        timeout,
    )
    .await?;
    Ok(Discovered {
        manifest: parse_manifest(&url, &body)?,
        http_version,
    })
}

/// One bounded `GET url` (with `accept` and `additional_headers`) on the invoker's client:
/// the HTTP version of the answer and its body; a non-2xx answer is an error quoting the body.
/// `h2c` adds a hint to request errors (an HTTP/1.1-only server asked for h2c).
pub(crate) async fn fetch(
    url: &str,
    accept: &'static str,
    additional_headers: &BTreeMap<String, String>,
    preference: VersionPreference,
    h2c: bool,
    tls: &HandlerTls,
    timeout: Duration,
) -> Result<(HttpVersion, Bytes), DiscoveryError> {
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(url)
        .body(Empty::<Bytes>::new())
        .map_err(|e| UriError::Invalid {
            uri: url.to_owned(),
            reason: e.to_string(),
        })?;
    let headers = request.headers_mut();
    headers.insert(ACCEPT, HeaderValue::from_static(accept));
    for (name, value) in additional_headers {
        let (header_name, header_value) =
            check_header(name, value).map_err(|reason| DiscoveryError::InvalidHeader {
                name: name.clone(),
                reason: reason.to_owned(),
            })?;
        headers.insert(header_name, header_value);
    }

    // A fresh client per discovery: it is rare, and no pooled connection outlives it.
    let client = client::<Empty<Bytes>>(preference, tls, timeout);

    let exchange = async {
        let response = client.request(request).await.map_err(|e| {
            // The top level is only "client error (Connect)"; the causes say what happened.
            let mut reason = match std::error::Error::source(&e) {
                Some(cause) => error_chain(cause),
                None => e.to_string(),
            };
            if e.is_connect() {
                DiscoveryError::Connect {
                    url: url.to_owned(),
                    reason,
                }
            } else {
                if h2c {
                    // An HTTP/1.1-only server answers the HTTP/2 preface with garbage or a close.
                    reason.push_str(
                        " (HTTP/2 with prior knowledge was asked for with \"use_http_11\": \
                         false; does the deployment speak h2c?)",
                    );
                }
                DiscoveryError::Request {
                    url: url.to_owned(),
                    reason,
                }
            }
        })?;
        let status = response.status();
        let version = HttpVersion::of_response(response.version());
        let body = Limited::new(response.into_body(), MAX_MANIFEST_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<LengthLimitError>() {
                    DiscoveryError::TooLarge {
                        url: url.to_owned(),
                        limit: MAX_MANIFEST_BYTES,
                    }
                } else {
                    DiscoveryError::Request {
                        url: url.to_owned(),
                        reason: format!("reading the body: {}", error_chain(e.as_ref())),
                    }
                }
            })?
            .to_bytes();
        Ok::<_, DiscoveryError>((status, version, body))
    };
    let (status, http_version, body) =
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| DiscoveryError::Timeout {
                url: url.to_owned(),
                timeout,
            })??;

    if !status.is_success() {
        return Err(DiscoveryError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body)
                .chars()
                .take(QUOTED_BODY_CHARS)
                .collect(),
        });
    }
    Ok((http_version, body))
}

/// Whether a normalized deployment URI is `https://`.
pub fn is_https(uri: &str) -> bool {
    uri.get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

/// Parses and validates a manifest body fetched from `url`.
fn parse_manifest(url: &str, body: &[u8]) -> Result<EndpointManifest, DiscoveryError> {
    let manifest: EndpointManifest =
        serde_json::from_slice(body).map_err(|e| DiscoveryError::InvalidJson {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    manifest
        .validate()
        .map_err(|source| DiscoveryError::InvalidManifest {
            url: url.to_owned(),
            source,
        })?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_appear_in_uri_errors() {
        let e = normalize_deployment_uri("http://u:s3cret@h:9080")
            .unwrap_err()
            .to_string();
        assert!(e.contains("credentials in the uri"), "{e}");
        assert!(
            e.contains("http://***@h:9080") && !e.contains("s3cret"),
            "{e}"
        );
        let e = normalize_deployment_uri("https://u:s3cret@h")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn normalizes_http_uris() {
        assert_eq!(
            normalize_deployment_uri("http://h:9080/").unwrap(),
            "http://h:9080"
        );
        assert_eq!(
            normalize_deployment_uri(" http://h:9080/prefix// ").unwrap(),
            "http://h:9080/prefix"
        );
        assert_eq!(normalize_deployment_uri("HTTP://h").unwrap(), "HTTP://h");
        assert_eq!(
            normalize_deployment_uri("http://[::1]:9080").unwrap(),
            "http://[::1]:9080"
        );
        assert_eq!(
            normalize_deployment_uri("http://[::1]").unwrap(),
            "http://[::1]"
        );
    }

    #[test]
    fn accepts_https_uris() {
        assert_eq!(
            normalize_deployment_uri("https://h:9443/").unwrap(),
            "https://h:9443"
        );
        assert!(is_https("HTTPS://h") && is_https("https://h:1") && !is_https("http://h"));
    }

    #[test]
    fn rejects_bad_uris_with_the_reason() {
        for (uri, reason) in [
            ("h:9080", "expected an absolute uri"),
            ("localhost", "expected an absolute uri"),
            ("/just/a/path", "expected an absolute uri"),
            ("ftp://h", "unsupported scheme \"ftp\""),
            ("http://h:9080?x=1", "query or fragment"),
            ("http://h#x", "query or fragment"),
            ("http://h:port", "invalid port \"port\""),
            ("http://h:99999", "invalid port"),
            ("", "empty"),
        ] {
            let e = normalize_deployment_uri(uri).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid deployment uri {uri:?}: ")) && e.contains(reason),
                "{uri}: {e}"
            );
        }
    }

    #[test]
    fn parse_manifest_reports_json_position_and_rule() {
        let e = parse_manifest("http://h/discover", b"{\"services\": [}").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with(
                "cannot discover http://h/discover: the response is not a valid endpoint manifest:"
            ) && msg.contains("line 1 column"),
            "{msg}"
        );
        let e = parse_manifest("http://h/discover", b"{\"services\": []}").unwrap_err();
        assert!(matches!(
            e,
            DiscoveryError::InvalidManifest {
                source: ManifestError::NoServices,
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "cannot discover http://h/discover: invalid manifest: the manifest declares no services"
        );
        let ok = parse_manifest(
            "u",
            br#"{"services":[{"name":"S","ty":"SERVICE","handlers":[{"name":"h"}]}]}"#,
        )
        .unwrap();
        assert_eq!(ok.services[0].name, "S");
    }

    #[tokio::test]
    async fn invalid_headers_fail_before_connecting_without_the_value() {
        let headers = BTreeMap::from([("x-secret".to_owned(), "bad\nvalue".to_owned())]);
        // Port 9 on loopback: never contacted, the header fails first.
        let e = discover_http1("http://127.0.0.1:9", &headers)
            .await
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("\"x-secret\"") && !msg.contains("bad"),
            "{msg}"
        );
        let headers = BTreeMap::from([("bad name".to_owned(), "v".to_owned())]);
        let e = discover_http1("http://127.0.0.1:9", &headers)
            .await
            .unwrap_err();
        assert!(matches!(e, DiscoveryError::InvalidHeader { .. }), "{e}");
    }

    async fn discover_http1(
        uri: &str,
        headers: &BTreeMap<String, String>,
    ) -> Result<Discovered, DiscoveryError> {
        let tls = HandlerTls::system().unwrap();
        discover(
            uri,
            headers,
            VersionPreference::Fixed(HttpVersion::Http1),
            &tls,
            Duration::from_secs(1),
        )
        .await
    }

    #[tokio::test]
    async fn a_refused_connection_names_the_url() {
        // Port 9 (discard) on loopback: nothing listens there.
        let e = discover_http1("https://127.0.0.1:9", &BTreeMap::new())
            .await
            .unwrap_err();
        assert!(matches!(e, DiscoveryError::Connect { .. }), "{e}");
        assert!(
            e.to_string().contains("https://127.0.0.1:9/discover"),
            "{e}"
        );
    }

    #[test]
    fn error_chain_joins_causes_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::other("refused"));
        assert_eq!(error_chain(&e), "outer: refused");
    }
}
