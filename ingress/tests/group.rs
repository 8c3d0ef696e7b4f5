//! Classic group membership and committed offsets against a real broker: two members split a
//! topic without overlap, a leaving member's partitions move at once, offsets commit and read
//! back, and a commit from a stale generation is refused.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use ingress::kafka::assignor::TopicPartition;
use ingress::kafka::group::{find_coordinator, GroupMember, HeartbeatOutcome, MemberConfig};
use ingress::kafka::offsets::{self, CommitIdentity, TopicIds};
use ingress::kafka::{Broker, ClientError};
use kafka_proto::error_code::ErrorCode;
use kafka_proto::messages::metadata::{MetadataRequest, MetadataRequestTopic};
use testkit::{KafkaCluster, TestClient};
use tokio::sync::watch;

mod support;
use support::connect;

async fn bootstrap_broker() -> Broker {
    let cluster = KafkaCluster::shared().expect("broker");
    let (host, port) = cluster.bootstrap().rsplit_once(':').unwrap();
    connect(host, port.parse().unwrap()).await
}

/// Finds and connects to the group's coordinator. On a fresh broker the first lookups answer
/// COORDINATOR_NOT_AVAILABLE while `__consumer_offsets` is created: a retriable error.
async fn coordinator_for(group: &str) -> Broker {
    let any = bootstrap_broker().await;
    for _ in 0..100 {
        match find_coordinator(&any, group).await {
            Ok(addr) => return connect(&addr.host, addr.port).await,
            Err(e) if e.is_retriable() => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(e) => panic!("find coordinator: {e}"),
        }
    }
    panic!("no coordinator for {group} after 20 s");
}

fn config(group: &str, topic: &str, strategy: &str) -> MemberConfig {
    MemberConfig {
        group_id: group.into(),
        group_instance_id: None,
        session_timeout: Duration::from_secs(10),
        rebalance_timeout: Duration::from_secs(10),
        assignment_strategies: vec![strategy.into()],
        topics: vec![topic.into()],
        rack_id: None,
    }
}

