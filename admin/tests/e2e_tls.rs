//! The real `kafka-ingress` binary with `https://` and HTTP/2 deployments, as a user runs it:
//! a private CA given through `SSL_CERT_FILE`, deployments registered over the admin API with
//! and without Restate's `use_http_11`, and records delivered through the engine to TLS
//! handlers over HTTP/2 (ALPN) and HTTP/1.1, and to a cleartext handler over h2c.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

mod support;

use std::collections::BTreeMap;

use serde_json::json;
use support::{free_port, fresh_dir, wait_assigned, wait_delivered, Server};
use testkit::{KafkaCluster, RecordingHandler, TestCa, TestClient, TestRecord};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_http2_deployments_receive_records() {
    let kafka = KafkaCluster::shared().unwrap().bootstrap().to_owned();
    let client = TestClient::connect(&kafka).await.unwrap();
    let topic = client.create_topic("e2e-tls", 2).await.unwrap();

    let ca = TestCa::new("e2e").unwrap();
    // Offers h2 and http/1.1: registered without use_http_11, ALPN picks HTTP/2.
    let counter = RecordingHandler::start_tls(
        RecordingHandler::manifest("Counter", "VIRTUAL_OBJECT", &["add"]),
        &ca,
        &["h2", "http/1.1"],
    )
    .await
    .unwrap();
    // A TLS server without HTTP/2: ALPN settles on HTTP/1.1.
    let audit = RecordingHandler::start_tls(
        RecordingHandler::manifest("Audit", "SERVICE", &["log"]),
        &ca,
        &["http/1.1"],
    )
    .await
    .unwrap();
    // Cleartext, registered with use_http_11: false: h2c with prior knowledge.
    let plain = RecordingHandler::start(RecordingHandler::manifest("Plain", "SERVICE", &["on"]))
        .await
        .unwrap();
    // Trusted by nobody here.
    let stranger_ca = TestCa::new("stranger").unwrap();
    let stranger = RecordingHandler::start_tls(
        RecordingHandler::manifest("Stranger", "SERVICE", &["x"]),
        &stranger_ca,
        &["h2", "http/1.1"],
    )
    .await
    .unwrap();

    let dir = fresh_dir("e2e-tls");
    let config = dir.join("restate.toml");
    std::fs::write(
        &config,
        format!(
            "[[ingress.kafka-clusters]]\nname = \"local\"\nbrokers = [\"PLAINTEXT://{kafka}\"]\n\
             \"auto.commit.interval.ms\" = \"200\"\n"
        ),
    )
    .unwrap();
    let ca_file = ca.ca_file().display().to_string();
    let mut server = Server::start_with_env(
        &config,
        &dir.join("data"),
        free_port(),
        dir.join("kafka-ingress.log"),
        &[("SSL_CERT_FILE", ca_file.as_str())],
    );
    server.wait_healthy().await;

    let mut versions = BTreeMap::new();
    for body in [
        json!({"uri": counter.url()}),
        json!({"uri": audit.url()}),
        json!({"uri": plain.url(), "use_http_11": false}),
    ] {
        let (status, dep) = server.call("POST", "/deployments", Some(body)).await;
        assert_eq!(status, 201, "{dep}");
        versions.insert(
            dep["uri"].as_str().unwrap().to_owned(),
            dep["http_version"].as_str().unwrap().to_owned(),
        );
    }
    assert_eq!(versions[&counter.url()], "HTTP/2.0");
    assert_eq!(versions[&audit.url()], "HTTP/1.1");
    assert_eq!(versions[&plain.url()], "HTTP/2.0");
    let (_, list) = server.call("GET", "/deployments", None).await;
    assert_eq!(list["deployments"].as_array().unwrap().len(), 3);

    // An untrusted certificate: refused at registration, naming the problem.
    let (status, err) = server
        .call("POST", "/deployments", Some(json!({"uri": stranger.url()})))
        .await;
    assert_eq!(status, 400, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains(&stranger.url()) && message.contains("UnknownIssuer"),
        "{message}"
    );
    // use_http_11 must be a boolean.
    let (status, err) = server
        .call(
            "POST",
            "/deployments",
            Some(json!({"uri": stranger.url(), "use_http_11": "yes"})),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("use_http_11"),
        "{err}"
    );

    let mut ids = Vec::new();
    for sink in [
        "service://Counter/add",
        "service://Audit/log",
        "service://Plain/on",
    ] {
        let (status, sub) = server
            .call(
                "POST",
                "/subscriptions",
                Some(json!({
                    "source": format!("kafka://local/{topic}"),
                    "sink": sink,
                    "options": {"auto.offset.reset": "earliest"}
                })),
            )
            .await;
        assert_eq!(status, 201, "{sub}");
        ids.push(sub["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        wait_assigned(&server, id, 2).await;
    }

    let records: Vec<TestRecord> = (0..120)
        .map(|i| TestRecord::keyed(&format!("k{}", i % 6), json!({"n": i}).to_string()))
        .collect();
    client.produce_keyed(&topic, 2, records, 40).await.unwrap();
    wait_delivered(&audit, "/Audit/log", 120, &server).await;
    wait_delivered(&plain, "/Plain/on", 120, &server).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut got = counter.requests();
    while got.iter().filter(|r| r.status == 200).count() < 120 {
        assert!(
            std::time::Instant::now() < deadline,
            "Counter: {} of 120 delivered\n{}",
            got.len(),
            server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        got = counter.requests();
    }
    let mut per_key: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &got {
        let n: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        per_key
            .entry(r.path_key().unwrap())
            .or_default()
            .push(n["n"].as_i64().unwrap());
    }
    // Per-key order over HTTP/2: each key's values arrive increasing, all of them.
    assert_eq!(per_key.len(), 6);
    for (key, ns) in &per_key {
        assert!(ns.windows(2).all(|w| w[0] < w[1]), "{key}: {ns:?}");
        assert_eq!(ns.len(), 20, "{key}");
    }
    assert!(got.iter().all(|r| r.version == http::Version::HTTP_2));
    assert!(audit
        .requests()
        .iter()
        .all(|r| r.version == http::Version::HTTP_11));
    assert!(plain
        .requests()
        .iter()
        .all(|r| r.version == http::Version::HTTP_2));
    assert_eq!(stranger.count(), 0);

    // Registering the cleartext deployment again (force: an overwrite, same id, 200) with
    // use_http_11: true moves its subscription to HTTP/1.1: it restarts from its committed
    // offset on the new version.
    let (status, dep) = server
        .call(
            "POST",
            "/deployments",
            Some(json!({"uri": plain.url(), "use_http_11": true, "force": true})),
        )
        .await;
    assert_eq!(
        (status, dep["http_version"].as_str()),
        (200, Some("HTTP/1.1")),
        "{dep}"
    );
    versions.insert(plain.url(), "HTTP/1.1".to_owned());
    wait_assigned(&server, &ids[2], 2).await;
    let more: Vec<TestRecord> = (120..150)
        .map(|i| TestRecord::keyed(&format!("k{}", i % 6), json!({"n": i}).to_string()))
        .collect();
    client.produce_keyed(&topic, 2, more, 30).await.unwrap();
    wait_delivered(&plain, "/Plain/on", 150, &server).await;
    let late: Vec<_> = plain
        .requests()
        .into_iter()
        .filter(|r| {
            let n: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            n["n"].as_i64().unwrap() >= 120
        })
        .collect();
    assert!(!late.is_empty());
    assert!(
        late.iter().all(|r| r.version == http::Version::HTTP_11),
        "after the re-registration every request is HTTP/1.1"
    );

    // The version survives a restart (persisted with the deployment).
    let log = server.log.clone();
    let status = server.terminate().await;
    assert!(status.success(), "{status}");
    let mut server = Server::start_with_env(
        &config,
        &dir.join("data"),
        free_port(),
        log,
        &[("SSL_CERT_FILE", ca_file.as_str())],
    );
    server.wait_healthy().await;
    let (_, list) = server.call("GET", "/deployments", None).await;
    let after: BTreeMap<String, String> = list["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["uri"].as_str().unwrap().to_owned(),
                d["http_version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(after, versions);
    let status = server.terminate().await;
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}
