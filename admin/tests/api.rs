//! The admin API over a real `Ingress` (temp base dir, a cluster on `$KAFKA_BOOTSTRAP` plus a
//! second, unreachable one) with `testkit::RecordingHandler` as the deployment: every error
//! path with its status and message, and the happy path the Restate docs describe.
//!
//! Run with `KAFKA_BOOTSTRAP=127.0.0.1:29092 cargo test -p admin --test api`.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use admin::api::{router, ROUTES};
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use ingress::config::{AdminConfig, ClusterConfig, IngressConfig, ServerConfig};
use ingress::manager::Ingress;
use serde_json::{json, Value};
use testkit::{KafkaCluster, RecordingHandler, TestClient, TestRecord};
use tower::ServiceExt;

const CLUSTER: &str = "my-cluster";
const OTHER_CLUSTER: &str = "other-cluster";
const CLUSTER_SECRET: &str = "cluster-secret-value";

/// A router over a fresh ingress in its own base dir (removed on drop).
struct Api {
    app: Router,
    ingress: Arc<Ingress>,
    dir: PathBuf,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One response: status, headers, body bytes.
#[derive(Debug)]
struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no message: {}", self.text()))
            .to_owned()
    }

    /// Asserts the status and that the error message contains every part.
    fn assert_error(&self, status: StatusCode, parts: &[&str]) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.headers.get(header::CONTENT_TYPE).unwrap(),
            "application/json",
            "{}",
            self.text()
        );
        let message = self.message();
        for part in parts {
            assert!(message.contains(part), "{part:?} not in {message:?}");
        }
    }
}

