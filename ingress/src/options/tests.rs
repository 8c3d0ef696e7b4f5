#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use super::table::{self, PropertyKind};
use super::*;

fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn cluster(pairs: &[(&str, &str)]) -> ClusterConfig {
    ClusterConfig {
        name: "c".to_owned(),
        brokers: vec!["localhost:9092".to_owned()],
        options: opts(pairs),
    }
}

fn resolve_sub(pairs: &[(&str, &str)]) -> Result<Resolved, OptionError> {
    resolve(&cluster(&[]), &opts(pairs), "sub_1")
}

fn settings(pairs: &[(&str, &str)]) -> ConsumerSettings {
    match resolve_sub(pairs) {
        Ok(resolved) => resolved.settings,
        Err(e) => panic!("resolve {pairs:?}: {e}"),
    }
}

fn err(pairs: &[(&str, &str)]) -> String {
    match resolve_sub(pairs) {
        Ok(r) => panic!("expected an error for {pairs:?}, got {r:?}"),
        Err(e) => e.to_string(),
    }
}

// ---------- the generated table ----------

#[test]
fn table_is_sorted_and_every_name_is_found() {
    let all = table::all();
    assert!(all.len() >= 190);
    for pair in all.windows(2) {
        assert!(
            pair[0].name < pair[1].name,
            "{} !< {}",
            pair[0].name,
            pair[1].name
        );
    }
    for def in all {
        assert_eq!(table::lookup(def.name).map(|d| d.name), Some(def.name));
    }
}

#[test]
fn every_alias_target_exists_and_aliases_resolve_to_it() {
    let aliases: Vec<_> = table::all()
        .iter()
        .filter_map(|d| d.alias_of.map(|t| (d.name, t)))
        .collect();
    assert_eq!(aliases.len(), 11, "{aliases:?}");
    for (alias, target) in aliases {
        let canonical = table::lookup_canonical(alias).map(|d| d.name);
        assert_eq!(canonical, Some(target), "alias {alias}");
        assert!(table::lookup(target).is_some(), "target of {alias}");
    }
}

#[test]
fn every_alias_is_accepted_like_its_target() {
    for def in table::all() {
        let Some(target) = def.alias_of else { continue };
        let value = match def.kind {
            PropertyKind::Integer { min, .. } => min.to_string(),
            PropertyKind::Float { min, .. } => min.to_string(),
            PropertyKind::Boolean => "true".to_owned(),
            PropertyKind::Enum(values) => values[0].to_owned(),
            _ if target == "sasl.mechanisms" => "PLAIN".to_owned(),
            _ => "localhost:9092".to_owned(),
        };
        let via_alias = check_option(def.name, &value);
        let via_target = check_option(target, &value);
        assert!(via_alias.is_ok(), "{} = {value}: {via_alias:?}", def.name);
        match (via_alias, via_target) {
            (Ok(OptionUse::ActedOn(a)), Ok(OptionUse::ActedOn(t))) => assert_eq!(a, t),
            (Ok(OptionUse::Ignored(_)), Ok(OptionUse::Ignored(_))) => {}
            other => panic!("{} vs {target}: {other:?}", def.name),
        }
    }
}

#[test]
fn acted_on_and_ingress_names_are_real() {
    for name in ACTED_ON_PROPERTIES {
        let def = table::lookup(name).unwrap_or_else(|| panic!("{name} not in table"));
        assert!(def.alias_of.is_none(), "{name} must be canonical");
    }
    for (name, _, _) in INGRESS_OPTIONS {
        assert!(name.starts_with("ingress."));
        assert!(table::lookup(name).is_none());
    }
}

// ---------- value syntax and messages ----------

#[test]
fn unknown_names_use_librdkafka_message() {
    for name in [
        "foo.bar",
        "Session.Timeout.Ms",
        "sasl.user",
        "",
        "ingress.nope",
    ] {
        assert_eq!(
            check_option(name, "1").unwrap_err().to_string(),
            format!("No such configuration property: \"{name}\"")
        );
    }
    assert_eq!(
        err(&[("ingress.max_in_flight", "1")]),
        "No such configuration property: \"ingress.max_in_flight\""
    );
}

#[test]
fn dedicated_api_properties_are_rejected() {
    for name in [
        "error_cb",
        "rebalance_cb",
        "opaque",
        "ssl_key",
        "interceptors",
    ] {
        assert_eq!(
            check_option(name, "x").unwrap_err().to_string(),
            format!("Property \"{name}\" must be set through dedicated .._set_..() function")
        );
    }
}

#[test]
fn booleans_accept_librdkafka_spellings() {
    for v in ["true", "TRUE", "t", "T", "1", "True"] {
        assert_eq!(parse_bool("x", v), Ok(true), "{v}");
    }
    for v in ["false", "FALSE", "f", "F", "0"] {
        assert_eq!(parse_bool("x", v), Ok(false), "{v}");
    }
    for v in ["yes", "no", "", "2", "on"] {
        assert_eq!(
            check_option("enable.ssl.certificate.verification", v)
                .unwrap_err()
                .to_string(),
            "Invalid value for configuration property \"enable.ssl.certificate.verification\""
        );
    }
}

