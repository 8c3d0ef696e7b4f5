//! kafka-ingress in front of a real Restate server (npm `@restatedev/restate-server` 1.7.12)
//! and a real Restate SDK endpoint (TypeScript SDK 1.17.2, `testkit/restate-endpoint/`), both
//! installed by `scripts/restate-server.sh`:
//! - a handler Restate does not know: Restate's own message is in the stuck record's status;
//! - the Restate deployment registered by its admin URL: services, types and handler kinds
//!   come from Restate;
//! - keyed records into a virtual object while its handler is also called by RPC, with a
//!   `kill -9` of kafka-ingress mid-stream and nothing committed before it: every record is
//!   delivered again after the restart, and Restate's own state shows each record's handler
//!   ran once, in per-key order (Restate dedups by the `idempotency-key`);
//! - the service removed from Restate: the periodic refresh makes the subscription `failed`.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::{KafkaCluster, TestClient, TestRecord};

use support::{free_port, fresh_dir, installed_by, try_call, wait_assigned, Server};

/// Distinct record keys (virtual-object keys).
const KEYS: usize = 8;
/// Records per key produced before the crash, and after it.
const BEFORE: usize = 100;
const AFTER: usize = 25;

/// The install directory of `scripts/restate-server.sh`.
fn restate_install() -> PathBuf {
    installed_by("KAFKA_INGRESS_RESTATE_SERVER", "restate-server.sh")
}

