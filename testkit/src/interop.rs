//! Other Kafka clients as child processes, for interop tests: librdkafka through the Python
//! package confluent-kafka (scripts in `testkit/py/`, interpreter from `KAFKA_INGRESS_PYTHON`,
//! set by `scripts/test.sh` from `scripts/python-deps.sh`) and Kafka's Java console consumer
//! through `scripts/kafka.sh run-class`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::broker::kafka_script;
use crate::{lock, TestkitError};

/// The Python interpreter with confluent-kafka installed, from `KAFKA_INGRESS_PYTHON`.
pub fn python() -> Result<PathBuf, TestkitError> {
    match std::env::var("KAFKA_INGRESS_PYTHON") {
        Ok(p) if !p.trim().is_empty() => {
            let p = PathBuf::from(p.trim());
            if p.exists() {
                Ok(p)
            } else {
                Err(TestkitError::Broker(format!(
                    "KAFKA_INGRESS_PYTHON={} does not exist; run scripts/python-deps.sh",
                    p.display()
                )))
            }
        }
        _ => Err(TestkitError::Broker(
            "the interop tests need Python with confluent-kafka: run them through \
             scripts/test.sh, or set KAFKA_INGRESS_PYTHON=\"$(scripts/python-deps.sh | tail -1)\""
                .into(),
        )),
    }
}

/// Path of a script in `testkit/py/`.
pub fn py_script(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/py")).join(name)
}

/// Output lines of a child process, collected by a background task.
#[derive(Debug, Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn follow(&self, stream: impl tokio::io::AsyncRead + Unpin + Send + 'static) {
        let lines = self.0.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lock(&lines).push(line);
            }
        });
    }

    /// A copy of the lines so far.
    pub fn snapshot(&self) -> Vec<String> {
        lock(&self.0).clone()
    }

    /// The last `n` lines, joined (for failure messages).
    pub fn tail(&self, n: usize) -> String {
        let l = lock(&self.0);
        l[l.len().saturating_sub(n)..].join("\n")
    }
}

/// A librdkafka group member (`testkit/py/rdkafka_member.py`): it reports its assignment
/// on every change. Killed (SIGKILL) on drop.
#[derive(Debug)]
pub struct RdkafkaMember {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines,
    stderr: Lines,
}

impl RdkafkaMember {
    /// Starts a member of `group` on `topic` with the librdkafka `strategy`
    /// (`range`, `roundrobin`, `cooperative-sticky`) and `session.timeout.ms`.
    pub fn start(
        bootstrap: &str,
        group: &str,
        topic: &str,
        strategy: &str,
        session_timeout_ms: u32,
    ) -> Result<Self, TestkitError> {
        let mut child = Command::new(python()?)
            .arg(py_script("rdkafka_member.py"))
            .args(["--bootstrap", bootstrap, "--group", group, "--topic", topic])
            .args(["--strategy", strategy])
            .args(["--session-timeout-ms", &session_timeout_ms.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| TestkitError::Broker(format!("cannot start rdkafka_member.py: {e}")))?;
        let stdout = Lines::default();
        let stderr = Lines::default();
        if let Some(s) = child.stdout.take() {
            stdout.follow(s);
        }
        if let Some(s) = child.stderr.take() {
            stderr.follow(s);
        }
        let stdin = child.stdin.take();
        Ok(RdkafkaMember {
            child,
            stdin,
            stdout,
            stderr,
        })
    }

    /// The member's latest reported assignment, as (topic, partition).
    pub fn assignment(&self) -> BTreeSet<(String, i32)> {
        let lines = self.stdout.snapshot();
        lines
            .iter()
            .rev()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|v| {
                v.get("assignment")?.as_array().map(|parts| {
                    parts
                        .iter()
                        .filter_map(|p| {
                            let topic = p.get(0)?.as_str()?.to_owned();
                            let partition = i32::try_from(p.get(1)?.as_i64()?).ok()?;
                            Some((topic, partition))
                        })
                        .collect()
                })
            })
            .unwrap_or_default()
    }

    /// Its stdout so far (one JSON line per assignment change).
    pub fn stdout(&self) -> &Lines {
        &self.stdout
    }

    /// Its stderr so far (librdkafka's log lines).
    pub fn stderr(&self) -> &Lines {
        &self.stderr
    }

    /// Closes stdin: the member closes its consumer (LeaveGroup) and exits; waits for that.
    pub async fn close(mut self) -> Result<(), TestkitError> {
        drop(self.stdin.take());
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(TestkitError::Kafka(format!(
                "rdkafka_member.py exited with {status}:\n{}",
                self.stderr.tail(20)
            ))),
            Ok(Err(e)) => Err(TestkitError::Kafka(format!(
                "waiting for rdkafka_member.py: {e}"
            ))),
            Err(_) => Err(TestkitError::Kafka(
                "rdkafka_member.py did not exit within 30 s of stdin closing".into(),
            )),
        }
    }

    /// Kills the member with SIGKILL: no LeaveGroup, like a crash.
    pub async fn kill(&mut self) -> Result<(), TestkitError> {
        self.child
            .kill()
            .await
            .map_err(|e| TestkitError::Kafka(format!("cannot kill rdkafka_member.py: {e}")))
    }
}