#[test]
fn integers_are_range_checked_with_exact_message() {
    assert_eq!(
        err(&[("session.timeout.ms", "0")]),
        "Configuration property \"session.timeout.ms\" value 0 is outside allowed range 1..3600000"
    );
    assert_eq!(
        err(&[("fetch.max.bytes", "-1")]),
        "Configuration property \"fetch.max.bytes\" value -1 is outside allowed range 0..2147483135"
    );
    assert_eq!(
        check_option("socket.timeout.ms", "5")
            .unwrap_err()
            .to_string(),
        "Configuration property \"socket.timeout.ms\" value 5 is outside allowed range 10..300000"
    );
    // Ignored properties are range-checked too.
    assert_eq!(
        check_option("log_level", "8").unwrap_err().to_string(),
        "Configuration property \"log_level\" value 8 is outside allowed range 0..7"
    );
    // The alias name the user wrote is the one reported.
    assert_eq!(
        check_option("max.partition.fetch.bytes", "0")
            .unwrap_err()
            .to_string(),
        "Configuration property \"max.partition.fetch.bytes\" value 0 is outside allowed range 1..1000000000"
    );
    for bad in ["abc", "", "12ms", "1.5", "99999999999999999999"] {
        assert_eq!(
            check_option("heartbeat.interval.ms", bad)
                .unwrap_err()
                .to_string(),
            "Invalid value for configuration property \"heartbeat.interval.ms\"",
            "{bad:?}"
        );
    }
    assert!(check_option("heartbeat.interval.ms", " 100 ").is_ok());
}

#[test]
fn floats_are_range_checked() {
    assert!(check_option("linger.ms", "0.5").is_ok());
    assert_eq!(
        check_option("linger.ms", "900001").unwrap_err().to_string(),
        "Configuration property \"linger.ms\" value 900001 is outside allowed range 0..900000"
    );
    for bad in ["NaN", "inf", "x"] {
        assert_eq!(
            check_option("queue.buffering.max.ms", bad)
                .unwrap_err()
                .to_string(),
            "Invalid value for configuration property \"queue.buffering.max.ms\""
        );
    }
}

#[test]
fn enums_and_flags_are_case_insensitive() {
    assert!(check_option("broker.address.family", "V4").is_ok());
    assert!(check_option("debug", "Broker, cgrp,FETCH").is_ok());
    assert_eq!(
        check_option("debug", "broker,nope")
            .unwrap_err()
            .to_string(),
        "Invalid value for configuration property \"debug\""
    );
    assert_eq!(
        check_option("isolation.level", "committed")
            .unwrap_err()
            .to_string(),
        "Invalid value for configuration property \"isolation.level\""
    );
}

// ---------- enum values of the properties we act on ----------

#[test]
fn auto_offset_reset_values() {
    let cases = [
        ("smallest", AutoOffsetReset::Earliest),
        ("earliest", AutoOffsetReset::Earliest),
        ("beginning", AutoOffsetReset::Earliest),
        ("largest", AutoOffsetReset::Latest),
        ("latest", AutoOffsetReset::Latest),
        ("end", AutoOffsetReset::Latest),
        ("error", AutoOffsetReset::Error),
        ("EARLIEST", AutoOffsetReset::Earliest),
        ("Latest", AutoOffsetReset::Latest),
    ];
    for (value, expected) in cases {
        assert_eq!(
            settings(&[("auto.offset.reset", value)]).auto_offset_reset,
            expected,
            "{value}"
        );
    }
    assert_eq!(
        err(&[("auto.offset.reset", "first")]),
        "Invalid value for configuration property \"auto.offset.reset\""
    );
}

#[test]
fn isolation_level_values() {
    assert_eq!(
        settings(&[("isolation.level", "read_uncommitted")]).isolation_level,
        IsolationLevel::ReadUncommitted
    );
    assert_eq!(
        settings(&[("isolation.level", "READ_COMMITTED")]).isolation_level,
        IsolationLevel::ReadCommitted
    );
}

#[test]
fn assignment_strategy_values() {
    use AssignmentStrategy::*;
    let cases: [(&str, &[AssignmentStrategy]); 6] = [
        ("range", &[Range]),
        ("roundrobin", &[RoundRobin]),
        ("cooperative-sticky", &[CooperativeSticky]),
        ("roundrobin,range", &[RoundRobin, Range]),
        (" Range , RoundRobin ", &[Range, RoundRobin]),
        ("range,range", &[Range]),
    ];
    for (value, expected) in cases {
        assert_eq!(
            settings(&[("partition.assignment.strategy", value)]).assignment_strategies,
            expected,
            "{value}"
        );
    }
    assert_eq!(
        err(&[("partition.assignment.strategy", "sticky")]),
        "Invalid value for configuration property \"partition.assignment.strategy\""
    );
    assert_eq!(
        err(&[("partition.assignment.strategy", "")]),
        "Invalid value for configuration property \"partition.assignment.strategy\""
    );
    assert!(
        err(&[("partition.assignment.strategy", "range,cooperative-sticky")])
            .contains("mix of COOPERATIVE and EAGER")
    );
}

