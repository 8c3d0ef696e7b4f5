//! A recording HTTP handler server: serves a `/discover` manifest, records every request and
//! answers according to per-key fault rules (fail with a status, delay, or random faults).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::task::JoinHandle;

use crate::tls::TestCa;
use crate::{lock, TestkitError};

/// One request the handler received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Request path, e.g. `/Greeter/greet` or `/Counter/my-key/add`.
    pub path: String,
    /// HTTP version the request came in with.
    pub version: axum::http::Version,
    /// All request headers, names lower-case.
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Bytes,
    /// When it arrived.
    pub arrived: Instant,
    /// The status it was answered with.
    pub status: u16,
    /// Requests in flight at this handler when it arrived (itself included).
    pub concurrency: usize,
}

impl RecordedRequest {
    /// A header value as a string, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The virtual-object key from a `/<Object>/<key>/<handler>` path, percent-decoded.
    pub fn path_key(&self) -> Option<String> {
        let parts: Vec<&str> = self.path.trim_start_matches('/').split('/').collect();
        (parts.len() == 3).then(|| percent_decode(parts[1]))
    }
}

/// What the handler answers for a request.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Delay before answering.
    pub delay: Duration,
    /// Extra random delay, uniformly in `0..=jitter`.
    pub jitter: Duration,
    /// Probability (0.0..=1.0) of answering `fault_status` instead of 200.
    pub fault_probability: f64,
    /// Status for random faults (e.g. 503).
    pub fault_status: u16,
}

#[derive(Debug, Clone)]
struct KeyRule {
    status: u16,
    remaining: Option<usize>,
    delay: Duration,
    retry_after: Option<u64>,
}

#[derive(Debug, Default)]
struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    rules: Mutex<HashMap<String, KeyRule>>,
    default: Mutex<Behaviour>,
    manifest: Mutex<serde_json::Value>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Requests in flight per virtual-object key (`/<Object>/<key>/<handler>` paths).
    key_in_flight: Mutex<HashMap<String, usize>>,
    /// Requests that arrived while another one of the same object key was in flight.
    key_overlaps: AtomicUsize,
}

/// Counts a virtual-object request in flight for its key until dropped (also when the
/// connection dies mid-request and the handler future is dropped).
struct KeyInFlight {
    shared: Arc<Shared>,
    key: String,
}

impl KeyInFlight {
    fn enter(shared: &Arc<Shared>, key: String) -> KeyInFlight {
        let mut map = lock(&shared.key_in_flight);
        let n = map.entry(key.clone()).or_insert(0);
        if *n > 0 {
            shared.key_overlaps.fetch_add(1, Ordering::SeqCst);
        }
        *n += 1;
        drop(map);
        KeyInFlight {
            shared: shared.clone(),
            key,
        }
    }
}

impl Drop for KeyInFlight {
    fn drop(&mut self) {
        let mut map = lock(&self.shared.key_in_flight);
        if let Some(n) = map.get_mut(&self.key) {
            *n = n.saturating_sub(1);
        }
    }
}

