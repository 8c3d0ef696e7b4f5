//! Captures response frames from a real broker as test vectors for `kafka-proto`.
//!
//! ```sh
//! B=$(scripts/kafka.sh start --port 39092 | tail -1)
//! cargo run -p ingress --example capture_vectors -- $B kafka-proto/tests/vectors
//! scripts/kafka.sh stop --port 39092
//! ```
//!
//! Writes `<name>.bin` (the response frame after its size prefix: header, then body) and
//! appends a line `<name> <api> <version> <description>` to `INDEX`. The compressed batches
//! are produced by the Java producer (Kafka's ConsoleProducer) so the bytes are another
//! implementation's, not ours.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a developer tool: fail loudly

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ingress::kafka::{Broker, ConnectionSettings, TcpConnector};
use kafka_proto::messages::api_versions::ApiVersionsRequest;
use kafka_proto::messages::fetch::{FetchPartition, FetchRequest, FetchTopic};
use kafka_proto::messages::metadata::{MetadataRequest, MetadataRequestTopic};
use kafka_proto::primitives::Uuid;
use kafka_proto::Request;
use testkit::{TestClient, TestRecord};

struct Out {
    dir: PathBuf,
    index: Vec<String>,
}

impl Out {
    fn save(&mut self, name: &str, api: &str, version: i16, what: &str, frame: &[u8]) {
        std::fs::write(self.dir.join(format!("{name}.bin")), frame).unwrap();
        self.index.push(format!("{name} {api} {version} {what}"));
        eprintln!("captured {name}: {api} v{version}, {} bytes", frame.len());
    }
}

async fn raw<R: Request>(broker: &Broker, req: &R) -> (i16, bytes::Bytes) {
    broker.request_raw(req).await.unwrap()
}

async fn topic_id(broker: &Broker, topic: &str) -> Uuid {
    let md = broker
        .request(&MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some(topic.to_owned()),
                ..Default::default()
            }]),
            ..Default::default()
        })
        .await
        .unwrap();
    md.topics[0].topic_id
}

fn fetch_request(topic: &str, id: Uuid) -> FetchRequest {
    FetchRequest {
        max_wait_ms: 200,
        min_bytes: 1,
        max_bytes: 1 << 20,
        isolation_level: 1,
        topics: vec![FetchTopic {
            topic: topic.to_owned(),
            topic_id: id,
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: 0,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn java_produce(bootstrap: &str, topic: &str, codec: &str, lines: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka.sh");
    let mut child = Command::new("bash")
        .arg(script)
        .args(["run-class", "org.apache.kafka.tools.ConsoleProducer"])
        .args(["--bootstrap-server", bootstrap, "--topic", topic])
        .args([
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
        ])
        .args(["--compression-codec", codec])
        .args(["--producer-property", "linger.ms=2000"])
        .args(["--producer-property", "batch.size=1000000"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "ConsoleProducer failed");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bootstrap = args
        .get(1)
        .expect("usage: capture_vectors <bootstrap> <out-dir>");
    let dir = PathBuf::from(
        args.get(2)
            .expect("usage: capture_vectors <bootstrap> <out-dir>"),
    );
    std::fs::create_dir_all(&dir).unwrap();
    let mut out = Out {
        dir: dir.clone(),
        index: Vec::new(),
    };
    let (host, port) = bootstrap.rsplit_once(':').unwrap();
    let settings = ConnectionSettings {
        client_id: "kafka-ingress-capture".into(),
        request_timeout: Duration::from_secs(10),
        max_response_bytes: 100 << 20,
        sasl: None,
    };
    let broker = Broker::connect(
        &TcpConnector {
            connect_timeout: Duration::from_secs(5),
        },
        host,
        port.parse().unwrap(),
        &settings,
    )
    .await
    .unwrap();
    let client = TestClient::connect(bootstrap).await.unwrap();

    let (v, f) = raw(
        &broker,
        &ApiVersionsRequest {
            client_software_name: "kafka-ingress".into(),
            client_software_version: "0.1.0".into(),
            unknown_tagged_fields: vec![],
        },
    )
    .await;
    out.save(
        "api_versions",
        "ApiVersions",
        v,
        "the broker's ApiVersions answer",
        &f,
    );

    // Several uncompressed batches with keys and headers, written by rskafka.
    client.create_topic_named("vectors-plain", 2).await.unwrap();
    for b in 0..3 {
        let recs = (0..5)
            .map(|i| {
                TestRecord::keyed(&format!("k{}", b * 5 + i), format!("value-{}", b * 5 + i))
                    .header("h1", format!("a{i}"))
                    .header("h2", "b")
            })
            .collect();
        client.produce_to("vectors-plain", 0, recs).await.unwrap();
    }
    let (v, f) = raw(
        &broker,
        &MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some("vectors-plain".into()),
                ..Default::default()
            }]),
            ..Default::default()
        },
    )
    .await;
    out.save(
        "metadata",
        "Metadata",
        v,
        "metadata of topic vectors-plain (2 partitions)",
        &f,
    );
    let id = topic_id(&broker, "vectors-plain").await;
    let (v, f) = raw(&broker, &fetch_request("vectors-plain", id)).await;
    out.save(
        "fetch_plain",
        "Fetch",
        v,
        "vectors-plain/0: 3 uncompressed batches of 5 records k<n>=value-<n>, headers h1=a<i>, h2=b",
        &f,
    );

    // One compressed batch per codec, written by the Java producer.
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("vectors-{codec}");
        client.create_topic_named(&topic, 1).await.unwrap();
        let lines: String = (0..20)
            .map(|i| format!("k{i}:value-{i}-{codec}\n"))
            .collect();
        java_produce(bootstrap, &topic, codec, &lines);
        let id = topic_id(&broker, &topic).await;
        let (v, f) = raw(&broker, &fetch_request(&topic, id)).await;
        out.save(
            &format!("fetch_{codec}"),
            "Fetch",
            v,
            &format!("{topic}/0: 20 records k<n>=value-<n>-{codec}, {codec}-compressed by the Java producer"),
            &f,
        );
    }
    let mut index = out.index.join("\n");
    index.push('\n');
    std::fs::write(dir.join("INDEX"), index).unwrap();
}
