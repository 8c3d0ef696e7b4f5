//! Faults as users meet them, against the real `kafka-ingress` binary and a real broker, while
//! a producer writes ~2 000 records/s: a member joining mid-stream (range and
//! cooperative-sticky), `kill -9` of the ingress and its immediate restart (ten times), a
//! 3-process group losing a member (back at once, and back after its session timeout), and a
//! broker `kill -9` for 15 s. Every record is accounted for — lost: never; redelivered: counted,
//! with the same idempotency key; per-key order: kept — and each scenario prints its figures.
//!
//! The scenarios run one at a time: they measure stalls and resume times, which parallel
//! scenarios on a 2-core CI machine would distort.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::{BrokerKind, KafkaCluster, PrivateBroker, RecordingHandler, TestClient};

use support::accounting::{account, deliveries, Delivery, Producer, RATE};
use support::{free_port, fresh_dir, wait_assigned, Server};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether the brokers under test are tansu (which lacks what some scenarios need).
/// Why the broker at `bootstrap` cannot serve `group.protocol=consumer`, or `None`.
async fn kip848_unavailable(bootstrap: &str) -> Option<String> {
    let (host, port) = bootstrap.rsplit_once(':').unwrap();
    let broker = ingress::kafka::Broker::connect(
        &ingress::kafka::TcpConnector {
            connect_timeout: Duration::from_secs(5),
        },
        host,
        port.parse().unwrap(),
        &ingress::kafka::ConnectionSettings {
            client_id: "kafka-ingress-test".into(),
            request_timeout: Duration::from_secs(10),
            max_response_bytes: 100 << 20,
            sasl: None,
        },
    )
    .await
    .unwrap();
    ingress::kafka::consumer_group::consumer_protocol_unavailable(&broker)
        .await
        .unwrap()
}

fn on_tansu() -> bool {
    BrokerKind::from_env().unwrap() == BrokerKind::Tansu
}

/// What every scenario starts from: a topic with `partitions` partitions on `bootstrap`, a
/// recording handler `Svc/h` (`SERVICE`) or `Obj/h` (`VIRTUAL_OBJECT`), and an empty dir.
async fn scenario(
    bootstrap: &str,
    name: &str,
    partitions: i32,
    ty: &str,
) -> (TestClient, String, RecordingHandler, PathBuf) {
    let client = TestClient::connect(bootstrap).await.unwrap();
    let topic = client.create_topic(name, partitions).await.unwrap();
    let service = if ty == "SERVICE" { "Svc" } else { "Obj" };
    let h = RecordingHandler::start(RecordingHandler::manifest(service, ty, &["h"]))
        .await
        .unwrap();
    (client, topic, h, fresh_dir(name))
}

/// Why the static-membership scenarios do not run on tansu.
const NO_STATIC_MEMBERS_ON_TANSU: &str =
    "faults: skipped on tansu: it does not keep a static member's assignment (KIP-345)";

/// The config every process of a scenario uses: one cluster named `c`.
fn write_config(dir: &Path, bootstrap: &str, cluster_options: &str) -> PathBuf {
    let config = dir.join("restate.toml");
    std::fs::write(
        &config,
        format!(
            "[[ingress.kafka-clusters]]\nname = \"c\"\nbrokers = [\"PLAINTEXT://{bootstrap}\"]\n{cluster_options}\n"
        ),
    )
    .unwrap();
    config
}

/// One `kafka-ingress` process of a scenario: its base dir, admin port and log stay the same
/// across restarts.
struct Member {
    name: String,
    config: PathBuf,
    base_dir: PathBuf,
    port: u16,
    log: PathBuf,
    server: Option<Server>,
    subscription: String,
}

impl Member {
    async fn start(dir: &Path, config: &Path, name: &str) -> Member {
        let mut m = Member {
            name: name.to_owned(),
            config: config.to_owned(),
            base_dir: dir.join(name),
            port: free_port(),
            log: dir.join(format!("{name}.log")),
            server: None,
            subscription: String::new(),
        };
        m.restart().await;
        m
    }

    async fn restart(&mut self) {
        // FAULTS_RUST_LOG (e.g. `info,ingress::kafka=debug`) makes the processes' logs louder.
        let filter = std::env::var("FAULTS_RUST_LOG").unwrap_or_else(|_| "info".into());
        let mut server = Server::start_with_env(
            &self.config,
            &self.base_dir,
            self.port,
            self.log.clone(),
            &[("RUST_LOG", &filter)],
        );
        server.wait_healthy().await;
        self.server = Some(server);
    }

    fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    /// Registers the handler and subscribes `sink` to `topic` with `options`.
    async fn subscribe(&mut self, h: &RecordingHandler, topic: &str, sink: &str, options: Value) {
        let (status, body) = self
            .server()
            .call("POST", "/deployments", Some(json!({"uri": h.url()})))
            .await;
        assert_eq!(status, 201, "{}: {body}", self.name);
        let (status, body) = self
            .server()
            .call(
                "POST",
                "/subscriptions",
                Some(json!({"source": format!("kafka://c/{topic}"), "sink": sink, "options": options})),
            )
            .await;
        assert_eq!(status, 201, "{}: {body}", self.name);
        self.subscription = body["id"].as_str().unwrap().to_owned();
    }

    /// `kill -9`.
    fn kill(&mut self) {
        self.server.take().unwrap().kill();
    }

    /// `GET /subscriptions/{id}/status` of its subscription.
    async fn status(&self) -> Value {
        let (status, body) = self
            .server()
            .call(
                "GET",
                &format!("/subscriptions/{}/status", self.subscription),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Its subscription's state and the partitions it owns now.
    async fn owned(&self) -> (String, Vec<i32>) {
        let body = self.status().await;
        let partitions = body["partitions"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| p["partition"].as_i64().unwrap() as i32)
                    .collect()
            })
            .unwrap_or_default();
        (
            body["state"].as_str().unwrap_or_default().to_owned(),
            partitions,
        )
    }
}