/// A running recording handler server.
#[derive(Debug)]
pub struct RecordingHandler {
    addr: SocketAddr,
    scheme: &'static str,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl RecordingHandler {
    /// Starts a server on a free loopback port serving `manifest` at `GET /discover`, over
    /// cleartext HTTP/1.1 and h2c (prior knowledge).
    pub async fn start(manifest: serde_json::Value) -> Result<Self, TestkitError> {
        let (shared, app) = app(manifest);
        let (listener, addr) = bind().await?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("testkit handler server stopped: {e}");
            }
        });
        Ok(RecordingHandler {
            addr,
            scheme: "http",
            shared,
            task,
        })
    }

    /// Like [`RecordingHandler::start`], over TLS with `ca`'s server certificate, offering
    /// `alpn` (`["h2", "http/1.1"]`: either version, as the client's ALPN picks;
    /// `["http/1.1"]`: a server without HTTP/2). [`RecordingHandler::url`] is then
    /// `https://127.0.0.1:<port>`.
    pub async fn start_tls(
        manifest: serde_json::Value,
        ca: &TestCa,
        alpn: &[&str],
    ) -> Result<Self, TestkitError> {
        let (shared, app) = app(manifest);
        let (listener, addr) = bind().await?;
        let task = crate::tls::serve_tls(listener, app, ca.server_config(alpn)?);
        Ok(RecordingHandler {
            addr,
            scheme: "https",
            shared,
            task,
        })
    }

    /// A manifest with one service of type `ty` ("SERVICE", "VIRTUAL_OBJECT", "WORKFLOW")
    /// and the given handlers (EXCLUSIVE for objects and workflows, untyped for services; JSON
    /// input).
    pub fn manifest(service: &str, ty: &str, handlers: &[&str]) -> serde_json::Value {
        let handlers: Vec<_> = handlers
            .iter()
            .map(|h| {
                if ty == "SERVICE" {
                    // Restate manifests give handler types only for objects and workflows.
                    serde_json::json!({"name": h, "input": {"contentType": "application/json"}})
                } else {
                    serde_json::json!({
                        "name": h,
                        "ty": "EXCLUSIVE",
                        "input": {"contentType": "application/json"}
                    })
                }
            })
            .collect();
        serde_json::json!({"services": [{"name": service, "ty": ty, "handlers": handlers}]})
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (`https://` for [`RecordingHandler::start_tls`]).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Sets the behaviour for requests without a key rule.
    pub fn set_default(&self, behaviour: Behaviour) {
        *lock(&self.shared.default) = behaviour;
    }

    /// Answers requests for `key` with `status` the next `times` times (`None`: forever).
    pub fn fail_key(&self, key: &str, status: u16, times: Option<usize>) {
        lock(&self.shared.rules).insert(
            key.to_owned(),
            KeyRule {
                status,
                remaining: times,
                delay: Duration::ZERO,
                retry_after: None,
            },
        );
    }

    /// Like [`Self::fail_key`], with a `Retry-After: <secs>` header on the failures.
    pub fn fail_key_retry_after(&self, key: &str, status: u16, times: Option<usize>, secs: u64) {
        lock(&self.shared.rules).insert(
            key.to_owned(),
            KeyRule {
                status,
                remaining: times,
                delay: Duration::ZERO,
                retry_after: Some(secs),
            },
        );
    }

    /// Delays every answer for `key` by `delay` (answers 200).
    pub fn delay_key(&self, key: &str, delay: Duration) {
        lock(&self.shared.rules).insert(
            key.to_owned(),
            KeyRule {
                status: 200,
                remaining: None,
                delay,
                retry_after: None,
            },
        );
    }

    /// Removes the rule for `key`.
    pub fn clear_key(&self, key: &str) {
        lock(&self.shared.rules).remove(key);
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// How many requests arrived so far.
    pub fn count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// How many virtual-object requests arrived while another request for the same object key
    /// was still in flight (0 when per-key exclusivity held).
    pub fn key_overlaps(&self) -> usize {
        self.shared.key_overlaps.load(Ordering::SeqCst)
    }

    /// The highest number of requests in flight at once so far.
    pub fn max_concurrency(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests arrived, or fails after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<(), TestkitError> {
        let deadline = Instant::now() + timeout;
        loop {
            let c = self.count();
            if c >= n {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(TestkitError::Handler(format!(
                    "waited {timeout:?} for {n} requests, got {c}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for RecordingHandler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The recording app and its state.
fn app(manifest: serde_json::Value) -> (Arc<Shared>, Router) {
    let shared = Arc::new(Shared::default());
    *lock(&shared.manifest) = manifest;
    let app = Router::new()
        .route("/discover", get(discover))
        .fallback(record)
        .with_state(shared.clone());
    (shared, app)
}

/// A listener on a free loopback port.
async fn bind() -> Result<(tokio::net::TcpListener, SocketAddr), TestkitError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| TestkitError::Handler(format!("bind: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| TestkitError::Handler(format!("local_addr: {e}")))?;
    Ok((listener, addr))
}

async fn discover(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(lock(&shared.manifest).clone())
}

async fn record(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let arrived = Instant::now();
    let concurrency = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared
        .max_in_flight
        .fetch_max(concurrency, Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let mut rec = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        version: parts.version,
        headers: parts.headers,
        body,
        arrived,
        status: 200,
        concurrency,
    };
    let key = rec.path_key().or_else(|| {
        rec.header("kafka.key").map(|k| {
            base64_url_decode(k)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|| k.to_owned())
        })
    });
    let _exclusive = rec.path_key().map(|k| KeyInFlight::enter(&shared, k));
    let rule = key.as_ref().and_then(|k| {
        let mut rules = lock(&shared.rules);
        let rule = rules.get_mut(k)?;
        let applied = rule.clone();
        match &mut rule.remaining {
            Some(0) => return None,
            Some(n) => *n -= 1,
            None => {}
        }
        Some(applied)
    });
    let (status, delay, retry_after) = match rule {
        Some(r) => (r.status, r.delay, r.retry_after),
        None => {
            let b = lock(&shared.default).clone();
            let jitter = if b.jitter.is_zero() {
                Duration::ZERO
            } else {
                Duration::from_micros(rand::random_range(0..=b.jitter.as_micros() as u64))
            };
            let fault = b.fault_probability > 0.0 && rand::random::<f64>() < b.fault_probability;
            (
                if fault { b.fault_status } else { 200 },
                b.delay + jitter,
                None,
            )
        }
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    rec.status = status;
    lock(&shared.requests).push(rec);
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // A failure says why in its body, as real handlers (and Restate) do.
    let body = if status.is_success() {
        "{}".to_owned()
    } else {
        format!(r#"{{"message":"injected failure {}"}}"#, status.as_u16())
    };
    let mut resp = (status, body).into_response();
    if let Some(secs) = retry_after {
        if let Ok(v) = secs.to_string().parse() {
            resp.headers_mut().insert("retry-after", v);
        }
    }
    resp
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn base64_url_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }
}