/// Runs one member: join, assign when leader, sync, heartbeat; publishes its assignment.
/// Stops (leaving the group) when `stop` turns true.
async fn run_member(
    mut member: GroupMember,
    partitions: i32,
    published: watch::Sender<Vec<TopicPartition>>,
    mut stop: watch::Receiver<bool>,
) -> GroupMember {
    let coordinator = coordinator_for(&member.config().group_id).await;
    let counts: BTreeMap<String, i32> = member
        .config()
        .topics
        .iter()
        .map(|t| (t.clone(), partitions))
        .collect();
    loop {
        let joined = member.join(&coordinator).await;
        let outcome = match joined {
            Ok(o) => o,
            Err(ClientError::Broker {
                code: ErrorCode::RebalanceInProgress,
                ..
            }) => continue,
            // The coordinator may still be loading the group right after it was created.
            Err(e) if e.is_retriable() => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(e) => panic!("join: {e}"),
        };
        let assignments = if outcome.is_leader {
            member.assign(&outcome.members, &counts).expect("assign")
        } else {
            BTreeMap::new()
        };
        match member.sync(&coordinator, &assignments).await {
            Ok(_) => {}
            Err(ClientError::Broker {
                code: ErrorCode::RebalanceInProgress,
                ..
            }) => continue,
            Err(e) => panic!("sync: {e}"),
        }
        published.send_replace(member.owned().to_vec());
        loop {
            tokio::select! {
                _ = stop.changed() => {
                    member.leave(&coordinator, "test done").await.expect("leave");
                    return member;
                }
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            match member.heartbeat(&coordinator).await.expect("heartbeat") {
                HeartbeatOutcome::Alive => {}
                HeartbeatOutcome::RejoinNeeded => {
                    member.revoke_all();
                    break;
                }
                other => panic!("unexpected heartbeat outcome {other:?}"),
            }
        }
    }
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_split_partitions_and_a_leaver_hands_them_over() {
    let cluster = KafkaCluster::shared().expect("broker");
    let client = TestClient::connect(cluster.bootstrap())
        .await
        .expect("client");
    let topic = client.create_topic("group", 4).await.expect("topic");
    let group = format!("g-{topic}");

    let (a_tx, a_rx) = watch::channel(Vec::new());
    let (b_tx, b_rx) = watch::channel(Vec::new());
    let (stop_a_tx, stop_a) = watch::channel(false);
    let (stop_b_tx, stop_b) = watch::channel(false);
    let a = tokio::spawn(run_member(
        GroupMember::new(config(&group, &topic, "range")),
        4,
        a_tx,
        stop_a,
    ));
    wait_until("member a owns all 4", || a_rx.borrow().len() == 4).await;
    let b = tokio::spawn(run_member(
        GroupMember::new(config(&group, &topic, "range")),
        4,
        b_tx,
        stop_b,
    ));
    wait_until("a and b own 2 each", || {
        a_rx.borrow().len() == 2 && b_rx.borrow().len() == 2
    })
    .await;
    let owned_a: BTreeSet<_> = a_rx.borrow().iter().cloned().collect();
    let owned_b: BTreeSet<_> = b_rx.borrow().iter().cloned().collect();
    assert!(
        owned_a.is_disjoint(&owned_b),
        "no partition owned twice: {owned_a:?} {owned_b:?}"
    );

    // A graceful leave moves b's partitions to a without waiting for the session timeout.
    let started = std::time::Instant::now();
    stop_b_tx.send_replace(true);
    let b = b.await.unwrap();
    assert!(b.member_id().is_empty(), "b left the group");
    wait_until("a owns all 4 again", || a_rx.borrow().len() == 4).await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "rebalanced in {:?}",
        started.elapsed()
    );
    stop_a_tx.send_replace(true);
    a.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_commit_read_back_and_refuse_a_stale_generation() {
    let cluster = KafkaCluster::shared().expect("broker");
    let client = TestClient::connect(cluster.bootstrap())
        .await
        .expect("client");
    let topic = client.create_topic("offsets", 2).await.expect("topic");
    let group = format!("g-{topic}");
    let any = bootstrap_broker().await;
    let md = any
        .request(&MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some(topic.clone()),
                ..Default::default()
            }]),
            ..Default::default()
        })
        .await
        .unwrap();
    let ids: TopicIds = md
        .topics
        .iter()
        .map(|t| (t.name.clone().unwrap(), t.topic_id))
        .collect();

    let coordinator = Arc::new(coordinator_for(&group).await);
    let mut member = GroupMember::new(config(&group, &topic, "roundrobin"));
    let outcome = loop {
        match member.join(&coordinator).await {
            Ok(o) => break o,
            Err(e) if e.is_retriable() => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(e) => panic!("join: {e}"),
        }
    };
    assert!(outcome.is_leader, "alone, so leader");
    let counts = BTreeMap::from([(topic.clone(), 2)]);
    let assignments = member.assign(&outcome.members, &counts).unwrap();
    member.sync(&coordinator, &assignments).await.expect("sync");
    assert_eq!(member.owned().len(), 2);

    let parts = vec![
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    ];
    let before = offsets::fetch_committed(&coordinator, &group, &parts, &ids, true)
        .await
        .unwrap();
    assert!(before.is_empty(), "nothing committed yet: {before:?}");

    let who = CommitIdentity {
        group_id: &group,
        generation: member.generation(),
        member_id: member.member_id(),
        group_instance_id: None,
    };
    let to_commit = BTreeMap::from([(parts[0].clone(), 5), (parts[1].clone(), 7)]);
    offsets::commit(&coordinator, &who, &to_commit, &ids)
        .await
        .expect("commit");
    let after = offsets::fetch_committed(&coordinator, &group, &parts, &ids, true)
        .await
        .unwrap();
    assert_eq!(after, to_commit);

    let stale = CommitIdentity {
        generation: member.generation() - 1,
        ..who.clone()
    };
    let err = offsets::commit(&coordinator, &stale, &to_commit, &ids)
        .await
        .expect_err("stale");
    assert!(
        matches!(
            err,
            ClientError::Broker {
                code: ErrorCode::IllegalGeneration,
                ..
            }
        ),
        "{err}"
    );

    // The log end offsets of an empty topic are 0 at both ends.
    let ends = offsets::list_offsets(&any, &parts, offsets::LATEST_TIMESTAMP, 1)
        .await
        .unwrap();
    assert_eq!(ends.values().copied().collect::<Vec<_>>(), vec![0, 0]);
    member.leave(&coordinator, "done").await.expect("leave");
}
