//! The real `kafka-ingress` binary driven as a user drives it: a config file with several
//! clusters (two real brokers), a deployment registered over HTTP, subscriptions created with
//! requests shaped exactly like the reference docs' curl commands, deliveries, list/get/delete,
//! a graceful restart (SIGTERM: clean exit, offsets committed, nothing redelivered, nothing
//! lost), and a crash (SIGKILL mid-stream: everything delivered at least once, duplicates
//! carry the same idempotency key).

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use testkit::{
    Behaviour, BrokerKind, KafkaCluster, PrivateBroker, RecordedRequest, RecordingHandler,
    TestClient, TestRecord,
};

/// A running `kafka-ingress` process.
struct Server {
    child: Child,
    admin: String,
    log: PathBuf,
}

impl Server {
    fn start(config: &Path, base_dir: &Path, port: u16, log: PathBuf) -> Server {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_kafka-ingress"))
            .arg("--config-file")
            .arg(config)
            .arg("--base-dir")
            .arg(base_dir)
            .arg("--admin-bind")
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "info,ingress=info")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Server {
            child,
            admin: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _, _)) = try_call("GET", &format!("{}/health", self.admin), None).await
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("kafka-ingress exited with {status}:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "not healthy:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// SIGTERM and wait for the exit status.
    async fn terminate(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit after SIGTERM:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, _, body) = try_call(method, &format!("{}{path}", self.admin), body)
            .await
            .unwrap();
        (status, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One JSON HTTP call: (status, headers, body as JSON or string).
async fn try_call(
    method: &str,
    url: &str,
    body: Option<Value>,
) -> Result<(u16, http::HeaderMap, Value), String> {
    let client: Client<_, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = http::Request::builder().method(method).uri(url);
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            Full::new(Bytes::from(v.to_string()))
        }
        None => Full::new(Bytes::new()),
    };
    let resp = tokio::time::timeout(
        Duration::from_secs(60),
        client.request(req.body(body).unwrap()),
    )
    .await
    .map_err(|_| "timeout".to_owned())?
    .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok((status, headers, value))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Successful deliveries per (path, partition, offset).
fn delivered(reqs: &[RecordedRequest], path: &str) -> BTreeMap<(i32, i64), Vec<String>> {
    let mut out: BTreeMap<(i32, i64), Vec<String>> = BTreeMap::new();
    for r in reqs
        .iter()
        .filter(|r| r.path == path && (200..300).contains(&r.status))
    {
        let p = r.header("kafka.partition").unwrap().parse().unwrap();
        let o = r.header("kafka.offset").unwrap().parse().unwrap();
        out.entry((p, o))
            .or_default()
            .push(r.header("idempotency-key").unwrap().to_owned());
    }
    out
}

async fn wait_delivered(h: &RecordingHandler, path: &str, n: usize, server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let got = delivered(&h.requests(), path).len();
        if got >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: {got} of {n} delivered\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the subscription owns partitions (so `latest` starts before what we produce).
async fn wait_assigned(server: &Server, id: &str, partitions: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = server
            .call("GET", &format!("/subscriptions/{id}/status"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        let owned = body["partitions"].as_array().map_or(0, Vec::len);
        let started = body["partitions"]
            .as_array()
            .is_some_and(|ps| ps.iter().all(|p| p["committed"].is_i64()));
        if owned == partitions && started && body["state"] == "running" {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{id} not assigned: {body}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn values(prefix: &str, n: usize) -> Vec<TestRecord> {
    (0..n)
        .map(|i| {
            TestRecord::keyed(
                &format!("k{}", i % 7),
                json!({"n": i, "p": prefix}).to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_restarts_and_recovers_like_a_user_expects() {
    let kafka1 = KafkaCluster::shared().unwrap().bootstrap().to_owned();
    let broker2 = PrivateBroker::start(BrokerKind::from_env().unwrap()).unwrap();
    let kafka2 = broker2.bootstrap().to_owned();
    let c1 = TestClient::connect(&kafka1).await.unwrap();
    let c2 = TestClient::connect(&kafka2).await.unwrap();
    let my_topic = c1.create_topic("e2e-my", 2).await.unwrap();
    let topic1 = c1.create_topic("e2e-t1", 1).await.unwrap();
    let topic2 = c2.create_topic("e2e-t2", 1).await.unwrap();

    let h = RecordingHandler::start(RecordingHandler::manifest(
        "MyService",
        "SERVICE",
        &["handle", "handleCluster1", "handleCluster2"],
    ))
    .await
    .unwrap();

    let dir = std::env::temp_dir().join(format!("kafka-ingress-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("restate.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[ingress.kafka-clusters]]
name = "my-cluster"
brokers = ["PLAINTEXT://{kafka1}"]
# A killed instance's membership expires after this (the restart waits for it).
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"

[[ingress.kafka-clusters]]
name = "my-cluster-1"
brokers = ["PLAINTEXT://{kafka1}"]
"auto.commit.interval.ms" = "200"

[[ingress.kafka-clusters]]
name = "my-cluster-2"
brokers = ["PLAINTEXT://{kafka2}"]
"#
        ),
    )
    .unwrap();
    let base_dir = dir.join("data");
    let port = free_port();
    let log = dir.join("kafka-ingress.log");
    let mut server = Server::start(&config, &base_dir, port, log.clone());
    server.wait_healthy().await;

    // Register the handler service like `curl localhost:9070/deployments -d '{"uri": ...}'`.
    let (status, dep) = server
        .call("POST", "/deployments", Some(json!({"uri": h.url()})))
        .await;
    assert_eq!(status, 201, "{dep}");

    // The docs' three subscriptions, byte-for-byte shapes.
    let (status, sub) = server
        .call(
            "POST",
            "/subscriptions",
            Some(json!({
                "source": format!("kafka://my-cluster/{my_topic}"),
                "sink": "service://MyService/handle",
                "options": {"auto.offset.reset": "earliest"}
            })),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    let sub_main = sub["id"].as_str().unwrap().to_owned();
    assert!(sub_main.starts_with("sub_"));
    assert_eq!(sub["options"]["group.id"], sub_main.as_str());
    let mut ids = vec![sub_main.clone()];
    for (cluster, topic, handler) in [
        ("my-cluster-1", &topic1, "handleCluster1"),
        ("my-cluster-2", &topic2, "handleCluster2"),
    ] {
        let (status, sub) = server
            .call(
                "POST",
                "/subscriptions",
                Some(json!({
                    "source": format!("kafka://{cluster}/{topic}"),
                    "sink": format!("service://MyService/{handler}")
                })),
            )
            .await;
        assert_eq!(status, 201, "{sub}");
        ids.push(sub["id"].as_str().unwrap().to_owned());
    }
    let (sub_c1, sub_c2) = (ids[1].clone(), ids[2].clone());

    // Records: `earliest` sees what was there before; `latest` (the default) what comes after
    // the assignment.
    c1.produce_keyed(&my_topic, 2, values("a", 100), 50)
        .await
        .unwrap();
    wait_assigned(&server, &sub_c1, 1).await;
    wait_assigned(&server, &sub_c2, 1).await;
    c1.produce_to(&topic1, 0, values("c1", 20)).await.unwrap();
    c2.produce_to(&topic2, 0, values("c2", 20)).await.unwrap();
    wait_delivered(&h, "/MyService/handle", 100, &server).await;
    wait_delivered(&h, "/MyService/handleCluster1", 20, &server).await;
    wait_delivered(&h, "/MyService/handleCluster2", 20, &server).await;
    let first = h.requests();
    let r = first
        .iter()
        .find(|r| r.path == "/MyService/handleCluster2")
        .unwrap();
    assert_eq!(r.header("restate.subscription.id"), Some(sub_c2.as_str()));
    assert_eq!(r.header("kafka.topic"), Some(topic2.as_str()));

    // list / get / filter / delete.
    let (status, list) = server.call("GET", "/subscriptions", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["subscriptions"].as_array().unwrap().len(), 3);
    let (_, filtered) = server
        .call(
            "GET",
            "/subscriptions?sink=service://MyService/handleCluster1",
            None,
        )
        .await;
    let filtered = filtered["subscriptions"].as_array().unwrap().clone();
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0]["id"], sub_c1.as_str());
    let (status, got) = server
        .call("GET", &format!("/subscriptions/{sub_c2}"), None)
        .await;
    assert_eq!((status, got["id"].as_str()), (200, Some(sub_c2.as_str())));
    let (status, _) = server
        .call("DELETE", &format!("/subscriptions/{sub_c2}"), None)
        .await;
    assert_eq!(status, 202);
    let (status, _) = server
        .call("GET", &format!("/subscriptions/{sub_c2}"), None)
        .await;
    assert_eq!(status, 404);

    // Graceful restart: SIGTERM -> exit 0 with offsets committed; records produced while it
    // is down are delivered after the restart, and nothing before them is delivered again.
    let status = server.terminate().await;
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    let before_restart = h.count();
    c1.produce_keyed(&my_topic, 2, values("b", 60), 30)
        .await
        .unwrap();
    c1.produce_to(&topic1, 0, values("c1b", 10)).await.unwrap();
    let mut server = Server::start(&config, &base_dir, port, log.clone());
    server.wait_healthy().await;
    let (_, list) = server.call("GET", "/subscriptions", None).await;
    let listed: Vec<&str> = list["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        vec![sub_main.as_str(), sub_c1.as_str()],
        "persisted across restart"
    );
    wait_delivered(&h, "/MyService/handle", 160, &server).await;
    wait_delivered(&h, "/MyService/handleCluster1", 30, &server).await;
    let after = h.requests();
    let new_requests = &after[before_restart..];
    assert_eq!(
        new_requests.len(),
        70,
        "after a graceful stop only the 70 new records are delivered (offsets were committed)"
    );

    // Crash: SIGKILL while a slow handler has records in flight; restart; everything is
    // delivered at least once, and every duplicate carries the same idempotency key.
    h.set_default(Behaviour {
        delay: Duration::from_millis(200),
        ..Behaviour::default()
    });
    c1.produce_keyed(&my_topic, 2, values("c", 300), 100)
        .await
        .unwrap();
    wait_delivered(&h, "/MyService/handle", 160 + 100, &server).await;
    server.kill();
    let mut server = Server::start(&config, &base_dir, port, log.clone());
    server.wait_healthy().await;
    wait_delivered(&h, "/MyService/handle", 160 + 300, &server).await;
    let all = delivered(&h.requests(), "/MyService/handle");
    assert_eq!(all.len(), 460, "every record delivered at least once");
    let mut duplicates = 0;
    for ((p, o), keys) in &all {
        assert!(
            keys.iter().all(|k| *k == format!("{sub_main}-{p}-{o}")),
            "same idempotency key on every delivery of {p}/{o}: {keys:?}"
        );
        duplicates += keys.len() - 1;
    }
    eprintln!("e2e: {duplicates} duplicates after SIGKILL");

    // Final graceful stop: exit 0; a new start finds everything committed (no redelivery).
    let status = server.terminate().await;
    assert!(status.success());
    let settled = h.count();
    let mut server = Server::start(&config, &base_dir, port, log.clone());
    server.wait_healthy().await;
    let st = wait_assigned(&server, &sub_main, 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        h.count(),
        settled,
        "nothing redelivered after a clean stop: {st}"
    );
    let status = server.terminate().await;
    assert!(status.success());
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("kafka-ingress stopped"), "{log_text}");
    assert!(!log_text.contains("panicked"), "{log_text}");
    drop(broker2);
    let _ = std::fs::remove_dir_all(&dir);
}
