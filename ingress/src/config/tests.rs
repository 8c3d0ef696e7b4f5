#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(text: &str) -> Result<ServerConfig, ConfigError> {
    ServerConfig::from_toml_str(Path::new("restate.toml"), text, no_env())
}

fn load_ok(text: &str) -> ServerConfig {
    load(text).unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(text: &str) -> String {
    match load(text) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---------- the reference docs, verbatim ----------

#[test]
fn docs_example_single_cluster() {
    let c = load_ok(
        r#"[[ingress.kafka-clusters]]
name = "my-cluster"
brokers = ["PLAINTEXT://broker:9092"]
"#,
    );
    assert_eq!(
        c.ingress.kafka_clusters,
        vec![ClusterConfig {
            name: "my-cluster".into(),
            brokers: vec!["PLAINTEXT://broker:9092".into()],
            options: BTreeMap::new(),
        }]
    );
    assert_eq!(c.base_dir, PathBuf::from("kafka-ingress-data"));
    assert_eq!(c.admin.bind_address.to_string(), "0.0.0.0:9070");
    assert!(c.warnings.is_empty());
}

#[test]
fn docs_example_connection_options() {
    let c = load_ok(
        r#"[[ingress.kafka-clusters]]
name = "my-cluster"
brokers = ["PLAINTEXT://broker:9092"]
sasl.username = "me"
sasl.password = "pass"
"#,
    );
    let cluster = c.ingress.cluster("my-cluster").unwrap();
    assert_eq!(
        cluster.options,
        opts(&[("sasl.password", "pass"), ("sasl.username", "me")])
    );
    assert_eq!(
        cluster.redacted_options(),
        opts(&[("sasl.password", "***"), ("sasl.username", "***")])
    );
}

#[test]
fn docs_example_multiple_clusters() {
    let c = load_ok(
        r#"[[ingress.kafka-clusters]]
name = "my-cluster-1"
brokers = ["PLAINTEXT://localhost:9092"]
[[ingress.kafka-clusters]]
name = "my-cluster-2"
brokers = ["PLAINTEXT://localhost:9093"]
"#,
    );
    assert_eq!(c.ingress.cluster_names(), ["my-cluster-1", "my-cluster-2"]);
    assert_eq!(
        c.ingress.cluster("my-cluster-2").unwrap().brokers,
        ["PLAINTEXT://localhost:9093"]
    );
    assert!(c.ingress.cluster("my-cluster-3").is_none());
}

#[test]
fn docs_example_env() {
    let c = ServerConfig::load(
        None,
        env(&[(
            "RESTATE_INGRESS__KAFKA_CLUSTERS",
            r#"[{name="my-cluster",brokers=["PLAINTEXT://broker:9092"]}]"#,
        )]),
    )
    .unwrap();
    assert_eq!(c.ingress.cluster_names(), ["my-cluster"]);
    assert_eq!(
        c.ingress.kafka_clusters[0].brokers,
        ["PLAINTEXT://broker:9092"]
    );
}

#[test]
fn spec_example() {
    let c = load_ok(
        r#"
base-dir = "kafka-ingress-data"          # where subscriptions/deployments are persisted
[admin]
bind-address = "0.0.0.0:9070"
[[ingress.kafka-clusters]]
name = "my-cluster"
brokers = ["PLAINTEXT://broker:9092"]   # [proto://]host:port, proto sets security.protocol
sasl.username = "me"                      # dotted keys work unquoted (nested table) AND quoted
"sasl.password" = "pass"                  # any librdkafka property, applied to every subscription
"#,
    );
    assert_eq!(
        c.ingress.kafka_clusters[0].options,
        opts(&[("sasl.password", "pass"), ("sasl.username", "me")])
    );
}

// ---------- file contents ----------

#[test]
fn defaults_without_file_or_env() {
    let c = ServerConfig::load(None, no_env()).unwrap();
    assert_eq!(c.base_dir, PathBuf::from(DEFAULT_BASE_DIR));
    assert_eq!(c.admin.bind_address.to_string(), DEFAULT_ADMIN_BIND_ADDRESS);
    assert!(c.ingress.kafka_clusters.is_empty());
}

#[test]
fn base_dir_and_bind_address() {
    let c = load_ok("base-dir = \"/var/lib/ki\"\n[admin]\nbind-address = \"127.0.0.1:19070\"\n");
    assert_eq!(c.base_dir, PathBuf::from("/var/lib/ki"));
    assert_eq!(c.admin.bind_address.to_string(), "127.0.0.1:19070");
    assert_eq!(
        load_err("[admin]\nbind-address = \"localhost\"\n"),
        "restate.toml: admin.bind-address: invalid socket address \"localhost\" (expected ip:port, e.g. 0.0.0.0:9070)"
    );
    assert_eq!(
        load_err("base-dir = 3\n"),
        "restate.toml: base-dir: expected a string, found an integer"
    );
}

#[test]
fn nested_and_quoted_keys_are_the_same() {
    let nested = load_ok(
        "[[ingress.kafka-clusters]]\nname = \"c\"\nbrokers = [\"b:1\"]\nsasl.username = \"u\"\nsession.timeout.ms = 10000\n",
    );
    let quoted = load_ok(
        "[[ingress.kafka-clusters]]\nname = \"c\"\nbrokers = [\"b:1\"]\n\"sasl.username\" = \"u\"\n\"session.timeout.ms\" = \"10000\"\n",
    );
    let table = load_ok(
        "[[ingress.kafka-clusters]]\nname = \"c\"\nbrokers = [\"b:1\"]\n[ingress.kafka-clusters.sasl]\nusername = \"u\"\n[ingress.kafka-clusters.session.timeout]\nms = 10000\n",
    );
    assert_eq!(nested, quoted);
    assert_eq!(nested, table);
    assert_eq!(
        nested.ingress.kafka_clusters[0].options,
        opts(&[("sasl.username", "u"), ("session.timeout.ms", "10000")])
    );
}

#[test]
fn quoted_and_dotted_key_for_the_same_option_is_an_error() {
    assert_eq!(
        load_err(
            "[[ingress.kafka-clusters]]\nname = \"c\"\nbrokers = [\"b:1\"]\nsasl.username = \"a\"\n\"sasl.username\" = \"b\"\n"
        ),
        "restate.toml: ingress.kafka-clusters[0].sasl.username: set twice (as a quoted and as a dotted key)"
    );
}

#[test]
fn values_are_normalised_to_librdkafka_syntax() {
    let c = load_ok(
        r#"[[ingress.kafka-clusters]]
name = "c"
brokers = ["b:1"]
session.timeout.ms = 30000
enable.ssl.certificate.verification = false
linger.ms = 0.5
retry.backoff.ms = 200.0
partition.assignment.strategy = ["range", "roundrobin"]
ingress.max-in-flight = 10
"#,
    );
    assert_eq!(
        c.ingress.kafka_clusters[0].options,
        opts(&[
            ("enable.ssl.certificate.verification", "false"),
            ("ingress.max-in-flight", "10"),
            ("linger.ms", "0.5"),
            ("partition.assignment.strategy", "range,roundrobin"),
            ("retry.backoff.ms", "200"),
            ("session.timeout.ms", "30000"),
        ])
    );
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    assert!(c.warnings[0].contains("linger.ms is a producer property"));
    assert_eq!(
        load_err("[[ingress.kafka-clusters]]\nname = \"c\"\nbrokers = [\"b:1\"]\nclient.id = 1979-05-27\n"),
        "restate.toml: ingress.kafka-clusters[0].client.id: expected a string, number or boolean, found a datetime"
    );
}

#[test]
fn cluster_options_are_checked_by_the_translator() {
    let base = "[[ingress.kafka-clusters]]\nname = \"c\"\nbrokers = [\"b:1\"]\n";
    assert_eq!(
        load_err(&format!("{base}sasl.usernme = \"x\"\n")),
        "restate.toml: ingress.kafka-clusters[0].sasl.usernme: No such configuration property: \"sasl.usernme\""
    );
    assert_eq!(
        load_err(&format!("{base}session.timeout.ms = 0\n")),
        "restate.toml: ingress.kafka-clusters[0].session.timeout.ms: Configuration property \"session.timeout.ms\" value 0 is outside allowed range 1..3600000"
    );
    assert_eq!(
        load_err(&format!("{base}auto.offset.reset = \"first\"\n")),
        "restate.toml: ingress.kafka-clusters[0].auto.offset.reset: Invalid value for configuration property \"auto.offset.reset\""
    );
    assert_eq!(
        load_err(&format!("{base}ingress.max-inflight = 3\n")),
        "restate.toml: ingress.kafka-clusters[0].ingress.max-inflight: No such configuration property: \"ingress.max-inflight\""
    );
    assert_eq!(
        load_err("[[ingress.kafka-clusters]]\nname = \"c\"\nbrokers = [\"ftp://b:1\"]\n"),
        "restate.toml: ingress.kafka-clusters[0].brokers: Invalid broker address \"ftp://b:1\": unsupported protocol \"ftp\" (expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)"
    );
    assert_eq!(
        load_err("[[ingress.kafka-clusters]]\nname = \"c\"\n"),
        "restate.toml: ingress.kafka-clusters[0].brokers: No bootstrap brokers configured: set \"brokers\" on the cluster"
    );
    assert_eq!(
        load_err(&format!("{base}sasl.mechanism = \"PLAIN\"\nsasl.mechanisms = \"PLAIN\"\n")),
        "restate.toml: ingress.kafka-clusters[0].sasl.mechanisms: Configuration property \"sasl.mechanism\" is set twice, also as its alias \"sasl.mechanisms\""
    );
    // bootstrap.servers may stand in for brokers.
    let c = load_ok("[[ingress.kafka-clusters]]\nname = \"c\"\nbootstrap.servers = \"b:1,b:2\"\n");
    assert!(c.ingress.kafka_clusters[0].brokers.is_empty());
}

#[test]
fn unknown_sections_are_ignored() {
    let c = load_ok(
        r#"
roles = ["worker", "admin"]
cluster-name = "localcluster"
[worker]
internal-queue-length = 1000
[admin]
bind-address = "0.0.0.0:9070"
query-engine.memory-size = "4.0 GB"
[ingress]
bind-address = "0.0.0.0:8080"
[[ingress.kafka-clusters]]
name = "c"
brokers = ["b:9092"]
[metadata-store.rocksdb]
rocksdb-disable-wal = true
"#,
    );
    assert_eq!(c.ingress.cluster_names(), ["c"]);
}

#[test]
fn duplicate_cluster_names() {
    assert_eq!(
        load_err(
            "[[ingress.kafka-clusters]]\nname = \"c\"\nbrokers = [\"b:1\"]\n[[ingress.kafka-clusters]]\nname = \"c\"\nbrokers = [\"b:2\"]\n"
        ),
        "restate.toml: ingress.kafka-clusters[1].name: duplicate cluster name \"c\""
    );
}

#[test]
fn cluster_shape_errors() {
    assert_eq!(
        load_err("[[ingress.kafka-clusters]]\nbrokers = [\"b:1\"]\n"),
        "restate.toml: ingress.kafka-clusters[0].name: missing field"
    );
    assert_eq!(
        load_err("[[ingress.kafka-clusters]]\nname = \"a/b\"\nbrokers = [\"b:1\"]\n"),
        "restate.toml: ingress.kafka-clusters[0].name: invalid cluster name \"a/b\": must be non-empty, without '/' or spaces"
    );
    assert_eq!(
        load_err("[[ingress.kafka-clusters]]\nname = \"c\"\nbrokers = [9092]\n"),
        "restate.toml: ingress.kafka-clusters[0].brokers[0]: expected a string, found an integer"
    );
    assert_eq!(
        load_err("[ingress]\nkafka-clusters = \"c\"\n"),
        "restate.toml: ingress.kafka-clusters: expected an array of tables, found a string"
    );
}

#[test]
fn syntax_errors_have_line_and_column() {
    let e = load(
        "[admin]\nbind-address = \"0.0.0.0:9070\"\n[[ingress.kafka-clusters]]\nname = my-cluster\n",
    )
    .unwrap_err();
    match &e {
        ConfigError::Syntax {
            origin,
            line,
            column,
            ..
        } => {
            assert_eq!(origin, &ConfigOrigin::File(PathBuf::from("restate.toml")));
            assert_eq!((*line, *column), (4, 8), "{e}");
        }
        other => panic!("{other}"),
    }
    assert!(
        e.to_string()
            .starts_with("restate.toml:4:8: invalid TOML: "),
        "{e}"
    );
}

#[test]
fn line_column_counts_characters() {
    assert_eq!(line_column("ab\ncdé f", 0), (1, 1));
    assert_eq!(line_column("ab\ncdé f", 3), (2, 1));
    assert_eq!(line_column("ab\ncdé f", 7), (2, 4));
    assert_eq!(line_column("ab", 99), (1, 3));
}

#[test]
fn reads_a_file_and_names_it_in_errors() {
    let dir =
        std::env::temp_dir().join(format!("kafka-ingress-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("restate.toml");
    std::fs::write(
        &path,
        "base-dir = \"/data\"\n[admin]\nbind-address = \"1.2.3.4:5\"\n",
    )
    .unwrap();
    let c = ServerConfig::load(Some(&path), no_env()).unwrap();
    assert_eq!(c.base_dir, PathBuf::from("/data"));
    std::fs::write(&path, "base-dir = \n").unwrap();
    let e = ServerConfig::load(Some(&path), no_env())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&format!("{}:1:", path.display())), "{e}");
    let missing = dir.join("missing.toml");
    let e = ServerConfig::load(Some(&missing), no_env())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("cannot read config file {}", missing.display())),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------- environment ----------

#[test]
fn env_key_paths() {
    assert_eq!(
        env_var_key_path("RESTATE_INGRESS__KAFKA_CLUSTERS"),
        Some(vec!["ingress".to_owned(), "kafka-clusters".to_owned()])
    );
    assert_eq!(
        env_var_key_path("RESTATE_BASE_DIR"),
        Some(vec!["base-dir".to_owned()])
    );
    assert_eq!(env_var_key_path("RESTATE_"), None);
    assert_eq!(env_var_key_path("HOME"), None);
}

#[test]
fn env_values_are_inline_toml_with_string_fallback() {
    assert_eq!(parse_env_value("V", "42").unwrap(), Value::Integer(42));
    assert_eq!(parse_env_value("V", "true").unwrap(), Value::Boolean(true));
    assert_eq!(
        parse_env_value("V", "\"quoted\"").unwrap(),
        Value::String("quoted".into())
    );
    assert_eq!(
        parse_env_value("V", "127.0.0.1:9070").unwrap(),
        Value::String("127.0.0.1:9070".into())
    );
    assert_eq!(
        parse_env_value("V", "/var/lib/x").unwrap(),
        Value::String("/var/lib/x".into())
    );
    assert!(matches!(
        parse_env_value("V", "[1, 2]").unwrap(),
        Value::Array(_)
    ));
}

#[test]
fn env_scalars() {
    let c = ServerConfig::load(
        None,
        env(&[
            ("RESTATE_ADMIN__BIND_ADDRESS", "127.0.0.1:9070"),
            ("RESTATE_BASE_DIR", "/srv/data"),
            ("RESTATE_LOG_FILTER", "info"),
            ("RESTATE_WORKER__STORAGE_QUERY_ENGINE__BAD", "[not toml"),
            ("HOME", "/root"),
        ]),
    )
    .unwrap();
    assert_eq!(c.admin.bind_address.to_string(), "127.0.0.1:9070");
    assert_eq!(c.base_dir, PathBuf::from("/srv/data"));
    // A quoted string and a value that happens to be a number stay strings.
    let c = ServerConfig::load(None, env(&[("RESTATE_BASE_DIR", "\"/q\"")])).unwrap();
    assert_eq!(c.base_dir, PathBuf::from("/q"));
    let c = ServerConfig::load(None, env(&[("RESTATE_BASE_DIR", "2024")])).unwrap();
    assert_eq!(c.base_dir, PathBuf::from("2024"));
}

#[test]
fn env_overrides_the_file_field_by_field() {
    let file = r#"base-dir = "/from-file"
[admin]
bind-address = "0.0.0.0:1111"
[[ingress.kafka-clusters]]
name = "file-cluster"
brokers = ["f:9092"]
"#;
    let c = ServerConfig::from_toml_str(
        Path::new("restate.toml"),
        file,
        env(&[("RESTATE_ADMIN__BIND_ADDRESS", "127.0.0.1:2222")]),
    )
    .unwrap();
    assert_eq!(c.base_dir, PathBuf::from("/from-file"));
    assert_eq!(c.admin.bind_address.to_string(), "127.0.0.1:2222");
    assert_eq!(c.ingress.cluster_names(), ["file-cluster"]);

    let c = ServerConfig::from_toml_str(
        Path::new("restate.toml"),
        file,
        env(&[(
            "RESTATE_INGRESS__KAFKA_CLUSTERS",
            r#"[{name="a",brokers=["SASL_SSL://a:9093"],sasl.username="u","sasl.password"="p",sasl.mechanism="PLAIN"},{name="b",brokers=["b:9092"],"auto.offset.reset"="earliest"}]"#,
        )]),
    )
    .unwrap();
    assert_eq!(c.base_dir, PathBuf::from("/from-file"));
    assert_eq!(c.admin.bind_address.to_string(), "0.0.0.0:1111");
    assert_eq!(c.ingress.cluster_names(), ["a", "b"], "array replaced");
    assert_eq!(
        c.ingress.kafka_clusters[0].options,
        opts(&[
            ("sasl.mechanism", "PLAIN"),
            ("sasl.password", "p"),
            ("sasl.username", "u")
        ])
    );
}

#[test]
fn env_errors_name_the_variable() {
    let e = ServerConfig::load(
        None,
        env(&[(
            "RESTATE_INGRESS__KAFKA_CLUSTERS",
            r#"[{name="c",brokers=["b:1"]}"#,
        )]),
    )
    .unwrap_err();
    match &e {
        ConfigError::Syntax { origin, line, .. } => {
            assert_eq!(
                origin,
                &ConfigOrigin::Env("RESTATE_INGRESS__KAFKA_CLUSTERS".into())
            );
            assert_eq!(*line, 1);
        }
        other => panic!("{other}"),
    }
    assert!(
        e.to_string()
            .starts_with("environment variable RESTATE_INGRESS__KAFKA_CLUSTERS:1:"),
        "{e}"
    );
    let e = ServerConfig::load(
        None,
        env(&[(
            "RESTATE_INGRESS__KAFKA_CLUSTERS",
            r#"[{name="c",brokers=["b:1"],"bogus.prop"=1}]"#,
        )]),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "environment variable RESTATE_INGRESS__KAFKA_CLUSTERS: ingress.kafka-clusters[0].bogus.prop: No such configuration property: \"bogus.prop\""
    );
    let e = ServerConfig::load(
        None,
        env(&[("RESTATE_INGRESS__KAFKA_CLUSTERS", "my-cluster")]),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "environment variable RESTATE_INGRESS__KAFKA_CLUSTERS: ingress.kafka-clusters: expected an array of tables, found a string"
    );
    let e = ServerConfig::load(None, env(&[("RESTATE_ADMIN__BIND_ADDRESS", "nope")])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "environment variable RESTATE_ADMIN__BIND_ADDRESS: admin.bind-address: invalid socket address \"nope\" (expected ip:port, e.g. 0.0.0.0:9070)"
    );
}

#[test]
fn config_feeds_the_translator() {
    let c = load_ok(
        r#"[[ingress.kafka-clusters]]
name = "c"
brokers = ["SASL_SSL://b:9093"]
sasl.mechanism = "SCRAM-SHA-256"
sasl.username = "me"
sasl.password = "pass"
auto.offset.reset = "earliest"
"#,
    );
    let cluster = c.ingress.cluster("c").unwrap();
    let r = crate::options::resolve(cluster, &opts(&[("auto.offset.reset", "latest")]), "sub_x")
        .unwrap();
    assert_eq!(
        r.settings.security.protocol,
        crate::options::SecurityProtocol::SaslSsl
    );
    assert_eq!(
        r.settings.auto_offset_reset,
        crate::options::AutoOffsetReset::Latest
    );
    assert!(!format!("{c:?}").contains("pass\""));
}

#[test]
fn metadata_store_defaults_to_local() {
    let c = load_ok("[[ingress.kafka-clusters]]\nname = \"k\"\nbrokers = [\"h:9092\"]\n");
    assert_eq!(c.ingress.metadata_store, MetadataStoreConfig::Local);
}

#[test]
fn metadata_store_kafka_with_defaults_and_settings() {
    let base = "[[ingress.kafka-clusters]]\nname = \"k\"\nbrokers = [\"h:9092\"]\n";
    let c = load_ok(&format!(
        "{base}[ingress.metadata-store]\nstore = \"kafka\"\ncluster = \"k\"\n"
    ));
    assert_eq!(
        c.ingress.metadata_store,
        MetadataStoreConfig::Kafka(KafkaStoreConfig {
            cluster: "k".into(),
            topic: DEFAULT_METADATA_TOPIC.into(),
            replication_factor: None,
            min_insync_replicas: None,
        })
    );
    let c = load_ok(&format!(
        "{base}[ingress.metadata-store]\nstore = \"kafka\"\ncluster = \"k\"\ntopic = \"meta\"\n\
         replication-factor = 3\nmin-insync-replicas = 2\n"
    ));
    let MetadataStoreConfig::Kafka(k) = c.ingress.metadata_store else {
        panic!("not kafka")
    };
    assert_eq!(
        (
            k.topic.as_str(),
            k.replication_factor,
            k.min_insync_replicas
        ),
        ("meta", Some(3), Some(2))
    );
}

#[test]
fn metadata_store_errors_name_the_field() {
    let base = "[[ingress.kafka-clusters]]\nname = \"k\"\nbrokers = [\"h:9092\"]\n";
    let cases = [
        (
            "store = \"kafka\"\n",
            "ingress.metadata-store.cluster",
            "missing",
        ),
        (
            "store = \"kafka\"\ncluster = \"x\"\n",
            "ingress.metadata-store.cluster",
            "unknown Kafka cluster \"x\" (configured: k)",
        ),
        (
            "store = \"zk\"\n",
            "ingress.metadata-store.store",
            "unknown store \"zk\"",
        ),
        (
            "store = \"kafka\"\ncluster = \"k\"\ntopic = \"a b\"\n",
            "ingress.metadata-store.topic",
            "invalid topic name",
        ),
        (
            "store = \"kafka\"\ncluster = \"k\"\nreplication-factor = 0\n",
            "ingress.metadata-store.replication-factor",
            "not a positive count",
        ),
        (
            "store = \"kafka\"\ncluster = \"k\"\ntopik = \"m\"\n",
            "ingress.metadata-store.topik",
            "unknown key",
        ),
        (
            "cluster = \"k\"\n",
            "ingress.metadata-store.cluster",
            "only used with store = \"kafka\"",
        ),
    ];
    for (table, field, message) in cases {
        let e = load_err(&format!("{base}[ingress.metadata-store]\n{table}"));
        assert!(e.contains(field) && e.contains(message), "{table}: {e}");
    }
}