#[test]
fn group_protocol_consumer_is_kip848_and_refuses_what_the_broker_decides() {
    use crate::options::GroupProtocol;
    assert_eq!(
        resolve_sub(&[("group.protocol", "CLASSIC")])
            .unwrap()
            .settings
            .group_protocol,
        GroupProtocol::Classic
    );
    let r = resolve_sub(&[
        ("group.protocol", "consumer"),
        ("group.remote.assignor", "range"),
    ])
    .unwrap();
    assert_eq!(r.settings.group_protocol, GroupProtocol::Consumer);
    assert_eq!(r.settings.group_remote_assignor.as_deref(), Some("range"));
    for name in [
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "partition.assignment.strategy",
        "group.protocol.type",
    ] {
        let value = if name == "partition.assignment.strategy" {
            "range"
        } else if name == "group.protocol.type" {
            "consumer"
        } else {
            "6000"
        };
        let e = err(&[("group.protocol", "consumer"), (name, value)]);
        assert!(
            e.contains(name) && e.contains("group.protocol=consumer"),
            "{name}: {e}"
        );
    }
    // Classic ignores the remote assignor, with a warning that says so.
    let r = resolve_sub(&[("group.remote.assignor", "uniform")]).unwrap();
    assert_eq!(r.settings.group_remote_assignor, None);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("group.remote.assignor")));
    assert!(err(&[("group.protocol", "cooperative")]).contains("group.protocol"));
}

#[test]
fn security_protocol_values() {
    let base = [
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", "u"),
        ("sasl.password", "p"),
    ];
    let cases = [
        ("plaintext", SecurityProtocol::Plaintext, false, false),
        ("ssl", SecurityProtocol::Ssl, true, false),
        (
            "sasl_plaintext",
            SecurityProtocol::SaslPlaintext,
            false,
            true,
        ),
        ("SASL_SSL", SecurityProtocol::SaslSsl, true, true),
    ];
    for (value, protocol, tls, sasl) in cases {
        let mut pairs = base.to_vec();
        pairs.push(("security.protocol", value));
        let s = settings(&pairs).security;
        assert_eq!(s.protocol, protocol, "{value}");
        assert_eq!(s.tls.is_some(), tls, "{value}");
        assert_eq!(s.sasl.is_some(), sasl, "{value}");
    }
    assert_eq!(
        err(&[("security.protocol", "tls")]),
        "Invalid value for configuration property \"security.protocol\""
    );
}

#[test]
fn sasl_mechanisms_and_alias() {
    let cases = [
        ("PLAIN", SaslMechanism::Plain),
        ("SCRAM-SHA-256", SaslMechanism::ScramSha256),
        ("scram-sha-512", SaslMechanism::ScramSha512),
    ];
    for name in ["sasl.mechanism", "sasl.mechanisms"] {
        for (value, expected) in cases {
            let s = settings(&[
                ("security.protocol", "sasl_plaintext"),
                (name, value),
                ("sasl.username", "me"),
                ("sasl.password", "pw"),
            ]);
            let sasl = s
                .security
                .sasl
                .unwrap_or_else(|| panic!("sasl for {value}"));
            assert_eq!(sasl.mechanism, expected);
            assert_eq!(sasl.username.expose(), "me");
            assert_eq!(sasl.password.expose(), "pw");
        }
    }
    let e = err(&[
        ("security.protocol", "sasl_ssl"),
        ("sasl.mechanism", "GSSAPI"),
        ("sasl.username", "me"),
        ("sasl.password", "pw"),
    ]);
    assert!(
        e.contains("not supported yet") && e.contains("GSSAPI"),
        "{e}"
    );
    // Unsupported mechanisms are fine when SASL is not used.
    assert!(resolve_sub(&[("sasl.mechanism", "GSSAPI")]).is_ok());
    assert_eq!(
        err(&[("sasl.mechanism", "MD5")]),
        "Invalid value for configuration property \"sasl.mechanism\""
    );
    // librdkafka's default mechanism is GSSAPI: demand an explicit one.
    let e = err(&[
        ("security.protocol", "sasl_ssl"),
        ("sasl.username", "a"),
        ("sasl.password", "b"),
    ]);
    assert!(
        e.contains("GSSAPI") && e.contains("not supported yet"),
        "{e}"
    );
    assert_eq!(
        err(&[
            ("security.protocol", "sasl_ssl"),
            ("sasl.mechanism", "PLAIN")
        ]),
        "`sasl.username` and `sasl.password` must be set"
    );
    assert!(
        resolve_sub(&[("sasl.mechanism", "PLAIN"), ("sasl.mechanisms", "PLAIN")])
            .unwrap_err()
            .to_string()
            .contains("set twice")
    );
}