/// Runs `testkit/py/txn_producer.py`: to `partition` of `topic` it writes a committed
/// transaction of `committed` records `committed-0..`, an aborted one of `aborted` records
/// `aborted-0..`, then a committed one of `more` records continuing the `committed-` numbers.
pub async fn produce_transactions(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    transactional_id: &str,
    (committed, aborted, more): (u32, u32, u32),
) -> Result<(), TestkitError> {
    let run = Command::new(python()?)
        .arg(py_script("txn_producer.py"))
        .args(["--bootstrap", bootstrap, "--topic", topic])
        .args(["--partition", &partition.to_string()])
        .args(["--transactional-id", transactional_id])
        .args(["--committed", &committed.to_string()])
        .args(["--aborted", &aborted.to_string()])
        .args(["--more", &more.to_string()])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .map_err(|_| TestkitError::Kafka("txn_producer.py did not finish within 90 s".into()))?
        .map_err(|e| TestkitError::Kafka(format!("cannot run txn_producer.py: {e}")))?;
    if !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("\"done\"") {
        return Err(TestkitError::Kafka(format!(
            "txn_producer.py failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// Kafka's Java console consumer (`org.apache.kafka.tools.consumer.ConsoleConsumer`, classic
/// or KIP-848 group protocol) in a group, printing partition, offset and value of every record.
/// Killed on drop.
#[derive(Debug)]
pub struct JavaConsoleConsumer {
    child: Child,
    stdout: Lines,
    stderr: Lines,
}

impl JavaConsoleConsumer {
    /// Starts it in `group` on `topic` with the Java `assignor` class name, from the earliest
    /// offset when the group has none committed.
    pub fn start(
        bootstrap: &str,
        group: &str,
        topic: &str,
        assignor: &str,
        session_timeout_ms: u32,
    ) -> Result<Self, TestkitError> {
        Self::start_with(
            bootstrap,
            group,
            topic,
            &[
                "group.protocol=classic".to_owned(),
                format!("partition.assignment.strategy={assignor}"),
                format!("session.timeout.ms={session_timeout_ms}"),
                "heartbeat.interval.ms=500".to_owned(),
            ],
        )
    }

    /// Starts it in `group` on `topic` with the KIP-848 protocol (`group.protocol=consumer`:
    /// the broker assigns, and its session timeout applies).
    pub fn start_consumer_protocol(
        bootstrap: &str,
        group: &str,
        topic: &str,
    ) -> Result<Self, TestkitError> {
        Self::start_with(
            bootstrap,
            group,
            topic,
            &["group.protocol=consumer".to_owned()],
        )
    }

    /// Starts it with these consumer properties (`name=value`) besides the common ones.
    pub fn start_with(
        bootstrap: &str,
        group: &str,
        topic: &str,
        properties: &[String],
    ) -> Result<Self, TestkitError> {
        let mut command = Command::new("bash");
        command
            .arg(kafka_script())
            .args([
                "run-class",
                "org.apache.kafka.tools.consumer.ConsoleConsumer",
            ])
            .args([
                "--bootstrap-server",
                bootstrap,
                "--topic",
                topic,
                "--group",
                group,
            ])
            .arg("--from-beginning");
        for p in properties {
            command.arg("--consumer-property").arg(p);
        }
        let mut child = command
            .args(["--consumer-property", "auto.commit.interval.ms=200"])
            .args(["--property", "print.partition=true"])
            .args(["--property", "print.offset=true"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| TestkitError::Broker(format!("cannot start ConsoleConsumer: {e}")))?;
        let stdout = Lines::default();
        let stderr = Lines::default();
        if let Some(s) = child.stdout.take() {
            stdout.follow(s);
        }
        if let Some(s) = child.stderr.take() {
            stderr.follow(s);
        }
        Ok(JavaConsoleConsumer {
            child,
            stdout,
            stderr,
        })
    }

    /// The records printed so far: (partition, offset, value). Log lines are skipped.
    pub fn records(&self) -> Vec<(i32, i64, String)> {
        self.stdout
            .snapshot()
            .iter()
            .filter_map(|line| {
                let mut fields = line.splitn(3, '\t');
                let partition = fields.next()?.strip_prefix("Partition:")?.parse().ok()?;
                let offset = fields.next()?.strip_prefix("Offset:")?.parse().ok()?;
                Some((partition, offset, fields.next()?.to_owned()))
            })
            .collect()
    }

    /// Its stdout so far (records and log lines).
    pub fn stdout(&self) -> &Lines {
        &self.stdout
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> &Lines {
        &self.stderr
    }

    /// Stops it (the JVM is killed; its group membership then times out).
    pub async fn stop(mut self) -> Result<(), TestkitError> {
        self.child
            .kill()
            .await
            .map_err(|e| TestkitError::Kafka(format!("cannot stop ConsoleConsumer: {e}")))
    }
}
