//! The HTTP client that delivers [`Invocation`]s: a pooled keep-alive client (HTTP/1.1, or
//! prior-knowledge HTTP/2 for h2c deployments) with a per-request timeout. It turns every
//! outcome into an [`AttemptOutcome`]; retrying and failure policy live in the caller.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::invocation::Invocation;
use super::retry::{classify_status, parse_retry_after, AttemptOutcome};

/// How much of a response body is read (and then dropped) so the connection can be reused.
const MAX_RESPONSE_BODY: usize = 1 << 20;

/// Which HTTP version to speak to a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/1.1 with keep-alive.
    Http1,
    /// HTTP/2 with prior knowledge (h2c).
    Http2,
}

/// A pooled HTTP client for handler invocations.
#[derive(Debug, Clone)]
pub struct Invoker {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl Invoker {
    /// A client speaking `version`, failing requests after `timeout`
    /// (`ingress.request-timeout-ms`).
    pub fn new(version: HttpVersion, timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let mut builder = Client::builder(TokioExecutor::new());
        builder.pool_idle_timeout(Duration::from_secs(60));
        if version == HttpVersion::Http2 {
            builder.http2_only(true);
        }
        Invoker {
            client: builder.build(connector),
            timeout,
        }
    }

    /// Sends `invocation` once and classifies the result.
    pub async fn invoke(&self, invocation: &Invocation) -> AttemptOutcome {
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(invocation.url.as_str());
        for (name, value) in &invocation.headers {
            request = request.header(name, value);
        }
        let request = match request.body(Full::new(invocation.body.clone())) {
            Ok(r) => r,
            Err(e) => {
                return AttemptOutcome::Terminal {
                    reason: format!("cannot build request for {}: {e}", invocation.url),
                }
            }
        };
        let response = match tokio::time::timeout(self.timeout, self.client.request(request)).await
        {
            Err(_) => {
                return AttemptOutcome::Retryable {
                    reason: format!("no response within {:?}", self.timeout),
                    retry_after: None,
                }
            }
            Ok(Err(e)) => {
                return AttemptOutcome::Retryable {
                    reason: format!("request to {} failed: {e}", invocation.url),
                    retry_after: None,
                }
            }
            Ok(Ok(r)) => r,
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        // Drain (bounded) so the connection goes back to the pool.
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BODY);
        let _ = tokio::time::timeout(self.timeout, body.collect()).await;
        classify_status(status, retry_after)
    }
}
