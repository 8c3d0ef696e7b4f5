//! The codec and the broker connection against a real broker: ApiVersions negotiation for
//! every API the consumer uses, Metadata of a fresh topic, and a raw Fetch.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

use std::time::Duration;

use ingress::kafka::{Broker, ClientError, ConnectionSettings, TcpConnector};
use kafka_proto::error_code::ErrorCode;
use kafka_proto::messages::fetch::{FetchPartition, FetchRequest, FetchTopic};
use kafka_proto::messages::find_coordinator::FindCoordinatorRequest;
use kafka_proto::messages::heartbeat::HeartbeatRequest;
use kafka_proto::messages::join_group::JoinGroupRequest;
use kafka_proto::messages::leave_group::LeaveGroupRequest;
use kafka_proto::messages::list_offsets::ListOffsetsRequest;
use kafka_proto::messages::metadata::{MetadataRequest, MetadataRequestTopic};
use kafka_proto::messages::offset_commit::OffsetCommitRequest;
use kafka_proto::messages::offset_fetch::OffsetFetchRequest;
use kafka_proto::messages::sync_group::SyncGroupRequest;
use testkit::{KafkaCluster, TestClient, TestRecord};

fn settings() -> ConnectionSettings {
    ConnectionSettings {
        client_id: "kafka-ingress-test".into(),
        request_timeout: Duration::from_secs(10),
        max_response_bytes: 100 * 1024 * 1024,
        sasl: None,
    }
}

async fn connect(bootstrap: &str) -> Broker {
    let (host, port) = bootstrap.rsplit_once(':').expect("host:port");
    let connector = TcpConnector {
        connect_timeout: Duration::from_secs(5),
    };
    Broker::connect(&connector, host, port.parse().expect("port"), &settings())
        .await
        .expect("connect and negotiate")
}

#[tokio::test]
async fn every_consumer_api_has_a_common_version_with_the_broker() {
    let cluster = KafkaCluster::shared().expect("broker");
    let broker = connect(cluster.bootstrap()).await;
    let versions = [
        ("Metadata", broker.version_for::<MetadataRequest>()),
        (
            "FindCoordinator",
            broker.version_for::<FindCoordinatorRequest>(),
        ),
        ("JoinGroup", broker.version_for::<JoinGroupRequest>()),
        ("SyncGroup", broker.version_for::<SyncGroupRequest>()),
        ("Heartbeat", broker.version_for::<HeartbeatRequest>()),
        ("LeaveGroup", broker.version_for::<LeaveGroupRequest>()),
        ("OffsetFetch", broker.version_for::<OffsetFetchRequest>()),
        ("OffsetCommit", broker.version_for::<OffsetCommitRequest>()),
        ("ListOffsets", broker.version_for::<ListOffsetsRequest>()),
        ("Fetch", broker.version_for::<FetchRequest>()),
    ];
    for (api, v) in &versions {
        let v = v.as_ref().unwrap_or_else(|e| panic!("{api}: {e}"));
        eprintln!("{api}: v{v}");
    }
}

