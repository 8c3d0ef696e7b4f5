//! One record -> one HTTP request (SPEC §5): the URL shape, body, content type and headers.
//!
//! Pure: no I/O, so every header rule is unit-tested. A record that can never be delivered
//! (a keyed target with a non-UTF-8 key, invalid JSON for a JSON handler) is an
//! [`UndeliverableRecord`], which the caller treats as a terminal failure.

use base64::Engine;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use kafka_proto::record::Record;

/// The handler a subscription invokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerTarget {
    /// The deployment's base URI, e.g. `http://localhost:9080` (no trailing slash needed).
    pub base_uri: String,
    /// Service, virtual object or workflow name.
    pub service: String,
    /// Handler name.
    pub handler: String,
    /// Whether the record key goes into the URL (virtual objects and workflows).
    pub keyed: bool,
    /// The handler's input content type (`application/json` when the manifest names none).
    pub input_content_type: String,
    /// The deployment's `additional_headers`.
    pub additional_headers: Vec<(String, String)>,
}

/// Where a record came from.
#[derive(Debug, Clone, Copy)]
pub struct RecordSource<'a> {
    /// The subscription id (`sub_...`).
    pub subscription_id: &'a str,
    /// The topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: i32,
}

/// A ready HTTP request.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The full URL.
    pub url: String,
    /// Headers in the order they are sent.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body: the record value (empty for a null value).
    pub body: Bytes,
}

/// Why a record can never be delivered to its handler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UndeliverableRecord {
    /// A keyed target needs a UTF-8 key (it becomes the object key).
    #[error("record key is not valid UTF-8, but {0} is keyed by it")]
    NonUtf8Key(String),
    /// The handler takes JSON and the value is not JSON.
    #[error("record value is not valid JSON ({0}), but the handler's input is JSON")]
    InvalidJson(String),
}

/// Headers the ingress sets itself; record headers with these names are not forwarded.
const RESERVED: [&str; 8] = [
    "content-type",
    "idempotency-key",
    "restate.subscription.id",
    "kafka.topic",
    "kafka.partition",
    "kafka.offset",
    "kafka.timestamp",
    "kafka.key",
];

/// Builds the request for `record`.
pub fn build_invocation(
    target: &HandlerTarget,
    source: RecordSource<'_>,
    record: &Record,
) -> Result<Invocation, UndeliverableRecord> {
    let base = target.base_uri.trim_end_matches('/');
    let url = if target.keyed {
        let key = record.key.as_deref().unwrap_or_default();
        let key = std::str::from_utf8(key)
            .map_err(|_| UndeliverableRecord::NonUtf8Key(target.service.clone()))?;
        format!(
            "{base}/{}/{}/{}",
            encode_path_segment(&target.service),
            encode_path_segment(key),
            encode_path_segment(&target.handler)
        )
    } else {
        format!(
            "{base}/{}/{}",
            encode_path_segment(&target.service),
            encode_path_segment(&target.handler)
        )
    };
    let body = record.value.clone().unwrap_or_default();
    if is_json(&target.input_content_type) && record.value.is_some() {
        serde_json::from_slice::<serde::de::IgnoredAny>(&body)
            .map_err(|e| UndeliverableRecord::InvalidJson(e.to_string()))?;
    }

    let idempotency_key = format!(
        "{}-{}-{}",
        source.subscription_id, source.partition, record.offset
    );
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(10 + record.headers.len());
    // Record headers first (valid HTTP only, never our own names), then the deployment's
    // additional headers, then ours: later entries replace earlier ones of the same name.
    for h in &record.headers {
        let (Ok(name), Some(value)) = (
            HeaderName::from_bytes(h.key.as_bytes()),
            h.value
                .as_deref()
                .and_then(|v| HeaderValue::from_bytes(v).ok()),
        ) else {
            continue;
        };
        if !RESERVED.contains(&name.as_str()) {
            headers.push((name, value));
        }
    }
    for (k, v) in &target.additional_headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            set(&mut headers, name, value);
        }
    }
    let text = [
        ("content-type", target.input_content_type.as_str()),
        ("idempotency-key", idempotency_key.as_str()),
        ("restate.subscription.id", source.subscription_id),
        ("kafka.topic", source.topic),
    ];
    for (k, v) in text {
        if let Ok(value) = HeaderValue::from_str(v) {
            set(&mut headers, HeaderName::from_static(k), value);
        }
    }
    // Numbers straight into header values (no intermediate String per header).
    let numbers = [
        ("kafka.partition", HeaderValue::from(source.partition)),
        ("kafka.offset", HeaderValue::from(record.offset)),
        ("kafka.timestamp", HeaderValue::from(record.timestamp)),
    ];
    for (k, value) in numbers {
        set(&mut headers, HeaderName::from_static(k), value);
    }
    if let Some(key) = &record.key {
        let encoded = base64::engine::general_purpose::URL_SAFE.encode(key);
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            set(&mut headers, HeaderName::from_static("kafka.key"), value);
        }
    }
    Ok(Invocation { url, headers, body })
}

fn set(headers: &mut Vec<(HeaderName, HeaderValue)>, name: HeaderName, value: HeaderValue) {
    headers.retain(|(n, _)| n != name);
    headers.push((name, value));
}

