//! The HTTP client that delivers [`Invocation`]s: a pooled keep-alive client (HTTP/1.1, or
//! HTTP/2 — h2c with prior knowledge on `http://`, ALPN `h2` on `https://`) with a
//! per-request timeout. It turns every outcome into an [`AttemptOutcome`]; retrying and
//! failure policy live in the caller.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};

use super::invocation::Invocation;
use super::retry::{classify_status, parse_retry_after, AttemptOutcome};
pub use crate::http_client::HttpVersion;
use crate::http_client::{client, error_chain, HandlerClient, HandlerTls, VersionPreference};

/// How much of a response body is read (and then dropped) so the connection can be reused.
const MAX_RESPONSE_BODY: usize = 1 << 20;

/// A pooled HTTP client for handler invocations.
#[derive(Debug, Clone)]
pub struct Invoker {
    client: HandlerClient<Full<Bytes>>,
    timeout: Duration,
}

impl Invoker {
    /// A client speaking `version` (trusting `tls` for `https://` deployments), failing
    /// requests after `timeout` (`ingress.request-timeout-ms`).
    pub fn new(version: HttpVersion, tls: &HandlerTls, timeout: Duration) -> Self {
        Invoker {
            client: client(VersionPreference::Fixed(version), tls, timeout),
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
                // The causes say what happened ("Connection refused", a certificate error).
                return AttemptOutcome::Retryable {
                    reason: format!("request to {} failed: {}", invocation.url, error_chain(&e)),
                    retry_after: None,
                };
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
