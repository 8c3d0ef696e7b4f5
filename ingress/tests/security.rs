//! SASL and TLS against real Apache Kafka brokers started by `scripts/kafka.sh --security`.
//!
//! Each test starts its own broker (always Apache Kafka, whatever `KAFKA_BROKER` says: tansu is
//! started plaintext only) and runs several checks on it, so only three brokers start. Settings
//! come from librdkafka option names through `options::resolve`, as in production.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ingress::config::ClusterConfig;
use ingress::kafka::{connector_for, Broker, ClientError, ConnectionSettings};
use ingress::options::resolve;
use kafka_proto::messages::metadata::MetadataRequest;
use testkit::{BrokerKind, PrivateBroker};

/// librdkafka options as (name, value) pairs.
type Options<'a> = Vec<(&'a str, &'a str)>;

const USER: &str = "ingress";
const PASSWORD: &str = "ingress-secret";

/// Connects to `host:port` with the given librdkafka options and sends Metadata.
async fn metadata_with(host: &str, port: u16, options: &[(&str, &str)]) -> Result<(), ClientError> {
    let cluster = ClusterConfig {
        name: "secure".into(),
        brokers: vec![format!("{host}:{port}")],
        options: options
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    let resolved = resolve(&cluster, &BTreeMap::new(), "security-test").expect("options resolve");
    let security = resolved.settings.security;
    let connector = connector_for(&security, Duration::from_secs(5))?;
    let settings = ConnectionSettings {
        client_id: "kafka-ingress-security-test".into(),
        request_timeout: Duration::from_secs(10),
        max_response_bytes: 100 << 20,
        sasl: security.sasl,
    };
    let broker = Broker::connect(connector.as_ref(), host, port, &settings).await?;
    let md = broker.request(&MetadataRequest::default()).await?;
    assert_eq!(md.brokers.len(), 1, "one broker listed");
    // The advertised client listener (the forwarder's port differs, the host does not).
    assert_eq!(
        md.brokers[0].host, "127.0.0.1",
        "advertised client listener"
    );
    Ok(())
}

/// Consumes three records end to end with the [`Consumer`] over the secured listener (the
/// topic is created and filled through the broker's internal PLAINTEXT listener on port+2).
async fn consume_with(host: &str, port: u16, options: &[(&str, &str)]) {
    use ingress::kafka::consumer::{Consumer, ConsumerEvent};
    use testkit::{TestClient, TestRecord};

    let admin = TestClient::connect(&format!("127.0.0.1:{}", port + 2))
        .await
        .expect("internal plaintext listener");
    let topic = admin.create_topic("secure", 1).await.expect("topic");
    let values = ["s1", "s2", "s3"];
    admin
        .produce_to(
            &topic,
            0,
            values.iter().map(|v| TestRecord::keyed("k", *v)).collect(),
        )
        .await
        .expect("produce");
    let cluster = ClusterConfig {
        name: "secure".into(),
        brokers: vec![format!("{host}:{port}")],
        options: options
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    let sub = BTreeMap::from([("auto.offset.reset".to_owned(), "earliest".to_owned())]);
    let settings = resolve(&cluster, &sub, &format!("g-{topic}"))
        .expect("options")
        .settings;
    let connector = connector_for(&settings.security, Duration::from_secs(5)).expect("connector");
    let (consumer, mut events) = Consumer::start(&settings, vec![topic.clone()], connector);
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < values.len() {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("records within 30 s")
            .expect("consumer running");
        match ev {
            ConsumerEvent::Records(batch) => {
                for r in &batch.records {
                    got.push(String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap());
                }
                consumer.mark_done(&batch.partition, batch.next_offset);
            }
            ConsumerEvent::Revoked { done, .. } => {
                let _ = done.send(());
            }
            ConsumerEvent::Fatal(e) => panic!("consumer failed: {e}"),
            _ => {}
        }
    }
    assert_eq!(got, values, "consumed over the secured listener");
    let closing = tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            if let ConsumerEvent::Revoked { done, .. } = ev {
                let _ = done.send(());
            }
        }
    });
    consumer.close().await;
    closing.abort();
}