#[test]
fn tls_settings() {
    let s = settings(&[
        ("security.protocol", "ssl"),
        ("ssl.ca.location", "/etc/ca.pem"),
        ("ssl.certificate.location", "/etc/cert.pem"),
        ("ssl.key.location", "/etc/key.pem"),
        ("ssl.key.password", "kp"),
        ("ssl.endpoint.identification.algorithm", "NONE"),
        ("enable.ssl.certificate.verification", "f"),
    ]);
    let tls = s.security.tls.unwrap_or_else(|| panic!("tls"));
    assert_eq!(tls.ca_location.as_deref(), Some("/etc/ca.pem"));
    assert_eq!(tls.certificate_location.as_deref(), Some("/etc/cert.pem"));
    assert_eq!(
        tls.key_location.as_ref().map(Secret::expose),
        Some("/etc/key.pem")
    );
    assert_eq!(tls.key_password.as_ref().map(Secret::expose), Some("kp"));
    assert_eq!(tls.endpoint_identification, EndpointIdentification::None);
    assert!(!tls.verify_certificates);

    let tls = settings(&[
        ("security.protocol", "ssl"),
        ("ssl.ca.location", "probe"),
        ("ssl.ca.pem", "-----BEGIN CERTIFICATE-----"),
    ])
    .security
    .tls
    .unwrap_or_else(|| panic!("tls"));
    assert_eq!(tls.ca_location, None, "probe = system store");
    assert_eq!(tls.ca_pem.as_deref(), Some("-----BEGIN CERTIFICATE-----"));
    assert_eq!(tls.endpoint_identification, EndpointIdentification::Https);
    assert!(tls.verify_certificates);
}

#[test]
fn security_settings_that_are_unused_warn() {
    let r = resolve_sub(&[("sasl.username", "me"), ("ssl.ca.location", "/x")]).unwrap();
    assert_eq!(r.settings.security.protocol, SecurityProtocol::Plaintext);
    assert!(
        r.warnings.iter().any(|w| w.contains("sasl.username")),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings.iter().any(|w| w.contains("ssl.ca.location")),
        "{:?}",
        r.warnings
    );
    let r = resolve_sub(&[("ssl.ca.location", "probe")]).unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

// ---------- brokers ----------

#[test]
fn broker_prefixes_set_the_protocol() {
    for (prefix, protocol) in [
        ("PLAINTEXT", SecurityProtocol::Plaintext),
        ("SSL", SecurityProtocol::Ssl),
        ("sasl_plaintext", SecurityProtocol::SaslPlaintext),
        ("SASL_SSL", SecurityProtocol::SaslSsl),
    ] {
        let list = parse_broker_list([format!("{prefix}://b1:9093").as_str(), "b2"]).unwrap();
        assert_eq!(list.prefix_protocol, Some(protocol));
        assert_eq!(
            list.brokers,
            vec![
                BrokerAddr {
                    host: "b1".into(),
                    port: 9093
                },
                BrokerAddr {
                    host: "b2".into(),
                    port: DEFAULT_BROKER_PORT
                },
            ]
        );
    }
    let mut c = cluster(&[("ssl.ca.location", "/ca")]);
    c.brokers = vec!["SSL://b:9093".into()];
    let r = resolve(&c, &BTreeMap::new(), "s").unwrap();
    assert_eq!(r.settings.security.protocol, SecurityProtocol::Ssl);
    // An explicit security.protocol must agree with the prefix.
    assert!(resolve(&c, &opts(&[("security.protocol", "SSL")]), "s").is_ok());
    assert_eq!(
        resolve(&c, &opts(&[("security.protocol", "plaintext")]), "s")
            .unwrap_err()
            .to_string(),
        "Configuration property \"security.protocol\" value \"plaintext\" conflicts with the SSL:// prefix of the brokers"
    );
}

#[test]
fn broker_list_forms_and_errors() {
    let list = parse_broker_list(["a:1, b:2,,[::1]:3", "[fe80::1]", "a:1"]).unwrap();
    let shown: Vec<String> = list.brokers.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["a:1", "b:2", "[::1]:3", "[fe80::1]:9092"]);
    assert_eq!(list.prefix_protocol, None);
    assert!(matches!(
        parse_broker_list(["PLAINTEXT://a:1", "SSL://b:2"]),
        Err(OptionError::ConflictingBrokerProtocols { .. })
    ));
    for bad in [
        "a:0",
        "a:70000",
        "a:x",
        "http://a:1",
        "::1",
        ":9092",
        "[::1",
        "a b:1",
    ] {
        let e = parse_broker_list([bad]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("Invalid broker address \"{bad}\"")),
            "{bad}: {e}"
        );
    }
}

#[test]
fn bootstrap_servers_aliases_at_cluster_level_only() {
    for name in ["bootstrap.servers", "metadata.broker.list"] {
        let c = ClusterConfig {
            name: "c".into(),
            brokers: vec![],
            options: opts(&[(name, "SASL_SSL://x:1,y:2")]),
        };
        let r = resolve(
            &c,
            &opts(&[
                ("sasl.mechanism", "PLAIN"),
                ("sasl.username", "u"),
                ("sasl.password", "p"),
            ]),
            "s",
        )
        .unwrap();
        assert_eq!(r.settings.bootstrap.len(), 2);
        assert_eq!(r.settings.security.protocol, SecurityProtocol::SaslSsl);
        // Not together with `brokers`.
        let mut both = c.clone();
        both.brokers = vec!["z:1".into()];
        assert_eq!(
            check_cluster_options(&both).unwrap_err().to_string(),
            format!("Configuration property \"{name}\" cannot be set together with \"brokers\"")
        );
        // Not per subscription.
        assert_eq!(
            err(&[(name, "x:1")]),
            format!("Configuration property \"{name}\" cannot be set per subscription: a subscription uses its cluster's brokers")
        );
    }
    let empty = ClusterConfig {
        name: "c".into(),
        ..Default::default()
    };
    assert_eq!(check_cluster_options(&empty), Err(OptionError::NoBrokers));
}

