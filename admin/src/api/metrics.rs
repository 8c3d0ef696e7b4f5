//! `GET /metrics`: the Prometheus text exposition format 0.0.4.
//!
//! Per subscription (labels `subscription`, `source`, `sink`): the counters
//! `kafka_ingress_records_delivered_total`, `kafka_ingress_retries_total`,
//! `kafka_ingress_records_dead_lettered_total`, `kafka_ingress_records_skipped_total` and the
//! histogram `kafka_ingress_handler_latency_seconds`. Per owned partition (plus `topic`,
//! `partition`): the gauges `kafka_ingress_consumer_lag`, `kafka_ingress_committed_offset`,
//! `kafka_ingress_high_watermark` (each only once known), `kafka_ingress_in_flight`,
//! `kafka_ingress_in_flight_limit`,
//! `kafka_ingress_buffered_records`, `kafka_ingress_failing_records`. And
//! `kafka_ingress_subscriptions`, the number of subscriptions, and per subscription
//! `kafka_ingress_kafka_trouble` (1 while a broker, the coordinator or commits fail).

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ingress::engine::metrics::MetricsSnapshot;
use ingress::engine::status::PartitionStatus;
use ingress::manager::{SubscriptionReport, SubscriptionView};

use super::AppState;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub async fn handler(State(ingress): State<AppState>) -> Response {
    let text = render(&ingress.reports().await);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

/// A per-subscription counter: name, help, value.
type Counter = (&'static str, &'static str, fn(&MetricsSnapshot) -> u64);

const COUNTERS: &[Counter] = &[
    (
        "kafka_ingress_records_delivered_total",
        "Records a handler accepted (2xx).",
        |m| m.delivered,
    ),
    (
        "kafka_ingress_retries_total",
        "Failed delivery attempts that were (or will be) retried.",
        |m| m.retried,
    ),
    (
        "kafka_ingress_records_dead_lettered_total",
        "Records produced to the dead-letter topic.",
        |m| m.dead_lettered,
    ),
    (
        "kafka_ingress_records_skipped_total",
        "Records given up on under ingress.on-failure=skip.",
        |m| m.skipped,
    ),
];

/// A per-partition gauge: name, help, value (`None`: not known yet, no sample).
type Gauge = (
    &'static str,
    &'static str,
    fn(&PartitionStatus) -> Option<i64>,
);

const GAUGES: &[Gauge] = &[
    (
        "kafka_ingress_consumer_lag",
        "High watermark minus committed offset.",
        |p| p.lag,
    ),
    (
        "kafka_ingress_committed_offset",
        "Last committed offset.",
        |p| p.committed,
    ),
    (
        "kafka_ingress_high_watermark",
        "High watermark at the last fetch.",
        |p| p.high_watermark,
    ),
    (
        "kafka_ingress_in_flight",
        "Records being delivered now, including ones waiting for a retry.",
        |p| Some(count(p.in_flight)),
    ),
    (
        "kafka_ingress_in_flight_limit",
        "How many records may be in flight now (the adaptive limit plus the failing records).",
        |p| Some(count(p.in_flight_limit)),
    ),
    (
        "kafka_ingress_buffered_records",
        "Records fetched and waiting for their turn.",
        |p| Some(count(p.buffered)),
    ),
    (
        "kafka_ingress_failing_records",
        "Records currently failing.",
        |p| Some(count(p.failing)),
    ),
];

const LATENCY: &str = "kafka_ingress_handler_latency_seconds";
const KAFKA_TROUBLE: &str = "kafka_ingress_kafka_trouble";

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Renders every subscription's metrics; each family's samples are contiguous.
pub fn render(reports: &[SubscriptionReport]) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "kafka_ingress_subscriptions",
        "Number of subscriptions.",
        "gauge",
    );
    line(&mut out, "kafka_ingress_subscriptions", "", reports.len());

    for (name, help, value) in COUNTERS {
        family(&mut out, name, help, "counter");
        for r in reports {
            line(&mut out, name, &labels(&r.view, &[]), value(&r.metrics));
        }
    }

    family(
        &mut out,
        LATENCY,
        "Handler round-trip latency of every delivery attempt.",
        "histogram",
    );
    for r in reports {
        let h = &r.metrics.handler_latency;
        for (bound, cumulative) in &h.cumulative {
            let le = float(*bound);
            let l = labels(&r.view, &[("le", &le)]);
            line(&mut out, &format!("{LATENCY}_bucket"), &l, cumulative);
        }
        let l = labels(&r.view, &[]);
        line(
            &mut out,
            &format!("{LATENCY}_sum"),
            &l,
            float(h.sum_seconds),
        );
        line(&mut out, &format!("{LATENCY}_count"), &l, h.count);
    }

    family(
        &mut out,
        KAFKA_TROUBLE,
        "1 while the subscription cannot reach a broker, its group coordinator or commit \
         offsets (the status's error says which), else 0.",
        "gauge",
    );
    for r in reports {
        let trouble = u8::from(r.status.error.is_some());
        line(&mut out, KAFKA_TROUBLE, &labels(&r.view, &[]), trouble);
    }

    for (name, help, value) in GAUGES {
        family(&mut out, name, help, "gauge");
        for r in reports {
            for p in &r.status.partitions {
                if let Some(v) = value(p) {
                    let partition = p.partition.to_string();
                    let l = labels(&r.view, &[("topic", &p.topic), ("partition", &partition)]);
                    line(&mut out, name, &l, v);
                }
            }
        }
    }
    out
}

