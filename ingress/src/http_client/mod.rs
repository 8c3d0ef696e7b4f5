//! The HTTP client to deployments, shared by discovery and the invoker: cleartext or TLS
//! (rustls, `ring`), HTTP/1.1 keep-alive or HTTP/2 — pooled by hyper-util ([`client`]), or for
//! deliveries over HTTP/1.1 by [`Http1Pool`] on the same [`connector`].
//!
//! Versions: HTTP/1.1, or HTTP/2 with prior knowledge on `http://` (h2c) and through ALPN on
//! `https://`. Discovery may leave the version open ([`VersionPreference::Negotiate`]): over
//! TLS, ALPN then offers `h2` and `http/1.1` and the server picks; over cleartext there is
//! nothing to negotiate with, so it is HTTP/1.1.
//!
//! Trust for `https://` deployments: the system trust store (which honours `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`), or the built-in Mozilla roots when the system has none (a `FROM scratch`
//! image); [`HandlerTls::from_settings`] takes an explicit CA.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::ClientConfig;
use serde::{Deserialize, Serialize};

use crate::kafka::tls::client_config;
use crate::options::TlsSettings;

mod http1;

pub use http1::{Http1Error, Http1Pool, Http1Response};

/// How long an idle pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The HTTP version spoken to a deployment; serialized like Restate's `http_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum HttpVersion {
    /// HTTP/1.1 with keep-alive (over TLS: ALPN `http/1.1`).
    #[default]
    #[serde(rename = "HTTP/1.1")]
    Http1,
    /// HTTP/2: prior knowledge on cleartext (h2c), ALPN `h2` over TLS.
    #[serde(rename = "HTTP/2.0")]
    Http2,
}

impl fmt::Display for HttpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpVersion::Http1 => "HTTP/1.1",
            HttpVersion::Http2 => "HTTP/2.0",
        })
    }
}

impl HttpVersion {
    /// The version of a response, as far as a deployment's version goes (HTTP/1.0 and 0.9
    /// answers are HTTP/1.1 deployments; HTTP/3 is never negotiated by this client).
    pub fn of_response(version: http::Version) -> HttpVersion {
        if version == http::Version::HTTP_2 {
            HttpVersion::Http2
        } else {
            HttpVersion::Http1
        }
    }
}

/// What a client may speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionPreference {
    /// Exactly this version.
    Fixed(HttpVersion),
    /// Whatever ALPN agrees on over TLS (h2 preferred); HTTP/1.1 on cleartext.
    Negotiate,
}

/// The TLS client configuration for `https://` deployments (trust anchors; no client
/// certificate). Cheap to clone.
#[derive(Clone)]
pub struct HandlerTls {
    config: Arc<ClientConfig>,
    summary: String,
}

impl fmt::Debug for HandlerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerTls")
            .field("trust", &self.summary)
            .finish_non_exhaustive()
    }
}

/// Why the TLS configuration for deployments could not be built.
#[derive(Debug, thiserror::Error)]
#[error("TLS configuration for https deployments: {0}")]
pub struct HandlerTlsError(String);

impl HandlerTls {
    /// The system trust store (`SSL_CERT_FILE`/`SSL_CERT_DIR` honoured), or the built-in
    /// Mozilla roots when the system has none.
    pub fn system() -> Result<HandlerTls, HandlerTlsError> {
        HandlerTls::from_settings(&TlsSettings::default())
    }

    /// Trust (and host name checking) as the librdkafka-style `ssl.*` settings say, e.g. a
    /// private CA in `ca_location`.
    pub fn from_settings(settings: &TlsSettings) -> Result<HandlerTls, HandlerTlsError> {
        let (config, _) = client_config(settings).map_err(|e| HandlerTlsError(e.to_string()))?;
        let summary = match (&settings.ca_location, &settings.ca_pem) {
            (Some(ca), _) => format!("CA {ca}"),
            (None, Some(_)) => "inline CA".to_owned(),
            (None, None) => "system trust store".to_owned(),
        };
        Ok(HandlerTls { config, summary })
    }
}

/// The pooled client type of [`client`].
pub type HandlerClient<B> = Client<HandlerConnector, B>;

/// Opens TCP or TLS connections to deployments (a `tower` service from `Uri` to a stream).
pub type HandlerConnector = HttpsConnector<HttpConnector>;

/// A pooled client for `http://` and `https://` deployments speaking `preference`, with
/// TCP connects (and TLS handshakes, which hyper-rustls runs inside the connect) bounded by
/// `connect_timeout`.
pub fn client<B>(
    preference: VersionPreference,
    tls: &HandlerTls,
    connect_timeout: Duration,
) -> HandlerClient<B>
where
    B: hyper::body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connector = connector(preference, tls, connect_timeout);
    let mut client = Client::builder(TokioExecutor::new());
    client.pool_idle_timeout(POOL_IDLE_TIMEOUT);
    if preference == VersionPreference::Fixed(HttpVersion::Http2) {
        // h2c: no upgrade dance, the connection starts with the HTTP/2 preface.
        client.http2_only(true);
    }
    client.build(connector)
}

/// The connector of [`client`] (and of [`Http1Pool`]): TCP with `TCP_NODELAY`, TLS with ALPN
/// for the versions `preference` allows, connects bounded by `connect_timeout`.
pub fn connector(
    preference: VersionPreference,
    tls: &HandlerTls,
    connect_timeout: Duration,
) -> HandlerConnector {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    // The https connector below decides the scheme; the inner one must accept https URIs.
    http.enforce_http(false);
    // hyper-rustls sets ALPN from the enabled versions, so the shared config has none.
    let mut config = (*tls.config).clone();
    config.alpn_protocols.clear();
    let builder = HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http();
    match preference {
        VersionPreference::Fixed(HttpVersion::Http1) => builder.enable_http1().wrap_connector(http),
        VersionPreference::Fixed(HttpVersion::Http2) => builder.enable_http2().wrap_connector(http),
        VersionPreference::Negotiate => builder.enable_all_versions().wrap_connector(http),
    }
}

/// `e: cause: cause ...`: the useful part of an HTTP client error ("Connection refused",
/// "invalid peer certificate: UnknownIssuer") is usually a few causes deep.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_serialize_like_restate() {
        assert_eq!(
            serde_json::to_string(&HttpVersion::Http1).ok().as_deref(),
            Some("\"HTTP/1.1\"")
        );
        assert_eq!(
            serde_json::to_string(&HttpVersion::Http2).ok().as_deref(),
            Some("\"HTTP/2.0\"")
        );
        let v: Result<HttpVersion, _> = serde_json::from_str("\"HTTP/2.0\"");
        assert_eq!(v.ok(), Some(HttpVersion::Http2));
        assert_eq!(
            HttpVersion::of_response(http::Version::HTTP_10),
            HttpVersion::Http1
        );
    }

    #[test]
    fn system_trust_builds_and_debug_shows_no_key_material() {
        let tls = HandlerTls::system();
        assert!(tls.is_ok(), "{tls:?}");
        let shown = format!("{tls:?}");
        assert!(shown.contains("system trust store"), "{shown}");
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let settings = TlsSettings {
            ca_location: Some("/nonexistent/ca.pem".into()),
            ..TlsSettings::default()
        };
        let e = HandlerTls::from_settings(&settings)
            .err()
            .map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