#[tokio::test]
async fn metadata_and_fetch_of_a_fresh_topic_decode() {
    let cluster = KafkaCluster::shared().expect("broker");
    let client = TestClient::connect(cluster.bootstrap())
        .await
        .expect("client");
    let topic = client.create_topic("proto", 3).await.expect("topic");
    for batch in 0..3 {
        let records = (0..10)
            .map(|i| TestRecord::keyed(&format!("k{i}"), format!("v{batch}-{i}")).header("h", "x"))
            .collect();
        client
            .produce_to(&topic, 1, records)
            .await
            .expect("produce");
    }
    let broker = connect(cluster.bootstrap()).await;
    let md = broker
        .request(&MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some(topic.clone()),
                ..Default::default()
            }]),
            ..Default::default()
        })
        .await
        .expect("metadata");
    assert!(!md.brokers.is_empty(), "brokers listed");
    let t = md
        .topics
        .iter()
        .find(|t| t.name.as_deref() == Some(topic.as_str()))
        .expect("topic in metadata");
    assert_eq!(ErrorCode::from_code(t.error_code), ErrorCode::None);
    assert_eq!(t.partitions.len(), 3);
    assert!(
        t.partitions.iter().all(|p| p.leader_id >= 0),
        "every partition has a leader"
    );

    let fetch = FetchRequest {
        max_wait_ms: 100,
        min_bytes: 1,
        max_bytes: 1 << 20,
        isolation_level: 1,
        topics: vec![FetchTopic {
            topic: topic.clone(),
            topic_id: t.topic_id,
            partitions: vec![FetchPartition {
                partition: 1,
                fetch_offset: 0,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let resp = broker.request(&fetch).await.expect("fetch");
    assert_eq!(ErrorCode::from_code(resp.error_code), ErrorCode::None);
    let p = &resp.responses[0].partitions[0];
    assert_eq!(ErrorCode::from_code(p.error_code), ErrorCode::None);
    assert_eq!(p.high_watermark, 30);
    let records = p.records.clone().expect("records");
    assert!(records.len() > 30 * 10, "three batches of records returned");
}

#[tokio::test]
async fn a_closed_port_is_a_clear_connect_error() {
    let connector = TcpConnector {
        connect_timeout: Duration::from_secs(2),
    };
    // Port 1 on loopback is not a Kafka broker.
    let err = Broker::connect(&connector, "127.0.0.1", 1, &settings())
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(err, ClientError::Connection(_)), "{err}");
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}

#[tokio::test]
async fn an_incremental_fetch_session_reads_two_partitions_to_the_end() {
    use std::collections::BTreeMap;

    use ingress::kafka::assignor::TopicPartition;
    use ingress::kafka::fetch_session::{FetchLimits, FetchSession, PartitionFetch};
    use kafka_proto::record::decode_record_batches;

    let cluster = KafkaCluster::shared().expect("broker");
    let client = TestClient::connect(cluster.bootstrap())
        .await
        .expect("client");
    let topic = client.create_topic("session", 2).await.expect("topic");
    for p in 0..2 {
        for batch in 0..5 {
            let recs = (0..4)
                .map(|i| TestRecord::keyed("k", format!("{p}-{batch}-{i}")))
                .collect();
            client.produce_to(&topic, p, recs).await.expect("produce");
        }
    }
    let broker = connect(cluster.bootstrap()).await;
    let md = broker
        .request(&MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some(topic.clone()),
                ..Default::default()
            }]),
            ..Default::default()
        })
        .await
        .expect("metadata");
    let id = md.topics[0].topic_id;
    // Small per-partition limits force several round trips.
    let mut wanted: BTreeMap<TopicPartition, PartitionFetch> = (0..2)
        .map(|p| {
            (
                TopicPartition::new(&topic, p),
                PartitionFetch {
                    topic_id: id,
                    offset: 0,
                    leader_epoch: -1,
                    max_bytes: 150,
                },
            )
        })
        .collect();
    let limits = FetchLimits {
        max_wait_ms: 50,
        min_bytes: 1,
        max_bytes: 1 << 20,
        isolation_level: 1,
    };
    let mut session = FetchSession::new();
    let mut got: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    let mut incremental_requests = 0;
    for _ in 0..50 {
        if wanted.values().all(|w| w.offset >= 20) {
            break;
        }
        let req = session.build_request(&wanted, limits, "");
        if req.session_id != 0 {
            incremental_requests += 1;
        }
        let resp = broker.request(&req).await.expect("fetch");
        assert!(
            session.handle_response(resp.error_code, resp.session_id),
            "session error {}",
            resp.error_code
        );
        for t in &resp.responses {
            for p in &t.partitions {
                assert_eq!(ErrorCode::from_code(p.error_code), ErrorCode::None);
                let Some(blob) = p.records.clone() else {
                    continue;
                };
                let set = decode_record_batches(blob).expect("decode");
                let w = wanted
                    .get_mut(&TopicPartition::new(&topic, p.partition_index))
                    .expect("wanted");
                for r in set.records_from(w.offset) {
                    got.entry(p.partition_index)
                        .or_default()
                        .push(String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap());
                }
                if let Some(next) = set.next_offset() {
                    w.offset = next;
                }
            }
        }
    }
    for p in 0..2 {
        let expected: Vec<String> = (0..5)
            .flat_map(|b| (0..4).map(move |i| format!("{p}-{b}-{i}")))
            .collect();
        assert_eq!(
            got.get(&p),
            Some(&expected),
            "partition {p} read in order, once"
        );
    }
    // tansu opens no fetch sessions (it answers session id 0); other brokers do.
    if std::env::var("KAFKA_BROKER").as_deref() != Ok("tansu") {
        assert!(
            incremental_requests > 0,
            "the broker granted a fetch session"
        );
    }
}