/// `application/json` and `application/*+json`, parameters ignored.
fn is_json(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use kafka_proto::record::RecordHeader;

    use super::*;

    fn target(keyed: bool) -> HandlerTarget {
        HandlerTarget {
            base_uri: "http://handler:9080/".into(),
            service: "Counter".into(),
            handler: "add".into(),
            keyed,
            input_content_type: "application/json".into(),
            additional_headers: vec![("x-deployment".into(), "d1".into())],
        }
    }

    const SOURCE: RecordSource<'static> = RecordSource {
        subscription_id: "sub_1",
        topic: "orders",
        partition: 3,
    };

    fn record(key: Option<&[u8]>, value: Option<&[u8]>) -> Record {
        Record {
            offset: 42,
            timestamp: 1_700_000_000_123,
            key: key.map(Bytes::copy_from_slice),
            value: value.map(Bytes::copy_from_slice),
            headers: vec![
                RecordHeader {
                    key: "traceparent".into(),
                    value: Some(Bytes::from_static(b"00-abc-def-01")),
                },
                RecordHeader {
                    key: "bad header".into(),
                    value: Some(Bytes::from_static(b"x")),
                },
                RecordHeader {
                    key: "kafka.offset".into(),
                    value: Some(Bytes::from_static(b"forged")),
                },
                RecordHeader {
                    key: "bin".into(),
                    value: Some(Bytes::from_static(b"\x00\x01")),
                },
            ],
        }
    }

    fn header<'a>(inv: &'a Invocation, name: &str) -> Option<&'a str> {
        inv.headers
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .and_then(|(_, v)| v.to_str().ok())
    }

    #[test]
    fn keyed_targets_put_the_url_encoded_key_in_the_path() {
        let inv = build_invocation(
            &target(true),
            SOURCE,
            &record(Some(b"user 1/a"), Some(b"{}")),
        )
        .unwrap();
        assert_eq!(inv.url, "http://handler:9080/Counter/user%201%2Fa/add");
        let inv =
            build_invocation(&target(false), SOURCE, &record(Some(b"k"), Some(b"{}"))).unwrap();
        assert_eq!(inv.url, "http://handler:9080/Counter/add");
        // A null key is the empty key.
        let inv = build_invocation(&target(true), SOURCE, &record(None, Some(b"{}"))).unwrap();
        assert_eq!(inv.url, "http://handler:9080/Counter//add");
    }

    #[test]
    fn headers_follow_the_handler_contract() {
        let inv = build_invocation(
            &target(true),
            SOURCE,
            &record(Some(b"k"), Some(b"{\"a\":1}")),
        )
        .unwrap();
        assert_eq!(header(&inv, "content-type"), Some("application/json"));
        assert_eq!(header(&inv, "idempotency-key"), Some("sub_1-3-42"));
        assert_eq!(header(&inv, "restate.subscription.id"), Some("sub_1"));
        assert_eq!(header(&inv, "kafka.topic"), Some("orders"));
        assert_eq!(header(&inv, "kafka.partition"), Some("3"));
        assert_eq!(
            header(&inv, "kafka.offset"),
            Some("42"),
            "a record header cannot forge ours"
        );
        assert_eq!(header(&inv, "kafka.timestamp"), Some("1700000000123"));
        assert_eq!(
            header(&inv, "kafka.key"),
            Some("aw=="),
            "URL-safe base64 with padding"
        );
        assert_eq!(header(&inv, "traceparent"), Some("00-abc-def-01"));
        assert_eq!(header(&inv, "x-deployment"), Some("d1"));
        assert!(
            header(&inv, "bad header").is_none(),
            "invalid names are not forwarded"
        );
        assert!(
            inv.headers.iter().all(|(n, _)| n.as_str() != "bin"),
            "invalid values are not forwarded"
        );
        assert_eq!(
            inv.headers
                .iter()
                .filter(|(n, _)| n.as_str() == "kafka.offset")
                .count(),
            1
        );
        assert_eq!(inv.body.as_ref(), b"{\"a\":1}");
    }

    #[test]
    fn tombstones_are_empty_bodies_and_bad_records_are_undeliverable() {
        let inv = build_invocation(&target(false), SOURCE, &record(None, None)).unwrap();
        assert!(inv.body.is_empty());
        assert!(header(&inv, "kafka.key").is_none());
        assert_eq!(
            build_invocation(
                &target(true),
                SOURCE,
                &record(Some(b"\xff\xfe"), Some(b"{}"))
            )
            .unwrap_err(),
            UndeliverableRecord::NonUtf8Key("Counter".into())
        );
        assert!(matches!(
            build_invocation(&target(false), SOURCE, &record(None, Some(b"not json"))),
            Err(UndeliverableRecord::InvalidJson(_))
        ));
        // Non-JSON handlers take any bytes; a non-UTF-8 key is fine for services.
        let mut raw = target(false);
        raw.input_content_type = "application/octet-stream".into();
        assert!(
            build_invocation(&raw, SOURCE, &record(Some(b"\xff"), Some(b"\x00not json"))).is_ok()
        );
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/cloudevents+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/octet-stream"));
    }
}
