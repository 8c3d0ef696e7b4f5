//! The HTTP client that delivers [`Invocation`]s: pooled keep-alive connections (HTTP/1.1
//! through [`Http1Pool`], whose connections are driven by the delivering task itself; HTTP/2 —
//! h2c with prior knowledge on `http://`, ALPN `h2` on `https://` — through hyper-util's
//! client, one multiplexed connection) with a per-request timeout. It turns every outcome into
//! an [`AttemptOutcome`]; retrying and failure policy live in the caller.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};

use super::invocation::Invocation;
use super::retry::{classify_status, parse_retry_after, AttemptOutcome};
pub use crate::http_client::HttpVersion;
use crate::http_client::{
    client, connector, error_chain, HandlerClient, HandlerTls, Http1Pool, VersionPreference,
};

/// How much of a response body is read (and then dropped) so the connection can be reused.
const MAX_RESPONSE_BODY: usize = 1 << 20;
/// How much of a failed response's body goes into the error (status, dead-letter header, log).
pub const ERROR_BODY_EXCERPT: usize = 1024;

/// A pooled HTTP client for handler invocations.
#[derive(Debug, Clone)]
pub struct Invoker {
    transport: Transport,
    timeout: Duration,
}

#[derive(Debug, Clone)]
enum Transport {
    Http1(Arc<Http1Pool>),
    Http2(Arc<HandlerClient<Full<Bytes>>>),
}

impl Invoker {
    /// A client speaking `version` (trusting `tls` for `https://` deployments), failing
    /// requests after `timeout` (`ingress.request-timeout-ms`).
    pub fn new(version: HttpVersion, tls: &HandlerTls, timeout: Duration) -> Self {
        let preference = VersionPreference::Fixed(version);
        let transport = match version {
            HttpVersion::Http1 => Transport::Http1(Arc::new(Http1Pool::new(connector(
                preference, tls, timeout,
            )))),
            HttpVersion::Http2 => Transport::Http2(Arc::new(client(preference, tls, timeout))),
        };
        Invoker { transport, timeout }
    }

    /// Sends `invocation` once and classifies the result. (Taken by value: its headers
    /// become the request's; a retry builds the invocation again.)
    pub async fn invoke(&self, mut invocation: Invocation) -> AttemptOutcome {
        let mut headers = std::mem::take(&mut invocation.headers);
        let body = std::mem::take(&mut invocation.body);
        let invocation = &invocation;
        // Boxed: the exchange's state (hyper's futures, the request) is kilobytes, and
        // unboxed it is copied into the timeout, into the delivery's state and into the
        // delivery's box (callgrind: ~1 500 instructions of memcpy per record).
        let exchange = Box::pin(async move {
            match &self.transport {
                Transport::Http1(pool) => {
                    if let Some(host) = &invocation.host {
                        headers.insert(http::header::HOST, host.clone());
                    }
                    let (origin, path) = (invocation.origin(), invocation.path());
                    http1_exchange(pool, origin, path, headers, body).await
                }
                Transport::Http2(client) => {
                    http2_exchange(client, &invocation.url, headers, body).await
                }
            }
        });
        match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => AttemptOutcome::Retryable {
                reason: format!("no response within {:?}", self.timeout),
                retry_after: None,
            },
            // The causes say what happened ("Connection refused", a certificate error).
            Ok(Err(e)) => AttemptOutcome::Retryable {
                reason: format!("request to {} failed: {e}", invocation.url),
                retry_after: None,
            },
            Ok(Ok(answer)) => {
                let outcome = classify_status(answer.status, answer.retry_after);
                match (outcome, answer.body) {
                    (outcome @ AttemptOutcome::Delivered, _) => outcome,
                    (outcome, Some(body)) => with_body(outcome, &body),
                    (outcome, None) => outcome,
                }
            }
        }
    }
}

/// What the classification needs of an answer.
struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    /// The body, when it was read whole (bounded).
    body: Option<Bytes>,
}

fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

