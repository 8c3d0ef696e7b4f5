//! The ingress engine's failure handling end to end on a real broker and a real HTTP handler
//! (SPEC §6): records that can never be delivered are dead-lettered or skipped and the commit
//! moves on; under the default policy a failing record is retried forever, only its key waits,
//! the status shows it and the commit stops right before it; and a crash redelivers only what
//! was not committed yet, with the same idempotency key.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ingress::engine::status::SubscriptionStatus;
use ingress::engine::SubscriptionRuntime;
use support::*;
use testkit::{Behaviour, RecordedRequest, TestClient, TestRecord};

fn committed(s: &SubscriptionStatus, partition: i32) -> Option<i64> {
    s.partitions
        .iter()
        .find(|p| p.partition == partition)
        .and_then(|p| p.committed)
}

/// Why a record of [`produce_mixed`] cannot be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bad {
    /// The handler answers 400 for its key (terminal).
    Rejected,
    /// Its key is not UTF-8, but the target is keyed by it.
    NotUtf8Key,
    /// Its value is not JSON, but the handler's input is JSON.
    NotJson,
}

impl Bad {
    /// What `ingress.error` must mention.
    fn error_mentions(self) -> &'static str {
        match self {
            // The status and the handler's own answer.
            Bad::Rejected => r#"handler answered 400: {"message":"injected failure 400"}"#,
            Bad::NotUtf8Key => "UTF-8",
            Bad::NotJson => "JSON",
        }
    }
}

/// The records of [`produce_mixed`], by offset.
struct Mixed {
    good: Vec<i64>,
    bad: BTreeMap<i64, (Bad, TestRecord)>,
    end: i64,
}

/// The key the handler rejects with 400.
const REJECTED_KEY: &str = "rejected";