// ---------- defaults and precedence ----------

#[test]
fn librdkafka_defaults() {
    let s = settings(&[]);
    assert_eq!(
        s.bootstrap,
        vec![BrokerAddr {
            host: "localhost".into(),
            port: 9092
        }]
    );
    assert_eq!(s.group_id, "sub_1");
    assert_eq!(s.client_id, "kafka-ingress");
    assert_eq!(s.group_instance_id, None);
    assert_eq!(s.client_rack, None);
    assert_eq!(s.auto_offset_reset, AutoOffsetReset::Latest);
    assert_eq!(s.isolation_level, IsolationLevel::ReadCommitted);
    assert_eq!(s.session_timeout, Duration::from_millis(45_000));
    assert_eq!(s.heartbeat_interval, Duration::from_millis(3_000));
    assert_eq!(s.max_poll_interval, Duration::from_millis(300_000));
    assert_eq!(s.fetch_wait_max, Duration::from_millis(500));
    assert_eq!(s.fetch_min_bytes, 1);
    assert_eq!(s.fetch_max_bytes, 52_428_800);
    assert_eq!(s.max_partition_fetch_bytes, 1_048_576);
    assert_eq!(
        s.assignment_strategies,
        [AssignmentStrategy::Range, AssignmentStrategy::RoundRobin]
    );
    assert_eq!(s.auto_commit_interval, Some(Duration::from_millis(5_000)));
    assert_eq!(s.reconnect_backoff, Duration::from_millis(100));
    assert_eq!(s.reconnect_backoff_max, Duration::from_millis(10_000));
    assert_eq!(s.metadata_max_age, Duration::from_millis(900_000));
    assert_eq!(s.socket_timeout, Duration::from_millis(60_000));
    assert_eq!(s.security.protocol, SecurityProtocol::Plaintext);
    assert_eq!(s.security.sasl, None);
    assert_eq!(s.security.tls, None);
    assert_eq!(
        s.ingress,
        IngressOptions {
            max_in_flight: 100,
            adaptive_concurrency: None,
            retry: RetryPolicy {
                initial_interval: Duration::from_millis(100),
                max_interval: Duration::from_millis(10_000),
                max_attempts: None,
            },
            on_failure: OnFailure::Retry,
            request_timeout: Duration::from_millis(60_000),
            commit_delay: Some(Duration::from_millis(100)),
        }
    );
}

#[test]
fn acted_on_values_are_used() {
    let s = settings(&[
        ("group.id", "g"),
        ("group.instance.id", "i-1"),
        ("client.id", "me"),
        ("client.rack", "rack-a"),
        ("session.timeout.ms", "10000"),
        ("heartbeat.interval.ms", "1000"),
        ("max.poll.interval.ms", "20000"),
        ("fetch.wait.max.ms", "100"),
        ("fetch.min.bytes", "10"),
        ("fetch.max.bytes", "2000000"),
        ("max.partition.fetch.bytes", "1000"),
        ("auto.commit.interval.ms", "0"),
        ("reconnect.backoff.ms", "5"),
        ("reconnect.backoff.max.ms", "50"),
        ("metadata.max.age.ms", "60000"),
        ("socket.timeout.ms", "1000"),
    ]);
    assert_eq!(s.group_id, "g");
    assert_eq!(s.group_instance_id.as_deref(), Some("i-1"));
    assert_eq!(s.client_id, "me");
    assert_eq!(s.client_rack.as_deref(), Some("rack-a"));
    assert_eq!(s.session_timeout, Duration::from_secs(10));
    assert_eq!(s.heartbeat_interval, Duration::from_secs(1));
    assert_eq!(s.max_poll_interval, Duration::from_secs(20));
    assert_eq!(s.fetch_wait_max, Duration::from_millis(100));
    assert_eq!(s.fetch_min_bytes, 10);
    assert_eq!(s.fetch_max_bytes, 2_000_000);
    assert_eq!(s.max_partition_fetch_bytes, 1000);
    assert_eq!(s.auto_commit_interval, None);
    assert_eq!(s.reconnect_backoff, Duration::from_millis(5));
    assert_eq!(s.reconnect_backoff_max, Duration::from_millis(50));
    assert_eq!(s.metadata_max_age, Duration::from_secs(60));
    assert_eq!(s.socket_timeout, Duration::from_secs(1));
    assert_eq!(
        settings(&[("fetch.message.max.bytes", "77")]).max_partition_fetch_bytes,
        77
    );
}

