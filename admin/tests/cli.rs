//! The CLI client against a fake admin API: checks the method, path and body it sends, what
//! it prints, and its exit code on errors.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

use std::net::SocketAddr;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

/// One request as the fake server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path_and_query: String,
    content_type: Option<String>,
    body: Option<Value>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Answers like the admin API would, for the shapes the CLI sends.
async fn fake_admin(
    State(log): State<Log>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Option<Value> = if body.is_empty() {
        None
    } else {
        Some(serde_json::from_slice(&body).unwrap())
    };
    let path_and_query = uri.path_and_query().unwrap().to_string();
    log.lock().unwrap().push(Seen {
        method: method.clone(),
        path_and_query: path_and_query.clone(),
        content_type: headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: body.clone(),
    });
    let path = uri.path();
    match (&method, path) {
        (&Method::POST, "/subscriptions") => {
            let body = body.unwrap();
            if body["source"]
                .as_str()
                .unwrap()
                .starts_with("kafka://nope/")
            {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"message": "source: unknown cluster \"nope\"; known clusters: my-cluster"})),
                )
                    .into_response();
            }
            let mut created = body.clone();
            created["id"] = json!("sub_1");
            (StatusCode::CREATED, axum::Json(created)).into_response()
        }
        (&Method::DELETE, _) => StatusCode::ACCEPTED.into_response(),
        (_, p) if p.starts_with("/subscriptions/sub_missing") => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "subscription sub_missing not found"})),
        )
            .into_response(),
        _ => axum::Json(json!({"method": method.as_str(), "path": path_and_query})).into_response(),
    }
}

async fn start_fake_admin() -> (String, Log) {
    let log: Log = Arc::default();
    let app = Router::new().fallback(fake_admin).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), log)
}

async fn kafka_ingress(args: &[&str], admin_url_env: Option<&str>) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_kafka-ingress"));
    command.args(args).env_remove("KAFKA_INGRESS_ADMIN_URL");
    if let Some(url) = admin_url_env {
        command.env("KAFKA_INGRESS_ADMIN_URL", url);
    }
    tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("the CLI did not finish within 30s")
        .unwrap()
}

fn stdout_json(output: &Output) -> Value {
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {text}"))
}

fn last(log: &Log) -> Seen {
    log.lock()
        .unwrap()
        .last()
        .cloned()
        .expect("no request reached the server")
}

