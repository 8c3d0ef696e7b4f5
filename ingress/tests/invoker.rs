//! The invoker against a real HTTP server (testkit's recording handler): body and headers
//! arrive byte for byte, and every outcome class of the handler contract is recognised.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

use std::time::{Duration, Instant};

use bytes::Bytes;
use ingress::engine::invocation::{build_invocation, HandlerTarget, RecordSource};
use ingress::engine::invoker::{HttpVersion, Invoker};
use ingress::engine::retry::AttemptOutcome;
use ingress::http_client::HandlerTls;
use ingress::options::TlsSettings;
use kafka_proto::record::{Record, RecordHeader};
use testkit::{RecordingHandler, TestCa};

fn system_tls() -> HandlerTls {
    HandlerTls::system().expect("system trust store")
}

/// Trusts exactly the test CA (as `ssl.ca.location` would).
fn trusting(ca: &TestCa) -> HandlerTls {
    HandlerTls::from_settings(&TlsSettings {
        ca_location: Some(ca.ca_file().display().to_string()),
        ..TlsSettings::default()
    })
    .expect("CA file")
}

fn counter() -> serde_json::Value {
    RecordingHandler::manifest("Counter", "VIRTUAL_OBJECT", &["add"])
}

fn target(base: &str) -> HandlerTarget {
    HandlerTarget {
        base_uri: base.to_owned(),
        service: "Counter".into(),
        handler: "add".into(),
        keyed: true,
        input_content_type: "application/json".into(),
        additional_headers: vec![("authorization".into(), "Bearer t".into())],
    }
}

fn record(key: &str, offset: i64) -> Record {
    Record {
        offset,
        timestamp: 1_700_000_000_000 + offset,
        key: Some(Bytes::copy_from_slice(key.as_bytes())),
        value: Some(Bytes::from(format!("{{\"n\":{offset}}}"))),
        headers: vec![RecordHeader {
            key: "traceparent".into(),
            value: Some(Bytes::from_static(
                b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            )),
        }],
    }
}

const SOURCE: RecordSource<'static> = RecordSource {
    subscription_id: "sub_test",
    topic: "events",
    partition: 2,
};

#[tokio::test]
async fn delivers_body_and_headers_and_classifies_every_outcome() {
    let handler = RecordingHandler::start(RecordingHandler::manifest(
        "Counter",
        "VIRTUAL_OBJECT",
        &["add"],
    ))
    .await
    .expect("handler");
    let invoker = Invoker::new(HttpVersion::Http1, &system_tls(), Duration::from_secs(2));
    let t = target(&handler.url());

    let inv = build_invocation(&t, SOURCE, &record("user/1", 7)).unwrap();
    assert_eq!(invoker.invoke(inv.clone()).await, AttemptOutcome::Delivered);
    let got = &handler.requests()[0];
    assert_eq!(got.path, "/Counter/user%2F1/add");
    assert_eq!(got.path_key().as_deref(), Some("user/1"));
    assert_eq!(got.body.as_ref(), b"{\"n\":7}");
    for (name, want) in [
        ("content-type", "application/json"),
        ("idempotency-key", "sub_test-2-7"),
        ("restate.subscription.id", "sub_test"),
        ("kafka.topic", "events"),
        ("kafka.partition", "2"),
        ("kafka.offset", "7"),
        ("kafka.timestamp", "1700000000007"),
        ("kafka.key", "dXNlci8x"),
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        ("authorization", "Bearer t"),
    ] {
        assert_eq!(got.header(name), Some(want), "{name}");
    }

    handler.fail_key("busy", 503, Some(1));
    let inv = build_invocation(&t, SOURCE, &record("busy", 8)).unwrap();
    assert!(matches!(
        invoker.invoke(inv.clone()).await,
        AttemptOutcome::Retryable { .. }
    ));
    assert_eq!(
        invoker.invoke(inv.clone()).await,
        AttemptOutcome::Delivered,
        "the retry succeeds"
    );

    handler.fail_key_retry_after("throttled", 429, Some(1), 3);
    let inv = build_invocation(&t, SOURCE, &record("throttled", 9)).unwrap();
    assert_eq!(
        invoker.invoke(inv.clone()).await,
        AttemptOutcome::Retryable {
            reason: r#"handler answered 429: {"message":"injected failure 429"}"#.into(),
            retry_after: Some(Duration::from_secs(3))
        }
    );

    handler.fail_key("broken", 400, None);
    let inv = build_invocation(&t, SOURCE, &record("broken", 10)).unwrap();
    assert!(matches!(
        invoker.invoke(inv.clone()).await,
        AttemptOutcome::Terminal { .. }
    ));

    handler.delay_key("slow", Duration::from_secs(5));
    let inv = build_invocation(&t, SOURCE, &record("slow", 11)).unwrap();
    let started = Instant::now();
    let outcome = invoker.invoke(inv.clone()).await;
    assert!(
        matches!(outcome, AttemptOutcome::Retryable { .. }),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "timed out after the request timeout"
    );

    // Nothing listens here: a connect error is retryable.
    let closed = target("http://127.0.0.1:1");
    let inv = build_invocation(&closed, SOURCE, &record("k", 12)).unwrap();
    assert!(matches!(
        invoker.invoke(inv.clone()).await,
        AttemptOutcome::Retryable { .. }
    ));
}