/// Creates a topic and produces a record with rskafka over the secured listener (the
/// dead-letter producer's path), then reads it back with rskafka too.
async fn rskafka_with(host: &str, port: u16, options: &[(&str, &str)]) {
    use ingress::kafka::rskafka_client::rskafka_client_builder;
    use rskafka::client::partition::{Compression, UnknownTopicHandling};
    use rskafka::record::Record;

    let cluster = ClusterConfig {
        name: "secure".into(),
        brokers: vec![format!("{host}:{port}")],
        options: options
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    let settings = resolve(&cluster, &BTreeMap::new(), "rskafka")
        .expect("options")
        .settings;
    let client = tokio::time::timeout(
        Duration::from_secs(20),
        rskafka_client_builder(&settings).expect("builder").build(),
    )
    .await
    .expect("rskafka connects in time")
    .expect("rskafka connects over the secured listener");
    let topic = format!("rskafka-secure-{}", rand_suffix());
    client
        .controller_client()
        .expect("controller")
        .create_topic(&topic, 1, 1, 10_000)
        .await
        .expect("create topic over the secured listener");
    let pc = client
        .partition_client(&topic, 0, UnknownTopicHandling::Retry)
        .await
        .expect("partition client");
    let record = Record {
        key: Some(b"k".to_vec()),
        value: Some(b"dead-letter".to_vec()),
        headers: Default::default(),
        timestamp: chrono::Utc::now(),
    };
    pc.produce(vec![record], Compression::NoCompression)
        .await
        .expect("produce");
    let (records, _) = pc.fetch_records(0, 1..100_000, 1_000).await.expect("fetch");
    assert_eq!(
        records[0].record.value.as_deref(),
        Some(b"dead-letter".as_slice())
    );
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

fn start(args: &[&str]) -> (PrivateBroker, u16) {
    let t = Instant::now();
    let broker = PrivateBroker::start_with(BrokerKind::Kafka, args).expect("secured broker starts");
    eprintln!("broker {args:?} started in {:?}", t.elapsed());
    let port = broker
        .bootstrap()
        .rsplit_once(':')
        .unwrap()
        .1
        .parse()
        .unwrap();
    (broker, port)
}

/// Forwards connections on `listen_host` (a free port, returned) to the broker on 127.0.0.1.
async fn forward(listen_host: &str, broker_port: u16) -> u16 {
    let listener = tokio::net::TcpListener::bind((listen_host, 0))
        .await
        .expect("bind the forwarder");
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) =
                    tokio::net::TcpStream::connect(("127.0.0.1", broker_port)).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    port
}

/// Runs `f`, prints how long it took, and returns its result.
async fn timed<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    let t = Instant::now();
    let out = f.await;
    eprintln!("{what}: {:?}", t.elapsed());
    out
}

fn assert_auth_error(err: ClientError, port: u16, want: &[&str]) {
    let text = err.to_string();
    assert!(
        matches!(err, ClientError::Authentication { .. }),
        "not an authentication error: {text}"
    );
    assert!(
        text.contains(&format!("127.0.0.1:{port}")),
        "names the broker: {text}"
    );
    for w in want {
        assert!(text.contains(w), "{w:?} missing in: {text}");
    }
    assert!(!text.contains(PASSWORD), "no password in: {text}");
}

#[tokio::test]
async fn sasl_plaintext_plain_and_scram() {
    let (_broker, port) = start(&["--security", "sasl"]);
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let options = [
            ("security.protocol", "sasl_plaintext"),
            ("sasl.mechanism", mechanism),
            ("sasl.username", USER),
            ("sasl.password", PASSWORD),
        ];
        timed(
            &format!("{mechanism}: connect + Metadata"),
            metadata_with("127.0.0.1", port, &options),
        )
        .await
        .unwrap_or_else(|e| panic!("{mechanism}: {e}"));
        if mechanism != "SCRAM-SHA-256" {
            timed(
                &format!("{mechanism}: consume"),
                consume_with("127.0.0.1", port, &options),
            )
            .await;
        }
    }

    for (mechanism, user) in [
        ("PLAIN", USER),
        ("SCRAM-SHA-256", USER),
        ("SCRAM-SHA-512", USER),
        ("SCRAM-SHA-512", "nobody,=x"),
    ] {
        let options = [
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanisms", mechanism),
            ("sasl.username", user),
            ("sasl.password", "wrong-password"),
        ];
        let t = Instant::now();
        let err = metadata_with("127.0.0.1", port, &options)
            .await
            .expect_err("a wrong password is refused");
        eprintln!(
            "{mechanism} wrong password ({user}) refused in {:?}: {err}",
            t.elapsed()
        );
        assert!(t.elapsed() < Duration::from_secs(5), "fails fast");
        // The broker's own message, e.g. "Authentication failed: Invalid username or password".
        assert_auth_error(err, port, &[mechanism, "Authentication failed"]);
    }

    // Without SASL the broker answers ApiVersions but then drops the connection.
    let err = metadata_with("127.0.0.1", port, &[])
        .await
        .expect_err("an unauthenticated Metadata is refused");
    eprintln!("plaintext client on a SASL listener: {err}");
}