#[tokio::test]
async fn commands_send_the_right_requests_and_print_the_answer() {
    let (url, log) = start_fake_admin().await;

    let out = kafka_ingress(
        &[
            "subscriptions",
            "create",
            "--admin-url",
            &url,
            "--source",
            "kafka://my-cluster/orders",
            "--sink",
            "service://Counter/add",
            "--option",
            "auto.offset.reset=earliest",
            "--option",
            "sasl.jaas.config=a=b",
        ],
        None,
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let seen = last(&log);
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path_and_query, "/subscriptions");
    assert_eq!(seen.content_type.as_deref(), Some("application/json"));
    let expected_body = json!({
        "source": "kafka://my-cluster/orders",
        "sink": "service://Counter/add",
        "options": {"auto.offset.reset": "earliest", "sasl.jaas.config": "a=b"},
    });
    assert_eq!(seen.body, Some(expected_body.clone()));
    let mut expected_out = expected_body;
    expected_out["id"] = json!("sub_1");
    assert_eq!(stdout_json(&out), expected_out);
    // Pretty-printed, not one line.
    assert!(String::from_utf8_lossy(&out.stdout).contains("\n  \"id\": \"sub_1\""));

    let out = kafka_ingress(
        &[
            "deployments",
            "register",
            "http://handler:9080",
            "--header",
            "authorization=Bearer t",
            "--force",
            "--admin-url",
            &url,
        ],
        None,
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let seen = last(&log);
    assert_eq!(
        (seen.method, seen.path_and_query.as_str()),
        (Method::POST, "/deployments")
    );
    assert_eq!(
        seen.body,
        Some(json!({
            "uri": "http://handler:9080",
            "additional_headers": {"authorization": "Bearer t"},
            "force": true,
        }))
    );

    // Bodiless commands: the fake echoes method and path, which the CLI prints.
    let cases: &[(&[&str], Method, &str)] = &[
        (&["subscriptions", "list"], Method::GET, "/subscriptions"),
        (
            &["subscriptions", "list", "--sink", "service://Counter/add"],
            Method::GET,
            "/subscriptions?sink=service%3A%2F%2FCounter%2Fadd",
        ),
        (
            &["subscriptions", "get", "sub_1"],
            Method::GET,
            "/subscriptions/sub_1",
        ),
        (
            &["subscriptions", "pause", "sub_1"],
            Method::POST,
            "/subscriptions/sub_1/pause",
        ),
        (
            &["subscriptions", "resume", "sub_1"],
            Method::POST,
            "/subscriptions/sub_1/resume",
        ),
        (
            &["subscriptions", "status", "sub_1"],
            Method::GET,
            "/subscriptions/sub_1/status",
        ),
        (&["deployments", "list"], Method::GET, "/deployments"),
        (
            &["deployments", "get", "dp_1"],
            Method::GET,
            "/deployments/dp_1",
        ),
        (&["services", "list"], Method::GET, "/services"),
        (
            &["services", "get", "Counter"],
            Method::GET,
            "/services/Counter",
        ),
    ];
    for (args, method, path) in cases {
        let mut args = args.to_vec();
        args.extend(["--admin-url", &url]);
        let out = kafka_ingress(&args, None).await;
        assert!(out.status.success(), "{args:?}: {out:?}");
        let seen = last(&log);
        assert_eq!(&seen.method, method, "{args:?}");
        assert_eq!(seen.path_and_query, *path, "{args:?}");
        assert_eq!(seen.body, None, "{args:?}");
        assert_eq!(
            stdout_json(&out),
            json!({"method": method.as_str(), "path": path}),
            "{args:?}"
        );
    }

    // DELETE answers 202 with no body: nothing on stdout, the status on stderr.
    for (args, path) in [
        (["subscriptions", "delete", "sub_1"], "/subscriptions/sub_1"),
        (["deployments", "remove", "dp_1"], "/deployments/dp_1"),
    ] {
        let mut args = args.to_vec();
        args.extend(["--admin-url", &url]);
        let out = kafka_ingress(&args, None).await;
        assert!(out.status.success(), "{out:?}");
        let seen = last(&log);
        assert_eq!(
            (seen.method, seen.path_and_query.as_str()),
            (Method::DELETE, path)
        );
        assert!(out.stdout.is_empty(), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("202 Accepted"));
    }
}

#[tokio::test]
async fn admin_url_comes_from_the_environment() {
    let (url, log) = start_fake_admin().await;
    let out = kafka_ingress(&["services", "list"], Some(&url)).await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(last(&log).path_and_query, "/services");
}

#[tokio::test]
async fn an_error_answer_prints_the_message_and_exits_1() {
    let (url, _log) = start_fake_admin().await;
    let out = kafka_ingress(
        &[
            "subscriptions",
            "create",
            "--source",
            "kafka://nope/orders",
            "--sink",
            "service://Counter/add",
        ],
        Some(&url),
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("source: unknown cluster \"nope\"; known clusters: my-cluster"),
        "{stderr}"
    );
    assert!(stderr.contains("400 Bad Request"), "{stderr}");

    let out = kafka_ingress(&["subscriptions", "get", "sub_missing"], Some(&url)).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("subscription sub_missing not found"));
}

#[tokio::test]
async fn an_unreachable_server_is_named() {
    // A port that was just free: nothing listens there once the listener is dropped.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let out = kafka_ingress(&["services", "list", "--admin-url", &url], None).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot reach the admin API at {url}: is kafka-ingress running?"
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_missing_equals_sign_is_a_usage_error() {
    let out = kafka_ingress(
        &[
            "subscriptions",
            "create",
            "--source",
            "kafka://c/t",
            "--sink",
            "service://S/h",
            "--option",
            "earliest",
        ],
        Some("http://127.0.0.1:1"),
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected KEY=VALUE"));
}
