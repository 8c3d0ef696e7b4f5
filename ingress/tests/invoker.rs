//! The invoker against a real HTTP server (testkit's recording handler): body and headers
//! arrive byte for byte, and every outcome class of the handler contract is recognised.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

use std::time::{Duration, Instant};

use bytes::Bytes;
use ingress::engine::invocation::{build_invocation, HandlerTarget, RecordSource};
use ingress::engine::invoker::{HttpVersion, Invoker};
use ingress::engine::retry::AttemptOutcome;
use kafka_proto::record::{Record, RecordHeader};
use testkit::RecordingHandler;

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
    let invoker = Invoker::new(HttpVersion::Http1, Duration::from_secs(2));
    let t = target(&handler.url());

    let inv = build_invocation(&t, SOURCE, &record("user/1", 7)).unwrap();
    assert_eq!(invoker.invoke(&inv).await, AttemptOutcome::Delivered);
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
        invoker.invoke(&inv).await,
        AttemptOutcome::Retryable { .. }
    ));
    assert_eq!(
        invoker.invoke(&inv).await,
        AttemptOutcome::Delivered,
        "the retry succeeds"
    );

    handler.fail_key_retry_after("throttled", 429, Some(1), 3);
    let inv = build_invocation(&t, SOURCE, &record("throttled", 9)).unwrap();
    assert_eq!(
        invoker.invoke(&inv).await,
        AttemptOutcome::Retryable {
            reason: "handler answered 429".into(),
            retry_after: Some(Duration::from_secs(3))
        }
    );

    handler.fail_key("broken", 400, None);
    let inv = build_invocation(&t, SOURCE, &record("broken", 10)).unwrap();
    assert!(matches!(
        invoker.invoke(&inv).await,
        AttemptOutcome::Terminal { .. }
    ));

    handler.delay_key("slow", Duration::from_secs(5));
    let inv = build_invocation(&t, SOURCE, &record("slow", 11)).unwrap();
    let started = Instant::now();
    let outcome = invoker.invoke(&inv).await;
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
        invoker.invoke(&inv).await,
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
    let invoker = Invoker::new(HttpVersion::Http2, Duration::from_secs(2));
    let inv = build_invocation(&target(&handler.url()), SOURCE, &record("h2", 1)).unwrap();
    assert_eq!(invoker.invoke(&inv).await, AttemptOutcome::Delivered);
    let got = &handler.requests()[0];
    assert_eq!(got.version, http::Version::HTTP_2);
    assert_eq!(got.header("idempotency-key"), Some("sub_test-2-1"));
}
