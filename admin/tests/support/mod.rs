//! Helpers shared by the suites that drive the real `kafka-ingress` binary (`e2e.rs`,
//! `e2e_tls.rs`): the process, JSON calls to its admin API, delivery bookkeeping.

// Each suite is its own crate and uses a different subset.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

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
use testkit::{RecordedRequest, RecordingHandler, TestRecord};

pub mod accounting;

/// A running `kafka-ingress` process.
pub struct Server {
    pub child: Child,
    pub admin: String,
    pub log: PathBuf,
}

impl Server {
    pub fn start(config: &Path, base_dir: &Path, port: u16, log: PathBuf) -> Server {
        Server::start_with_env(config, base_dir, port, log, &[])
    }

    /// [`Server::start`] with extra environment variables (e.g. `SSL_CERT_FILE`).
    pub fn start_with_env(
        config: &Path,
        base_dir: &Path,
        port: u16,
        log: PathBuf,
        env: &[(&str, &str)],
    ) -> Server {
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
            .envs(env.iter().copied())
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

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn wait_healthy(&mut self) {
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

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// SIGTERM and wait for the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
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

    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
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
pub async fn try_call(
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

/// What an install script prints last (`scripts/restate-cli.sh`: the command;
/// `scripts/restate-server.sh`: the install directory): `$env` when set (by `scripts/test.sh`),
/// else the script is run.
pub fn installed_by(env: &str, script: &str) -> PathBuf {
    if let Ok(path) = std::env::var(env) {
        return PathBuf::from(path);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts")
        .join(script);
    let out = Command::new("bash").arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    PathBuf::from(stdout.lines().last().unwrap().trim())
}

/// An empty directory for one test run under the system temp dir.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kafka-ingress-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Successful deliveries per (path, partition, offset).
pub fn delivered(reqs: &[RecordedRequest], path: &str) -> BTreeMap<(i32, i64), Vec<String>> {
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

pub async fn wait_delivered(h: &RecordingHandler, path: &str, n: usize, server: &Server) {
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
pub async fn wait_assigned(server: &Server, id: &str, partitions: usize) -> Value {
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

pub fn values(prefix: &str, n: usize) -> Vec<TestRecord> {
    (0..n)
        .map(|i| {
            TestRecord::keyed(
                &format!("k{}", i % 7),
                json!({"n": i, "p": prefix}).to_string(),
            )
        })
        .collect()
}