#[test]
fn cross_field_checks() {
    assert_eq!(
        err(&[("session.timeout.ms", "400000")]),
        "`max.poll.interval.ms`must be >= `session.timeout.ms`"
    );
    assert_eq!(
        err(&[("max.partition.fetch.bytes", "60000000")]),
        "`fetch.max.bytes` must be >= `fetch.message.max.bytes`"
    );
    assert_eq!(
        err(&[("group.id", "")]),
        "Invalid value for configuration property \"group.id\""
    );
}

#[test]
fn precedence_defaults_then_cluster_then_subscription() {
    let c = cluster(&[
        ("auto.offset.reset", "earliest"),
        ("session.timeout.ms", "30000"),
        ("client.id", "cluster-client"),
    ]);
    let none = resolve(&c, &BTreeMap::new(), "s").unwrap().settings;
    assert_eq!(none.auto_offset_reset, AutoOffsetReset::Earliest);
    assert_eq!(none.session_timeout, Duration::from_secs(30));
    assert_eq!(none.client_id, "cluster-client");
    assert_eq!(none.heartbeat_interval, Duration::from_secs(3), "default");

    let sub = opts(&[
        ("auto.offset.reset", "latest"),
        ("session.timeout.ms", "20000"),
    ]);
    let both = resolve(&c, &sub, "s").unwrap().settings;
    assert_eq!(both.auto_offset_reset, AutoOffsetReset::Latest);
    assert_eq!(both.session_timeout, Duration::from_secs(20));
    assert_eq!(both.client_id, "cluster-client");

    // An alias in the subscription overrides the canonical name in the cluster.
    let c = cluster(&[
        ("sasl.mechanisms", "SCRAM-SHA-256"),
        ("security.protocol", "sasl_plaintext"),
    ]);
    let sub = opts(&[
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", "u"),
        ("sasl.password", "p"),
    ]);
    let s = resolve(&c, &sub, "s").unwrap().settings;
    assert_eq!(
        s.security.sasl.map(|s| s.mechanism),
        Some(SaslMechanism::Plain)
    );
}

// ---------- ignored properties ----------

#[test]
fn ignored_properties_are_accepted_with_warnings() {
    let r = resolve_sub(&[
        ("linger.ms", "5"),
        ("statistics.interval.ms", "1000"),
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "true"),
        ("topic.metadata.refresh.fast.cnt", "3"),
        ("acks", "all"),
    ]);
    // acks takes an integer in librdkafka's table; `all` is not one.
    assert_eq!(
        r.unwrap_err().to_string(),
        "Invalid value for configuration property \"acks\""
    );
    let r = resolve_sub(&[
        ("linger.ms", "5"),
        ("statistics.interval.ms", "1000"),
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "true"),
        ("topic.metadata.refresh.fast.cnt", "3"),
    ])
    .unwrap();
    let w = r.warnings.join("\n");
    assert!(w.contains("Configuration property linger.ms is a producer property and will be ignored by this consumer instance"), "{w}");
    assert!(w.contains("Configuration property statistics.interval.ms is not supported by kafka-ingress and is ignored"), "{w}");
    assert!(
        w.contains(
            "Configuration property enable.auto.commit is ignored: the ingress owns offset commits"
        ),
        "{w}"
    );
    assert!(w.contains("Configuration property enable.auto.offset.store is ignored: the ingress owns offset commits"), "{w}");
    assert!(w.contains("topic.metadata.refresh.fast.cnt is not supported by kafka-ingress and is ignored (it is also deprecated in librdkafka)"), "{w}");
    assert_eq!(r.warnings.len(), 5);
    let r = resolve_sub(&[("auto.commit.enable", "true")]).unwrap();
    assert!(
        r.warnings[0].contains("the ingress owns offset commits"),
        "{:?}",
        r.warnings
    );
    // The settings are unaffected.
    assert_eq!(r.settings, settings(&[]));
}

#[test]
fn every_non_callback_property_is_accepted_with_its_default() {
    for def in table::all() {
        if def.kind == PropertyKind::DedicatedApi {
            continue;
        }
        let Some(default) = def.default else { continue };
        if def.name == "sasl.mechanisms"
            || def.name == "sasl.mechanism"
            || def.name == "builtin.features"
        {
            continue;
        }
        let result = check_option(def.name, default);
        assert!(result.is_ok(), "{} = {default:?}: {result:?}", def.name);
    }
}

// ---------- ingress.* ----------

