//! The KIP-848 consumer group protocol (`group.protocol=consumer`) against a real broker:
//! members own each partition once, a member joining or leaving moves only what must move
//! and the others never stop fetching what they keep, a crashed member's partitions come
//! back after the session timeout with nothing lost, a member silent past its session is
//! fenced and rejoins with epoch 0, a crashed static member's restart waits
//! out its predecessor and says so, our members share a group with the Java consumer, and a
//! running classic group takes KIP-848 members. On a broker without the protocol (Apache
//! Kafka 3.9, tansu) the member fails with an error naming the option and the broker's
//! version, and the other tests say why they skip.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ingress::config::ClusterConfig;
use ingress::kafka::assignor::TopicPartition;
use ingress::kafka::consumer::{Consumer, ConsumerEvent};
use ingress::kafka::TcpConnector;
use ingress::options::{resolve, ConsumerSettings};
use testkit::interop::JavaConsoleConsumer;
use testkit::{KafkaCluster, TestClient, TestRecord};
use tokio::sync::mpsc;

fn bootstrap() -> String {
    KafkaCluster::shared()
        .expect("broker")
        .bootstrap()
        .to_owned()
}

macro_rules! require_kip848 {
    () => {
        if let Some(why) = support::kip848_unavailable().await {
            eprintln!("SKIPPED (KIP-848 not available): {why}");
            return;
        }
    };
}

fn settings(group: &str, extra: &[(&str, &str)]) -> ConsumerSettings {
    let cluster = ClusterConfig {
        name: "test".into(),
        brokers: vec![bootstrap()],
        options: BTreeMap::new(),
    };
    let mut opts: BTreeMap<String, String> = BTreeMap::from([
        ("group.id".to_owned(), group.to_owned()),
        ("group.protocol".to_owned(), "consumer".to_owned()),
        ("auto.offset.reset".to_owned(), "earliest".to_owned()),
        ("auto.commit.interval.ms".to_owned(), "200".to_owned()),
        ("fetch.wait.max.ms".to_owned(), "100".to_owned()),
    ]);
    for (k, v) in extra {
        opts.insert((*k).to_owned(), (*v).to_owned());
    }
    resolve(&cluster, &opts, group)
        .expect("valid options")
        .settings
}

/// What one member saw, shared with the test body.
#[derive(Debug, Default)]
struct Seen {
    owned: BTreeSet<TopicPartition>,
    revoked: usize,
    values: HashMap<i32, Vec<(i64, String)>>,
    fatal: Option<String>,
}

struct Member {
    consumer: Arc<Consumer>,
    seen: Arc<Mutex<Seen>>,
}

impl Member {
    fn start(settings: &ConsumerSettings, topic: &str) -> Member {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let (consumer, events) = Consumer::start(
            settings,
            vec![topic.to_owned()],
            Arc::new(TcpConnector {
                connect_timeout: Duration::from_secs(5),
            }),
        );
        let consumer = Arc::new(consumer);
        let seen = drive(consumer.clone(), events);
        Member { consumer, seen }
    }

    fn owned(&self) -> BTreeSet<TopicPartition> {
        self.seen.lock().unwrap().owned.clone()
    }

    fn revoked(&self) -> usize {
        self.seen.lock().unwrap().revoked
    }

    fn count(&self) -> usize {
        self.seen
            .lock()
            .unwrap()
            .values
            .values()
            .map(Vec::len)
            .sum()
    }
}

/// Drives a consumer's events like a trivial engine: every record is done at once.
fn drive(consumer: Arc<Consumer>, mut events: mpsc::Receiver<ConsumerEvent>) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let out = seen.clone();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            match ev {
                ConsumerEvent::Assigned(parts) => {
                    let mut s = seen.lock().unwrap();
                    for (tp, _) in parts {
                        assert!(s.owned.insert(tp), "assigned twice");
                    }
                }
                ConsumerEvent::Revoked { partitions, done } => {
                    let mut s = seen.lock().unwrap();
                    for tp in &partitions {
                        s.owned.remove(tp);
                    }
                    s.revoked += partitions.len();
                    let _ = done.send(());
                }
                ConsumerEvent::Records(batch) => {
                    let mut s = seen.lock().unwrap();
                    assert!(
                        s.owned.contains(&batch.partition),
                        "records of a partition we own"
                    );
                    let vals = s.values.entry(batch.partition.partition).or_default();
                    for r in &batch.records {
                        vals.push((
                            r.offset,
                            String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap(),
                        ));
                    }
                    consumer.mark_done(&batch.partition, batch.next_offset);
                }
                ConsumerEvent::PartitionFailed { partition, reason } => {
                    panic!("{partition:?} failed: {reason}")
                }
                ConsumerEvent::Fatal(e) => {
                    seen.lock().unwrap().fatal = Some(e.to_string());
                    return;
                }
            }
        }
    });
    out
}

async fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sets(members: &[Member]) -> Vec<BTreeSet<TopicPartition>> {
    members.iter().map(Member::owned).collect()
}

fn assert_exactly_once(members: &[Member], partitions: usize, what: &str) {
    let sets = sets(members);
    let total: usize = sets.iter().map(BTreeSet::len).sum();
    let union: BTreeSet<_> = sets.iter().flatten().collect();
    assert_eq!(
        (total, union.len()),
        (partitions, partitions),
        "{what}: every partition owned exactly once: {sets:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_own_each_partition_once_and_joins_and_leaves_move_only_what_must_move() {
    require_kip848!();
    let client = TestClient::connect(&bootstrap()).await.expect("client");
    let topic = client.create_topic("kip848", 12).await.expect("topic");
    let group = format!("g-{topic}");
    let s = settings(&group, &[]);
    let mut members: Vec<Member> = (0..3).map(|_| Member::start(&s, &topic)).collect();
    wait_for("3 members x 4 partitions", 60, || {
        sets(&members).iter().all(|o| o.len() == 4)
    })
    .await;
    assert_exactly_once(&members, 12, "3 members");
    // The cluster-wide status's view (DescribeGroups) of a KIP-848 group.
    let cluster = ingress::kafka::cluster::Cluster::new(
        ingress::kafka::cluster::ClusterSettings::from_consumer_settings(&s),
        Arc::new(TcpConnector {
            connect_timeout: Duration::from_secs(5),
        }),
    );
    let overview = ingress::kafka::group_overview::describe_group(&cluster, &group, &topic)
        .await
        .expect("describe");
    assert_eq!(overview.members.len(), 3, "{overview:?}");
    assert!(
        overview.members.iter().all(|m| m.partitions.len() == 4),
        "{overview:?}"
    );
    assert!(
        overview.partitions.iter().all(|p| p.owner.is_some()),
        "{overview:?}"
    );
    eprintln!("ConsumerGroupDescribe: state {}", overview.state);

    // A fourth member takes one partition from each: the others give up exactly that one
    // and keep fetching the rest.
    let before = sets(&members);
    let revoked_before: Vec<usize> = members.iter().map(Member::revoked).collect();
    members.push(Member::start(&s, &topic));
    wait_for("4 members x 3 partitions", 60, || {
        sets(&members).iter().all(|o| o.len() == 3)
    })
    .await;
    assert_exactly_once(&members, 12, "4 members");
    for (i, kept) in sets(&members)[..3].iter().enumerate() {
        assert!(
            kept.is_subset(&before[i]),
            "member {i} only lost partitions: {kept:?} of {:?}",
            before[i]
        );
        assert_eq!(
            members[i].revoked() - revoked_before[i],
            1,
            "member {i} revoked only the one partition that moved"
        );
    }

    // A member that leaves: its partitions move at once and nobody else revokes anything.
    let revoked_before: Vec<usize> = members[..3].iter().map(Member::revoked).collect();
    let before = sets(&members);
    let leaving = members.pop().unwrap();
    let started = std::time::Instant::now();
    leaving.consumer.close().await;
    wait_for("3 members x 4 partitions again", 30, || {
        sets(&members).iter().all(|o| o.len() == 4)
    })
    .await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "a leave moves partitions at once, not after the session timeout ({took:?})"
    );
    assert_exactly_once(&members, 12, "after a leave");
    for (i, now) in sets(&members).iter().enumerate() {
        assert!(before[i].is_subset(now), "member {i} kept what it had");
        assert_eq!(
            members[i].revoked(),
            revoked_before[i],
            "member {i} never stopped"
        );
    }
    for m in members {
        m.consumer.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_member_is_replaced_after_its_session_timeout_and_nothing_is_lost() {
    require_kip848!();
    let client = TestClient::connect(&bootstrap()).await.expect("client");
    let topic = client.create_topic("kip848-crash", 6).await.expect("topic");
    let group = format!("g-{topic}");
    let s = settings(&group, &[]);
    let produce = |round: usize| {
        let client = &client;
        let topic = topic.clone();
        async move {
            for p in 0..6 {
                let records = (0..50)
                    .map(|i| TestRecord::keyed("k", format!("r{round}-p{p}-{i}")))
                    .collect();
                client
                    .produce_to(&topic, p, records)
                    .await
                    .expect("produce");
            }
        }
    };
    produce(0).await;
    let a = Member::start(&s, &topic);
    let b = Member::start(&s, &topic);
    wait_for("3 + 3", 60, || a.owned().len() == 3 && b.owned().len() == 3).await;
    wait_for("the first 300 records", 30, || a.count() + b.count() >= 300).await;
    // Let the commits land, then crash b: no leave, no commit.
    tokio::time::sleep(Duration::from_millis(600)).await;
    b.consumer.abort();
    produce(1).await;
    let started = std::time::Instant::now();
    wait_for("a to own all 6 after b's session timed out", 90, || {
        a.owned().len() == 6
    })
    .await;
    eprintln!("b's partitions moved to a after {:?}", started.elapsed());
    wait_for("every record", 30, || {
        let seen_a = a.seen.lock().unwrap();
        let seen_b = b.seen.lock().unwrap();
        let values: BTreeSet<&String> = seen_a
            .values
            .values()
            .chain(seen_b.values.values())
            .flatten()
            .map(|(_, v)| v)
            .collect();
        values.len() == 600
    })
    .await;
    // Redelivered at most what b had not committed; per partition in offset order.
    {
        let seen_a = a.seen.lock().unwrap();
        for (p, vals) in &seen_a.values {
            let offsets: Vec<i64> = vals.iter().map(|(o, _)| *o).collect();
            let mut sorted = offsets.clone();
            sorted.sort();
            assert_eq!(offsets, sorted, "partition {p} in order");
        }
    }
    a.consumer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_that_crashes_rejoins_once_its_predecessor_timed_out() {
    // KIP-848 static membership: a restarted instance replaces its predecessor only after
    // that one left (or its session timed out); meanwhile the broker answers
    // UNRELEASED_INSTANCE_ID, which the member waits out and reports as trouble.
    require_kip848!();
    let client = TestClient::connect(&bootstrap()).await.expect("client");
    let topic = client
        .create_topic("kip848-static", 4)
        .await
        .expect("topic");
    let group = format!("g-{topic}");
    let member = |instance: &str| settings(&group, &[("group.instance.id", instance)]);
    let a = Member::start(&member("instance-a"), &topic);
    let b = Member::start(&member("instance-b"), &topic);
    wait_for("2 + 2", 60, || a.owned().len() == 2 && b.owned().len() == 2).await;
    a.consumer.abort();
    let a2 = Member::start(&member("instance-a"), &topic);
    let started = std::time::Instant::now();
    wait_for(
        "the restarted member to report the held instance id",
        30,
        || {
            a2.consumer
                .trouble()
                .is_some_and(|t| t.contains("UNRELEASED_INSTANCE_ID") && t.contains("instance-a"))
        },
    )
    .await;
    eprintln!("trouble while waiting: {:?}", a2.consumer.trouble());
    wait_for("the restarted static member's partitions", 90, || {
        a2.owned().len() == 2 && b.owned().len() == 2
    })
    .await;
    eprintln!("static member back after {:?}", started.elapsed());
    let (x, y) = (a2.owned(), b.owned());
    assert!(x.is_disjoint(&y), "no partition twice: {x:?} {y:?}");
    wait_for("the trouble to clear", 10, || {
        a2.consumer.trouble().is_none()
    })
    .await;
    a2.consumer.close().await;
    b.consumer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_members_and_the_java_consumer_share_a_kip848_group() {
    require_kip848!();
    if std::env::var("KAFKA_BROKER").as_deref() == Ok("tansu") {
        eprintln!("SKIPPED: the Java consumer runs from the Apache Kafka install");
        return;
    }
    let bootstrap = bootstrap();
    let client = TestClient::connect(&bootstrap).await.expect("client");
    let topic = client.create_topic("kip848-java", 6).await.expect("topic");
    let group = format!("g-{topic}");
    let java =
        JavaConsoleConsumer::start_consumer_protocol(&bootstrap, &group, &topic).expect("java");
    let ours = Member::start(&settings(&group, &[]), &topic);
    let detail = || {
        format!(
            "ours: {:?}\njava stdout:\n{}\njava stderr:\n{}",
            ours.owned(),
            java.stdout().tail(10),
            java.stderr().tail(20)
        )
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while ours.owned().len() != 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "no 3 + 3 split: {}",
            detail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(ours.owned().len(), 3, "settled: {}", detail());
    for p in 0..6 {
        let records = (0..20)
            .map(|i| TestRecord::keyed("k", format!("p{p}-{i}")))
            .collect();
        client
            .produce_to(&topic, p, records)
            .await
            .expect("produce");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while ours.count() + java.records().len() < 120 {
        assert!(
            std::time::Instant::now() < deadline,
            "not all 120: {}",
            detail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut all: BTreeMap<(i32, i64), String> = BTreeMap::new();
    for (p, vals) in &ours.seen.lock().unwrap().values {
        for (o, v) in vals {
            assert!(
                all.insert((*p, *o), v.clone()).is_none(),
                "ours twice: {p}/{o}"
            );
        }
    }
    for (p, o, v) in java.records() {
        assert!(all.insert((p, o), v).is_none(), "read by both: {p}/{o}");
    }
    assert_eq!(all.len(), 120, "every record exactly once");
    ours.consumer.close().await;
    java.stop().await.expect("stop java");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_without_kip848_gets_an_error_naming_the_option_and_its_version() {
    let Some(why) = support::kip848_unavailable().await else {
        eprintln!("SKIPPED: this broker offers KIP-848 (the error path needs one that does not)");
        return;
    };
    eprintln!("{why}");
    let client = TestClient::connect(&bootstrap()).await.expect("client");
    let topic = client.create_topic("kip848-none", 1).await.expect("topic");
    let m = Member::start(&settings(&format!("g-{topic}"), &[]), &topic);
    wait_for("the consumer to fail", 30, || {
        m.seen.lock().unwrap().fatal.is_some()
    })
    .await;
    let fatal = m.seen.lock().unwrap().fatal.clone().unwrap();
    eprintln!("the error: {fatal}");
    assert!(fatal.contains("group.protocol=consumer"), "{fatal}");
    assert!(
        fatal.contains("metadata.version") || fatal.contains("no metadata.version"),
        "{fatal}"
    );
    assert!(fatal.contains("group.protocol=classic"), "{fatal}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classic_group_takes_a_kip848_member_and_both_own_each_partition_once() {
    // The upgrade path: a running classic group gets members on the new protocol; Kafka 4.x
    // converts the group (group.consumer.migration.policy) and keeps serving the classic one.
    require_kip848!();
    let client = TestClient::connect(&bootstrap()).await.expect("client");
    let topic = client.create_topic("kip848-mixed", 6).await.expect("topic");
    let group = format!("g-{topic}");
    let cluster = ClusterConfig {
        name: "test".into(),
        brokers: vec![bootstrap()],
        options: BTreeMap::new(),
    };
    let classic_opts: BTreeMap<String, String> = [
        ("group.id", group.as_str()),
        ("auto.offset.reset", "earliest"),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
        ("partition.assignment.strategy", "range"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let classic = resolve(&cluster, &classic_opts, &group)
        .expect("options")
        .settings;
    let old = Member::start(&classic, &topic);
    wait_for("the classic member to own all 6", 60, || {
        old.owned().len() == 6
    })
    .await;
    let new = Member::start(&settings(&group, &[]), &topic);
    wait_for("3 + 3 across the protocols", 60, || {
        old.owned().len() == 3 && new.owned().len() == 3
    })
    .await;
    assert!(old.owned().is_disjoint(&new.owned()), "no partition twice");
    assert!(old.seen.lock().unwrap().fatal.is_none() && new.seen.lock().unwrap().fatal.is_none());
    new.consumer.close().await;
    wait_for("the classic member to own all 6 again", 30, || {
        old.owned().len() == 6
    })
    .await;
    old.consumer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_silent_past_its_session_is_fenced_and_rejoins_with_epoch_zero() {
    // What a long pause or a network partition does: the coordinator drops the member; its
    // next heartbeat learns it (UNKNOWN_MEMBER_ID / FENCED_MEMBER_EPOCH), it forgets its
    // partitions and joins again with epoch 0 under the same member id.
    use ingress::kafka::consumer_group::{
        ConsumerGroupMember, ConsumerHeartbeatOutcome, ConsumerMemberConfig, ConsumerMemberState,
    };
    use ingress::kafka::group::find_coordinator;
    require_kip848!();
    let client = TestClient::connect(&bootstrap()).await.expect("client");
    let topic = client.create_topic("kip848-fence", 2).await.expect("topic");
    let group = format!("g-{topic}");
    let (host, port) = bootstrap()
        .rsplit_once(':')
        .map(|(h, p)| (h.to_owned(), p.parse::<u16>().unwrap()))
        .unwrap();
    let any = support::connect(&host, port).await;
    let mut found = None;
    for _ in 0..100 {
        match find_coordinator(&any, &group).await {
            Ok(addr) => {
                found = Some(addr);
                break;
            }
            Err(e) if e.is_retriable() => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(e) => panic!("find coordinator: {e}"),
        }
    }
    let addr = found.expect("a coordinator");
    let coordinator = support::connect(&addr.host, addr.port).await;
    let mut member = ConsumerGroupMember::new(ConsumerMemberConfig {
        group_id: group.clone(),
        group_instance_id: None,
        rebalance_timeout: Duration::from_secs(5),
        server_assignor: None,
        topics: vec![topic.clone()],
        rack_id: None,
    });
    let id = member.member_id().to_owned();
    // Join and take the assignment (both partitions, by topic id).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let target = loop {
        let owned: Vec<([u8; 16], Vec<i32>)> = Vec::new();
        assert_eq!(
            member
                .heartbeat(&coordinator, &owned)
                .await
                .expect("heartbeat"),
            ConsumerHeartbeatOutcome::Alive
        );
        if let Some(t) = member.take_target().filter(|t| !t.is_empty()) {
            break t;
        }
        assert!(std::time::Instant::now() < deadline, "no assignment");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let owned: Vec<([u8; 16], Vec<i32>)> = target.into_iter().collect();
    assert_eq!(owned[0].1.len(), 2, "one member owns both partitions");
    member.heartbeat(&coordinator, &owned).await.expect("ack");
    let ConsumerMemberState::Member { epoch } = member.state() else {
        panic!("not a member: {:?}", member.state())
    };
    assert!(epoch > 0);
    // Silence past the session timeout (6 s on our test broker, 45 s by Kafka's default).
    let deadline = std::time::Instant::now() + Duration::from_secs(70);
    let mut outcome = ConsumerHeartbeatOutcome::Alive;
    while std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(7)).await;
        outcome = member
            .heartbeat(&coordinator, &owned)
            .await
            .expect("heartbeat");
        if outcome != ConsumerHeartbeatOutcome::Alive {
            break;
        }
    }
    assert!(
        matches!(outcome, ConsumerHeartbeatOutcome::Fenced(_)),
        "fenced after the silence, got {outcome:?}"
    );
    eprintln!("after the silence: {outcome:?}");
    assert_eq!(member.state(), ConsumerMemberState::Unjoined);
    assert!(member.owned().is_empty());
    // Rejoins with epoch 0 and the same id, and gets the partitions again.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        assert_eq!(
            member.heartbeat(&coordinator, &[]).await.expect("rejoin"),
            ConsumerHeartbeatOutcome::Alive
        );
        if member
            .take_target()
            .is_some_and(|t| t.values().map(Vec::len).sum::<usize>() == 2)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no assignment after rejoining"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(member.member_id(), id);
    member.leave(&coordinator).await.expect("leave");
}
