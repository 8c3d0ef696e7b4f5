//! One record -> one HTTP request (SPEC §5): the URL shape, body, content type and headers.
//!
//! Pure: no I/O, so every header rule is unit-tested. A record that can never be delivered
//! (a keyed target with a non-UTF-8 key, invalid JSON for a JSON handler) is an
//! [`UndeliverableRecord`], which the caller treats as a terminal failure.

use base64::Engine;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
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
    /// Where the path starts in `url`: `url[..path_start]` is the origin
    /// (`scheme://authority`), `url[path_start..]` the origin-form target (`/Svc/key/h`).
    pub path_start: usize,
    /// The `Host` header for HTTP/1.1 (the URL's authority).
    pub host: Option<HeaderValue>,
    /// The headers (no `Host`).
    pub headers: HeaderMap,
    /// The body: the record value (empty for a null value).
    pub body: Bytes,
}

impl Invocation {
    /// `scheme://authority` of the URL.
    pub fn origin(&self) -> &str {
        self.url.get(..self.path_start).unwrap_or(&self.url)
    }

    /// The origin-form request target (`/Svc/key/handler`).
    pub fn path(&self) -> &str {
        self.url.get(self.path_start..).unwrap_or_default()
    }
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

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const SUBSCRIPTION_ID: HeaderName = HeaderName::from_static("restate.subscription.id");
const KAFKA_TOPIC: HeaderName = HeaderName::from_static("kafka.topic");
const KAFKA_PARTITION: HeaderName = HeaderName::from_static("kafka.partition");
const KAFKA_OFFSET: HeaderName = HeaderName::from_static("kafka.offset");
const KAFKA_TIMESTAMP: HeaderName = HeaderName::from_static("kafka.timestamp");
const KAFKA_KEY: HeaderName = HeaderName::from_static("kafka.key");

/// Headers the ingress sets itself; record headers with these names are not forwarded.
const RESERVED: [HeaderName; 8] = [
    http::header::CONTENT_TYPE,
    IDEMPOTENCY_KEY,
    SUBSCRIPTION_ID,
    KAFKA_TOPIC,
    KAFKA_PARTITION,
    KAFKA_OFFSET,
    KAFKA_TIMESTAMP,
    KAFKA_KEY,
];

/// What every request of one subscription shares, worked out once: the URL's fixed parts,
/// whether bodies are checked as JSON, and the headers that do not depend on the record.
#[derive(Debug, Clone)]
pub struct InvocationTemplate {
    /// `base_uri` (no trailing slash) + `/` + the encoded service.
    service_url: String,
    /// `/` + the encoded handler.
    handler_segment: String,
    path_start: usize,
    host: Option<HeaderValue>,
    service: String,
    keyed: bool,
    json: bool,
    subscription_id: String,
    /// The deployment's headers, then content type, subscription id and topic (ours win).
    fixed_headers: Vec<(HeaderName, HeaderValue)>,
}

impl InvocationTemplate {
    /// The template for `target`'s requests on behalf of subscription `subscription_id`
    /// reading `topic`.
    pub fn new(target: &HandlerTarget, subscription_id: &str, topic: &str) -> Self {
        let base = target.base_uri.trim_end_matches('/');
        let mut service_url = String::with_capacity(base.len() + 1 + target.service.len());
        service_url.push_str(base);
        service_url.push('/');
        push_encoded_segment(&mut service_url, &target.service);
        let mut handler_segment = String::with_capacity(1 + target.handler.len());
        handler_segment.push('/');
        push_encoded_segment(&mut handler_segment, &target.handler);
        // `scheme://authority` ends at the first `/` after the `://`.
        let authority_start = base.find("://").map_or(0, |i| i + 3);
        let path_start = base[authority_start..]
            .find('/')
            .map_or(base.len(), |i| authority_start + i);
        let host = HeaderValue::from_str(&base[authority_start..path_start]).ok();

        let mut fixed_headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
        let mut set = |name: HeaderName, value: HeaderValue| {
            fixed_headers.retain(|(n, _)| *n != name);
            fixed_headers.push((name, value));
        };
        for (k, v) in &target.additional_headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                set(name, value);
            }
        }
        let ours = [
            (
                http::header::CONTENT_TYPE,
                target.input_content_type.as_str(),
            ),
            (SUBSCRIPTION_ID, subscription_id),
            (KAFKA_TOPIC, topic),
        ];
        for (name, v) in ours {
            if let Ok(value) = HeaderValue::from_str(v) {
                set(name, value);
            }
        }
        InvocationTemplate {
            service_url,
            handler_segment,
            path_start,
            host,
            service: target.service.clone(),
            keyed: target.keyed,
            json: is_json(&target.input_content_type),
            subscription_id: subscription_id.to_owned(),
            fixed_headers,
        }
    }

    /// The request for `record` of `partition`.
    pub fn build(
        &self,
        partition: i32,
        record: &Record,
    ) -> Result<Invocation, UndeliverableRecord> {
        let key = if self.keyed {
            let key = record.key.as_deref().unwrap_or_default();
            Some(
                std::str::from_utf8(key)
                    .map_err(|_| UndeliverableRecord::NonUtf8Key(self.service.clone()))?,
            )
        } else {
            None
        };
        let key_len = key.map_or(0, |k| 1 + k.len() * 3);
        let mut url =
            String::with_capacity(self.service_url.len() + key_len + self.handler_segment.len());
        url.push_str(&self.service_url);
        if let Some(key) = key {
            url.push('/');
            push_encoded_segment(&mut url, key);
        }
        url.push_str(&self.handler_segment);
        let body = record.value.clone().unwrap_or_default();
        if self.json && record.value.is_some() {
            serde_json::from_slice::<serde::de::IgnoredAny>(&body)
                .map_err(|e| UndeliverableRecord::InvalidJson(e.to_string()))?;
        }

        let mut headers =
            HeaderMap::with_capacity(self.fixed_headers.len() + 5 + record.headers.len());
        // Record headers first (valid HTTP only, never our own names, not the deployment's),
        // then the fixed ones, then the record's own.
        for h in &record.headers {
            let (Ok(name), Some(value)) = (
                HeaderName::from_bytes(h.key.as_bytes()),
                h.value
                    .as_deref()
                    .and_then(|v| HeaderValue::from_bytes(v).ok()),
            ) else {
                continue;
            };
            if !RESERVED.contains(&name) && !self.fixed_headers.iter().any(|(n, _)| *n == name) {
                headers.append(name, value);
            }
        }
        for (name, value) in &self.fixed_headers {
            headers.insert(name.clone(), value.clone());
        }
        let mut key = itoa::Buffer::new();
        let mut idempotency_key = Vec::with_capacity(self.subscription_id.len() + 24);
        idempotency_key.extend_from_slice(self.subscription_id.as_bytes());
        idempotency_key.push(b'-');
        idempotency_key.extend_from_slice(key.format(partition).as_bytes());
        idempotency_key.push(b'-');
        idempotency_key.extend_from_slice(key.format(record.offset).as_bytes());
        if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(idempotency_key)) {
            headers.insert(IDEMPOTENCY_KEY, value);
        }
        // Numbers straight into header values (no intermediate String per header).
        headers.insert(KAFKA_PARTITION, HeaderValue::from(partition));
        headers.insert(KAFKA_OFFSET, HeaderValue::from(record.offset));
        headers.insert(KAFKA_TIMESTAMP, HeaderValue::from(record.timestamp));
        if let Some(key) = &record.key {
            let encoded = base64::engine::general_purpose::URL_SAFE.encode(key);
            if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(encoded)) {
                headers.insert(KAFKA_KEY, value);
            }
        }
        Ok(Invocation {
            url,
            path_start: self.path_start,
            host: self.host.clone(),
            headers,
            body,
        })
    }
}