/// Waits until the members together own all `partitions`, each some, all running.
async fn wait_spread(members: &[&Member], partitions: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut total = 0;
        let mut all_have = true;
        for m in members {
            let (state, owned) = m.owned().await;
            all_have &= state == "running" && !owned.is_empty();
            total += owned.len();
        }
        if all_have && total == partitions {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "partitions not spread over {} members",
            members.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first delivery that arrived after `t`, waiting up to 30 s for it.
async fn first_delivery_after(h: &RecordingHandler, t: Instant, log: &Path) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(d) = h
            .requests()
            .iter()
            .filter(|r| (200..300).contains(&r.status) && r.arrived > t)
            .map(|r| r.arrived)
            .min()
        {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "no delivery within 30 s:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The longest time without a delivery on each partition in `parts` within `[from, to]`.
fn longest_gaps(
    all: &[Delivery],
    parts: &[i32],
    from: Instant,
    to: Instant,
) -> BTreeMap<i32, Duration> {
    parts
        .iter()
        .map(|&p| {
            let mut last = from;
            let mut gap = Duration::ZERO;
            for d in all
                .iter()
                .filter(|d| d.partition == p && d.arrived > from && d.arrived <= to)
            {
                gap = gap.max(d.arrived - last);
                last = d.arrived;
            }
            (p, gap.max(to - last))
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_joining_mid_stream_redelivers_almost_nothing() {
    let _serial = SERIAL.lock().await;
    let bootstrap = KafkaCluster::shared().unwrap().bootstrap().to_owned();
    let strategies: &[&str] = if on_tansu() {
        eprintln!(
            "faults: cooperative-sticky skipped on tansu: when a member rejoins to hand over what \
             it revoked, tansu 0.6 completes the join without a new generation and never asks \
             the other members to rejoin, so the revoked partitions stay unassigned"
        );
        &["range"]
    } else {
        &["range", "cooperative-sticky"]
    };
    let mut strategies = strategies.to_vec();
    // The KIP-848 protocol (`group.protocol=consumer`) where the broker offers it.
    match kip848_unavailable(&bootstrap).await {
        None => strategies.push("consumer"),
        Some(why) => eprintln!("faults: the KIP-848 variant skipped: {why}"),
    }
    for strategy in strategies {
        let (client, topic, h, dir) = scenario(
            &bootstrap,
            &format!("faults-join-{strategy}"),
            4,
            "VIRTUAL_OBJECT",
        )
        .await;
        // With KIP-848 the broker owns the session and the assignment.
        let (cluster_options, options) = if strategy == "consumer" {
            (
                "",
                json!({
                    "group.id": topic,
                    "group.protocol": "consumer",
                    "auto.offset.reset": "earliest",
                }),
            )
        } else {
            (
                "\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"500\"",
                json!({
                    "group.id": topic,
                    "partition.assignment.strategy": strategy,
                    "auto.offset.reset": "earliest",
                }),
            )
        };
        let config = write_config(&dir, &bootstrap, cluster_options);
        // Both processes are members of one group (the README's scale-out recipe).
        let mut a = Member::start(&dir, &config, "a").await;
        a.subscribe(&h, &topic, "service://Obj/h", options.clone())
            .await;
        wait_assigned(a.server(), &a.subscription, 4).await;
        let producer = Producer::start(&bootstrap, &topic, 4);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut b = Member::start(&dir, &config, "b").await;
        b.subscribe(&h, &topic, "service://Obj/h", options).await;
        wait_spread(&[&a, &b], 4).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let produced = producer.stop().await;
        let acc = account(&client, &topic, 4, produced, &h, &[&a.log, &b.log]).await;
        eprintln!(
            "faults: join mid-stream ({strategy}): {} records ({produced} acknowledged), {} deliveries, {} redelivered ({:.2} %), {} per-key order violations",
            acc.records,
            acc.deliveries,
            acc.redelivered,
            100.0 * acc.redelivered as f64 / acc.records as f64,
            acc.order_violations
        );
        assert!(
            acc.redelivered * 100 <= acc.records,
            "{strategy}: more than 1 % redelivered: {acc:?}"
        );
        assert_eq!(
            acc.order_violations, 0,
            "{strategy}: per-key order broken: {acc:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_and_restart_ten_times_loses_nothing_and_resumes_at_once() {
    let _serial = SERIAL.lock().await;
    if on_tansu() {
        eprintln!("{NO_STATIC_MEMBERS_ON_TANSU}");
        return;
    }
    let bootstrap = KafkaCluster::shared().unwrap().bootstrap().to_owned();
    let (client, topic, h, dir) = scenario(&bootstrap, "faults-kill", 4, "SERVICE").await;
    // Default session.timeout.ms (45 s): the restart must not wait for it.
    let config = write_config(&dir, &bootstrap, "");
    let mut a = Member::start(&dir, &config, "a").await;
    a.subscribe(
        &h,
        &topic,
        "service://Svc/h",
        json!({"auto.offset.reset": "earliest"}),
    )
    .await;
    wait_assigned(a.server(), &a.subscription, 4).await;
    let producer = Producer::start(&bootstrap, &topic, 4);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    const KILLS: usize = 10;
    let mut resumes = Vec::new();
    for _ in 0..KILLS {
        a.kill();
        let killed = Instant::now();
        a.restart().await;
        // A request the dead process had on the wire may still be read just after its exit.
        let resumed = first_delivery_after(&h, killed + Duration::from_millis(50), &a.log).await;
        resumes.push(resumed - killed);
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    let produced = producer.stop().await;
    let acc = account(&client, &topic, 4, produced, &h, &[&a.log]).await;
    let per_kill = acc.redelivered as f64 / KILLS as f64;
    let resume_median = median(resumes.clone());
    eprintln!(
        "faults: {KILLS} x kill -9 + restart: {} records ({produced} acknowledged), {} redelivered ({per_kill:.0} per kill = {:.2} s of traffic at {RATE}/s), first delivery after restart: median {resume_median:?}, max {:?}",
        acc.records,
        acc.redelivered,
        per_kill / RATE as f64,
        resumes.iter().max().unwrap()
    );
    assert_eq!(
        acc.changed_keys, 0,
        "a redelivery changed its idempotency key: {acc:?}"
    );
    assert!(
        resume_median <= Duration::from_secs(2),
        "median resume {resume_median:?} > 2 s: {resumes:?}"
    );
    assert!(
        per_kill <= 1.5 * RATE as f64,
        "more than 1.5 s of traffic redelivered per kill: {acc:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_three_process_group_does_not_stall_when_one_is_killed() {
    let _serial = SERIAL.lock().await;
    if on_tansu() {
        eprintln!("{NO_STATIC_MEMBERS_ON_TANSU}");
        return;
    }
    let bootstrap = KafkaCluster::shared().unwrap().bootstrap().to_owned();
    let (client, topic, h, dir) = scenario(&bootstrap, "faults-group", 6, "SERVICE").await;
    const SESSION: Duration = Duration::from_secs(6);
    let config = write_config(
        &dir,
        &bootstrap,
        &format!(
            "\"session.timeout.ms\" = \"{}\"\n\"heartbeat.interval.ms\" = \"500\"",
            SESSION.as_millis()
        ),
    );
    let options = json!({"group.id": topic, "auto.offset.reset": "earliest"});
    let mut members = Vec::new();
    for name in ["a", "b", "c"] {
        let mut m = Member::start(&dir, &config, name).await;
        m.subscribe(&h, &topic, "service://Svc/h", options.clone())
            .await;
        members.push(m);
    }
    wait_spread(&members.iter().collect::<Vec<_>>(), 6).await;
    let (_, dead_parts) = members[2].owned().await;
    let others: Vec<i32> = (0..6).filter(|p| !dead_parts.contains(p)).collect();
    let producer = Producer::start(&bootstrap, &topic, 6);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 1. Killed and restarted at once: it takes its partitions back, nobody else notices.
    members[2].kill();
    let t1 = Instant::now();
    members[2].restart().await;
    tokio::time::sleep(Duration::from_secs(4)).await;

    // 2. Killed and back only after its session timeout: its partitions move to the others,
    // and move again when it is back.
    members[2].kill();
    let t2 = Instant::now();
    tokio::time::sleep(SESSION + Duration::from_secs(4)).await;
    members[2].restart().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let t3 = Instant::now();
    let produced = producer.stop().await;
    let logs: Vec<&Path> = members.iter().map(|m| m.log.as_path()).collect();
    let acc = account(&client, &topic, 6, produced, &h, &logs).await;
    let all = deliveries(&h.requests());
    let gaps = |parts: &[i32], from, to| {
        longest_gaps(&all, parts, from, to)
            .into_values()
            .max()
            .unwrap_or_default()
    };
    let quick_others = gaps(&others, t1, t2);
    let quick_dead = gaps(&dead_parts, t1, t2);
    let slow_others = gaps(&others, t2, t3);
    let slow_dead = gaps(&dead_parts, t2, t3);
    eprintln!(
        "faults: 3-process group, {} records ({produced} acknowledged), {} redelivered; longest stall: member back at once: others {quick_others:?}, its own partitions {quick_dead:?}; member back after the session timeout ({SESSION:?}): others {slow_others:?}, its own partitions {slow_dead:?}",
        acc.records, acc.redelivered
    );
    assert!(
        quick_others <= Duration::from_secs(1),
        "the others stalled although the member came back with its instance id"
    );
    assert!(
        quick_dead <= Duration::from_secs(3),
        "its own partitions stalled {quick_dead:?}"
    );
    assert!(
        slow_others <= Duration::from_secs(2),
        "the others stalled {slow_others:?} in the rebalances"
    );
    assert!(
        slow_dead <= SESSION + Duration::from_secs(2),
        "the dead member's partitions stalled {slow_dead:?}, more than 2 s beyond its session timeout"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_outage_shows_in_status_and_delivery_resumes_when_it_is_back() {
    let _serial = SERIAL.lock().await;
    let kind = BrokerKind::from_env().unwrap();
    if on_tansu() {
        eprintln!(
            "faults: skipped on tansu: it keeps its data in memory, a restarted tansu has none"
        );
        return;
    }
    let broker = tokio::task::spawn_blocking(move || PrivateBroker::start(kind))
        .await
        .unwrap()
        .unwrap();
    let bootstrap = broker.bootstrap().to_owned();
    let (client, topic, h, dir) = scenario(&bootstrap, "faults-broker", 2, "SERVICE").await;
    let config = write_config(&dir, &bootstrap, "");
    let mut a = Member::start(&dir, &config, "a").await;
    a.subscribe(
        &h,
        &topic,
        "service://Svc/h",
        json!({"auto.offset.reset": "earliest"}),
    )
    .await;
    let id = a.subscription.clone();
    wait_assigned(a.server(), &id, 2).await;
    let producer = Producer::start(&bootstrap, &topic, 2);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let broker = Arc::new(broker);
    let b = broker.clone();
    tokio::task::spawn_blocking(move || b.kill())
        .await
        .unwrap()
        .unwrap();
    let down = Instant::now();
    let mut shown: Option<(Duration, Value)> = None;
    while down.elapsed() < Duration::from_secs(15) {
        let status = a.status().await;
        if shown.is_none() && status["state"] == "degraded" && status["error"].is_string() {
            shown = Some((down.elapsed(), status));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let b = broker.clone();
    tokio::task::spawn_blocking(move || b.restart())
        .await
        .unwrap()
        .unwrap();
    let ready = Instant::now();
    let resumed = first_delivery_after(&h, ready, &a.log).await;
    let first_ack = producer.first_ack_after(ready).unwrap_or(resumed);
    // Status clears once Kafka is fine again.
    let deadline = Instant::now() + Duration::from_secs(15);
    let cleared = loop {
        let status = a.status().await;
        let ok = status["state"] == "running"
            && status["error"].is_null()
            && status["partitions"]
                .as_array()
                .is_some_and(|ps| ps.len() == 2 && ps.iter().all(|p| p["error"].is_null()));
        if ok {
            break ready.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "status not cleared after the outage: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let produced = producer.stop().await;
    let acc = account(&client, &topic, 2, produced, &h, &[&a.log]).await;
    let (shown_after, status) = shown.expect("status never showed the outage");
    eprintln!(
        "faults: broker kill -9 for 15 s: status degraded {shown_after:?} after the kill ({}); deliveries resumed {:?} after the broker was ready (first produce acknowledged after {:?}); status clear after {cleared:?}; {} records ({produced} acknowledged), {} redelivered",
        status["error"],
        resumed - ready,
        first_ack.saturating_duration_since(ready),
        acc.records,
        acc.redelivered
    );
    assert_eq!(acc.changed_keys, 0, "{acc:?}");
    // Measured from the later of "broker ready" and "the first new record is in Kafka".
    let resume = resumed.saturating_duration_since(first_ack.max(ready));
    assert!(
        resume <= Duration::from_secs(2),
        "deliveries resumed {resume:?} after the broker was back"
    );
    drop(a);
    let _ = std::fs::remove_dir_all(&dir);
}