/// `(name, value)` options borrowed as [`Options`].
fn borrowed<'a>(owned: &'a [(&'a str, String)]) -> Options<'a> {
    owned.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// An OIDC token endpoint for the tests: the client-credentials grant with HTTP Basic client
/// authentication; `good` gets an unsigned JWT for `sub=ingress` (what the broker's unsecured
/// validator accepts), `forger` a token the broker rejects, anyone else 401. Over TLS with
/// `ca`'s certificate when given.
async fn token_endpoint(
    ca: Option<&testkit::TestCa>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use base64::Engine as _;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let issued = std::sync::Arc::new(AtomicUsize::new(0));
    let count = issued.clone();
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let count = count.clone();
            async move {
                let basic = |id: &str, secret: &str| {
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
                    )
                };
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                assert!(body.starts_with("grant_type=client_credentials"), "{body}");
                let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                let token = if auth == basic("good", "s3cret") {
                    count.fetch_add(1, Ordering::SeqCst);
                    let claims = format!(r#"{{"sub":"ingress","iat":{now},"exp":{}}}"#, now + 600);
                    format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(&claims))
                } else if auth == basic("forger", "s3cret") {
                    // Signed with an algorithm the unsecured validator refuses.
                    let claims = format!(r#"{{"sub":"ingress","exp":{}}}"#, now + 600);
                    format!("{}.{}.c2ln", b64(r#"{"alg":"HS256"}"#), b64(&claims))
                } else {
                    return (
                        axum::http::StatusCode::UNAUTHORIZED,
                        r#"{"error":"invalid_client"}"#.to_owned(),
                    );
                };
                (
                    axum::http::StatusCode::OK,
                    format!(
                        r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":600}}"#
                    ),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    match ca {
        Some(ca) => {
            testkit::tls::serve_tls(listener, app, ca.server_config(&["http/1.1"]).unwrap());
            (format!("https://{addr}/token"), issued)
        }
        None => {
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            (format!("http://{addr}/token"), issued)
        }
    }
}

#[tokio::test]
async fn sasl_oauthbearer_unsecured_jwt_and_oidc() {
    use std::sync::atomic::Ordering;
    let (_broker, port) = start(&["--security", "sasl"]);

    // Development brokers: an unsigned JWT built from sasl.oauthbearer.config.
    let unsecured = [
        ("security.protocol", "sasl_plaintext"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
        (
            "sasl.oauthbearer.config",
            "principal=ingress lifeSeconds=600",
        ),
    ];
    timed(
        "unsecured JWT: connect + Metadata",
        metadata_with("127.0.0.1", port, &unsecured),
    )
    .await
    .expect("unsecured JWT accepted");
    timed(
        "unsecured JWT: consume",
        consume_with("127.0.0.1", port, &unsecured),
    )
    .await;

    // OIDC client credentials: the consumer and rskafka (the dead-letter producer) both
    // authenticate with the endpoint's token, fetched once and shared.
    let (url, issued) = token_endpoint(None).await;
    let oidc = |client: &'static str, secret: &'static str| -> Vec<(&'static str, String)> {
        vec![
            ("security.protocol", "sasl_plaintext".to_owned()),
            ("sasl.mechanism", "OAUTHBEARER".to_owned()),
            ("sasl.oauthbearer.method", "oidc".to_owned()),
            ("sasl.oauthbearer.token.endpoint.url", url.clone()),
            ("sasl.oauthbearer.client.id", client.to_owned()),
            ("sasl.oauthbearer.client.secret", secret.to_owned()),
            ("sasl.oauthbearer.scope", "kafka".to_owned()),
        ]
    };
    let good = oidc("good", "s3cret");
    let good = borrowed(&good);
    timed(
        "OIDC: connect + Metadata",
        metadata_with("127.0.0.1", port, &good),
    )
    .await
    .expect("OIDC token accepted");
    timed("OIDC: consume", consume_with("127.0.0.1", port, &good)).await;
    timed(
        "OIDC: rskafka produce",
        rskafka_with("127.0.0.1", port, &good),
    )
    .await;
    assert_eq!(
        issued.load(Ordering::SeqCst),
        1,
        "one token served every connection (cached until 80 % of its lifetime)"
    );

    // The endpoint refuses the client: its status and answer, not the secret.
    let refused = oidc("good", "wrong-secret");
    let refused = borrowed(&refused);
    let err = metadata_with("127.0.0.1", port, &refused)
        .await
        .expect_err("a refused client gets no token");
    eprintln!("OIDC wrong secret: {err}");
    assert_auth_error(err, port, &["token endpoint", "401", "invalid_client"]);
    // The broker refuses the token: its RFC 7628 status and message.
    let forged = oidc("forger", "s3cret");
    let forged = borrowed(&forged);
    let err = metadata_with("127.0.0.1", port, &forged)
        .await
        .expect_err("a token the broker does not accept");
    eprintln!("OIDC rejected token: {err}");
    assert_auth_error(err, port, &["rejected the token", "invalid_token"]);

    // An https token endpoint with a private CA: trusted through https.ca.location.
    let ca = testkit::TestCa::new("idp").unwrap();
    let (https_url, https_issued) = token_endpoint(Some(&ca)).await;
    let ca_file = ca.ca_file().display().to_string();
    let mut over_tls: Vec<(&str, &str)> = good
        .iter()
        .map(|(k, v)| {
            if *k == "sasl.oauthbearer.token.endpoint.url" {
                (*k, https_url.as_str())
            } else {
                (*k, *v)
            }
        })
        .collect();
    let untrusted = over_tls.clone();
    over_tls.push(("https.ca.location", &ca_file));
    metadata_with("127.0.0.1", port, &over_tls)
        .await
        .expect("token from the https endpoint");
    assert_eq!(https_issued.load(Ordering::SeqCst), 1);
    let err = metadata_with("127.0.0.1", port, &untrusted)
        .await
        .expect_err("the system store does not trust the private CA");
    eprintln!("OIDC untrusted endpoint: {err}");
    assert_auth_error(err, port, &[&https_url, "UnknownIssuer"]);
}

#[tokio::test]
async fn tls_ca_mutual_tls_and_untrusted_ca() {
    let (broker, port) = start(&["--security", "ssl"]);
    let tls = broker.dir().join("tls");
    let path = |f: &str| tls.join(f).to_str().unwrap().to_owned();
    let (ca, cert, key, enc_key) = (
        path("ca.pem"),
        path("client.pem"),
        path("client.key"),
        path("client.enc.key"),
    );
    let ca_pem = std::fs::read_to_string(&ca).unwrap();

    let ok_cases: Vec<(&str, &str, Options)> = vec![
        (
            "CA file, IP address",
            "127.0.0.1",
            vec![("ssl.ca.location", &ca)],
        ),
        (
            "CA file, host name",
            "localhost",
            vec![("ssl.ca.location", &ca)],
        ),
        (
            "CA directory",
            "127.0.0.1",
            vec![("ssl.ca.location", tls.to_str().unwrap())],
        ),
        ("inline CA", "localhost", vec![("ssl.ca.pem", &ca_pem)]),
        (
            "no host name check",
            "localhost",
            vec![
                ("ssl.ca.location", &ca),
                ("ssl.endpoint.identification.algorithm", "none"),
            ],
        ),
        (
            "mutual TLS",
            "127.0.0.1",
            vec![
                ("ssl.ca.location", &ca),
                ("ssl.certificate.location", &cert),
                ("ssl.key.location", &key),
            ],
        ),
        (
            "mutual TLS, encrypted PKCS#8 key",
            "127.0.0.1",
            vec![
                ("ssl.ca.location", &ca),
                ("ssl.certificate.location", &cert),
                ("ssl.key.location", &enc_key),
                ("ssl.key.password", PASSWORD),
            ],
        ),
        (
            "verification disabled",
            "127.0.0.1",
            vec![("enable.ssl.certificate.verification", "false")],
        ),
    ];
    for (what, host, extra) in ok_cases {
        let mut options = vec![("security.protocol", "ssl")];
        options.extend(extra);
        timed(
            &format!("TLS {what}: connect + Metadata"),
            metadata_with(host, port, &options),
        )
        .await
        .unwrap_or_else(|e| panic!("TLS {what}: {e}"));
        if what == "CA file, host name" || what == "mutual TLS" {
            timed(
                &format!("TLS {what}: consume"),
                consume_with(host, port, &options),
            )
            .await;
        }
    }

    // A name the certificate does not carry (127.0.0.2, forwarded to the broker): refused
    // with https, accepted with `none` because the chain is still good.
    let forward_port = forward("127.0.0.2", port).await;
    let err = metadata_with(
        "127.0.0.2",
        forward_port,
        &[("security.protocol", "ssl"), ("ssl.ca.location", &ca)],
    )
    .await
    .expect_err("a host name mismatch is refused");
    eprintln!("host name mismatch: {err}");
    assert!(
        err.to_string().contains("not valid for name \"127.0.0.2\""),
        "{err}"
    );
    assert!(err.to_string().contains("does not name this host"), "{err}");
    timed(
        "TLS host name mismatch with identification none",
        metadata_with(
            "127.0.0.2",
            forward_port,
            &[
                ("security.protocol", "ssl"),
                ("ssl.ca.location", &ca),
                ("ssl.endpoint.identification.algorithm", "none"),
            ],
        ),
    )
    .await
    .expect("identification none skips the name check");

    // No CA configured: the system trust store does not know the throwaway CA.
    let err = metadata_with("127.0.0.1", port, &[("security.protocol", "ssl")])
        .await
        .expect_err("an untrusted CA is refused");
    eprintln!("untrusted CA: {err}");
    let text = err.to_string();
    assert!(matches!(err, ClientError::Connection(_)), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("UnknownIssuer"), "{text}");
    assert!(text.contains("not signed by a trusted CA"), "{text}");

    // A wrong key password is a configuration error, before any connection.
    let err = metadata_with(
        "127.0.0.1",
        port,
        &[
            ("security.protocol", "ssl"),
            ("ssl.ca.location", &ca),
            ("ssl.certificate.location", &cert),
            ("ssl.key.location", &enc_key),
            ("ssl.key.password", "wrong"),
        ],
    )
    .await
    .expect_err("a wrong key password is refused");
    assert!(matches!(err, ClientError::TlsConfig { .. }), "{err}");
    assert!(err.to_string().contains("cannot decrypt"), "{err}");

    // TLS client on a TLS listener, but speaking SASL: the broker has no SASL there.
    let err = metadata_with(
        "127.0.0.1",
        port,
        &[
            ("security.protocol", "sasl_ssl"),
            ("ssl.ca.location", &ca),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", USER),
            ("sasl.password", PASSWORD),
        ],
    )
    .await
    .expect_err("SASL on a listener without SASL fails");
    eprintln!("SASL on an SSL listener: {err}");
}

#[tokio::test]
async fn sasl_ssl_scram_over_tls_and_disabled_mechanism() {
    let (broker, port) = start(&[
        "--security",
        "sasl_ssl",
        "--sasl-mechanisms",
        "SCRAM-SHA-512",
    ]);
    let ca = broker.dir().join("tls/ca.pem").to_str().unwrap().to_owned();
    let options = |mechanism| {
        [
            ("security.protocol", "sasl_ssl"),
            ("ssl.ca.location", ca.as_str()),
            ("sasl.mechanism", mechanism),
            ("sasl.username", USER),
            ("sasl.password", PASSWORD),
        ]
    };
    timed(
        "SASL_SSL SCRAM-SHA-512: connect + Metadata",
        metadata_with("localhost", port, &options("SCRAM-SHA-512")),
    )
    .await
    .expect("SCRAM-SHA-512 over TLS");
    timed(
        "SASL_SSL SCRAM-SHA-512: consume",
        consume_with("localhost", port, &options("SCRAM-SHA-512")),
    )
    .await;
    timed(
        "SASL_SSL SCRAM-SHA-512: rskafka produce + fetch",
        rskafka_with("localhost", port, &options("SCRAM-SHA-512")),
    )
    .await;

    let t = Instant::now();
    let err = metadata_with("localhost", port, &options("PLAIN"))
        .await
        .expect_err("PLAIN is not enabled on this listener");
    eprintln!("disabled mechanism refused in {:?}: {err}", t.elapsed());
    let text = err.to_string();
    assert!(matches!(err, ClientError::Authentication { .. }), "{text}");
    assert!(text.contains(&format!("localhost:{port}")), "{text}");
    assert!(text.contains("mechanism PLAIN is not enabled"), "{text}");
    assert!(text.contains("enabled: SCRAM-SHA-512"), "{text}");
}