#[test]
fn ingress_options() {
    let s = settings(&[
        ("ingress.max-in-flight", "7"),
        ("ingress.retry.initial-interval-ms", "10"),
        ("ingress.retry.max-interval-ms", "20"),
        ("ingress.retry.max-attempts", "3"),
        ("ingress.on-failure", "Dead-Letter"),
        ("ingress.dead-letter.topic", "dlq.orders"),
        ("ingress.request-timeout-ms", "1234"),
        ("ingress.commit-delay-ms", "0"),
        ("ingress.adaptive-concurrency", "False"),
    ]);
    assert_eq!(
        s.ingress,
        IngressOptions {
            max_in_flight: 7,
            adaptive_concurrency: Some(false),
            retry: RetryPolicy {
                initial_interval: Duration::from_millis(10),
                max_interval: Duration::from_millis(20),
                max_attempts: Some(3),
            },
            on_failure: OnFailure::DeadLetter {
                topic: "dlq.orders".into()
            },
            request_timeout: Duration::from_millis(1234),
            commit_delay: None,
        }
    );
    assert_eq!(
        settings(&[("ingress.on-failure", "skip")])
            .ingress
            .on_failure,
        OnFailure::Skip
    );
    for (value, expected) in [("auto", None), ("TRUE", Some(true)), ("false", Some(false))] {
        assert_eq!(
            settings(&[("ingress.adaptive-concurrency", value)])
                .ingress
                .adaptive_concurrency,
            expected
        );
    }
    assert_eq!(
        settings(&[("ingress.on-failure", "retry")])
            .ingress
            .on_failure,
        OnFailure::Retry
    );
    assert_eq!(
        settings(&[("ingress.retry.max-attempts", "unlimited")])
            .ingress
            .retry
            .max_attempts,
        None
    );
    assert_eq!(
        err(&[("ingress.on-failure", "dead-letter")]),
        "Configuration property \"ingress.dead-letter.topic\" must be set when \"ingress.on-failure\" is dead-letter"
    );
    assert_eq!(
        err(&[("ingress.on-failure", "drop")]),
        "Invalid value for configuration property \"ingress.on-failure\""
    );
    assert_eq!(
        err(&[("ingress.max-in-flight", "0")]),
        "Configuration property \"ingress.max-in-flight\" value 0 is outside allowed range 1..1000000"
    );
    assert_eq!(
        err(&[("ingress.retry.max-attempts", "0")]),
        "Configuration property \"ingress.retry.max-attempts\" value 0 is outside allowed range 1..2147483647"
    );
    assert_eq!(
        err(&[("ingress.dead-letter.topic", "bad topic")]),
        "Invalid value for configuration property \"ingress.dead-letter.topic\""
    );
    assert!(err(&[
        ("ingress.retry.initial-interval-ms", "500"),
        ("ingress.retry.max-interval-ms", "100")
    ])
    .contains("must be >="));
    let r = resolve_sub(&[("ingress.dead-letter.topic", "dlq")]).unwrap();
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("ingress.dead-letter.topic is ignored")));
    // Cluster-level ingress options are defaults for every subscription.
    let c = cluster(&[
        ("ingress.max-in-flight", "5"),
        ("ingress.on-failure", "skip"),
    ]);
    let s = resolve(&c, &opts(&[("ingress.max-in-flight", "6")]), "s")
        .unwrap()
        .settings;
    assert_eq!(s.ingress.max_in_flight, 6);
    assert_eq!(s.ingress.on_failure, OnFailure::Skip);
}

// ---------- redaction ----------

#[test]
fn secret_names() {
    for name in [
        "sasl.password",
        "ssl.key.password",
        "ssl.keystore.password",
        "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.config",
        "sasl.username",
        "sasl.jaas.config",
        "ssl.key.location",
        "ssl.key.pem",
        "SASL.PASSWORD",
        // Restate 1.7 redacts these too.
        "ssl.keystore.location",
        "ssl.truststore.location",
        "sasl.oauthbearer.token.endpoint.url",
        "ssl.key.passphrase",
    ] {
        assert!(is_secret_option(name), "{name}");
    }
    for name in ["ssl.ca.location", "group.id", "sasl.mechanism", "client.id"] {
        assert!(!is_secret_option(name), "{name}");
    }
}

#[test]
fn effective_options_add_defaults_and_redact() {
    let r = resolve(
        &cluster(&[("client.id", "from-cluster")]),
        &opts(&[
            ("auto.offset.reset", "earliest"),
            ("sasl.username", "me"),
            ("sasl.password", "pw"),
            ("ssl.key.location", "/k"),
        ]),
        "sub_abc",
    )
    .unwrap();
    let expected = opts(&[
        ("auto.offset.reset", "earliest"),
        ("client.id", "from-cluster"),
        ("group.id", "sub_abc"),
        ("sasl.password", "***"),
        ("sasl.username", "***"),
        ("ssl.key.location", "***"),
    ]);
    assert_eq!(r.effective_options(), &expected);
    let r = resolve_sub(&[("group.id", "mine")]).unwrap();
    assert_eq!(
        r.effective_options().get("group.id").map(String::as_str),
        Some("mine")
    );
    assert_eq!(
        r.effective_options().get("client.id").map(String::as_str),
        Some("kafka-ingress")
    );
}