#[tokio::test]
async fn speaks_h2c_with_prior_knowledge() {
    let handler = RecordingHandler::start(RecordingHandler::manifest(
        "Counter",
        "VIRTUAL_OBJECT",
        &["add"],
    ))
    .await
    .expect("handler");
    let invoker = Invoker::new(HttpVersion::Http2, &system_tls(), Duration::from_secs(2));
    let inv = build_invocation(&target(&handler.url()), SOURCE, &record("h2", 1)).unwrap();
    assert_eq!(invoker.invoke(inv.clone()).await, AttemptOutcome::Delivered);
    let got = &handler.requests()[0];
    assert_eq!(got.version, http::Version::HTTP_2);
    assert_eq!(got.header("idempotency-key"), Some("sub_test-2-1"));
}

#[tokio::test]
async fn speaks_http2_and_http1_over_tls() {
    let ca = TestCa::new("invoker").expect("certificates");
    let tls = trusting(&ca);
    let handler = RecordingHandler::start_tls(counter(), &ca, &["h2", "http/1.1"])
        .await
        .expect("handler");
    assert!(handler.url().starts_with("https://127.0.0.1:"));
    let t = target(&handler.url());

    let h2 = Invoker::new(HttpVersion::Http2, &tls, Duration::from_secs(2));
    let inv = build_invocation(&t, SOURCE, &record("tls", 1)).unwrap();
    assert_eq!(h2.invoke(inv.clone()).await, AttemptOutcome::Delivered);
    // A second request reuses the pooled HTTP/2 connection.
    let inv = build_invocation(&t, SOURCE, &record("tls", 2)).unwrap();
    assert_eq!(h2.invoke(inv.clone()).await, AttemptOutcome::Delivered);

    let h1 = Invoker::new(HttpVersion::Http1, &tls, Duration::from_secs(2));
    let inv = build_invocation(&t, SOURCE, &record("tls", 3)).unwrap();
    assert_eq!(h1.invoke(inv.clone()).await, AttemptOutcome::Delivered);

    let got = handler.requests();
    let versions: Vec<_> = got.iter().map(|r| r.version).collect();
    assert_eq!(
        versions,
        [
            http::Version::HTTP_2,
            http::Version::HTTP_2,
            http::Version::HTTP_11
        ]
    );
    // Same contract over TLS: the headers and body of SPEC section 5.
    assert_eq!(got[0].path, "/Counter/tls/add");
    assert_eq!(got[0].body.as_ref(), b"{\"n\":1}");
    assert_eq!(got[2].header("idempotency-key"), Some("sub_test-2-3"));
    assert_eq!(got[2].header("authorization"), Some("Bearer t"));

    // An HTTP/1.1-only TLS server with an HTTP/1.1 deployment.
    let h1_only = RecordingHandler::start_tls(counter(), &ca, &["http/1.1"])
        .await
        .expect("handler");
    let inv = build_invocation(&target(&h1_only.url()), SOURCE, &record("tls", 4)).unwrap();
    assert_eq!(h1.invoke(inv.clone()).await, AttemptOutcome::Delivered);
    assert_eq!(h1_only.requests()[0].version, http::Version::HTTP_11);
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_retryable_failure_that_says_so() {
    let ca = TestCa::new("untrusted").expect("certificates");
    let handler = RecordingHandler::start_tls(counter(), &ca, &["h2", "http/1.1"])
        .await
        .expect("handler");
    // The system trust store does not know the test CA.
    let invoker = Invoker::new(HttpVersion::Http1, &system_tls(), Duration::from_secs(2));
    let inv = build_invocation(&target(&handler.url()), SOURCE, &record("k", 1)).unwrap();
    match invoker.invoke(inv.clone()).await {
        AttemptOutcome::Retryable { reason, .. } => {
            assert!(
                reason.contains(&handler.url())
                    && reason.contains("invalid peer certificate: UnknownIssuer"),
                "{reason}"
            );
        }
        other => panic!("expected a retryable certificate failure, got {other:?}"),
    }
    assert_eq!(handler.count(), 0, "nothing reached the untrusted server");
}

/// A bare HTTP/1.1 server for connection-lifecycle tests: answers every request with 200 and
/// `{}`, adding `connection: close` (and closing) when `close_each` is set; otherwise keeps
/// the connection open until it has been idle for `idle_close`. Returns its URL and the
/// number of connections it accepted.
async fn bare_server(
    close_each: bool,
    idle_close: Duration,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // Read one request: the head, then content-length bytes of body.
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        let n =
                            match tokio::time::timeout(idle_close, socket.read(&mut chunk)).await {
                                Ok(Ok(n)) if n > 0 => n,
                                _ => return, // idle too long, or the client closed: close
                            };
                        buf.extend_from_slice(&chunk[..n]);
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                            _ => return,
                        }
                    }
                    buf.drain(..head_end + length);
                    let answer: &[u8] = if close_each {
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"
                    } else {
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"
                    };
                    if socket.write_all(answer).await.is_err() || close_each {
                        return;
                    }
                }
            });
        }
    });
    (url, accepted)
}