/// Produces good records of keys a..d interleaved with one record of each [`Bad`] kind (each
/// with a custom header) to partition 0 of `topic`.
async fn produce_mixed(kafka: &TestClient, topic: &str) -> Mixed {
    let good = |key: &str, n: usize| TestRecord::keyed(key, format!(r#"{{"n":{n}}}"#));
    let rejected =
        TestRecord::keyed(REJECTED_KEY, r#"{"n":"rejected"}"#).header("x-custom", "c-rejected");
    let not_utf8 = TestRecord {
        key: Some(vec![0xff, 0xfe]),
        value: Some(br#"{"n":"not-utf8"}"#.to_vec()),
        headers: BTreeMap::from([("x-custom".to_owned(), b"c-utf8".to_vec())]),
    };
    // Key "d" has good records after the bad one: its key must not stay blocked.
    let not_json = TestRecord::keyed("d", "not json").header("x-custom", "c-json");
    let plan: Vec<(Option<Bad>, TestRecord)> = vec![
        (None, good("a", 0)),
        (None, good("b", 1)),
        (Some(Bad::Rejected), rejected),
        (None, good("c", 3)),
        (Some(Bad::NotUtf8Key), not_utf8),
        (None, good("a", 5)),
        (Some(Bad::NotJson), not_json),
        (None, good("b", 7)),
        (None, good("d", 8)),
        (None, good("c", 9)),
        (None, good("d", 10)),
    ];
    let offsets = kafka
        .produce_to(topic, 0, plan.iter().map(|(_, r)| r.clone()).collect())
        .await
        .unwrap();
    let mut mixed = Mixed {
        good: Vec::new(),
        bad: BTreeMap::new(),
        end: offsets.last().unwrap() + 1,
    };
    for ((bad, record), offset) in plan.into_iter().zip(offsets) {
        match bad {
            None => mixed.good.push(offset),
            Some(kind) => {
                mixed.bad.insert(offset, (kind, record));
            }
        }
    }
    mixed
}

/// Runs a VO subscription with `on_failure` over [`produce_mixed`]'s records until the commit
/// reaches the end; checks the good records were delivered once each and the bad ones were
/// never (UTF-8, JSON) or once (400) sent.
async fn run_mixed(
    prefix: &str,
    extra: &[(&str, &str)],
) -> (String, String, Mixed, SubscriptionRuntime) {
    init_tracing();
    let kafka = TestClient::connect(&bootstrap()).await.unwrap();
    let topic = kafka.create_topic(prefix, 1).await.unwrap();
    let h = handler("Counter", "VIRTUAL_OBJECT", "add").await;
    h.fail_key(REJECTED_KEY, 400, None);
    let mixed = produce_mixed(&kafka, &topic).await;
    let id = unique_id(prefix);
    let rt = SubscriptionRuntime::start(config(&id, &topic, &vo(&h), extra)).unwrap();
    wait_status(
        &rt,
        Duration::from_secs(60),
        "the commit to reach the end",
        |s| committed(s, 0) == Some(mixed.end),
    )
    .await;
    let reqs = h.requests();
    let done: BTreeSet<i64> = delivered(&reqs).keys().map(|(_, o)| *o).collect();
    assert_eq!(
        done,
        mixed.good.iter().copied().collect::<BTreeSet<_>>(),
        "exactly the good records are delivered"
    );
    assert_eq!(
        delivered(&reqs).values().max(),
        Some(&1),
        "no redeliveries without a crash"
    );
    for (offset, (kind, _)) in &mixed.bad {
        let sent = reqs
            .iter()
            .filter(|r| partition_offset(r) == (0, *offset))
            .count();
        let expected = usize::from(*kind == Bad::Rejected);
        assert_eq!(sent, expected, "{kind:?} at {offset}: {sent} requests");
    }
    assert_per_key_order(&reqs);
    let metrics = rt.metrics().snapshot();
    assert_eq!(metrics.delivered as usize, mixed.good.len());
    assert_eq!(metrics.retried, 0, "terminal failures are not retried");
    let status = rt.status();
    assert_eq!(status.partitions[0].failing, 0, "{status:#?}");
    assert!(status.partitions[0].stuck.is_none(), "{status:#?}");
    (id, topic, mixed, rt)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeliverable_records_are_dead_lettered_with_their_source_and_the_commit_moves_on() {
    let kafka = TestClient::connect(&bootstrap()).await.unwrap();
    let dlq = kafka.create_topic("eng-dlq-target", 1).await.unwrap();
    let (id, topic, mixed, rt) = run_mixed(
        "eng-dlq",
        &[
            ("ingress.on-failure", "dead-letter"),
            ("ingress.dead-letter.topic", dlq.as_str()),
        ],
    )
    .await;
    let metrics = rt.metrics().snapshot();
    assert_eq!(metrics.dead_lettered, 3);
    assert_eq!(metrics.skipped, 0);
    rt.stop().await;

    // Dead letters are single-record produces, so the end offset is right on every broker.
    let letters = kafka.read_all(&dlq, 0).await.unwrap();
    assert_eq!(
        letters.len(),
        3,
        "one dead letter per bad record: {letters:#?}"
    );
    let text = |r: &TestRecord, name: &str| {
        String::from_utf8(
            r.headers
                .get(name)
                .unwrap_or_else(|| panic!("header {name} missing: {r:#?}"))
                .clone(),
        )
        .unwrap()
    };
    let mut seen = BTreeSet::new();
    for letter in &letters {
        let r = &letter.record;
        let offset: i64 = text(r, "ingress.source.offset").parse().unwrap();
        let (kind, original) = mixed
            .bad
            .get(&offset)
            .unwrap_or_else(|| panic!("dead letter of a good record {offset}: {r:#?}"));
        assert!(seen.insert(offset), "offset {offset} dead-lettered twice");
        assert_eq!(r.key, original.key, "{kind:?}: key");
        assert_eq!(r.value, original.value, "{kind:?}: value");
        assert_eq!(text(r, "x-custom"), text(original, "x-custom"), "{kind:?}");
        let error = text(r, "ingress.error");
        assert!(
            error.contains(kind.error_mentions()),
            "{kind:?}: ingress.error {error:?} should mention {}",
            kind.error_mentions()
        );
        assert_eq!(text(r, "ingress.source.topic"), topic);
        assert_eq!(text(r, "ingress.source.partition"), "0");
        assert_eq!(text(r, "ingress.subscription.id"), id);
    }
    eprintln!(
        "dead letter: {} good records delivered, {} dead-lettered, commit at {}",
        mixed.good.len(),
        letters.len(),
        mixed.end
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeliverable_records_are_skipped_under_on_failure_skip() {
    let (_, _, mixed, rt) = run_mixed("eng-skip", &[("ingress.on-failure", "skip")]).await;
    let metrics = rt.metrics().snapshot();
    assert_eq!(metrics.skipped, 3);
    assert_eq!(metrics.dead_lettered, 0);
    assert_eq!(mixed.bad.len(), 3);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_record_is_retried_forever_only_its_key_waits_and_the_status_shows_it() {
    init_tracing();
    const STUCK: &str = "stuck";
    let kafka = TestClient::connect(&bootstrap()).await.unwrap();
    let topic = kafka.create_topic("eng-stuck", 1).await.unwrap();
    let h = handler("Counter", "VIRTUAL_OBJECT", "add").await;
    h.fail_key(STUCK, 400, None);
    // One partition: a, b, c, a, b, c, ... with a "stuck" record every ninth offset.
    let keys: Vec<&str> = (0..40)
        .map(|i| {
            if i % 9 == 2 {
                STUCK
            } else {
                ["a", "b", "c"][i % 3]
            }
        })
        .collect();
    let records = keys
        .iter()
        .enumerate()
        .map(|(i, k)| TestRecord::keyed(k, format!(r#"{{"i":{i}}}"#)))
        .collect();
    let offsets = kafka.produce_to(&topic, 0, records).await.unwrap();
    let key_of: BTreeMap<i64, &str> = offsets.iter().copied().zip(keys.iter().copied()).collect();
    let stuck_offsets: Vec<i64> = key_of
        .iter()
        .filter(|(_, k)| **k == STUCK)
        .map(|(o, _)| *o)
        .collect();
    let first_stuck = stuck_offsets[0];
    let end = offsets.last().unwrap() + 1;
    let id = unique_id("stuck");
    let rt = SubscriptionRuntime::start(config(&id, &topic, &vo(&h), &[])).unwrap();

    // Everything of the other keys goes through while the stuck record keeps failing, and
    // the commit never passes it.
    let others: BTreeSet<i64> = key_of
        .iter()
        .filter(|(_, k)| **k != STUCK)
        .map(|(o, _)| *o)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let s = rt.status();
        if let Some(c) = committed(&s, 0) {
            assert!(
                c <= first_stuck,
                "committed {c} passed the stuck record {first_stuck}"
            );
        }
        let reqs = h.requests();
        let done: BTreeSet<i64> = delivered(&reqs).keys().map(|(_, o)| *o).collect();
        let attempts = reqs
            .iter()
            .filter(|r| partition_offset(r) == (0, first_stuck))
            .count();
        let p = s.partitions.first();
        if done == others
            && attempts >= 3
            && p.and_then(|p| p.stuck.as_ref())
                .is_some_and(|st| st.attempts >= 3)
            && p.and_then(|p| p.committed) == Some(first_stuck)
        {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "timed out: delivered {done:?} (want {others:?}), {attempts} attempts of \
             {first_stuck}; status {s:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let p = &status.partitions[0];
    let stuck = p.stuck.as_ref().unwrap();
    assert_eq!(stuck.offset, first_stuck);
    assert_eq!(stuck.key.as_deref(), Some(STUCK));
    assert!(stuck.attempts >= 3, "{stuck:?}");
    assert!(
        stuck
            .last_error
            .contains("400: {\"message\":\"injected failure 400\"}"),
        "{stuck:?}"
    );
    assert!(p.failing >= 1, "{p:?}");
    assert_eq!(
        p.commit_watermark, first_stuck,
        "the watermark waits at the stuck record"
    );
    // It stays there: keep watching the commit for a few more commit intervals.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(committed(&rt.status(), 0), Some(first_stuck));
    }
    let reqs = h.requests();
    let attempts: Vec<&RecordedRequest> = reqs
        .iter()
        .filter(|r| partition_offset(r) == (0, first_stuck))
        .collect();
    assert!(attempts.iter().all(|r| r.status == 400));
    let idempotency = format!("{id}-0-{first_stuck}");
    assert!(
        attempts
            .iter()
            .all(|r| r.header("idempotency-key") == Some(idempotency.as_str())),
        "every attempt carries {idempotency}"
    );
    for later in &stuck_offsets[1..] {
        assert!(
            !reqs.iter().any(|r| partition_offset(r) == (0, *later)),
            "stuck key's record {later} was sent while {first_stuck} was failing"
        );
    }
    assert_per_key_order(&reqs);
    eprintln!(
        "stuck: {} attempts of offset {first_stuck} while {} other records were delivered",
        attempts.len(),
        others.len()
    );

    // The handler recovers: the stuck record and then its key's later records go through.
    h.clear_key(STUCK);
    wait_status(
        &rt,
        Duration::from_secs(30),
        "the commit to reach the end",
        |s| committed(s, 0) == Some(end),
    )
    .await;
    let reqs = h.requests();
    let done = delivered(&reqs);
    assert_eq!(
        done.keys().map(|(_, o)| *o).collect::<Vec<_>>(),
        offsets,
        "every record delivered"
    );
    assert!(done.values().all(|n| *n == 1), "each exactly once");
    assert_per_key_order(&reqs);
    let mut stuck_delivered: Vec<&RecordedRequest> = reqs
        .iter()
        .filter(|r| r.path_key().as_deref() == Some(STUCK) && r.status == 200)
        .collect();
    stuck_delivered.sort_by_key(|r| r.arrived);
    assert_eq!(
        stuck_delivered
            .iter()
            .map(|r| partition_offset(r).1)
            .collect::<Vec<_>>(),
        stuck_offsets,
        "the stuck key's records in order"
    );
    let status = rt.status();
    assert_eq!(status.partitions[0].failing, 0, "{status:#?}");
    assert!(status.partitions[0].stuck.is_none(), "{status:#?}");
    let failures = reqs.iter().filter(|r| r.status == 400).count();
    assert_eq!(rt.metrics().snapshot().retried as usize, failures);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_redelivers_only_uncommitted_records_with_the_same_idempotency_key() {
    init_tracing();
    const RECORDS: usize = 20_000;
    const KEYS: usize = 500;
    const PARTITIONS: i32 = 4;
    let kafka = TestClient::connect(&bootstrap()).await.unwrap();
    let topic = kafka.create_topic("eng-crash", PARTITIONS).await.unwrap();
    let records: Vec<TestRecord> = (0..RECORDS)
        .map(|i| TestRecord::keyed(&format!("key-{}", i % KEYS), format!("{i}")))
        .collect();
    let placed = kafka
        .produce_keyed(&topic, PARTITIONS, records, 5_000)
        .await
        .unwrap();
    // Two handlers with the same behaviour, one per runtime, so every request is attributed
    // to the runtime that sent it (requests of the crashed one may still arrive after the
    // crash). The engine does not care which URL it calls.
    let jitter = Behaviour {
        delay: Duration::from_millis(1),
        jitter: Duration::from_millis(2),
        ..Behaviour::default()
    };
    let h1 = handler("Counter", "VIRTUAL_OBJECT", "add").await;
    h1.set_default(jitter.clone());
    let h2 = handler("Counter", "VIRTUAL_OBJECT", "add").await;
    h2.set_default(jitter);
    let id = unique_id("crash");
    let opts = [
        ("auto.commit.interval.ms", "200"),
        ("session.timeout.ms", "6000"),
    ];

    let rt1 = SubscriptionRuntime::start(config(&id, &topic, &vo(&h1), &opts)).unwrap();
    h1.wait_for(RECORDS * 4 / 10, Duration::from_secs(120))
        .await
        .unwrap();
    // The crash: abort() drops every task at once — no drain, no final commit, no
    // LeaveGroup; in-flight requests are cut off. This is the in-process equivalent of
    // SIGKILL (the binary-level SIGKILL test lives with the admin binary's tests).
    rt1.abort();
    let at_crash = h1.count();

    // The restart: same subscription id, so the same group. It starts paused so that its
    // first status shows exactly the offsets it starts from (nothing is committed before
    // something is delivered).
    let mut cfg = config(&id, &topic, &vo(&h2), &opts);
    cfg.paused = true;
    let rt2 = SubscriptionRuntime::start(cfg).unwrap();
    let restart = wait_status(
        &rt2,
        Duration::from_secs(60),
        "the restart's assignment",
        |s| {
            s.partitions.len() == PARTITIONS as usize
                && s.partitions.iter().all(|p| p.committed.is_some())
        },
    )
    .await;
    let start: BTreeMap<i32, i64> = restart
        .partitions
        .iter()
        .map(|p| (p.partition, p.committed.unwrap()))
        .collect();
    assert!(
        start.values().sum::<i64>() > 0,
        "the first runtime committed nothing before the crash: {start:?}"
    );
    rt2.resume();

    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let mut done = delivered(&h1.requests());
        for (k, n) in delivered(&h2.requests()) {
            *done.entry(k).or_insert(0) += n;
        }
        if placed.iter().all(|po| done.contains_key(po)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {RECORDS} records delivered; status {:#?}",
            placed.iter().filter(|po| done.contains_key(po)).count(),
            rt2.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ends: BTreeMap<i32, i64> = placed.iter().fold(BTreeMap::new(), |mut m, (p, o)| {
        let e = m.entry(*p).or_insert(0);
        *e = (*e).max(o + 1);
        m
    });
    wait_status(&rt2, Duration::from_secs(30), "the final commit", |s| {
        ends.iter().all(|(p, end)| committed(s, *p) == Some(*end))
    })
    .await;
    rt2.stop().await;

    let (reqs1, reqs2) = (h1.requests(), h2.requests());
    let (done1, done2) = (delivered(&reqs1), delivered(&reqs2));
    // Below the restart offset everything was delivered by the first runtime: nothing was
    // committed before it was delivered. The restart starts exactly there.
    for (p, o) in &placed {
        if *o < start[p] {
            assert!(
                done1.contains_key(&(*p, *o)),
                "{p}/{o} committed, never delivered"
            );
            assert!(
                !done2.contains_key(&(*p, *o)),
                "{p}/{o} redelivered below the commit"
            );
        } else {
            assert!(
                done2.contains_key(&(*p, *o)),
                "{p}/{o} not delivered after restart"
            );
        }
    }
    // Duplicates are only the records the crash caught in flight (delivered, not committed),
    // and every delivery of a record carries the same idempotency key.
    let mut all: BTreeMap<(i32, i64), Vec<&RecordedRequest>> = BTreeMap::new();
    for r in reqs1.iter().chain(&reqs2) {
        all.entry(partition_offset(r)).or_default().push(r);
    }
    let mut duplicates = 0;
    for ((p, o), list) in &all {
        let ok = list
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .count();
        if ok > 1 {
            duplicates += 1;
            assert!(
                *o >= start[p],
                "{p}/{o} delivered {ok} times though committed ({})",
                start[p]
            );
            let key = format!("{id}-{p}-{o}");
            assert!(
                list.iter()
                    .all(|r| r.header("idempotency-key") == Some(key.as_str())),
                "{p}/{o}: deliveries with different idempotency keys"
            );
        }
    }
    assert_per_key_order(&reqs1);
    assert_per_key_order(&reqs2);
    eprintln!(
        "crash: {RECORDS} records; {at_crash} requests before the crash, {} after it and \
         {} by the restart; restart offsets {start:?}; {duplicates} records delivered twice",
        reqs1.len() - at_crash,
        reqs2.len()
    );
}
