//! A ready broker: a connection whose API versions are negotiated (and, with the security
//! seam, authenticated). Everything above this speaks `Broker::request` and never picks a
//! version by hand.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use kafka_proto::error_code::ErrorCode;
use kafka_proto::messages::api_versions::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_proto::negotiate::NegotiatedVersions;
use kafka_proto::{decode_response, Message, Request};

use super::connection::{BoxedTransport, BrokerConnection, ConnectionError};
use super::error::ClientError;
use crate::options::SaslSettings;

/// Opens the byte stream to a broker: plain TCP here; TLS wraps it (security settings).
pub trait Connector: Send + Sync + fmt::Debug {
    /// Connects to `host:port`.
    fn connect<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = Result<BoxedTransport, ConnectionError>> + Send + 'a>>;
}

/// Plain TCP with a connect timeout and `TCP_NODELAY`.
#[derive(Debug, Clone)]
pub struct TcpConnector {
    /// How long a TCP connect may take.
    pub connect_timeout: Duration,
}

impl Connector for TcpConnector {
    fn connect<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = Result<BoxedTransport, ConnectionError>> + Send + 'a>> {
        Box::pin(async move {
            let addr = format!("{host}:{port}");
            let stream = tokio::time::timeout(
                self.connect_timeout,
                tokio::net::TcpStream::connect((host, port)),
            )
            .await
            .map_err(|_| ConnectionError::Connect {
                addr: addr.clone(),
                reason: format!("timed out after {:?}", self.connect_timeout),
            })?
            .map_err(|e| ConnectionError::Connect {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
            let _ = stream.set_nodelay(true);
            Ok(Box::new(stream) as BoxedTransport)
        })
    }
}

/// What a connection needs besides the address.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// `client.id` sent in every request header.
    pub client_id: String,
    /// Per-request timeout (`socket.timeout.ms`).
    pub request_timeout: Duration,
    /// Largest response frame accepted (`receive.message.max.bytes`).
    pub max_response_bytes: usize,
    /// SASL credentials: when set, every connection authenticates right after ApiVersions.
    pub sasl: Option<SaslSettings>,
}

/// A connected broker with negotiated API versions.
#[derive(Debug)]
pub struct Broker {
    conn: BrokerConnection,
    versions: NegotiatedVersions,
    api_versions: ApiVersionsResponse,
    request_timeout: Duration,
}

/// The ApiVersions version we ask with first; v3+ carries the client software name.
const API_VERSIONS_FIRST: i16 = 3;

impl Broker {
    /// Connects to `host:port` through `connector`, negotiates API versions and, with
    /// `settings.sasl`, authenticates.
    pub async fn connect(
        connector: &dyn Connector,
        host: &str,
        port: u16,
        settings: &ConnectionSettings,
    ) -> Result<Broker, ClientError> {
        let addr = format!("{host}:{port}");
        let transport = connector.connect(host, port).await?;
        let conn = BrokerConnection::new(
            addr.clone(),
            transport,
            Some(settings.client_id.clone()),
            settings.max_response_bytes,
        );
        let api_versions = negotiate(&conn, settings.request_timeout).await?;
        let versions = NegotiatedVersions::from_response(&api_versions);
        if let Some(sasl) = &settings.sasl {
            if let Err(e) =
                super::sasl::authenticate(&conn, &versions, sasl, settings.request_timeout).await
            {
                conn.close(format!("SASL authentication failed: {e}"));
                return Err(e);
            }
        }
        Ok(Broker {
            versions,
            api_versions,
            conn,
            request_timeout: settings.request_timeout,
        })
    }

    /// The broker address.
    pub fn addr(&self) -> &str {
        self.conn.addr()
    }

    /// Whether the underlying connection is closed.
    pub fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    /// The broker's ApiVersions answer.
    pub fn api_versions(&self) -> &ApiVersionsResponse {
        &self.api_versions
    }

    /// The negotiated versions.
    pub fn versions(&self) -> &NegotiatedVersions {
        &self.versions
    }

    /// The version `R` is sent at on this broker.
    pub fn version_for<R: Request>(&self) -> Result<i16, ClientError> {
        self.versions
            .version_for::<R>()
            .map_err(|source| ClientError::Negotiation {
                addr: self.addr().to_owned(),
                source,
            })
    }

    /// Sends `request` at the negotiated version with the default timeout.
    pub async fn request<R: Request>(&self, request: &R) -> Result<R::Response, ClientError> {
        self.request_with_timeout(request, self.request_timeout)
            .await
    }

    /// Sends `request` at the negotiated version, waiting at most `timeout`.
    pub async fn request_with_timeout<R: Request>(
        &self,
        request: &R,
        timeout: Duration,
    ) -> Result<R::Response, ClientError> {
        let version = self.version_for::<R>()?;
        Ok(self.conn.send(request, version, timeout).await?)
    }

    /// Sends `request` at an explicit `version`.
    pub async fn request_at<R: Request>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, ClientError> {
        Ok(self
            .conn
            .send(request, version, self.request_timeout)
            .await?)
    }

    /// Sends `request` at the negotiated version and returns the raw response frame (for
    /// capturing test vectors).
    pub async fn request_raw<R: Request>(
        &self,
        request: &R,
    ) -> Result<(i16, bytes::Bytes), ClientError> {
        let version = self.version_for::<R>()?;
        Ok((
            version,
            self.conn
                .send_raw(request, version, self.request_timeout)
                .await?,
        ))
    }

    /// Closes the connection.
    pub fn close(&self, reason: &str) {
        self.conn.close(reason.to_owned());
    }
}

fn api_versions_request() -> ApiVersionsRequest {
    ApiVersionsRequest {
        client_software_name: "kafka-ingress".to_owned(),
        client_software_version: env!("CARGO_PKG_VERSION").to_owned(),
        unknown_tagged_fields: Vec::new(),
    }
}

/// ApiVersions handshake. A broker that does not know our version answers with a v0 body,
/// error UNSUPPORTED_VERSION and its own ApiVersions range; we retry at its highest version.
async fn negotiate(
    conn: &BrokerConnection,
    timeout: Duration,
) -> Result<ApiVersionsResponse, ClientError> {
    let mut version = API_VERSIONS_FIRST;
    for _ in 0..2 {
        let frame = conn
            .send_raw(&api_versions_request(), version, timeout)
            .await?;
        let decoded = decode_response::<ApiVersionsRequest>(frame.clone(), version)
            .or_else(|e| decode_response::<ApiVersionsRequest>(frame, 0).map_err(|_| e))
            .map_err(|source| ConnectionError::Decode {
                addr: conn.addr().to_owned(),
                api: "ApiVersions",
                version,
                source,
            })?
            .1;
        let code = ErrorCode::from_code(decoded.error_code);
        if code == ErrorCode::None {
            return Ok(decoded);
        }
        if code == ErrorCode::UnsupportedVersion {
            let broker_max = decoded
                .api_keys
                .iter()
                .find(|k| k.api_key == kafka_proto::ApiKey::ApiVersions.code())
                .map(|k| k.max_version)
                .unwrap_or(0);
            let next = broker_max.clamp(
                ApiVersionsRequest::MIN_VERSION,
                ApiVersionsRequest::MAX_VERSION,
            );
            if next < version {
                version = next;
                continue;
            }
        }
        return Err(ClientError::Broker {
            addr: conn.addr().to_owned(),
            api: "ApiVersions",
            code,
            message: None,
        });
    }
    Err(ClientError::Protocol {
        addr: conn.addr().to_owned(),
        api: "ApiVersions",
        reason: "version negotiation did not converge".to_owned(),
    })
}