/// Invokes `target` once per offset, one after another, asserting each is delivered.
async fn deliver_each(invoker: &Invoker, target: &HandlerTarget, offsets: std::ops::Range<i64>) {
    for offset in offsets {
        let inv = build_invocation(target, SOURCE, &record("k", offset)).unwrap();
        assert_eq!(invoker.invoke(inv).await, AttemptOutcome::Delivered);
    }
}

#[tokio::test]
async fn keep_alive_connections_are_reused_and_ones_the_server_closed_are_replaced() {
    use std::sync::atomic::Ordering;
    let (url, accepted) = bare_server(false, Duration::from_millis(150)).await;
    let invoker = Invoker::new(HttpVersion::Http1, &system_tls(), Duration::from_secs(2));
    let t = target(&url);
    deliver_each(&invoker, &t, 0..5).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one keep-alive connection"
    );
    // The server closes the idle connection (its keep-alive timeout); the next request must
    // not fail on the dead pool entry.
    tokio::time::sleep(Duration::from_millis(500)).await;
    deliver_each(&invoker, &t, 5..8).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "replaced once, then reused"
    );
}

#[tokio::test]
async fn answers_with_connection_close_are_not_pooled() {
    use std::sync::atomic::Ordering;
    let (url, accepted) = bare_server(true, Duration::from_secs(5)).await;
    let invoker = Invoker::new(HttpVersion::Http1, &system_tls(), Duration::from_secs(2));
    let t = target(&url);
    deliver_each(&invoker, &t, 0..4).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        4,
        "a connection per request"
    );
}

#[tokio::test]
async fn concurrent_requests_get_their_own_connections_and_return_them() {
    use std::sync::atomic::Ordering;
    let handler = RecordingHandler::start(counter()).await.expect("handler");
    let (url, accepted) = bare_server(false, Duration::from_secs(5)).await;
    let invoker = Invoker::new(HttpVersion::Http1, &system_tls(), Duration::from_secs(2));
    for t in [target(&url), target(&handler.url())] {
        for round in 0..3 {
            let mut running = Vec::new();
            for i in 0..8 {
                let inv = build_invocation(&t, SOURCE, &record("k", round * 8 + i)).unwrap();
                let invoker = invoker.clone();
                running.push(tokio::spawn(async move { invoker.invoke(inv).await }));
            }
            for r in running {
                assert_eq!(r.await.unwrap(), AttemptOutcome::Delivered);
            }
        }
    }
    // Two origins share one pool; each got at most 8 connections over three rounds.
    let n = accepted.load(Ordering::SeqCst);
    assert!((1..=8).contains(&n), "{n} connections for 3 rounds of 8");
    assert_eq!(handler.count(), 24);
}

#[tokio::test]
async fn concurrent_h2c_requests_share_one_connection() {
    let handler = RecordingHandler::start(counter()).await.expect("handler");
    let invoker = Invoker::new(HttpVersion::Http2, &system_tls(), Duration::from_secs(2));
    let t = target(&handler.url());
    let mut running = Vec::new();
    for i in 0..32 {
        let inv = build_invocation(&t, SOURCE, &record("k", i)).unwrap();
        let invoker = invoker.clone();
        running.push(tokio::spawn(async move { invoker.invoke(inv).await }));
    }
    for r in running {
        assert_eq!(r.await.unwrap(), AttemptOutcome::Delivered);
    }
    let got = handler.requests();
    assert_eq!(got.len(), 32);
    assert!(got.iter().all(|r| r.version == http::Version::HTTP_2));
    // Nothing listens here: a connect error is retryable, and says what happened.
    let closed = target("http://127.0.0.1:1");
    let inv = build_invocation(&closed, SOURCE, &record("k", 99)).unwrap();
    match invoker.invoke(inv).await {
        AttemptOutcome::Retryable { reason, .. } => {
            assert!(
                reason.contains("http://127.0.0.1:1/Counter/k/add"),
                "{reason}"
            );
            assert!(reason.contains("onnection refused"), "{reason}");
        }
        other => panic!("expected a retryable connect failure, got {other:?}"),
    }
}
