//! The ingress engine end to end on a real broker and a real HTTP handler: per-key order
//! under faults, bounded service concurrency, byte-exact requests. Terminal failures (dead
//! letter, stuck status) and crash safety are in `engine_failures.rs`, bounded memory on a
//! large backlog in `engine_memory.rs`.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use ingress::engine::status::RuntimeState;
use ingress::engine::SubscriptionRuntime;
use support::*;
use testkit::{Behaviour, TestClient, TestRecord};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_carry_the_record_byte_for_byte_and_a_tombstone_is_an_empty_body() {
    init_tracing();
    let kafka = TestClient::connect(&bootstrap()).await.unwrap();
    let topic = kafka.create_topic("eng-bytes", 1).await.unwrap();
    let h = handler("Counter", "VIRTUAL_OBJECT", "add").await;
    let value = br#"{"n": 1, "s": "\u00e9 caf\u00e9"}"#.to_vec();
    let offsets = kafka
        .produce_to(
            &topic,
            0,
            vec![
                TestRecord::keyed("user/1 ü", value.clone())
                    .header(
                        "traceparent",
                        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                    )
                    .header("x-custom", "abc")
                    .header("kafka.offset", "forged")
                    .header("bad header name", "dropped"),
                TestRecord {
                    key: Some(b"user/1 \xc3\xbc".to_vec()),
                    value: None,
                    headers: BTreeMap::new(),
                },
            ],
        )
        .await
        .unwrap();
    let id = unique_id("bytes");
    let mut sink = vo(&h);
    sink.headers = vec![("x-deployment".into(), "dep-value".into())];
    let rt = SubscriptionRuntime::start(config(&id, &topic, &sink, &[])).unwrap();
    h.wait_for(2, Duration::from_secs(30)).await.unwrap();
    let mut reqs = h.requests();
    reqs.sort_by_key(|r| r.arrived);
    let first = &reqs[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/Counter/user%2F1%20%C3%BC/add");
    assert_eq!(first.body.as_ref(), value.as_slice(), "body byte for byte");
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(
        first.header("idempotency-key").unwrap(),
        format!("{id}-0-{}", offsets[0])
    );
    assert_eq!(first.header("restate.subscription.id"), Some(id.as_str()));
    assert_eq!(first.header("kafka.topic"), Some(topic.as_str()));
    assert_eq!(first.header("kafka.partition"), Some("0"));
    assert_eq!(
        first.header("kafka.offset").unwrap(),
        offsets[0].to_string()
    );
    let ts: i64 = first.header("kafka.timestamp").unwrap().parse().unwrap();
    assert!((ts - chrono::Utc::now().timestamp_millis()).abs() < 600_000);
    assert_eq!(
        first.header("kafka.key").unwrap(),
        base64::engine::general_purpose::URL_SAFE.encode("user/1 ü")
    );
    assert_eq!(
        first.header("traceparent"),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    );
    assert_eq!(first.header("x-custom"), Some("abc"));
    assert_eq!(first.header("x-deployment"), Some("dep-value"));
    assert!(first.headers.get("bad header name").is_none());
    let tomb = &reqs[1];
    assert_eq!(tomb.path, "/Counter/user%2F1%20%C3%BC/add");
    assert!(tomb.body.is_empty(), "a tombstone is an empty body");
    assert_eq!(tomb.header("kafka.offset").unwrap(), offsets[1].to_string());
    // Everything is committed: the watermark reaches the end of the partition.
    wait_status(&rt, Duration::from_secs(20), "commit", |s| {
        s.partitions.first().and_then(|p| p.committed) == Some(offsets[1] + 1)
    })
    .await;
    rt.stop().await;
    assert_eq!(rt.status().state, RuntimeState::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_run_in_parallel_up_to_max_in_flight() {
    init_tracing();
    let kafka = TestClient::connect(&bootstrap()).await.unwrap();
    let topic = kafka.create_topic("eng-svc", 1).await.unwrap();
    let h = handler("Greeter", "SERVICE", "greet").await;
    h.set_default(Behaviour {
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(10),
        ..Behaviour::default()
    });
    let records = (0..600)
        .map(|i| TestRecord::keyed("same-key", format!("{i}")))
        .collect();
    kafka.produce_to(&topic, 0, records).await.unwrap();
    let id = unique_id("svc");
    let rt = SubscriptionRuntime::start(config(
        &id,
        &topic,
        &service(&h),
        &[("ingress.max-in-flight", "8")],
    ))
    .unwrap();
    h.wait_for(600, Duration::from_secs(60)).await.unwrap();
    let max = h.max_concurrency();
    assert!(max > 1, "services run in parallel (observed {max})");
    assert!(max <= 8, "at most ingress.max-in-flight=8 (observed {max})");
    assert_eq!(delivered(&h.requests()).len(), 600);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_high_watermark_of_partitions_that_returned_no_records() {
    init_tracing();
    let kafka = TestClient::connect(&bootstrap()).await.unwrap();
    let topic = kafka.create_topic("eng-hwm", 2).await.unwrap();
    let h = handler("Greeter", "SERVICE", "greet").await;
    let old = (0..30)
        .map(|i| TestRecord::keyed("k", format!("{i}")))
        .collect();
    kafka.produce_to(&topic, 0, old).await.unwrap();
    // `latest`: partition 0 starts at its end (30), partition 1 is empty: neither fetch ever
    // returns a record, yet both report where their log ends.
    let id = unique_id("hwm");
    let rt = SubscriptionRuntime::start(config(
        &id,
        &topic,
        &service(&h),
        &[("auto.offset.reset", "latest")],
    ))
    .unwrap();
    let status = wait_status(&rt, Duration::from_secs(30), "high watermarks", |s| {
        s.partitions.len() == 2 && s.partitions.iter().all(|p| p.high_watermark.is_some())
    })
    .await;
    // tansu 0.6 answers ListOffsets(latest) with the last batch's base offset + 1 (here 1),
    // so there partition 0 starts inside its log: check only the empty partition.
    let tansu = std::env::var("KAFKA_BROKER").as_deref() == Ok("tansu");
    for p in &status.partitions {
        if p.partition == 0 && tansu {
            continue;
        }
        let end = if p.partition == 0 { 30 } else { 0 };
        assert_eq!((p.high_watermark, p.lag), (Some(end), Some(0)), "{p:?}");
    }
    if !tansu {
        assert_eq!(h.count(), 0, "nothing before the start offset is delivered");
    }
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_order_holds_under_latency_and_injected_503s() {
    init_tracing();
    const RECORDS: usize = 200_000;
    const KEYS: usize = 1_000;
    const PARTITIONS: i32 = 8;
    let kafka = TestClient::connect(&bootstrap()).await.unwrap();
    let topic = kafka.create_topic("eng-order", PARTITIONS).await.unwrap();
    let h = handler("Counter", "VIRTUAL_OBJECT", "add").await;
    h.set_default(Behaviour {
        delay: Duration::ZERO,
        jitter: Duration::from_millis(20),
        fault_probability: 0.10,
        fault_status: 503,
    });
    let records: Vec<TestRecord> = (0..RECORDS)
        .map(|i| TestRecord::keyed(&format!("key-{}", i % KEYS), format!("{i}")))
        .collect();
    let placed = kafka
        .produce_keyed(&topic, PARTITIONS, records, 5_000)
        .await
        .unwrap();
    let id = unique_id("order");
    let started = Instant::now();
    let rt = SubscriptionRuntime::start(config(&id, &topic, &vo(&h), &[])).unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        // Cheap count first: copying every recorded request is not.
        if h.count() >= RECORDS && delivered(&h.requests()).len() >= RECORDS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} requests for {RECORDS} records; status {:#?}",
            h.count(),
            rt.status()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let elapsed = started.elapsed();
    let reqs = h.requests();
    let done = delivered(&reqs);
    for (p, o) in &placed {
        assert!(done.contains_key(&(*p, *o)), "record {p}/{o} missing");
    }
    assert_per_key_order(&reqs);
    let failures = reqs.iter().filter(|r| r.status == 503).count();
    let max = h.max_concurrency();
    assert!(max > 1, "keys run in parallel (observed {max})");
    eprintln!(
        "ordering: {RECORDS} records, {KEYS} keys, {} requests ({failures} injected 503s) in \
         {elapsed:?}; max concurrency {max}",
        reqs.len()
    );
    let metrics = rt.metrics().snapshot();
    assert_eq!(metrics.delivered as usize, reqs.len() - failures);
    assert_eq!(metrics.retried as usize, failures);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_order_holds_while_members_join_and_leave_on_both_group_protocols() {
    init_tracing();
    // tansu 0.6 never hands over what a cooperative member revoked: range there.
    let classic = if std::env::var("KAFKA_BROKER").as_deref() == Ok("tansu") {
        "range"
    } else {
        "cooperative-sticky"
    };
    let mut protocols = vec![("classic", classic)];
    match kip848_unavailable().await {
        None => protocols.push(("consumer", "")),
        Some(why) => eprintln!("the KIP-848 run SKIPPED (not available): {why}"),
    }
    for (protocol, strategy) in protocols {
        order_over_a_join_and_a_leave(protocol, strategy).await;
    }
}

/// 40 000 keyed records, 5 % answered 503; member `a` starts, `b` joins mid-stream, then `a`
/// stops: partitions move twice under `group.protocol=protocol`.
async fn order_over_a_join_and_a_leave(protocol: &str, strategy: &str) {
    const RECORDS: usize = 40_000;
    const KEYS: usize = 200;
    const PARTITIONS: i32 = 8;
    let kafka = TestClient::connect(&bootstrap()).await.unwrap();
    let topic = kafka
        .create_topic("eng-order-handover", PARTITIONS)
        .await
        .unwrap();
    let h = handler("Counter", "VIRTUAL_OBJECT", "add").await;
    h.set_default(Behaviour {
        delay: Duration::ZERO,
        jitter: Duration::from_millis(5),
        fault_probability: 0.05,
        fault_status: 503,
    });
    let records: Vec<TestRecord> = (0..RECORDS)
        .map(|i| TestRecord::keyed(&format!("key-{}", i % KEYS), format!("{i}")))
        .collect();
    let placed = kafka
        .produce_keyed(&topic, PARTITIONS, records, 5_000)
        .await
        .unwrap();
    let group = unique_id("g848");
    let mut extra = vec![("group.protocol", protocol), ("group.id", group.as_str())];
    if !strategy.is_empty() {
        extra.push(("partition.assignment.strategy", strategy));
    }
    let member_sink = |name: &str| {
        let mut sink = vo(&h);
        sink.headers.push(("x-member".into(), name.into()));
        sink
    };
    let a = SubscriptionRuntime::start(config(&unique_id("a"), &topic, &member_sink("a"), &extra))
        .unwrap();
    let wait_count = |n: usize| {
        let h = &h;
        async move {
            let deadline = Instant::now() + Duration::from_secs(300);
            while h.count() < n {
                assert!(Instant::now() < deadline, "only {} requests", h.count());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    wait_count(RECORDS / 4).await;
    // A second member joins mid-stream, then the first leaves: partitions move twice.
    let b = SubscriptionRuntime::start(config(&unique_id("b"), &topic, &member_sink("b"), &extra))
        .unwrap();
    wait_count(RECORDS / 2).await;
    a.stop().await;
    let deadline = Instant::now() + Duration::from_secs(300);
    while delivered(&h.requests()).len() < RECORDS {
        assert!(
            Instant::now() < deadline,
            "only {} of {RECORDS} delivered; status {:#?}",
            delivered(&h.requests()).len(),
            b.status()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let reqs = h.requests();
    let done = delivered(&reqs);
    for (p, o) in &placed {
        assert!(done.contains_key(&(*p, *o)), "record {p}/{o} missing");
    }
    // Per-key order within each member; across the handover a key's deliveries by the two
    // members never interleave (the new owner starts after the old one stopped), and what
    // the new owner replays is only what the old one had not committed.
    let by_member = |name: &str| -> Vec<testkit::RecordedRequest> {
        reqs.iter()
            .filter(|r| r.header("x-member") == Some(name))
            .cloned()
            .collect()
    };
    let (of_a, of_b) = (by_member("a"), by_member("b"));
    assert_eq!(of_a.len() + of_b.len(), reqs.len());
    if strategy == "range" {
        // Eager: every rebalance gives everything back, so a member may get a partition
        // again and replay its uncommitted tail; then only first deliveries are ordered.
        let mut first: BTreeMap<(i32, i64), ()> = BTreeMap::new();
        let mut last_per_key: BTreeMap<String, i64> = BTreeMap::new();
        let mut ok: Vec<&testkit::RecordedRequest> = reqs
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect();
        ok.sort_by_key(|r| r.arrived);
        for r in ok {
            let (p, o) = partition_offset(r);
            if first.insert((p, o), ()).is_none() {
                let last = last_per_key.entry(r.path_key().unwrap()).or_insert(-1);
                assert!(
                    o > *last,
                    "{protocol}: key {:?}: {o} first delivered after {last}",
                    r.path_key()
                );
                *last = o;
            }
        }
    } else {
        // Cooperative and KIP-848: a partition moves at most once here (a to b), so each
        // member's own deliveries are strictly in order.
        assert_per_key_order(&of_a);
        assert_per_key_order(&of_b);
    }
    let mut last_a: BTreeMap<String, Instant> = BTreeMap::new();
    for r in &of_a {
        let t = last_a.entry(r.path_key().unwrap()).or_insert(r.arrived);
        *t = (*t).max(r.arrived);
    }
    for r in &of_b {
        if let Some(t) = last_a.get(&r.path_key().unwrap()) {
            assert!(
                r.arrived > *t,
                "key {:?} handled by both members at once",
                r.path_key()
            );
        }
    }
    let succeeded = reqs
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .count();
    eprintln!(
        "{protocol} ordering: {RECORDS} records over a join and a leave, {} requests ({} by \
         the member that joined), {} replayed after the handovers (uncommitted when they moved)",
        reqs.len(),
        of_b.len(),
        succeeded - RECORDS
    );
    // A revoke cancels the retries of failing records, so under 5 % failures the watermark
    // lags the successes of other keys: measured 5-22 % replayed on either protocol. Only the uncommitted is replayed, so this is a bound on
    // how far behind the commit may be, not a target.
    assert!(
        (succeeded - RECORDS) * 100 <= RECORDS * 40,
        "{protocol}: more than 40 % replayed over two graceful handovers"
    );
    b.stop().await;
}