#[test]
fn debug_output_never_shows_secrets() {
    let r = resolve_sub(&[
        ("security.protocol", "sasl_ssl"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.username", "user-secret-1"),
        ("sasl.password", "pass-secret-2"),
        ("ssl.key.password", "key-secret-3"),
        ("ssl.key.location", "/path-secret-4"),
    ])
    .unwrap();
    let shown = format!("{r:?} {:?} {:#?}", r.settings.security, r.settings);
    for secret in [
        "user-secret-1",
        "pass-secret-2",
        "key-secret-3",
        "path-secret-4",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked");
    }
    assert!(shown.contains("***"));
    let c = cluster(&[("sasl.password", "pass-secret-5")]);
    assert!(!format!("{c:?}").contains("pass-secret-5"));
}

// ---------- documentation ----------

#[test]
fn docs_mention_every_property_and_ingress_option() {
    let doc = include_str!("../../../docs/options.md");
    for def in table::all() {
        assert!(
            doc.contains(&format!("`{}`", def.name)),
            "{} missing in docs/options.md",
            def.name
        );
    }
    for (name, _, _) in INGRESS_OPTIONS {
        assert!(
            doc.contains(&format!("`{name}`")),
            "{name} missing in docs/options.md"
        );
    }
}

#[test]
fn oauthbearer_token_sources() {
    use super::{OauthBearerSettings, OidcSettings};
    // OIDC client credentials.
    let s = settings(&[
        ("security.protocol", "sasl_ssl"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.oauthbearer.method", "OIDC"),
        (
            "sasl.oauthbearer.token.endpoint.url",
            "https://idp.example/token",
        ),
        ("sasl.oauthbearer.client.id", "ingress"),
        ("sasl.oauthbearer.client.secret", "s3cret"),
        ("sasl.oauthbearer.scope", "kafka"),
        ("sasl.oauthbearer.extensions", "logicalCluster=lkc-1"),
    ]);
    let sasl = s.security.sasl.expect("sasl");
    assert_eq!(sasl.mechanism, SaslMechanism::OauthBearer);
    assert_eq!(
        sasl.oauthbearer,
        Some(OauthBearerSettings::Oidc(OidcSettings {
            token_endpoint: "https://idp.example/token".into(),
            client_id: "ingress".into(),
            client_secret: Secret::new("s3cret"),
            scope: Some("kafka".into()),
            extensions: vec![("logicalCluster".into(), "lkc-1".into())],
            ca_location: None,
            ca_pem: None,
        }))
    );
    assert!(
        !format!("{sasl:?}").contains("s3cret"),
        "Debug hides the secret"
    );
    // librdkafka's alias of the client id.
    let s = settings(&[
        ("security.protocol", "sasl_plaintext"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.oauthbearer.method", "oidc"),
        (
            "sasl.oauthbearer.token.endpoint.url",
            "http://127.0.0.1:1/token",
        ),
        ("sasl.oauthbearer.client.credentials.client.id", "aliased"),
        ("sasl.oauthbearer.client.secret", "x"),
    ]);
    match s.security.sasl.and_then(|s| s.oauthbearer) {
        Some(OauthBearerSettings::Oidc(o)) => assert_eq!(o.client_id, "aliased"),
        other => panic!("{other:?}"),
    }
    // The unsecured JWT of development brokers.
    let s = settings(&[
        ("security.protocol", "sasl_plaintext"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
        ("sasl.oauthbearer.config", "principal=admin lifeSeconds=600"),
    ]);
    match s.security.sasl.and_then(|s| s.oauthbearer) {
        Some(OauthBearerSettings::Unsecured(j)) => {
            assert_eq!((j.principal.as_str(), j.lifetime_secs), ("admin", 600));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn oauthbearer_misconfiguration_is_explained() {
    let base = [
        ("security.protocol", "sasl_plaintext"),
        ("sasl.mechanism", "OAUTHBEARER"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all: Vec<(&str, &str)> = base.to_vec();
        all.extend_from_slice(extra);
        err(&all)
    };
    let e = with(&[]);
    assert!(
        e.contains("sasl.oauthbearer.method=oidc")
            && e.contains("enable.sasl.oauthbearer.unsecure.jwt=true"),
        "{e}"
    );
    let e = with(&[("enable.sasl.oauthbearer.unsecure.jwt", "true")]);
    assert!(e.contains("needs sasl.oauthbearer.config"), "{e}");
    let e = with(&[
        ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
        ("sasl.oauthbearer.config", "scope=x"),
    ]);
    assert!(e.contains("principal=<name> is required"), "{e}");
    let e = with(&[("sasl.oauthbearer.method", "oidc")]);
    assert_eq!(
        e,
        "sasl.oauthbearer.method=oidc needs `sasl.oauthbearer.token.endpoint.url`"
    );
    let e = with(&[
        ("sasl.oauthbearer.method", "oidc"),
        ("sasl.oauthbearer.token.endpoint.url", "ftp://idp/token"),
        ("sasl.oauthbearer.client.id", "a"),
        ("sasl.oauthbearer.client.secret", "b"),
    ]);
    assert!(e.contains("must be an http:// or https:// URL"), "{e}");
    let e = with(&[
        ("sasl.oauthbearer.method", "oidc"),
        ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
        ("sasl.oauthbearer.client.id", "a"),
    ]);
    assert!(e.contains("`sasl.oauthbearer.client.secret`"), "{e}");
    assert_eq!(
        with(&[("sasl.oauthbearer.method", "kerberos")]),
        "Invalid value for configuration property \"sasl.oauthbearer.method\""
    );
    // Not used without SASL: a warning, not an error.
    let r = resolve_sub(&[("sasl.oauthbearer.config", "principal=a")]).unwrap();
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("sasl.oauthbearer.config")),
        "{:?}",
        r.warnings
    );
}