fn family(out: &mut String, name: &str, help: &str, ty: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {ty}");
}

fn line(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{name}{labels} {value}");
}

/// `{subscription="...",source="...",sink="...",<extra>}` with escaped values.
fn labels(view: &SubscriptionView, extra: &[(&str, &str)]) -> String {
    let base = [
        ("subscription", view.id.as_str()),
        ("source", view.source.as_str()),
        ("sink", view.sink.as_str()),
    ];
    let pairs: Vec<String> = base
        .iter()
        .chain(extra)
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// A float as Prometheus writes it: `+Inf`, `-Inf`, `NaN`, else the shortest round-trip
/// form (`0.005`, `1`, `2.5`).
fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingress::engine::metrics::HistogramSnapshot;
    use ingress::engine::status::{RuntimeState, SubscriptionStatus};
    use std::collections::BTreeMap;

    fn report() -> SubscriptionReport {
        SubscriptionReport {
            view: SubscriptionView {
                id: "sub_1".into(),
                source: "kafka://c/t\"q".into(),
                sink: "service://S/h\\x\ny".into(),
                options: BTreeMap::new(),
            },
            metrics: MetricsSnapshot {
                delivered: 7,
                retried: 2,
                dead_lettered: 1,
                skipped: 0,
                handler_latency: HistogramSnapshot {
                    cumulative: vec![(0.005, 3), (1.0, 5), (f64::INFINITY, 6)],
                    sum_seconds: 2.25,
                    count: 6,
                },
            },
            status: SubscriptionStatus {
                id: "sub_1".into(),
                state: RuntimeState::Running,
                error: None,
                partitions: vec![PartitionStatus {
                    topic: "t\"q".into(),
                    partition: 3,
                    committed: Some(40),
                    commit_watermark: 40,
                    position: 50,
                    high_watermark: Some(52),
                    lag: Some(12),
                    in_flight: 4,
                    in_flight_limit: 8,
                    buffered: 6,
                    fetch_paused: false,
                    failing: 1,
                    stuck: None,
                    error: None,
                }],
                cluster: None,
            },
        }
    }

    const L: &str = r#"subscription="sub_1",source="kafka://c/t\"q",sink="service://S/h\\x\ny""#;

    #[test]
    fn renders_a_small_snapshot() {
        let text = render(&[report()]);
        let expected = [
            "# HELP kafka_ingress_subscriptions Number of subscriptions.".to_owned(),
            "# TYPE kafka_ingress_subscriptions gauge".to_owned(),
            "kafka_ingress_subscriptions 1".to_owned(),
            "# HELP kafka_ingress_records_delivered_total Records a handler accepted (2xx)."
                .to_owned(),
            "# TYPE kafka_ingress_records_delivered_total counter".to_owned(),
            format!("kafka_ingress_records_delivered_total{{{L}}} 7"),
            format!("kafka_ingress_retries_total{{{L}}} 2"),
            format!("kafka_ingress_records_dead_lettered_total{{{L}}} 1"),
            format!("kafka_ingress_records_skipped_total{{{L}}} 0"),
            "# TYPE kafka_ingress_handler_latency_seconds histogram".to_owned(),
            format!("kafka_ingress_handler_latency_seconds_bucket{{{L},le=\"0.005\"}} 3"),
            format!("kafka_ingress_handler_latency_seconds_bucket{{{L},le=\"1\"}} 5"),
            format!("kafka_ingress_handler_latency_seconds_bucket{{{L},le=\"+Inf\"}} 6"),
            format!("kafka_ingress_handler_latency_seconds_sum{{{L}}} 2.25"),
            format!("kafka_ingress_handler_latency_seconds_count{{{L}}} 6"),
            "# TYPE kafka_ingress_consumer_lag gauge".to_owned(),
            format!("kafka_ingress_consumer_lag{{{L},topic=\"t\\\"q\",partition=\"3\"}} 12"),
            format!("kafka_ingress_committed_offset{{{L},topic=\"t\\\"q\",partition=\"3\"}} 40"),
            format!("kafka_ingress_high_watermark{{{L},topic=\"t\\\"q\",partition=\"3\"}} 52"),
            format!("kafka_ingress_in_flight{{{L},topic=\"t\\\"q\",partition=\"3\"}} 4"),
            format!("kafka_ingress_buffered_records{{{L},topic=\"t\\\"q\",partition=\"3\"}} 6"),
            format!("kafka_ingress_failing_records{{{L},topic=\"t\\\"q\",partition=\"3\"}} 1"),
        ];
        let lines: Vec<&str> = text.lines().collect();
        let mut at = 0;
        for e in &expected {
            let found = lines[at..].iter().position(|l| l == e);
            assert!(found.is_some(), "missing or out of order: {e}\n---\n{text}");
            at += found.unwrap_or_default() + 1;
        }
        // Every sample line is `name{labels} value` or `name value`, nothing else.
        for l in lines.iter().filter(|l| !l.starts_with('#')) {
            let (_, value) = l.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{l}");
        }
        // Each family has exactly one HELP and one TYPE line.
        for name in ["kafka_ingress_consumer_lag", LATENCY] {
            let types = lines
                .iter()
                .filter(|l| l.starts_with(&format!("# TYPE {name} ")))
                .count();
            assert_eq!(types, 1, "{name}");
        }
    }

    #[test]
    fn unknown_offsets_have_no_sample() {
        let mut r = report();
        r.status.partitions[0].lag = None;
        r.status.partitions[0].committed = None;
        let text = render(&[r]);
        assert!(!text.contains("kafka_ingress_consumer_lag{"), "{text}");
        assert!(!text.contains("kafka_ingress_committed_offset{"), "{text}");
        assert!(text.contains("kafka_ingress_high_watermark{"), "{text}");
    }

    #[test]
    fn no_subscriptions_is_just_the_headers_and_a_zero() {
        let text = render(&[]);
        assert!(text.contains("\nkafka_ingress_subscriptions 0\n"), "{text}");
        assert!(text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .all(|l| l == "kafka_ingress_subscriptions 0"));
    }

    #[test]
    fn escaping_and_floats() {
        assert_eq!(escape("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(0.0025), "0.0025");
        assert_eq!(float(30.0), "30");
        assert_eq!(float(f64::NAN), "NaN");
    }
}