fn temp_dir() -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    std::env::temp_dir().join(format!(
        "kafka-ingress-api-test-{}-{}-{nanos}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ))
}

fn bootstrap() -> String {
    KafkaCluster::shared()
        .expect("a Kafka broker (set KAFKA_BOOTSTRAP)")
        .bootstrap()
        .to_owned()
}

impl Api {
    async fn new() -> Api {
        let dir = temp_dir();
        let config = ServerConfig {
            base_dir: dir.clone(),
            admin: AdminConfig {
                bind_address: "127.0.0.1:0".parse().unwrap(),
            },
            ingress: IngressConfig {
                kafka_clusters: vec![
                    ClusterConfig {
                        name: CLUSTER.into(),
                        brokers: vec![bootstrap()],
                        options: BTreeMap::new(),
                    },
                    ClusterConfig {
                        name: OTHER_CLUSTER.into(),
                        brokers: vec!["127.0.0.1:1".into()],
                        options: BTreeMap::from([
                            ("sasl.username".to_owned(), "alice".to_owned()),
                            ("sasl.password".to_owned(), CLUSTER_SECRET.to_owned()),
                            ("client.rack".to_owned(), "rack-1".to_owned()),
                        ]),
                    },
                ],
                instance_id: None,
                metadata_store: Default::default(),
                restate_refresh_interval_ms: None,
            },
            warnings: Vec::new(),
        };
        let ingress = Arc::new(Ingress::open(config).await.unwrap());
        Api {
            app: router(ingress.clone()),
            ingress,
            dir,
        }
    }

    async fn send(&self, request: Request<Body>) -> Resp {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    async fn call(&self, method: Method, path: &str) -> Resp {
        self.send(
            Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path).await
    }

    async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path).await
    }

    async fn post_raw(&self, path: &str, content_type: Option<&str>, body: &str) -> Resp {
        let mut builder = Request::builder().method(Method::POST).uri(path);
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        self.send(builder.body(Body::from(body.to_owned())).unwrap())
            .await
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.post_raw(path, Some("application/json"), &body.to_string())
            .await
    }

    /// Registers `handler` by discovery; returns the deployment id.
    async fn register(&self, handler: &RecordingHandler) -> String {
        let r = self
            .post("/deployments", json!({"uri": handler.url()}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_owned()
    }

    /// Creates a subscription that must succeed; returns its body.
    async fn subscribe(&self, body: Value) -> Value {
        let r = self.post("/subscriptions", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()
    }
}

async fn counter_handler() -> RecordingHandler {
    RecordingHandler::start(RecordingHandler::manifest(
        "Counter",
        "VIRTUAL_OBJECT",
        &["add", "reset"],
    ))
    .await
    .unwrap()
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn create_topic() -> String {
    let client = TestClient::connect(&bootstrap()).await.unwrap();
    client.create_topic("orders", 1).await.unwrap()
}

/// A subscription request on `my-cluster/<topic>` to `Counter/<handler>` with `options`.
fn sub_body(topic: &str, handler: &str, options: Value) -> Value {
    json!({
        "source": format!("kafka://{CLUSTER}/{topic}"),
        "sink": format!("service://Counter/{handler}"),
        "options": options,
    })
}

// ---------------------------------------------------------------------------------------
// Happy path
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn subscription_lifecycle_like_the_restate_docs() {
    let api = Api::new().await;
    let handler = counter_handler().await;
    let topic = create_topic().await;
    let mut bodies: Vec<String> = Vec::new();

    // Register the deployment (discovery).
    let r = api
        .post("/deployments", json!({"uri": handler.url()}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let deployment = r.json();
    let dp_id = deployment["id"].as_str().unwrap();
    assert!(dp_id.starts_with("dp_"), "{dp_id}");
    assert_eq!(
        r.headers.get(header::LOCATION).unwrap(),
        &format!("deployments/{dp_id}")
    );
    assert_eq!(deployment["services"][0]["name"], "Counter");

    // Create the subscription exactly like the docs' curl (plus a secret option).
    let r = api
        .post_raw(
            "/subscriptions",
            Some("application/json"),
            &format!(
                r#"{{
"source": "kafka://my-cluster/{topic}",
"sink": "service://Counter/add",
"options": {{"auto.offset.reset": "earliest", "sasl.password": "hunter2"}}
}}"#
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    bodies.push(r.text());
    let sub = r.json();
    let id = sub["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("sub_"), "{id}");
    assert_eq!(
        r.headers.get(header::LOCATION).unwrap(),
        &format!("subscriptions/{id}")
    );
    assert_eq!(sub["source"], format!("kafka://my-cluster/{topic}"));
    assert_eq!(sub["sink"], "service://Counter/add");
    let options = &sub["options"];
    assert_eq!(options["group.id"], id.as_str());
    assert!(options["client.id"].is_string(), "{options}");
    assert_eq!(options["auto.offset.reset"], "earliest");
    assert_eq!(options["sasl.password"], "***");

    // Get it back.
    let r = api.get(&format!("/subscriptions/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), sub);
    bodies.push(r.text());

    // A second subscription on another handler; numbers and booleans are options too.
    let second = api
        .subscribe(sub_body(
            &topic,
            "reset",
            json!({"fetch.wait.max.ms": 100, "check.crcs": true, "auto.offset.reset": "earliest"}),
        ))
        .await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    assert_eq!(second["options"]["fetch.wait.max.ms"], "100");
    assert_eq!(second["options"]["check.crcs"], "true");

    // List, and list filtered by sink and by source.
    let r = api.get("/subscriptions").await;
    assert_eq!(r.status, StatusCode::OK);
    bodies.push(r.text());
    let all = r.json()["subscriptions"].as_array().unwrap().clone();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["id"], id.as_str());
    let r = api
        .get(&format!(
            "/subscriptions?sink={}",
            encode("service://Counter/add")
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let filtered = r.json()["subscriptions"].as_array().unwrap().clone();
    assert_eq!(filtered.len(), 1, "{filtered:?}");
    assert_eq!(filtered[0]["id"], id.as_str());
    let r = api
        .get(&format!(
            "/subscriptions?source={}&sink={}",
            encode(&format!("kafka://my-cluster/{topic}")),
            encode("service://Counter/reset")
        ))
        .await;
    let filtered = r.json()["subscriptions"].as_array().unwrap().clone();
    assert_eq!(filtered.len(), 1, "{filtered:?}");
    assert_eq!(filtered[0]["id"], second_id.as_str());
    let r = api
        .get(&format!(
            "/subscriptions?source={}",
            encode("kafka://my-cluster/nothing")
        ))
        .await;
    assert_eq!(r.json(), json!({"subscriptions": []}));

    // Records flow: the handler is invoked and the counter shows it.
    let client = TestClient::connect(&bootstrap()).await.unwrap();
    client
        .produce_to(&topic, 0, vec![TestRecord::keyed("k1", r#"{"n":1}"#)])
        .await
        .unwrap();
    handler.wait_for(2, Duration::from_secs(60)).await.unwrap();
    let delivered = format!(
        "kafka_ingress_records_delivered_total{{subscription=\"{id}\",source=\"kafka://my-cluster/{topic}\",sink=\"service://Counter/add\"}} 1"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let r = api.get("/metrics").await;
        assert_eq!(r.status, StatusCode::OK);
        let ct = r
            .headers
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
        let text = r.text();
        if text.lines().any(|l| l == delivered) || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        metrics.lines().any(|l| l == delivered),
        "{delivered}\n---\n{metrics}"
    );
    assert!(
        metrics.contains("kafka_ingress_subscriptions 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "kafka_ingress_handler_latency_seconds_count{{subscription=\"{id}\""
        )),
        "{metrics}"
    );
    bodies.push(metrics);

    // Status, pause, resume.
    let r = api.get(&format!("/subscriptions/{id}/status")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let status = r.json();
    assert_eq!(status["id"], id.as_str());
    assert!(status["partitions"].is_array(), "{status}");
    assert!(
        ["starting", "running"].contains(&status["state"].as_str().unwrap()),
        "{status}"
    );
    let r = api
        .call(Method::POST, &format!("/subscriptions/{id}/pause"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["state"], "paused");
    assert_eq!(
        api.get(&format!("/subscriptions/{id}/status")).await.json()["state"],
        "paused"
    );
    let r = api
        .call(Method::POST, &format!("/subscriptions/{id}/resume"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_ne!(r.json()["state"], "paused");

    // Delete: 202 with no body, then 404.
    let r = api.delete(&format!("/subscriptions/{id}")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert!(r.body.is_empty());
    api.get(&format!("/subscriptions/{id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, &[&id]);
    let r = api.get("/subscriptions").await;
    assert_eq!(r.json()["subscriptions"].as_array().unwrap().len(), 1);

    // Services and clusters.
    let r = api.get("/services").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["services"][0]["name"], "Counter");
    assert_eq!(r.json()["services"][0]["deployment_id"], dp_id);
    let r = api.get("/services/Counter").await;
    assert_eq!(r.status, StatusCode::OK);
    // Restate's ServiceMetadata shape: PascalCase types, revision, descriptions.
    assert_eq!(r.json()["ty"], "VirtualObject");
    assert_eq!(r.json()["revision"], 1);
    assert_eq!(r.json()["handlers"][0]["ty"], "Exclusive");
    assert_eq!(
        r.json()["handlers"][0]["input_description"],
        "application/json"
    );
    let r = api.get("/v4/services/Counter/handlers").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["handlers"][0]["name"], "add");
    let r = api.get("/services/Counter/handlers/add").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["ty"], "Exclusive");
    let r = api.get("/services/Counter/handlers/nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.message().contains("has no handler \"nope\""),
        "{}",
        r.message()
    );
    let r = api.get(&format!("/deployments/{dp_id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["id"], dp_id);
    assert_eq!(r.json()["protocol_type"], "RequestResponse");
    assert_eq!(r.json()["services"][0]["ty"], "VirtualObject");
    assert_eq!(r.json()["services"][0]["revision"], 1);
    let r = api.get("/deployments").await;
    assert_eq!(r.json()["deployments"][0]["id"], dp_id);

    for body in &bodies {
        assert!(!body.contains("hunter2"), "secret leaked: {body}");
    }
    api.ingress.shutdown().await;
}

#[tokio::test]
async fn health_clusters_and_inline_manifest() {
    let api = Api::new().await;

    let r = api.get("/health").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"status": "ok"}));

    let r = api.get("/kafka-clusters").await;
    assert_eq!(r.status, StatusCode::OK);
    let clusters = r.json()["clusters"].as_array().unwrap().clone();
    let names: Vec<&str> = clusters
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [CLUSTER, OTHER_CLUSTER]);
    assert_eq!(clusters[1]["properties"]["sasl.password"], "***");
    assert_eq!(clusters[1]["properties"]["sasl.username"], "***");
    assert_eq!(clusters[1]["properties"]["client.rack"], "rack-1");
    assert!(clusters[1]["properties"]["metadata.broker.list"].is_string());
    assert_eq!(clusters[1]["created_at"], "1970-01-01T00:00:00Z");
    assert!(!r.text().contains(CLUSTER_SECRET), "{}", r.text());
    // One cluster (Restate's GET /kafka-clusters/{name}), the same under /v4.
    let r = api
        .get(&format!("/v4/kafka-clusters/{OTHER_CLUSTER}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["name"], OTHER_CLUSTER);
    assert_eq!(r.json()["subscriptions"], json!([]));
    assert!(!r.text().contains(CLUSTER_SECRET), "{}", r.text());
    let r = api.get("/kafka-clusters/nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["restate_code"], Value::Null);
    let r = api
        .get("/kafka-clusters/nope?include_subscriptions=maybe")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Restate's /version: the CLI then uses /v4; other versions are refused with a message.
    let r = api.get("/version").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["max_admin_api_version"], 4);
    assert_eq!(r.json()["features"], json!({}));
    let r = api.get("/v2/subscriptions").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("versions 4..=4"));
    assert_eq!(api.get("/v4/health").await.status, StatusCode::OK);
    assert_eq!(api.get("/openapi").await.status, StatusCode::OK);

    // A deployment with its manifest inline: no discovery (nothing listens there).
    let r = api
        .post(
            "/deployments",
            json!({
                "uri": "http://127.0.0.1:1/",
                "additional_headers": {"Authorization": "Bearer tok", "x-tenant": "blue"},
                "services": [{"name": "Greeter", "ty": "SERVICE", "handlers": [{"name": "greet"}]}],
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let dp = r.json();
    assert_eq!(dp["uri"], "http://127.0.0.1:1");
    assert_eq!(dp["additional_headers"]["Authorization"], "***");
    assert_eq!(dp["additional_headers"]["x-tenant"], "blue");
    assert!(!r.text().contains("Bearer tok"));
    let r = api.get("/services/Greeter").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["handlers"][0]["name"], "greet");
    assert_eq!(r.json()["deployment_id"], dp["id"]);
    assert_eq!(
        dp["http_version"], "HTTP/1.1",
        "inline manifests default to HTTP/1.1"
    );

    // An https deployment inline, HTTP/2 asked for: nothing is contacted, the version is kept.
    let r = api
        .post(
            "/deployments",
            json!({
                "uri": "https://127.0.0.1:1",
                "use_http_11": false,
                "services": [{"name": "Secure", "ty": "SERVICE", "handlers": [{"name": "go"}]}],
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["http_version"], "HTTP/2.0");
    assert_eq!(r.json()["uri"], "https://127.0.0.1:1");

    // No subscriptions yet: the metrics say so.
    let text = api.get("/metrics").await.text();
    assert!(text.contains("kafka_ingress_subscriptions 0\n"), "{text}");
}

// ---------------------------------------------------------------------------------------
// Subscription errors
// ---------------------------------------------------------------------------------------

/// An API with the Counter deployment registered (the handler must outlive the API calls).
async fn api_with_counter() -> (Api, RecordingHandler) {
    let api = Api::new().await;
    let handler = counter_handler().await;
    api.register(&handler).await;
    (api, handler)
}

#[tokio::test]
async fn bad_source_uri_is_400_naming_source() {
    let (api, _h) = api_with_counter().await;
    for source in [
        "http://my-cluster/t",
        "kafka://my-cluster/",
        "kafka://my-cluster/bad topic",
    ] {
        api.post(
            "/subscriptions",
            json!({"source": source, "sink": "service://Counter/add"}),
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST, &["invalid source", source]);
    }
}

#[tokio::test]
async fn bad_sink_uri_is_400_naming_sink() {
    let (api, _h) = api_with_counter().await;
    for sink in ["service://Counter", "http://Counter/add", "service:///add"] {
        api.post(
            "/subscriptions",
            json!({"source": "kafka://my-cluster/t", "sink": sink}),
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST, &["invalid sink", sink]);
    }
}

#[tokio::test]
async fn unknown_cluster_lists_the_known_ones() {
    let (api, _h) = api_with_counter().await;
    api.post(
        "/subscriptions",
        json!({"source": "kafka://nope/t", "sink": "service://Counter/add"}),
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        &["unknown Kafka cluster \"nope\"", CLUSTER, OTHER_CLUSTER],
    );
}

#[tokio::test]
async fn unknown_service_and_handler_are_400() {
    let (api, _h) = api_with_counter().await;
    api.post(
        "/subscriptions",
        json!({"source": "kafka://my-cluster/t", "sink": "service://Nope/add"}),
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        &["invalid sink", "unknown service \"Nope\"", "Counter"],
    );
    api.post("/subscriptions", sub_body("t", "nope", json!({})))
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            &[
                "unknown handler \"nope\" of service \"Counter\"",
                "add",
                "reset",
            ],
        );
}

#[tokio::test]
async fn invalid_options_have_librdkafka_messages() {
    let (api, _h) = api_with_counter().await;
    let cases = [
        (
            json!({"foo.bar": "1"}),
            "No such configuration property: \"foo.bar\"",
        ),
        (
            json!({"auto.offset.reset": "sideways"}),
            "Invalid value for configuration property \"auto.offset.reset\"",
        ),
        (
            json!({"fetch.wait.max.ms": "300001"}),
            "Configuration property \"fetch.wait.max.ms\" value 300001 is outside allowed range 0..300000",
        ),
        (
            json!({"fetch.wait.max.ms": 300001}),
            "Configuration property \"fetch.wait.max.ms\" value 300001 is outside allowed range 0..300000",
        ),
        (
            json!({"ingress.nope": "1"}),
            "No such configuration property: \"ingress.nope\"",
        ),
    ];
    for (options, message) in cases {
        api.post("/subscriptions", sub_body("t", "add", options.clone()))
            .await
            .assert_error(StatusCode::BAD_REQUEST, &["invalid options", message]);
    }
    // Nothing was created.
    assert_eq!(
        api.get("/subscriptions").await.json(),
        json!({"subscriptions": []})
    );
}

#[tokio::test]
async fn option_values_must_be_scalars() {
    let (api, _h) = api_with_counter().await;
    for (value, got) in [
        (json!({"a": 1}), "an object"),
        (json!(["earliest"]), "an array"),
        (Value::Null, "null"),
    ] {
        api.post(
            "/subscriptions",
            sub_body("t", "add", json!({"auto.offset.reset": value})),
        )
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            &[
                "option \"auto.offset.reset\"",
                "must be a string, number or boolean",
                got,
            ],
        );
    }
    api.post(
        "/subscriptions",
        json!({"source": "kafka://my-cluster/t", "sink": "service://Counter/add", "options": ["x"]}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, &["field \"options\"", "an array"]);
}

#[tokio::test]
async fn malformed_json_is_400_with_line_and_column() {
    let api = Api::new().await;
    api.post_raw(
        "/subscriptions",
        Some("application/json"),
        "{\n  \"source\": \"kafka://my-cluster/t\",\n  \"sink\": \n}",
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        &["malformed JSON", "line 4 column 1"],
    );
    api.post_raw("/subscriptions", Some("application/json"), "")
        .await
        .assert_error(StatusCode::BAD_REQUEST, &["empty"]);
    api.post_raw("/subscriptions", Some("application/json"), "[1, 2]")
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            &["must be a JSON object", "an array"],
        );
    api.post_raw("/deployments", Some("application/json"), "{\"uri\": ")
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            &["malformed JSON", "line 1 column"],
        );
}

#[tokio::test]
async fn wrong_or_missing_content_type_is_415() {
    let api = Api::new().await;
    let body = r#"{"source":"kafka://my-cluster/t","sink":"service://Counter/add"}"#;
    // curl -d without -H sends a form content type.
    api.post_raw(
        "/subscriptions",
        Some("application/x-www-form-urlencoded"),
        body,
    )
    .await
    .assert_error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &["application/json", "application/x-www-form-urlencoded"],
    );
    api.post_raw("/subscriptions", None, body)
        .await
        .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &["application/json"]);
    api.post_raw(
        "/deployments",
        Some("text/plain"),
        r#"{"uri":"http://h:1"}"#,
    )
    .await
    .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &["application/json"]);
    // Parameters are fine.
    let r = api
        .post_raw(
            "/subscriptions",
            Some("application/json; charset=utf-8"),
            body,
        )
        .await;
    assert_ne!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text());
}

#[tokio::test]
async fn missing_mistyped_and_unknown_fields_are_400_naming_them() {
    let api = Api::new().await;
    api.post("/subscriptions", json!({"source": "kafka://my-cluster/t"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, &["missing field \"sink\""]);
    api.post("/subscriptions", json!({"sink": "service://Counter/add"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, &["missing field \"source\""]);
    api.post(
        "/subscriptions",
        json!({"source": 42, "sink": "service://Counter/add"}),
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        &["field \"source\" must be a string", "a number"],
    );
    api.post(
        "/subscriptions",
        json!({"source": "kafka://my-cluster/t", "sink": "service://Counter/add", "option": {}}),
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        &["unknown field \"option\"", "source, sink, options"],
    );
    api.post("/deployments", json!({"url": "http://h:1"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, &["unknown field \"url\""]);
    api.post("/deployments", json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, &["missing field \"uri\""]);
    api.post("/deployments", json!({"uri": "http://h:1", "force": "yes"}))
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            &["field \"force\" must be a boolean", "a string"],
        );
    api.post(
        "/deployments",
        json!({"uri": "http://h:1", "additional_headers": {"x-n": 1}}),
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        &["header \"x-n\"", "must be a string"],
    );
    api.post(
        "/deployments",
        json!({"uri": "http://h:1", "services": [{"name": "S", "ty": "NOPE"}]}),
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        &["invalid field \"services\"", "NOPE"],
    );
    api.post("/deployments", json!({"uri": "http://h:1", "services": {}}))
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            &["field \"services\" must be an array"],
        );
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let api = Api::new().await;
    let id = "sub_doesnotexist";
    for (method, path) in [
        (Method::GET, format!("/subscriptions/{id}")),
        (Method::DELETE, format!("/subscriptions/{id}")),
        (Method::POST, format!("/subscriptions/{id}/pause")),
        (Method::POST, format!("/subscriptions/{id}/resume")),
        (Method::GET, format!("/subscriptions/{id}/status")),
    ] {
        api.call(method, &path)
            .await
            .assert_error(StatusCode::NOT_FOUND, &["subscription", id]);
    }
    for method in [Method::GET, Method::DELETE] {
        api.call(method, "/deployments/dp_nope")
            .await
            .assert_error(StatusCode::NOT_FOUND, &["deployment", "dp_nope"]);
    }
    api.get("/services/Nope")
        .await
        .assert_error(StatusCode::NOT_FOUND, &["service", "Nope"]);
}

#[tokio::test]
async fn bad_query_parameters_are_400() {
    let api = Api::new().await;
    api.get("/subscriptions?snk=service://Counter/add")
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            &["unknown query parameter \"snk\"", "sink, source"],
        );
    api.get("/subscriptions?sink=a&sink=b").await.assert_error(
        StatusCode::BAD_REQUEST,
        &["\"sink\" is given more than once"],
    );
}

// ---------------------------------------------------------------------------------------
// Deployment errors
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn discovery_failure_is_400_naming_the_url() {
    let api = Api::new().await;
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let uri = format!("http://127.0.0.1:{port}");
    api.post("/deployments", json!({"uri": uri}))
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            &[
                "discovery failed",
                &format!("{uri}/discover"),
                "cannot connect",
            ],
        );
    api.post("/deployments", json!({"uri": "ftp://h:1"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, &["invalid deployment uri"]);
    assert_eq!(
        api.get("/deployments").await.json(),
        json!({"deployments": []})
    );
}

#[tokio::test]
async fn registering_a_known_uri_again_answers_200_with_the_same_deployment_unless_forced() {
    let api = Api::new().await;
    let handler = counter_handler().await;
    let first = api.register(&handler).await;
    // Restate's CLI body: nulls and its extra fields are accepted.
    let cli_body = |dry_run: bool, force: bool| {
        json!({"uri": handler.url(), "additional_headers": null, "use_http_11": false,
               "breaking": false, "force": force, "dry_run": dry_run,
               "metadata": {"github.repository": "me/repo"}})
    };
    for dry_run in [true, false] {
        let r = api.post("/deployments", cli_body(dry_run, false)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["id"], first.as_str());
    }
    assert_eq!(
        api.get("/deployments").await.json()["deployments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A dry run of an overwrite validates and answers what it would be, but changes nothing.
    let r = api.post("/deployments", cli_body(true, true)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["id"], first.as_str());
    let listed = api.get("/deployments").await.json()["deployments"].clone();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], first.as_str());
    assert!(listed[0]
        .get("additional_headers")
        .is_none_or(|h| h == &json!({})));
    // force rediscovers and overwrites it, keeping its id (Restate's overwrite): 200.
    let r = api
        .post(
            "/deployments",
            json!({"uri": handler.url(), "force": true, "additional_headers": {"x-k": "v"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["id"], first.as_str());
    assert_eq!(
        r.headers.get(header::LOCATION).unwrap(),
        &format!("deployments/{first}")
    );
    let listed = api.get("/deployments").await.json()["deployments"].clone();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], first.as_str());
    assert_eq!(listed[0]["additional_headers"], json!({"x-k": "v"}));
}

#[tokio::test]
async fn removing_a_deployment_in_use_is_409_unless_forced() {
    let api = Api::new().await;
    let handler = counter_handler().await;
    let dp = api.register(&handler).await;
    let topic = create_topic().await;
    let sub = api.subscribe(sub_body(&topic, "add", json!({}))).await;
    let sub_id = sub["id"].as_str().unwrap();

    api.delete(&format!("/deployments/{dp}"))
        .await
        .assert_error(StatusCode::CONFLICT, &[&dp, "Counter", sub_id, "force"]);
    api.delete(&format!("/deployments/{dp}?force=maybe"))
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            &["query parameter \"force\" must be true or false"],
        );
    let r = api.delete(&format!("/deployments/{dp}?force=true")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert!(r.body.is_empty());
    api.get(&format!("/deployments/{dp}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, &[&dp]);
    api.ingress.shutdown().await;
}

#[tokio::test]
async fn duplicate_subscription_is_409() {
    let (api, _h) = api_with_counter().await;
    let topic = create_topic().await;
    let body = sub_body(&topic, "add", json!({"group.id": "shared-group"}));
    let first = api.subscribe(body.clone()).await;
    api.post("/subscriptions", body).await.assert_error(
        StatusCode::CONFLICT,
        &[first["id"].as_str().unwrap(), "shared-group"],
    );
    api.ingress.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Routing and the OpenAPI document
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_path_is_404_and_wrong_method_is_405() {
    let api = Api::new().await;
    let r = api.get("/x").await;
    r.assert_error(StatusCode::NOT_FOUND, &[]);
    assert_eq!(r.message(), "no route for GET /x");
    api.call(Method::POST, "/subscriptions/sub_1/nope")
        .await
        .assert_error(
            StatusCode::NOT_FOUND,
            &["no route for POST /subscriptions/sub_1/nope"],
        );

    let r = api.call(Method::PUT, "/subscriptions").await;
    r.assert_error(
        StatusCode::METHOD_NOT_ALLOWED,
        &["PUT", "/subscriptions", "GET", "POST"],
    );
    let allow = r.headers.get(header::ALLOW).unwrap().to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    api.call(Method::DELETE, "/health")
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, &["DELETE", "/health"]);
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let api = Api::new().await;
    let r = api.get("/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"));

    // Every registered route is in the document ...
    let mut documented = 0;
    for route in ROUTES {
        let op = &doc["paths"][route.path][route.verb.as_str().to_ascii_lowercase()];
        assert!(
            op.is_object(),
            "{} {} undocumented",
            route.verb.as_str(),
            route.path
        );
        assert!(op["responses"].is_object());
        documented += 1;
    }
    // ... and every documented operation is routed (not the 404/405 fallback).
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            let concrete = path
                .replace("{id}", "sub_none")
                .replace("{name}", "None")
                .replace("{handler}", "none");
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let r = api.call(method.clone(), &concrete).await;
            assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            if r.status == StatusCode::NOT_FOUND {
                assert!(
                    !r.message().starts_with("no route"),
                    "{method} {path} is not routed"
                );
            }
        }
    }
    assert_eq!(operations, documented);
    for path in [
        "/subscriptions",
        "/subscriptions/{id}",
        "/subscriptions/{id}/pause",
        "/subscriptions/{id}/resume",
        "/subscriptions/{id}/status",
        "/deployments",
        "/deployments/{id}",
        "/services",
        "/services/{name}",
        "/kafka-clusters",
        "/health",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(path), "{path}");
    }
    let create = &doc["paths"]["/subscriptions"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CreateSubscriptionRequest"
    );
    for status in ["201", "400", "409", "415"] {
        assert!(create["responses"][status].is_object(), "{status}");
    }
}

// ---------------------------------------------------------------------------------------
// Kafka clusters at runtime (Restate 1.7's /kafka-clusters)
// ---------------------------------------------------------------------------------------

impl Api {
    async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(
            Request::builder()
                .method(Method::PATCH)
                .uri(path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    /// The subscription's status once `pred` holds for it (10 s at most).
    async fn wait_state(&self, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = self
                .get(&format!("/subscriptions/{id}/status"))
                .await
                .json();
            if pred(&status) || Instant::now() > deadline {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn kafka_clusters_are_registered_patched_and_deleted_at_runtime_and_persisted() {
    let api = Api::new().await;
    let handler = counter_handler().await;
    api.register(&handler).await;
    let topic = create_topic().await;
    let secret = "runtime-cluster-secret";

    // Create: 201, Location, Restate's shape, secrets redacted; numbers are strings.
    let r = api
        .post(
            "/v4/kafka-clusters",
            json!({"name": "rt", "properties": {"bootstrap.servers": bootstrap(),
                   "sasl.password": secret, "fetch.wait.max.ms": 50}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        r.headers.get(header::LOCATION).unwrap(),
        "kafka-clusters/rt"
    );
    let created = r.json();
    assert_eq!(created["name"], "rt");
    assert_eq!(created["properties"]["sasl.password"], "***");
    assert_eq!(created["properties"]["fetch.wait.max.ms"], "50");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(!r.text().contains(secret));

    // Refusals, each naming the problem.
    let props = json!({"bootstrap.servers": bootstrap()});
    api.post(
        "/kafka-clusters",
        json!({"name": "rt", "properties": props}),
    )
    .await
    .assert_error(StatusCode::CONFLICT, &["\"rt\" already exists"]);
    api.post(
        "/kafka-clusters",
        json!({"name": CLUSTER, "properties": props}),
    )
    .await
    .assert_error(StatusCode::CONFLICT, &[CLUSTER, "configuration file"]);
    api.post(
        "/kafka-clusters",
        json!({"name": "bad name!", "properties": props}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, &["invalid kafka cluster name"]);
    api.post(
        "/kafka-clusters",
        json!({"name": "nob", "properties": {"client.id": "x"}}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, &["\"nob\""]);
    api.post(
        "/kafka-clusters",
        json!({"name": "bad", "properties": {"bootstrap.servers": bootstrap(), "no.such": "1"}}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, &["no.such"]);
    api.patch(
        &format!("/kafka-clusters/{CLUSTER}"),
        json!({"properties": props}),
    )
    .await
    .assert_error(StatusCode::CONFLICT, &["configuration file", "updated"]);
    api.delete(&format!("/kafka-clusters/{CLUSTER}"))
        .await
        .assert_error(StatusCode::CONFLICT, &["configuration file", "deleted"]);
    api.patch("/kafka-clusters/nope", json!({"properties": props}))
        .await
        .assert_error(StatusCode::NOT_FOUND, &["nope"]);
    api.patch("/kafka-clusters/rt", json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, &["missing field \"properties\""]);

    // Listed after the configuration file's, readable under its name.
    let listed = api.get("/kafka-clusters").await.json()["clusters"].clone();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [CLUSTER, OTHER_CLUSTER, "rt"]);
    assert_eq!(api.get("/kafka-clusters/rt").await.json()["name"], "rt");

    // A subscription on it delivers.
    let sub = api
        .subscribe(
            json!({"source": format!("kafka://rt/{topic}"), "sink": "service://Counter/add",
                          "options": {"auto.offset.reset": "earliest"}}),
        )
        .await;
    let id = sub["id"].as_str().unwrap().to_owned();
    let client = TestClient::connect(&bootstrap()).await.unwrap();
    client
        .produce_to(&topic, 0, vec![TestRecord::keyed("k1", r#"{"n":1}"#)])
        .await
        .unwrap();
    handler.wait_for(1, Duration::from_secs(30)).await.unwrap();
    let detail = api
        .get("/kafka-clusters/rt?include_subscriptions=true")
        .await
        .json();
    assert_eq!(detail["subscriptions"][0]["id"], id.as_str());

    // Patch: "***" keeps the stored secret, a no-op patch changes nothing, a property the
    // subscription cannot run with is refused naming it; a real change restarts it.
    let r = api
        .patch(
            "/kafka-clusters/rt",
            json!({"properties": {"bootstrap.servers": bootstrap(), "sasl.password": "***",
                   "fetch.wait.max.ms": "50"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    api.patch(
        "/kafka-clusters/rt",
        json!({"properties": {"bootstrap.servers": bootstrap(), "ssl.key.password": "***"}}),
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        &["ssl.key.password", "no value is stored"],
    );
    api.patch(
        "/kafka-clusters/rt",
        json!({"properties": {"bootstrap.servers": bootstrap(), "fetch.max.bytes": "1000"}}),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, &["fetch.max.bytes"]);
    let r = api
        .patch(
            "/kafka-clusters/rt",
            json!({"properties": {"bootstrap.servers": bootstrap(), "sasl.password": "***",
                   "client.rack": "rack-9"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["properties"]["client.rack"], "rack-9");
    assert!(r.json()["properties"].get("fetch.wait.max.ms").is_none());
    client
        .produce_to(&topic, 0, vec![TestRecord::keyed("k2", r#"{"n":2}"#)])
        .await
        .unwrap();
    handler.wait_for(2, Duration::from_secs(30)).await.unwrap();

    // The state file keeps it, with the secret (it is the store), never the API.
    let state = std::fs::read_to_string(api.dir.join("state.json")).unwrap();
    assert!(
        state.contains("\"rt\"") && state.contains(secret),
        "{state}"
    );
    assert!(!api.get("/kafka-clusters").await.text().contains(secret));

    // Delete: refused while in use; with force the subscription stops and says why.
    api.delete("/kafka-clusters/rt")
        .await
        .assert_error(StatusCode::CONFLICT, &[&id, "force"]);
    let r = api.delete("/kafka-clusters/rt?force=true").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert!(r.body.is_empty());
    assert_eq!(
        api.get("/kafka-clusters/rt").await.status,
        StatusCode::NOT_FOUND
    );
    let status = api.wait_state(&id, |s| s["state"] == "failed").await;
    let reason = status["reason"].as_str().unwrap_or_default().to_owned();
    assert!(
        reason.contains("\"rt\"") && reason.contains("does not exist"),
        "{status}"
    );
    client
        .produce_to(&topic, 0, vec![TestRecord::keyed("k3", r#"{"n":3}"#)])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        handler.count(),
        2,
        "nothing is delivered from a deleted cluster"
    );

    // Registered again under the name: the subscription resumes from its committed offset.
    let r = api
        .post(
            "/kafka-clusters",
            json!({"name": "rt", "properties": {"bootstrap.servers": bootstrap()}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    handler.wait_for(3, Duration::from_secs(30)).await.unwrap();
    assert_eq!(handler.count(), 3);
    api.ingress.shutdown().await;

    // A restart from the saved state has the cluster and runs the subscription on it.
    let mut config = api.ingress.config().clone();
    let dir = temp_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(api.dir.join("state.json"), dir.join("state.json")).unwrap();
    config.base_dir = dir.clone();
    config.ingress.instance_id = None;
    let reopened = Ingress::open(config).await.unwrap();
    let clusters = reopened.clusters().await;
    assert!(clusters.iter().any(|c| c.name == "rt"), "{clusters:?}");
    assert!(reopened.get_subscription(&id).await.is_ok());
    reopened.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