/// A POST with `headers` and `body`, built in place rather than through
/// `http::request::Builder` (which moves itself by value on every `.header()`).
fn post(uri: http::Uri, headers: http::HeaderMap, body: Bytes) -> http::Request<Full<Bytes>> {
    let mut request = http::Request::new(Full::new(body));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    request
}

async fn http1_exchange(
    pool: &Http1Pool,
    origin: &str,
    path: &str,
    headers: http::HeaderMap,
    body: Bytes,
) -> Result<Answer, String> {
    let path =
        http::Uri::try_from(path).map_err(|e| format!("invalid request target {path:?}: {e}"))?;
    let response = pool
        .send(origin, post(path, headers, body), MAX_RESPONSE_BODY)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Answer {
        status: response.status.as_u16(),
        retry_after: retry_after(&response.headers),
        body: response.body,
    })
}

async fn http2_exchange(
    client: &HandlerClient<Full<Bytes>>,
    url: &str,
    headers: http::HeaderMap,
    body: Bytes,
) -> Result<Answer, String> {
    let uri = http::Uri::try_from(url).map_err(|e| format!("cannot build request: {e}"))?;
    let response = client
        .request(post(uri, headers, body))
        .await
        .map_err(|e| error_chain(&e))?;
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    // Drain (bounded) so the stream's flow-control window is released; a failure's body says
    // why.
    let body = Limited::new(response.into_body(), MAX_RESPONSE_BODY)
        .collect()
        .await
        .ok()
        .map(|b| b.to_bytes());
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// `outcome` with the handler's answer appended to its reason: `handler answered 404: <the
/// first [`ERROR_BODY_EXCERPT`] bytes of the body>`, on one line.
fn with_body(outcome: AttemptOutcome, body: &[u8]) -> AttemptOutcome {
    let Some(excerpt) = body_excerpt(body) else {
        return outcome;
    };
    match outcome {
        AttemptOutcome::Retryable {
            reason,
            retry_after,
        } => AttemptOutcome::Retryable {
            reason: format!("{reason}: {excerpt}"),
            retry_after,
        },
        AttemptOutcome::Terminal { reason } => AttemptOutcome::Terminal {
            reason: format!("{reason}: {excerpt}"),
        },
        delivered => delivered,
    }
}

/// The start of a response body as one line of text (control characters and line breaks
/// become spaces, invalid UTF-8 is replaced), `...` marking a cut; `None` for a blank body.
pub fn body_excerpt(body: &[u8]) -> Option<String> {
    let cut = body.len() > ERROR_BODY_EXCERPT;
    let head = &body[..body.len().min(ERROR_BODY_EXCERPT)];
    let text: String = String::from_utf8_lossy(head)
        .chars()
        // A multi-byte character cut at the limit decodes as one replacement character.
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return None;
    }
    Some(if cut { format!("{text} ...") } else { text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_answers_carry_their_body_bounded_and_on_one_line() {
        let restate = br#"{"code":404,"message":"the service 'Counter' exists, but the handler 'nope' was not found"}"#;
        let outcome = with_body(classify_status(404, None), restate);
        let AttemptOutcome::Terminal { reason } = outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(
            reason,
            format!("handler answered 404: {}", String::from_utf8_lossy(restate))
        );
        let outcome = with_body(classify_status(503, None), b"down\r\nfor\tmaintenance\n");
        assert!(
            matches!(&outcome, AttemptOutcome::Retryable { reason, .. } if reason == "handler answered 503: down for maintenance"),
            "{outcome:?}"
        );
        assert_eq!(
            with_body(classify_status(500, None), b" \n"),
            classify_status(500, None)
        );
        assert_eq!(
            with_body(classify_status(200, None), b"ok"),
            AttemptOutcome::Delivered
        );
        let long = "é".repeat(2000);
        let excerpt = body_excerpt(long.as_bytes()).unwrap();
        assert!(excerpt.ends_with(" ..."), "{excerpt}");
        assert!(excerpt.len() <= ERROR_BODY_EXCERPT + 8, "{}", excerpt.len());
        assert_eq!(body_excerpt(&[0xff, b'x']).unwrap(), "\u{fffd}x");
    }
}
