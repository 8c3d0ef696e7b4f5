//! Restate's own CLI (npm `@restatedev/restate` 1.7.12, installed by `scripts/restate-cli.sh`)
//! against the real binary and a real broker: whoami, deployments register (also --force)/
//! list/describe/remove, services list/describe, kafka-clusters list/create/describe/patch/
//! delete, subscriptions create/list/describe/delete, each command exiting 0 with the right
//! content, and subscriptions created by it (on a configured and on a CLI-created cluster)
//! delivering records.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::{KafkaCluster, RecordingHandler, TestClient};

use support::{free_port, fresh_dir, installed_by, values, wait_delivered, Server};

/// The `restate` command (`scripts/restate-cli.sh`).
fn restate_cli() -> PathBuf {
    installed_by("KAFKA_INGRESS_RESTATE_CLI", "restate-cli.sh")
}

/// Runs `restate <args>` against `admin` with a clean home (no config, no colours); returns
/// (success, stdout + stderr).
fn restate(cli: &Path, home: &Path, admin: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(cli)
        .args(args)
        .env("RESTATE_ADMIN_URL", admin)
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("TERM", "dumb")
        .env_remove("CI")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_restate_cli_manages_subscriptions_and_reads_deployments_services_and_clusters() {
    let cli = restate_cli();
    let bootstrap = KafkaCluster::shared().unwrap().bootstrap().to_owned();
    let client = TestClient::connect(&bootstrap).await.unwrap();
    let topic = client.create_topic("restate-cli", 2).await.unwrap();
    let h = RecordingHandler::start(RecordingHandler::manifest("Svc", "SERVICE", &["h"]))
        .await
        .unwrap();
    let dir = fresh_dir("restate-cli");
    let config = dir.join("restate.toml");
    std::fs::write(
        &config,
        format!(
            "[[ingress.kafka-clusters]]\nname = \"local\"\nbrokers = [\"PLAINTEXT://{bootstrap}\"]\n\
             \"sasl.password\" = \"cli-secret\"\n\"security.protocol\" = \"plaintext\"\n"
        ),
    )
    .unwrap();
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut server = Server::start(&config, &dir.join("data"), free_port(), dir.join("log"));
    server.wait_healthy().await;
    let admin = server.admin.clone();
    let run = |args: &[&str]| {
        let (ok, text) = restate(&cli, &home, &admin, args);
        assert!(ok, "restate {} failed:\n{text}", args.join(" "));
        assert!(
            !text.contains("Could not verify the admin API version"),
            "restate {}: {text}",
            args.join(" ")
        );
        text
    };

    // whoami exits 0 even when it fails: the text says whether the admin API answered.
    let text = run(&["whoami"]);
    assert!(text.contains("is healthy!"), "{text}");

    // The deployment is registered by the CLI (a dry run, then the registration); again, it
    // answers that it exists already.
    let text = run(&["--yes", "deployments", "register", &h.url()]);
    let dp = text
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .find(|w| w.starts_with("dp_"))
        .unwrap_or_else(|| panic!("no deployment id in: {text}"))
        .to_owned();
    let (status, dep) = server
        .call("GET", &format!("/deployments/{dp}"), None)
        .await;
    assert_eq!(status, 200, "{dep}");
    assert_eq!(dep["uri"], h.url().trim_end_matches('/'));
    let text = run(&["--yes", "deployments", "register", &h.url()]);
    assert!(
        text.contains("already exists") && text.contains(&dp),
        "{text}"
    );

    // Deployments and services: listed and described in Restate's shapes.
    let text = run(&["services", "list"]);
    assert!(text.contains("Svc") && text.contains(&dp), "{text}");
    let text = run(&["services", "describe", "Svc"]);
    assert!(
        text.contains("application/json") && text.contains(&dp),
        "{text}"
    );
    let text = run(&["deployments", "list"]);
    assert!(text.contains(&dp) && text.contains("Svc [1]"), "{text}");
    let text = run(&["deployments", "describe", &dp]);
    assert!(text.contains(&h.url()) && text.contains("Svc"), "{text}");

    // Kafka clusters: listed and described, secrets redacted.
    let text = run(&["kafka-clusters", "list"]);
    assert!(text.contains("local"), "{text}");
    assert!(!text.contains("cli-secret"), "{text}");

    // Subscriptions: create, list, describe.
    let source = format!("kafka://local/{topic}");
    let text = run(&[
        "--yes",
        "subscriptions",
        "create",
        &source,
        "service://Svc/h",
        "auto.offset.reset=earliest",
    ]);
    let id = text
        .split_whitespace()
        .find(|w| w.starts_with("sub_"))
        .unwrap_or_else(|| panic!("no id in: {text}"))
        .to_owned();
    assert!(
        text.contains(&format!("Subscription {id} created")),
        "{text}"
    );
    let text = run(&["subscriptions", "list"]);
    assert!(text.contains(&id) && text.contains(&source), "{text}");
    let text = run(&["subscriptions", "describe", &id]);
    assert!(
        text.contains(&source) && text.contains("service://Svc/h"),
        "{text}"
    );
    assert!(text.contains("auto.offset.reset"), "{text}");
    let text = run(&["kafka-clusters", "describe", "local"]);
    assert!(text.contains(&id), "{text}");
    assert!(!text.contains("cli-secret"), "{text}");

    // The subscription the CLI created delivers.
    client
        .produce_keyed(&topic, 2, values("cli", 20), 20)
        .await
        .unwrap();
    wait_delivered(&h, "/Svc/h", 20, &server).await;

    // Delete: gone.
    let text = run(&["--yes", "subscriptions", "delete", &id]);
    assert!(
        text.contains(&format!("Subscription {id} deleted")),
        "{text}"
    );
    let text = run(&["subscriptions", "list"]);
    assert!(text.contains("No subscriptions registered"), "{text}");

    // Kafka clusters at runtime: create, list, describe, patch, use, delete.
    let text = run(&[
        "--yes",
        "kafka-clusters",
        "create",
        "rt",
        &format!("bootstrap.servers={bootstrap}"),
        "sasl.password=rt-secret",
    ]);
    assert!(text.contains("rt") && text.contains("created"), "{text}");
    let (status, kc) = server.call("GET", "/kafka-clusters/rt", None).await;
    assert_eq!(status, 200, "{kc}");
    assert_eq!(kc["properties"]["sasl.password"], "***");
    let text = run(&["kafka-clusters", "list"]);
    assert!(text.contains("rt") && text.contains(&bootstrap), "{text}");
    assert!(!text.contains("rt-secret"), "{text}");
    let text = run(&["kafka-clusters", "describe", "rt"]);
    assert!(text.contains(&bootstrap), "{text}");
    assert!(!text.contains("rt-secret"), "{text}");
    // patch: the CLI refuses to send "***" back, so the secret is set again.
    let text = run(&[
        "--yes",
        "kafka-clusters",
        "patch",
        "rt",
        "--set",
        "client.rack=rack-7",
        "--set",
        "sasl.password=rt-secret-2",
    ]);
    // (The CLI echoes the values given on its command line; the server never shows them.)
    assert!(text.contains("Kafka cluster rt updated"), "{text}");
    let (_, kc) = server.call("GET", "/kafka-clusters/rt", None).await;
    assert_eq!(kc["properties"]["client.rack"], "rack-7", "{kc}");
    assert_eq!(kc["properties"]["sasl.password"], "***", "{kc}");
    let text = run(&[
        "--yes",
        "subscriptions",
        "create",
        &format!("kafka://rt/{topic}"),
        "service://Svc/h",
        "auto.offset.reset=earliest",
    ]);
    let rt_sub = text
        .split_whitespace()
        .find(|w| w.starts_with("sub_"))
        .unwrap_or_else(|| panic!("no id in: {text}"))
        .to_owned();
    // Its records (the 20 above, from the start of the topic) arrive a second time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while h.requests().iter().filter(|r| r.path == "/Svc/h").count() < 40 {
        assert!(
            std::time::Instant::now() < deadline,
            "the subscription on the CLI-created cluster did not deliver\n{}",
            server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let text = run(&["kafka-clusters", "describe", "rt"]);
    assert!(text.contains(&rt_sub), "{text}");
    // delete without --force: the CLI itself refuses (a subscription uses it); with --force
    // it is removed and the subscription stops, saying why.
    let (ok, text) = restate(
        &cli,
        &home,
        &admin,
        &["--yes", "kafka-clusters", "delete", "rt"],
    );
    assert!(!ok, "{text}");
    run(&["--yes", "kafka-clusters", "delete", "--force", "rt"]);
    let (status, _) = server.call("GET", "/kafka-clusters/rt", None).await;
    assert_eq!(status, 404);
    let (_, st) = server
        .call("GET", &format!("/subscriptions/{rt_sub}/status"), None)
        .await;
    assert_eq!(st["state"], "failed", "{st}");
    assert!(st["reason"].as_str().unwrap().contains("\"rt\""), "{st}");
    run(&["--yes", "subscriptions", "delete", &rt_sub]);

    // register --force rediscovers and overwrites the deployment, keeping its id.
    let text = run(&["--yes", "deployments", "register", "--force", &h.url()]);
    assert!(text.contains(&dp), "{text}");
    let (_, listed) = server.call("GET", "/deployments", None).await;
    assert_eq!(
        listed["deployments"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
    assert_eq!(listed["deployments"][0]["id"], dp.as_str());

    // remove: the CLI asks /query for invocations in flight (none), then deletes.
    let text = run(&["--yes", "deployments", "remove", "--force", &dp]);
    assert!(text.contains(&dp), "{text}");
    let (status, _) = server
        .call("GET", &format!("/deployments/{dp}"), None)
        .await;
    assert_eq!(status, 404);
    let text = run(&["deployments", "list"]);
    assert!(!text.contains(&dp), "{text}");
}

/// A base dir written by a kafka-ingress from before Restate-format ids (`sub_`/`dp_` + 26
/// random characters): the API shows stable Restate-format aliases the CLI decodes, accepts
/// both forms in paths, and the subscription keeps its consumer group (its old id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_with_ids_from_before_restate_format_ids_are_managed_by_the_cli() {
    let cli = restate_cli();
    let bootstrap = KafkaCluster::shared().unwrap().bootstrap().to_owned();
    let client = TestClient::connect(&bootstrap).await.unwrap();
    let topic = client.create_topic("restate-cli-legacy", 1).await.unwrap();
    let h = RecordingHandler::start(RecordingHandler::manifest("Svc", "SERVICE", &["h"]))
        .await
        .unwrap();
    let dir = fresh_dir("restate-cli-legacy");
    let config = dir.join("restate.toml");
    std::fs::write(
        &config,
        format!("[[ingress.kafka-clusters]]\nname = \"local\"\nbrokers = [\"{bootstrap}\"]\n"),
    )
    .unwrap();
    let (old_sub, old_dp) = (
        "sub_Q7mZxw3LkP0aTbN5vR2cYdE8fG",
        "dp_H4jK9sLm2Np6Qr8Tv0Wx3Yz5Ab",
    );
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let state = serde_json::json!({
        "version": 1,
        "deployments": [{
            "id": old_dp, "uri": h.url().trim_end_matches('/'), "additional_headers": {},
            "services": [{"name": "Svc", "ty": "SERVICE", "handlers": [{"name": "h"}]}],
            "http_version": "HTTP/1.1", "created_at": "2026-06-01T00:00:00.000Z"
        }],
        "subscriptions": [{
            "id": old_sub, "source": format!("kafka://local/{topic}"), "sink": "service://Svc/h",
            "options": {"auto.offset.reset": "earliest"}, "paused": false
        }]
    });
    std::fs::write(data.join("state.json"), state.to_string()).unwrap();
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut server = Server::start(&config, &data, free_port(), dir.join("log"));
    server.wait_healthy().await;
    let admin = server.admin.clone();
    let run = |args: &[&str]| {
        let (ok, text) = restate(&cli, &home, &admin, args);
        assert!(ok, "restate {} failed:\n{text}", args.join(" "));
        text
    };

    let (_, listed) = server.call("GET", "/subscriptions", None).await;
    let sub = listed["subscriptions"][0].clone();
    let alias = sub["id"].as_str().unwrap().to_owned();
    assert!(alias.starts_with("sub_1") && alias.len() == 27, "{sub}");
    // The consumer group is still the old id: committed offsets carry over.
    assert_eq!(sub["options"]["group.id"], old_sub, "{sub}");
    for id in [old_sub, alias.as_str()] {
        let (status, got) = server
            .call("GET", &format!("/subscriptions/{id}"), None)
            .await;
        assert_eq!((status, &got["id"]), (200, &sub["id"]), "{got}");
    }
    let (_, dps) = server.call("GET", "/deployments", None).await;
    let dp_alias = dps["deployments"][0]["id"].as_str().unwrap().to_owned();
    assert!(
        dp_alias.starts_with("dp_1") && dp_alias.len() == 26,
        "{dps}"
    );
    let (status, _) = server
        .call("GET", &format!("/deployments/{old_dp}"), None)
        .await;
    assert_eq!(status, 200);

    let text = run(&["subscriptions", "list"]);
    assert!(text.contains(&alias), "{text}");
    let text = run(&["subscriptions", "describe", &alias]);
    assert!(text.contains("service://Svc/h"), "{text}");
    let text = run(&["services", "list"]);
    assert!(text.contains(&dp_alias), "{text}");
    let text = run(&["deployments", "describe", &dp_alias]);
    assert!(text.contains("Svc"), "{text}");

    // It delivers, and the CLI deletes it by its alias.
    client
        .produce_keyed(&topic, 1, values("legacy", 5), 5)
        .await
        .unwrap();
    wait_delivered(&h, "/Svc/h", 5, &server).await;
    run(&["--yes", "subscriptions", "delete", &alias]);
    let (status, _) = server
        .call("GET", &format!("/subscriptions/{old_sub}"), None)
        .await;
    assert_eq!(status, 404);
}