/// Builds the request for `record` (a one-off [`InvocationTemplate`]; deliveries keep theirs).
pub fn build_invocation(
    target: &HandlerTarget,
    source: RecordSource<'_>,
    record: &Record,
) -> Result<Invocation, UndeliverableRecord> {
    InvocationTemplate::new(target, source.subscription_id, source.topic)
        .build(source.partition, record)
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

/// Appends `s` to `out`, percent-encoding everything but RFC 3986 unreserved characters.
fn push_encoded_segment(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
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
        inv.headers.get(name).and_then(|v| v.to_str().ok())
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
    fn origin_path_and_host_come_from_the_base_uri() {
        let mut t = target(true);
        let inv = build_invocation(&t, SOURCE, &record(Some(b"k"), Some(b"{}"))).unwrap();
        assert_eq!(inv.origin(), "http://handler:9080");
        assert_eq!(inv.path(), "/Counter/k/add");
        assert_eq!(
            inv.host.as_ref().and_then(|h| h.to_str().ok()),
            Some("handler:9080")
        );
        // A deployment behind a path prefix keeps it in the request target.
        t.base_uri = "https://[::1]:8443/restate/v1".into();
        let inv = build_invocation(&t, SOURCE, &record(Some(b"k"), Some(b"{}"))).unwrap();
        assert_eq!(inv.url, "https://[::1]:8443/restate/v1/Counter/k/add");
        assert_eq!(inv.origin(), "https://[::1]:8443");
        assert_eq!(inv.path(), "/restate/v1/Counter/k/add");
        assert_eq!(
            inv.host.as_ref().and_then(|h| h.to_str().ok()),
            Some("[::1]:8443")
        );
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
            inv.headers.get("bin").is_none(),
            "invalid values are not forwarded"
        );
        assert_eq!(inv.headers.get_all("kafka.offset").iter().count(), 1);
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