/// A child process killed on drop.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(cmd: &mut Command, log: PathBuf) -> Process {
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        Process { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn assert_alive(&mut self, what: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{what} exited with {status}:\n{}", self.log());
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Restate server and the SDK endpoint registered with it.
struct Restate {
    admin: String,
    ingress: String,
    endpoint_deployment: String,
    server: Process,
    _endpoint: Process,
}

impl Restate {
    async fn start(install: &Path, dir: &Path) -> Restate {
        let (admin_port, ingress_port, node_port, ep_port) =
            (free_port(), free_port(), free_port(), free_port());
        let mut endpoint = Process::spawn(
            Command::new("node")
                .arg(install.join("endpoint.mjs"))
                .current_dir(install)
                .env("PORT", ep_port.to_string()),
            dir.join("endpoint.log"),
        );
        let mut server = Process::spawn(
            Command::new(install.join("bin/restate-server"))
                .args(["--base-dir"])
                .arg(dir.join("restate-data"))
                .args(["--node-name", "n1", "--no-logo"])
                .env(
                    "RESTATE_ADMIN__BIND_ADDRESS",
                    format!("127.0.0.1:{admin_port}"),
                )
                .env(
                    "RESTATE_INGRESS__BIND_ADDRESS",
                    format!("127.0.0.1:{ingress_port}"),
                )
                .env("RESTATE_BIND_ADDRESS", format!("127.0.0.1:{node_port}"))
                .env(
                    "RESTATE_ADVERTISED_ADDRESS",
                    format!("http://127.0.0.1:{node_port}/"),
                )
                .env("RESTATE_LISTEN_MODE", "tcp")
                .env("RESTATE_DISABLE_TELEMETRY", "true")
                .env("RESTATE_LOG_DISABLE_ANSI_CODES", "true"),
            dir.join("restate-server.log"),
        );
        let admin = format!("http://127.0.0.1:{admin_port}");
        let ingress = format!("http://127.0.0.1:{ingress_port}");

        // The SDK endpoint is registered once the admin API answers (and the endpoint listens).
        let deadline = Instant::now() + Duration::from_secs(60);
        let endpoint_deployment = loop {
            server.assert_alive("restate-server");
            endpoint.assert_alive("the Restate SDK endpoint");
            if let Ok((status, _, body)) = try_call(
                "POST",
                &format!("{admin}/deployments"),
                Some(json!({"uri": format!("http://127.0.0.1:{ep_port}")})),
            )
            .await
            {
                if status == 200 || status == 201 {
                    break body["id"].as_str().unwrap().to_owned();
                }
            }
            assert!(
                Instant::now() < deadline,
                "Restate did not register its SDK endpoint:\n{}\n{}",
                server.log(),
                endpoint.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let restate = Restate {
            admin,
            ingress,
            endpoint_deployment,
            server,
            _endpoint: endpoint,
        };
        // Its partitions take a moment to have leaders: wait until an invocation works.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _, _)) = try_call(
                "POST",
                &format!("{}/Svc/echo", restate.ingress),
                Some(json!({"ping": 1})),
            )
            .await
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Restate's ingress does not invoke:\n{}",
                restate.server_log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        restate
    }

    fn server_log(&self) -> String {
        self.server.log()
    }

    /// `Counter/<key>/get` through Restate's ingress (a shared handler: runs beside `add`).
    async fn counter(&self, key: &str) -> Value {
        let (status, _, body) = try_call(
            "POST",
            &format!("{}/Counter/{key}/get", self.ingress),
            Some(json!(null)),
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "Counter/{key}/get: {body}");
        body
    }

    /// Sum of every key's count.
    async fn total(&self) -> u64 {
        let mut sum = 0;
        for k in 0..KEYS {
            sum += self.counter(&key(k)).await["count"].as_u64().unwrap();
        }
        sum
    }
}

fn key(k: usize) -> String {
    format!("key-{k}")
}

/// `kafka_ingress_records_delivered_total` of this process, all subscriptions.
async fn delivered_total(server: &Server) -> u64 {
    let (_, _, body) = try_call("GET", &format!("{}/metrics", server.admin), None)
        .await
        .unwrap();
    let text = body.as_str().unwrap_or_default().to_owned();
    text.lines()
        .filter(|l| l.starts_with("kafka_ingress_records_delivered_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Keyed records `{"k": key, "seq": i}` for `seq` in `from..to`, every key.
fn records(from: usize, to: usize) -> Vec<TestRecord> {
    (from..to)
        .flat_map(|seq| {
            (0..KEYS).map(move |k| {
                TestRecord::keyed(&key(k), json!({"k": key(k), "seq": seq}).to_string())
            })
        })
        .collect()
}

async fn wait_status(
    server: &Server,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
    restate: &Restate,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = server
            .call("GET", &format!("/subscriptions/{id}/status"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        if done(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {body}\n{}\n{}",
            server.log(),
            restate.server_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restate_server_is_the_sink_with_services_from_its_admin_api_and_each_handler_runs_once()
{
    let install = restate_install();
    let bootstrap = KafkaCluster::shared().unwrap().bootstrap().to_owned();
    let client = TestClient::connect(&bootstrap).await.unwrap();
    let dir = fresh_dir("restate-sink");
    let restate = Restate::start(&install, &dir).await;

    let config = dir.join("restate.toml");
    std::fs::write(
        &config,
        format!(
            "[ingress]\nrestate-refresh-interval-ms = 1000\n\n\
             [[ingress.kafka-clusters]]\nname = \"local\"\nbrokers = [\"PLAINTEXT://{bootstrap}\"]\n"
        ),
    )
    .unwrap();
    let (data, port) = (dir.join("data"), free_port());
    let mut server = Server::start(&config, &data, port, dir.join("log"));
    server.wait_healthy().await;

    // 1. A handler Restate does not know (an inline manifest, so nothing checks it first):
    //    the stuck record's status carries Restate's own message.
    let ghost_uri = restate.ingress.replace("127.0.0.1", "localhost");
    let (status, ghost) = server
        .call(
            "POST",
            "/deployments",
            Some(
                json!({"uri": ghost_uri, "services": [{"name": "Counter", "ty": "VIRTUAL_OBJECT",
                "handlers": [{"name": "nope"}]}]}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{ghost}");
    let ghost_topic = client.create_topic("restate-sink-ghost", 1).await.unwrap();
    let (status, sub) = server
        .call(
            "POST",
            "/subscriptions",
            Some(json!({"source": format!("kafka://local/{ghost_topic}"),
                "sink": "service://Counter/nope",
                // (tansu answers a first JoinGroup only after about a session timeout.)
                "options": {"auto.offset.reset": "earliest", "session.timeout.ms": "6000"}})),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    let ghost_sub = sub["id"].as_str().unwrap().to_owned();
    client
        .produce_keyed(&ghost_topic, 1, vec![TestRecord::keyed("a", "{}")], 1)
        .await
        .unwrap();
    let st = wait_status(
        &server,
        &ghost_sub,
        "Restate's message in the stuck record",
        |s| {
            s["partitions"][0]["stuck"]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("handler 'nope' was not found"))
        },
        &restate,
    )
    .await;
    let last_error = st["partitions"][0]["stuck"]["last_error"].as_str().unwrap();
    assert!(last_error.contains("404"), "{last_error}");
    let (status, body) = server
        .call("DELETE", &format!("/subscriptions/{ghost_sub}"), None)
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = server
        .call(
            "DELETE",
            &format!("/deployments/{}?force=true", ghost["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert!(status == 202 || status == 200, "{status} {body}");

    // 2. The Restate server as a deployment: its ingress, and its admin API for the services.
    let (status, dep) = server
        .call(
            "POST",
            "/deployments",
            Some(json!({"uri": restate.ingress, "restate_admin_url": restate.admin})),
        )
        .await;
    assert_eq!(status, 201, "{dep}");
    assert_eq!(dep["restate_admin_url"], restate.admin.as_str(), "{dep}");
    let (status, counter) = server.call("GET", "/services/Counter", None).await;
    assert_eq!(status, 200, "{counter}");
    assert_eq!(counter["ty"], "VirtualObject", "{counter}");
    let kinds: BTreeMap<String, String> = counter["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_owned(),
                h["ty"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(kinds.get("add").map(String::as_str), Some("Exclusive"));
    assert_eq!(kinds.get("get").map(String::as_str), Some("Shared"));
    let (status, svc) = server.call("GET", "/services/Svc", None).await;
    assert_eq!(status, 200, "{svc}");
    assert_eq!(svc["ty"], "Service", "{svc}");

    // 3. Keyed records into Counter/add; nothing is committed before the crash (commits only
    //    every 60 s), so after `kill -9` every record is delivered again.
    let topic = client.create_topic("restate-sink", 4).await.unwrap();
    let (status, sub) = server
        .call(
            "POST",
            "/subscriptions",
            Some(json!({"source": format!("kafka://local/{topic}"),
                "sink": "service://Counter/add",
                // (A short session: tansu, without static membership, waits about a session
                // before it answers a JoinGroup, after a crash too.)
                "options": {"auto.offset.reset": "earliest", "auto.commit.interval.ms": "60000",
                    "ingress.commit-delay-ms": "0", "session.timeout.ms": "6000",
                    "heartbeat.interval.ms": "500"}})),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    let id = sub["id"].as_str().unwrap().to_owned();
    wait_assigned(&server, &id, 4).await;
    client
        .produce_keyed(&topic, 4, records(0, BEFORE), KEYS * BEFORE)
        .await
        .unwrap();
    // An RPC caller of the same exclusive handler, while the Kafka records go in: Restate
    // serializes it with them (one count more, in the key's sequence once).
    let (status, _, rpc) = try_call(
        "POST",
        &format!("{}/Counter/{}/add", restate.ingress, key(0)),
        Some(json!({"rpc": true})),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{rpc}");
    // Crash mid-stream: once a quarter has run, before the rest has.
    let deadline = Instant::now() + Duration::from_secs(60);
    while delivered_total(&server).await < (KEYS * BEFORE / 4) as u64 {
        assert!(Instant::now() < deadline, "no progress:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    // What ran before the crash (in-flight requests finish in Restate anyway).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ran_before = restate.total().await - 1; // minus the RPC
    assert!(
        ran_before > 0 && (ran_before as usize) < KEYS * BEFORE,
        "not mid-stream: {ran_before} of {} ran before the crash",
        KEYS * BEFORE
    );

    let mut server = Server::start(&config, &data, port, dir.join("log"));
    server.wait_healthy().await;
    client
        .produce_keyed(&topic, 4, records(BEFORE, BEFORE + AFTER), KEYS * AFTER)
        .await
        .unwrap();
    let total = KEYS * (BEFORE + AFTER);
    let deadline = Instant::now() + Duration::from_secs(120);
    while delivered_total(&server).await < total as u64 {
        assert!(
            Instant::now() < deadline,
            "{} of {total} delivered after the restart:\n{}",
            delivered_total(&server).await,
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The restarted process delivered every record (none had been committed), so the
    // `ran_before` ones twice; Restate ran each once and in order.
    let redelivered = delivered_total(&server).await as usize + ran_before as usize - total;
    for k in 0..KEYS {
        let state = restate.counter(&key(k)).await;
        let seen = state["seen"].as_array().unwrap();
        let seqs: Vec<u64> = seen
            .iter()
            .filter(|v| v.get("rpc").is_none())
            .map(|v| v["seq"].as_u64().unwrap())
            .collect();
        let expected: Vec<u64> = (0..(BEFORE + AFTER) as u64).collect();
        assert_eq!(
            seqs,
            expected,
            "{}: handler runs out of order or repeated",
            key(k)
        );
        let rpcs = seen.iter().filter(|v| v.get("rpc").is_some()).count();
        assert_eq!(rpcs, usize::from(k == 0), "{}: {state}", key(k));
        assert_eq!(
            state["count"].as_u64().unwrap() as usize,
            BEFORE + AFTER + rpcs,
            "{state}"
        );
    }
    eprintln!(
        "restate_sink: {total} records, kill -9 after {ran_before} had run: {redelivered} redelivered, every handler ran once, per-key order kept"
    );
    assert!(
        redelivered >= ran_before as usize,
        "{redelivered} < {ran_before}"
    );

    // 4. Refreshes of an unchanged Restate change nothing (once a second here); the SDK
    //    deployment (hence Counter) removed from Restate: the periodic refresh sees it, and
    //    the subscription fails, saying why.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        !server
            .log()
            .contains("the services of a Restate deployment changed"),
        "an unchanged Restate server was taken as changed:\n{}",
        server.log()
    );
    let (status, _, body) = try_call(
        "DELETE",
        &format!(
            "{}/deployments/{}?force=true",
            restate.admin, restate.endpoint_deployment
        ),
        None,
    )
    .await
    .unwrap();
    assert!((200..300).contains(&status), "{status} {body}");
    let st = wait_status(
        &server,
        &id,
        "failed after Counter left Restate",
        |s| s["state"] == "failed",
        &restate,
    )
    .await;
    let reason = st["reason"].as_str().unwrap();
    assert!(reason.contains("Counter"), "{reason}");
    assert!(
        server
            .log()
            .contains("the services of a Restate deployment changed"),
        "{}",
        server.log()
    );
}
