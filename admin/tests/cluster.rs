//! Cluster mode (`[ingress.metadata-store] store = "kafka"`) with real `kafka-ingress`
//! processes on a real broker: a write on one process is seen by the others, a subscription
//! runs on all of them as one consumer group (one id, one group, partitions spread), pause,
//! resume and delete act everywhere, Kafka clusters registered on one process are used by the
//! others, concurrent conflicting creates leave one subscription, a process that was down
//! catches up, a local `state.json` is imported, and a metadata topic
//! that is not fit (not compacted, several partitions, an unreadable record) stops start-up.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::client::unique_topic_name;
use testkit::{BrokerKind, KafkaCluster, RecordingHandler, TestClient, TestRecord};

use support::accounting::{account, Producer};
use support::{delivered, free_port, fresh_dir, values, wait_delivered, Server};

/// How soon every process must show a write made on another (the issue's bound).
const PROPAGATION: Duration = Duration::from_secs(1);

/// Whether the broker is tansu, whose consumer groups are too slow and partial (no static
/// members, no DescribeGroups) for the multi-process scenarios; says so when it is.
fn skipped_on_tansu(test: &str) -> bool {
    let tansu = BrokerKind::from_env().unwrap() == BrokerKind::Tansu;
    if tansu {
        println!(
            "cluster: {test} skipped on tansu: it keeps no static members (KIP-345) and has no \
             DescribeGroups"
        );
    }
    tansu
}

fn bootstrap() -> String {
    KafkaCluster::shared().unwrap().bootstrap().to_owned()
}

/// A config with one cluster `c` and the Kafka metadata store on `meta_topic`.
fn write_config(dir: &Path, bootstrap: &str, meta_topic: &str) -> PathBuf {
    let config = dir.join("restate.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[ingress.kafka-clusters]]
name = "c"
brokers = ["PLAINTEXT://{bootstrap}"]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"

[ingress.metadata-store]
store = "kafka"
cluster = "c"
topic = "{meta_topic}"
replication-factor = 1
"#
        ),
    )
    .unwrap();
    config
}

/// One process of the cluster, with its own base dir and admin port.
struct Process {
    name: String,
    server: Server,
}

