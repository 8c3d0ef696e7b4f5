//! The real `kafka-ingress` binary driven as a user drives it: a config file with several
//! clusters (two real brokers), a deployment registered over HTTP, subscriptions created with
//! requests shaped exactly like the reference docs' curl commands, deliveries, list/get/delete,
//! a graceful restart (SIGTERM: clean exit, offsets committed, nothing redelivered, nothing
//! lost), and a crash (SIGKILL mid-stream: everything delivered at least once, duplicates
//! carry the same idempotency key).

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

use std::time::Duration;

use serde_json::json;
use testkit::{Behaviour, BrokerKind, KafkaCluster, PrivateBroker, RecordingHandler, TestClient};

mod support;

use support::{delivered, free_port, fresh_dir, values, wait_assigned, wait_delivered, Server};

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

    let dir = fresh_dir("e2e");
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