impl Process {
    async fn start(dir: &Path, config: &Path, name: &str) -> Process {
        let mut server = Server::start(
            config,
            &dir.join(name),
            free_port(),
            dir.join(format!("{name}.log")),
        );
        server.wait_healthy().await;
        Process {
            name: name.to_owned(),
            server,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.server.call(method, path, body).await
    }

    /// The ids this process lists.
    async fn subscription_ids(&self) -> Vec<String> {
        let (status, body) = self.call("GET", "/subscriptions", None).await;
        assert_eq!(status, 200, "{}: {body}", self.name);
        body["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn status(&self, id: &str) -> Value {
        let (status, body) = self
            .call("GET", &format!("/subscriptions/{id}/status"), None)
            .await;
        assert_eq!(status, 200, "{}: {body}", self.name);
        body
    }
}

/// Polls `check` on every process until it holds everywhere; returns how long that took.
async fn until_everywhere<'a, F, Fut>(processes: &[&'a Process], what: &str, check: F) -> Duration
where
    F: Fn(&'a Process) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    for p in processes {
        while !check(p).await {
            assert!(
                Instant::now() < deadline,
                "{what}: not on {}\n{}",
                p.name,
                p.server.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    started.elapsed()
}

/// Waits until `processes` together own all `partitions` of subscription `id`, each some, all
/// running; returns how many each owns.
async fn wait_spread(processes: &[&Process], id: &str, partitions: usize) -> Vec<usize> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut owned = Vec::new();
        let mut running = true;
        for p in processes {
            let s = p.status(id).await;
            running &= s["state"] == "running";
            owned.push(s["partitions"].as_array().map_or(0, Vec::len));
        }
        if running && owned.iter().sum::<usize>() == partitions && owned.iter().all(|n| *n > 0) {
            return owned;
        }
        assert!(
            Instant::now() < deadline,
            "partitions not spread: {owned:?}\n{}",
            logs(processes)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn logs(processes: &[&Process]) -> String {
    processes
        .iter()
        .map(|p| format!("--- {}\n{}", p.name, p.server.log()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_processes_are_one_ingress() {
    if skipped_on_tansu("three_processes_are_one_ingress") {
        return;
    }
    let bootstrap = bootstrap();
    let client = TestClient::connect(&bootstrap).await.unwrap();
    let partitions = 6;
    let topic = client
        .create_topic("cluster-orders", partitions)
        .await
        .unwrap();
    let meta = unique_topic_name("cluster-meta");
    let h = RecordingHandler::start(RecordingHandler::manifest("Obj", "VIRTUAL_OBJECT", &["h"]))
        .await
        .unwrap();
    let dir = fresh_dir("cluster-three");
    let config = write_config(&dir, &bootstrap, &meta);
    let (a, b, c) = tokio::join!(
        Process::start(&dir, &config, "a"),
        Process::start(&dir, &config, "b"),
        Process::start(&dir, &config, "c"),
    );
    let all = [&a, &b, &c];

    // A deployment registered on A is served by B and C.
    let (status, dep) = a
        .call("POST", "/deployments", Some(json!({"uri": h.url()})))
        .await;
    assert_eq!(status, 201, "{dep}");
    let took = until_everywhere(&all, "deployment listed", |p| async {
        let (status, body) = p.call("GET", "/services/Obj", None).await;
        status == 200 && body["deployment_id"] == dep["id"]
    })
    .await;
    println!("cluster: deployment registered on a, served by b and c after {took:?}");

    // A Kafka cluster registered on C (Restate 1.7's API) is known to A and B; a second
    // create of its name anywhere is refused.
    let (status, kc) = c
        .call(
            "POST",
            "/kafka-clusters",
            Some(json!({"name": "rt", "properties": {
                "bootstrap.servers": bootstrap.clone(),
                "session.timeout.ms": "6000", "heartbeat.interval.ms": "500"}})),
        )
        .await;
    assert_eq!(status, 201, "{kc}");
    let took = until_everywhere(&all, "kafka cluster listed", |p| async {
        let (status, body) = p.call("GET", "/kafka-clusters/rt", None).await;
        status == 200 && body["created_at"] == kc["created_at"]
    })
    .await;
    println!("cluster: kafka cluster registered on c, known to a and b after {took:?}");
    let (status, body) = b
        .call(
            "POST",
            "/kafka-clusters",
            Some(json!({"name": "rt", "properties": {"bootstrap.servers": "other:9092"}})),
        )
        .await;
    assert_eq!(status, 409, "{body}");

    // A subscription created on A (on that cluster) is listed by B and C within 1 s, with
    // the same id.
    let (status, sub) = a
        .call(
            "POST",
            "/subscriptions",
            Some(json!({
                "source": format!("kafka://rt/{topic}"),
                "sink": "service://Obj/h",
                "options": {"auto.offset.reset": "earliest"}
            })),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    let id = sub["id"].as_str().unwrap().to_owned();
    let took = until_everywhere(&all, "subscription listed", |p| {
        let id = id.clone();
        async move { p.subscription_ids().await == vec![id] }
    })
    .await;
    println!("cluster: subscription created on a, listed by b and c after {took:?}");
    assert!(took < PROPAGATION, "listed everywhere after {took:?}");
    for p in &all[1..] {
        let (status, got) = p.call("GET", &format!("/subscriptions/{id}"), None).await;
        assert_eq!((status, &got), (200, &sub), "{}", p.name);
    }

    // Its partitions are spread over the three processes: one group, each owns some.
    let owned = wait_spread(&all, &id, partitions as usize).await;
    println!("cluster: partitions per process {owned:?}");

    client
        .produce_keyed(&topic, partitions, values("one", 120), 40)
        .await
        .unwrap();
    let count = |h: &RecordingHandler| {
        h.requests()
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .map(|r| {
                (
                    r.header("kafka.partition").unwrap().to_owned(),
                    r.header("kafka.offset").unwrap().to_owned(),
                )
            })
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    let wait_count = |n: usize| {
        let h = &h;
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while count(h) < n {
                assert!(
                    Instant::now() < deadline,
                    "{} of {n} delivered\n{}",
                    count(h),
                    logs(&all)
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    wait_count(120).await;

    // Any process's status is cluster-wide: every partition with its owner, committed offset,
    // high watermark and lag, from Kafka; `/cluster` lists the three processes.
    let deadline = Instant::now() + Duration::from_secs(30);
    let cluster = loop {
        let cluster = b.status(&id).await["cluster"].clone();
        let parts = cluster["partitions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let settled = parts.len() == partitions as usize
            && parts
                .iter()
                .all(|p| p["owner"].is_string() && p["lag"] == 0);
        if settled {
            break cluster;
        }
        assert!(Instant::now() < deadline, "cluster status: {cluster:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let owners: std::collections::BTreeSet<&str> = cluster["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["owner"].as_str().unwrap())
        .collect();
    assert_eq!(owners.len(), 3, "{cluster:#}");
    assert_eq!(cluster["group"], id.as_str());
    assert_eq!(
        cluster["members"].as_array().unwrap().len(),
        3,
        "{cluster:#}"
    );
    let committed: i64 = cluster["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["committed"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(committed, 120, "{cluster:#}");
    let (status, overview) = c.call("GET", "/cluster", None).await;
    assert_eq!(status, 200);
    let processes = overview["processes"].as_array().unwrap();
    assert_eq!(processes.len(), 3, "{overview:#}");
    assert_eq!(overview["store"], "kafka");
    assert_eq!(
        processes.iter().filter(|p| p["this"] == true).count(),
        1,
        "{overview:#}"
    );
    println!("cluster: /cluster on c: {overview}");

    // Pause on B stops delivery on all three within 1 s.
    let (status, body) = b
        .call("POST", &format!("/subscriptions/{id}/pause"), None)
        .await;
    assert!((200..300).contains(&status), "{body}");
    let took = until_everywhere(&all, "paused", |p| {
        let id = id.clone();
        async move { p.status(&id).await["state"] == "paused" }
    })
    .await;
    println!("cluster: paused on b, paused everywhere after {took:?}");
    assert!(took < PROPAGATION, "paused everywhere after {took:?}");
    let before = count(&h);
    client
        .produce_keyed(&topic, partitions, values("two", 60), 30)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(&h), before, "delivered while paused\n{}", logs(&all));

    // Resume on C: delivery restarts (on every process: all partitions are drained).
    let (status, body) = c
        .call("POST", &format!("/subscriptions/{id}/resume"), None)
        .await;
    assert!((200..300).contains(&status), "{body}");
    wait_count(180).await;

    // Delete on C: gone everywhere, nothing delivered after.
    let (status, body) = c
        .call("DELETE", &format!("/subscriptions/{id}"), None)
        .await;
    assert!((200..300).contains(&status), "{body}");
    let took = until_everywhere(&all, "deleted", |p| {
        let id = id.clone();
        async move { p.call("GET", &format!("/subscriptions/{id}"), None).await.0 == 404 }
    })
    .await;
    println!("cluster: deleted on c, gone everywhere after {took:?}");
    assert!(took < PROPAGATION, "deleted everywhere after {took:?}");
    // The runtimes drain and leave in the background; give them a moment.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = count(&h);
    client
        .produce_keyed(&topic, partitions, values("three", 30), 30)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(&h), before, "delivered after delete\n{}", logs(&all));

    // Idempotency keys are per subscription, not per process: each record has one key.
    let per_record = delivered(&h.requests(), "/Obj/k0/h");
    for (record, keys) in per_record {
        let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
        assert_eq!(
            distinct.len(),
            1,
            "record {record:?} delivered with {keys:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conflicting_creates_leave_one_subscription_and_late_processes_catch_up() {
    if skipped_on_tansu("conflicting_creates_leave_one_subscription_and_late_processes_catch_up") {
        return;
    }
    let bootstrap = bootstrap();
    let client = TestClient::connect(&bootstrap).await.unwrap();
    let topic = client.create_topic("cluster-conflict", 2).await.unwrap();
    let meta = unique_topic_name("cluster-meta");
    let h = RecordingHandler::start(RecordingHandler::manifest("Svc", "SERVICE", &["h"]))
        .await
        .unwrap();
    let dir = fresh_dir("cluster-conflict");
    let config = write_config(&dir, &bootstrap, &meta);
    let (a, b) = tokio::join!(
        Process::start(&dir, &config, "a"),
        Process::start(&dir, &config, "b"),
    );
    let (status, dep) = a
        .call("POST", "/deployments", Some(json!({"uri": h.url()})))
        .await;
    assert_eq!(status, 201, "{dep}");
    until_everywhere(&[&a, &b], "service", |p| async {
        p.call("GET", "/services/Svc", None).await.0 == 200
    })
    .await;

    // The same source, sink and group.id created on both at once: one wins, by log order.
    let body = json!({
        "source": format!("kafka://c/{topic}"),
        "sink": "service://Svc/h",
        "options": {"group.id": "conflict-group", "auto.offset.reset": "earliest"}
    });
    let ((sa, ba), (sb, bb)) = tokio::join!(
        a.call("POST", "/subscriptions", Some(body.clone())),
        b.call("POST", "/subscriptions", Some(body.clone())),
    );
    let mut statuses = [sa, sb];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "a: {ba}\nb: {bb}");
    let winner = if sa == 201 { &ba } else { &bb };
    let loser = if sa == 201 { &bb } else { &ba };
    let id = winner["id"].as_str().unwrap().to_owned();
    assert!(
        loser["message"].as_str().unwrap().contains(&id),
        "the 409 names the winner: {loser}"
    );
    until_everywhere(&[&a, &b], "one subscription", |p| {
        let id = id.clone();
        async move { p.subscription_ids().await == vec![id] }
    })
    .await;

    // C was not running while the subscription was created; it catches up on start, and a
    // subscription created and deleted while it was down never appears.
    let (status, gone) = a
        .call(
            "POST",
            "/subscriptions",
            Some(json!({"source": format!("kafka://c/{topic}"), "sink": "service://Svc/h"})),
        )
        .await;
    assert_eq!(status, 201, "{gone}");
    let gone_id = gone["id"].as_str().unwrap().to_owned();
    // B deletes it once it has applied A's create (a few ms later).
    until_everywhere(&[&b], "created on a", |p| {
        let gone_id = gone_id.clone();
        async move { p.subscription_ids().await.contains(&gone_id) }
    })
    .await;
    let (status, _) = b
        .call("DELETE", &format!("/subscriptions/{gone_id}"), None)
        .await;
    assert!((200..300).contains(&status));
    let c = Process::start(&dir, &config, "c").await;
    assert_eq!(c.subscription_ids().await, vec![id.clone()]);
    let (status, got) = c.call("GET", &format!("/subscriptions/{id}"), None).await;
    assert_eq!((status, &got), (200, winner));

    // All three consume as one group: every record once (no rebalance redelivery needed).
    client
        .produce_keyed(&topic, 2, values("c", 50), 50)
        .await
        .unwrap();
    wait_delivered(&h, "/Svc/h", 50, &c.server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_state_file_is_imported_once() {
    let bootstrap = bootstrap();
    let client = TestClient::connect(&bootstrap).await.unwrap();
    let topic = client.create_topic("cluster-import", 1).await.unwrap();
    let h = RecordingHandler::start(RecordingHandler::manifest("Svc", "SERVICE", &["h"]))
        .await
        .unwrap();
    let dir = fresh_dir("cluster-import");
    // First a single process with the local store and one subscription.
    let local_config = dir.join("local.toml");
    std::fs::write(
        &local_config,
        format!(
            "[[ingress.kafka-clusters]]\nname = \"c\"\nbrokers = [\"PLAINTEXT://{bootstrap}\"]\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let mut local = Server::start(&local_config, &dir.join("a"), port, dir.join("local.log"));
    local.wait_healthy().await;
    let (status, _) = local
        .call("POST", "/deployments", Some(json!({"uri": h.url()})))
        .await;
    assert_eq!(status, 201);
    let (status, kc) = local
        .call(
            "POST",
            "/kafka-clusters",
            Some(json!({"name": "rt", "properties": {"bootstrap.servers": bootstrap.clone()}})),
        )
        .await;
    assert_eq!(status, 201, "{kc}");
    let (status, sub) = local
        .call(
            "POST",
            "/subscriptions",
            Some(json!({"source": format!("kafka://rt/{topic}"), "sink": "service://Svc/h"})),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    assert!(local.terminate().await.success());

    // The same base dir with store = "kafka": imported, renamed, listed by a second process.
    let config = write_config(&dir, &bootstrap, &unique_topic_name("cluster-meta"));
    let a = Process::start(&dir, &config, "a").await;
    assert!(
        a.server
            .log()
            .contains("imported the local state into the metadata topic"),
        "{}",
        a.server.log()
    );
    assert!(dir.join("a/state.json.imported").exists());
    assert!(!dir.join("a/state.json").exists());
    let b = Process::start(&dir, &config, "b").await;
    let id = sub["id"].as_str().unwrap().to_owned();
    assert_eq!(b.subscription_ids().await, vec![id.clone()]);
    let (status, got) = b.call("GET", &format!("/subscriptions/{id}"), None).await;
    assert_eq!((status, &got), (200, &sub));
    let (status, got) = b.call("GET", "/kafka-clusters/rt", None).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["created_at"], kc["created_at"]);
}

/// Starts a process that must fail, and returns its log.
async fn start_fails(dir: &Path, config: &Path, name: &str) -> String {
    let log = dir.join(format!("{name}.log"));
    let mut server = Server::start(config, &dir.join(name), free_port(), log);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(!status.success());
            return server.log();
        }
        assert!(
            Instant::now() < deadline,
            "started on a bad metadata topic:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfit_metadata_topic_stops_start_up_with_the_fix() {
    let bootstrap = bootstrap();
    let client = TestClient::connect(&bootstrap).await.unwrap();
    let dir = fresh_dir("cluster-unfit");

    // Several partitions.
    let wide = client.create_topic("cluster-meta-wide", 3).await.unwrap();
    let log = start_fails(&dir, &write_config(&dir, &bootstrap, &wide), "wide").await;
    assert!(
        log.contains(&format!("metadata topic {wide} has 3 partitions"))
            && log.contains("must have exactly 1"),
        "{log}"
    );

    // Not compacted (tansu drops DescribeConfigs: the check is skipped with a warning).
    let plain = client.create_topic("cluster-meta-plain", 1).await.unwrap();
    if BrokerKind::from_env().unwrap() == BrokerKind::Tansu {
        println!(
            "cluster: cleanup.policy check skipped on tansu (it drops DescribeConfigs requests)"
        );
    } else {
        let log = start_fails(&dir, &write_config(&dir, &bootstrap, &plain), "plain").await;
        assert!(
            log.contains(&format!("metadata topic {plain} has cleanup.policy=delete"))
                && log.contains("--add-config cleanup.policy=compact"),
            "{log}"
        );
    }

    // An unreadable record: start-up names the topic and the offset, and skips nothing.
    let meta = unique_topic_name("cluster-meta-bad");
    let config = write_config(&dir, &bootstrap, &meta);
    let ok = Process::start(&dir, &config, "creator").await;
    drop(ok);
    let offsets = client
        .produce_to(
            &meta,
            0,
            vec![TestRecord::keyed(
                "subscription/sub_x",
                "{\"format\": 1, \"op\": \"create\"",
            )],
        )
        .await
        .unwrap();
    let log = start_fails(&dir, &config, "reader").await;
    assert!(
        log.contains(&format!("metadata topic {meta} offset {}", offsets[0]))
            && log.contains("kafka-ingress does not skip metadata"),
        "{log}"
    );
    // A record of a newer format names the version.
    let newer = unique_topic_name("cluster-meta-newer");
    let config = write_config(&dir, &bootstrap, &newer);
    drop(Process::start(&dir, &config, "creator2").await);
    client
        .produce_to(
            &newer,
            0,
            vec![TestRecord::keyed("deployment/dp_x", "{\"format\": 7}")],
        )
        .await
        .unwrap();
    let log = start_fails(&dir, &config, "reader2").await;
    assert!(log.contains("record format 7 is not supported"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scaling_out_in_and_crashing_keeps_every_record_its_key_and_its_order() {
    if skipped_on_tansu("scaling_out_in_and_crashing_keeps_every_record_its_key_and_its_order") {
        return;
    }
    let bootstrap = bootstrap();
    let client = TestClient::connect(&bootstrap).await.unwrap();
    let partitions = 6;
    let topic = client
        .create_topic("cluster-scale", partitions)
        .await
        .unwrap();
    let h = RecordingHandler::start(RecordingHandler::manifest("Obj", "VIRTUAL_OBJECT", &["h"]))
        .await
        .unwrap();
    let dir = fresh_dir("cluster-scale");
    let config = write_config(&dir, &bootstrap, &unique_topic_name("cluster-meta"));
    let a = Process::start(&dir, &config, "a").await;
    let (status, _) = a
        .call("POST", "/deployments", Some(json!({"uri": h.url()})))
        .await;
    assert_eq!(status, 201);
    let (status, sub) = a
        .call(
            "POST",
            "/subscriptions",
            Some(json!({
                "source": format!("kafka://c/{topic}"),
                "sink": "service://Obj/h",
                "options": {"auto.offset.reset": "earliest"}
            })),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    let id = sub["id"].as_str().unwrap().to_owned();
    let producer = Producer::start(&bootstrap, &topic, partitions);
    let parts = partitions as usize;
    wait_spread(&[&a], &id, parts).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 1 -> 3.
    let (b, c) = tokio::join!(
        Process::start(&dir, &config, "b"),
        Process::start(&dir, &config, "c")
    );
    let owned = wait_spread(&[&a, &b, &c], &id, parts).await;
    println!("cluster: scaled to 3: {owned:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 3 -> 2: SIGTERM drains, commits and leaves.
    let Process { server, .. } = c;
    assert!(server.terminate().await.success());
    let owned = wait_spread(&[&a, &b], &id, parts).await;
    println!("cluster: scaled to 2: {owned:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;

    // kill -9 of b, restarted with an empty base dir (a new instance id): its old static
    // membership expires after the session timeout, then the group rebalances.
    let Process { server, .. } = b;
    server.kill();
    std::fs::remove_dir_all(dir.join("b")).unwrap();
    let b = Process::start(&dir, &config, "b").await;
    let owned = wait_spread(&[&a, &b], &id, parts).await;
    println!("cluster: b killed and restarted empty: {owned:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;

    let produced = producer.stop().await;
    let logs_of = [a.server.log.as_path(), b.server.log.as_path()];
    let acc = account(&client, &topic, partitions, produced, &h, &logs_of).await;
    println!(
        "cluster: scale 1->3->2->kill->empty restart: {} records, {} deliveries, {} redelivered, \
         {} with a changed idempotency key, {} order violations, {} key overlaps",
        acc.records,
        acc.deliveries,
        acc.redelivered,
        acc.changed_keys,
        acc.order_violations,
        h.key_overlaps()
    );
    assert_eq!(
        acc.changed_keys, 0,
        "redeliveries must keep their idempotency key"
    );
    assert_eq!(acc.order_violations, 0, "per-key order");
    assert_eq!(h.key_overlaps(), 0, "a key was in flight on two processes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_restart_keeps_the_metadata_and_its_order() {
    let kind = BrokerKind::from_env().unwrap();
    let broker = testkit::PrivateBroker::start(kind).unwrap();
    if !broker.can_restart() {
        println!("cluster: broker restart skipped: {kind:?} keeps its data in memory");
        return;
    }
    let bootstrap = broker.bootstrap().to_owned();
    let client = TestClient::connect(&bootstrap).await.unwrap();
    let topic = client.create_topic("cluster-restart", 2).await.unwrap();
    let h = RecordingHandler::start(RecordingHandler::manifest("Svc", "SERVICE", &["h", "i"]))
        .await
        .unwrap();
    let dir = fresh_dir("cluster-restart");
    let config = write_config(&dir, &bootstrap, "__kafka_ingress_metadata");
    let a = Process::start(&dir, &config, "a").await;
    let (status, _) = a
        .call("POST", "/deployments", Some(json!({"uri": h.url()})))
        .await;
    assert_eq!(status, 201);
    let create = |sink: &str| {
        json!({"source": format!("kafka://c/{topic}"), "sink": sink,
               "options": {"auto.offset.reset": "earliest"}})
    };
    let mut ids = Vec::new();
    for sink in ["service://Svc/h", "service://Svc/i", "service://Svc/h"] {
        let (status, sub) = a.call("POST", "/subscriptions", Some(create(sink))).await;
        assert_eq!(status, 201, "{sub}");
        ids.push(sub["id"].as_str().unwrap().to_owned());
    }
    let (status, _) = a
        .call("POST", &format!("/subscriptions/{}/pause", ids[0]), None)
        .await;
    assert!((200..300).contains(&status));
    let (status, _) = a
        .call("DELETE", &format!("/subscriptions/{}", ids[1]), None)
        .await;
    assert!((200..300).contains(&status));
    let (_, before) = a.call("GET", "/subscriptions", None).await;

    broker.kill().unwrap();
    // While the broker is down a write fails with 503 and a message; nothing half-applies.
    let (status, body) = a
        .call("POST", "/subscriptions", Some(create("service://Svc/i")))
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("metadata"),
        "{body}"
    );
    broker.restart().unwrap();

    // After the restart: the same state on the old process and on a new one, in the same
    // order, and writes work again.
    let b = Process::start(&dir, &config, "b").await;
    let (_, after_b) = b.call("GET", "/subscriptions", None).await;
    assert_eq!(after_b, before);
    let (_, after_a) = a.call("GET", "/subscriptions", None).await;
    assert_eq!(after_a, before);
    assert_eq!(b.status(&ids[0]).await["state"], "paused");
    let deadline = Instant::now() + Duration::from_secs(60);
    let id = loop {
        let (status, sub) = b
            .call("POST", "/subscriptions", Some(create("service://Svc/i")))
            .await;
        if status == 201 {
            break sub["id"].as_str().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "{status} {sub}\n{}",
            b.server.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    until_everywhere(&[&a, &b], "created after the restart", |p| {
        let id = id.clone();
        async move { p.subscription_ids().await.contains(&id) }
    })
    .await;
}
