//! Deployment discovery against real HTTP servers: testkit's recording handler, and tiny raw
//! TCP servers for the failure modes (refused connection, non-JSON, error status, silence,
//! oversized manifest). No Kafka needed.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed step should panic

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ingress::deployments::discovery::MAX_MANIFEST_BYTES;
use ingress::deployments::{
    discover, DeploymentRegistry, DiscoveryError, EndpointManifest, HandlerType, ManifestError,
    ServiceType,
};
use ingress::http_client::{HandlerTls, HttpVersion, VersionPreference};
use ingress::options::TlsSettings;
use testkit::{RecordingHandler, TestCa};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const TIMEOUT: Duration = Duration::from_secs(5);

/// Discovery over HTTP/1.1 (the default for `http://`), trusting the system store.
async fn discover_h1(
    uri: &str,
    headers: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<EndpointManifest, DiscoveryError> {
    let tls = HandlerTls::system().expect("system trust store");
    let found = discover(
        uri,
        headers,
        VersionPreference::Fixed(HttpVersion::Http1),
        &tls,
        timeout,
    )
    .await?;
    assert_eq!(found.http_version, HttpVersion::Http1);
    Ok(found.manifest)
}

/// A server answering every connection with `response` (raw HTTP bytes; `None`: never
/// answers). Returns its base URL and a channel of the request heads it received.
async fn raw_server(response: Option<Vec<u8>>) -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            let response = response.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
                match response {
                    Some(r) => {
                        let _ = stream.write_all(&r).await;
                        let _ = stream.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(60)).await,
                }
            });
        }
    });
    (url, rx)
}

fn http_response(status: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

#[tokio::test]
async fn discovers_the_recording_handler_and_resolves_its_sink() {
    let handler = RecordingHandler::start(RecordingHandler::manifest(
        "Greeter",
        "VIRTUAL_OBJECT",
        &["greet"],
    ))
    .await
    .expect("handler");

    // A trailing slash is normalized away.
    let manifest = discover_h1(&format!("{}/", handler.url()), &BTreeMap::new(), TIMEOUT)
        .await
        .expect("discover");
    assert_eq!(manifest.services.len(), 1);
    let service = &manifest.services[0];
    assert_eq!(service.name, "Greeter");
    assert_eq!(service.ty, ServiceType::VirtualObject);
    assert_eq!(service.handlers[0].name, "greet");
    assert_eq!(service.handlers[0].ty, Some(HandlerType::Exclusive));
    assert_eq!(service.handlers[0].input_content_type(), "application/json");

    let mut registry = DeploymentRegistry::default();
    let deployment = registry
        .register(
            &handler.url(),
            BTreeMap::new(),
            manifest,
            HttpVersion::Http1,
            false,
        )
        .expect("register");
    let sink = registry.resolve_sink("Greeter", "greet").expect("sink");
    assert_eq!(sink.deployment_id, deployment.id);
    assert_eq!(sink.base_uri, handler.url());
    assert!(sink.keyed && sink.ordered_per_key);
}

#[tokio::test]
async fn sends_accept_and_additional_headers() {
    let body = br#"{"services":[{"name":"S","ty":"SERVICE","handlers":[{"name":"h"}]}]}"#;
    let (url, mut requests) =
        raw_server(Some(http_response("200 OK", "application/json", body))).await;
    let headers = BTreeMap::from([
        ("authorization".to_owned(), "Bearer token-1".to_owned()),
        ("x-tenant".to_owned(), "t1".to_owned()),
    ]);
    let manifest = discover_h1(&format!("{url}/prefix"), &headers, TIMEOUT)
        .await
        .expect("discover");
    assert_eq!(manifest.services[0].name, "S");

    let head = requests.recv().await.expect("request").to_ascii_lowercase();
    assert!(
        head.starts_with("get /prefix/discover http/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains(
            "\r\naccept: application/vnd.restate.endpointmanifest.v1+json, application/json\r\n"
        ),
        "{head}"
    );
    assert!(
        head.contains("\r\nauthorization: bearer token-1\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nx-tenant: t1\r\n"), "{head}");
}

#[tokio::test]
async fn connection_refused_names_the_url() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}");

    let e = discover_h1(&url, &BTreeMap::new(), TIMEOUT)
        .await
        .expect_err("nothing listens");
    assert!(matches!(e, DiscoveryError::Connect { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("cannot discover {url}/discover: cannot connect: ")),
        "{msg}"
    );
    assert!(msg.to_ascii_lowercase().contains("refused"), "{msg}");
}

#[tokio::test]
async fn non_json_answer_is_an_invalid_manifest_error() {
    let (url, _requests) = raw_server(Some(http_response(
        "200 OK",
        "text/html",
        b"<html>not a manifest</html>",
    )))
    .await;
    let e = discover_h1(&url, &BTreeMap::new(), TIMEOUT)
        .await
        .expect_err("not JSON");
    assert!(matches!(e, DiscoveryError::InvalidJson { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "cannot discover {url}/discover: the response is not a valid endpoint manifest: "
        )) && msg.contains("line 1 column 1"),
        "{msg}"
    );
}

#[tokio::test]
async fn valid_json_breaking_a_rule_is_reported_with_the_rule() {
    let body =
        br#"{"services":[{"name":"S","ty":"SERVICE","handlers":[{"name":"h"},{"name":"h"}]}]}"#;
    let (url, _requests) =
        raw_server(Some(http_response("200 OK", "application/json", body))).await;
    let e = discover_h1(&url, &BTreeMap::new(), TIMEOUT)
        .await
        .expect_err("duplicate handler");
    match &e {
        DiscoveryError::InvalidManifest { source, .. } => assert_eq!(
            source,
            &ManifestError::DuplicateHandler {
                service: "S".into(),
                handler: "h".into()
            }
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        e.to_string(),
        format!(
            "cannot discover {url}/discover: invalid manifest: service \"S\": handler \"h\" is \
             declared more than once"
        )
    );
}

#[tokio::test]
async fn error_status_quotes_the_start_of_the_body() {
    let body = format!("upstream exploded {}", "x".repeat(500));
    let (url, _requests) = raw_server(Some(http_response(
        "503 Service Unavailable",
        "text/plain",
        body.as_bytes(),
    )))
    .await;
    let e = discover_h1(&url, &BTreeMap::new(), TIMEOUT)
        .await
        .expect_err("503");
    match &e {
        DiscoveryError::Status { status, body, .. } => {
            assert_eq!(*status, 503);
            assert_eq!(body.chars().count(), 200);
            assert!(body.starts_with("upstream exploded xxx"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string().starts_with(&format!(
            "cannot discover {url}/discover: the deployment answered 503"
        )),
        "{e}"
    );
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let (url, _requests) = raw_server(None).await;
    let started = Instant::now();
    let e = discover_h1(&url, &BTreeMap::new(), Duration::from_millis(300))
        .await
        .expect_err("silence");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(matches!(e, DiscoveryError::Timeout { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("cannot discover {url}/discover: no complete response within 300ms")
    );
}

#[tokio::test]
async fn an_oversized_manifest_is_refused() {
    let body = vec![b' '; MAX_MANIFEST_BYTES + 1];
    let (url, _requests) =
        raw_server(Some(http_response("200 OK", "application/json", &body))).await;
    let e = discover_h1(&url, &BTreeMap::new(), Duration::from_secs(20))
        .await
        .expect_err("too large");
    assert!(matches!(e, DiscoveryError::TooLarge { .. }), "{e:?}");
}

fn greeter() -> serde_json::Value {
    RecordingHandler::manifest("Greeter", "SERVICE", &["greet"])
}

async fn discover_with(
    uri: &str,
    preference: VersionPreference,
    tls: &HandlerTls,
) -> Result<ingress::deployments::discovery::Discovered, DiscoveryError> {
    discover(uri, &BTreeMap::new(), preference, tls, TIMEOUT).await
}

#[tokio::test]
async fn https_discovery_negotiates_the_version_with_alpn() {
    let ca = TestCa::new("discovery").expect("certificates");
    let tls = HandlerTls::from_settings(&TlsSettings {
        ca_location: Some(ca.ca_file().display().to_string()),
        ..TlsSettings::default()
    })
    .expect("CA");
    let both = RecordingHandler::start_tls(greeter(), &ca, &["h2", "http/1.1"])
        .await
        .expect("handler");
    let h1_only = RecordingHandler::start_tls(greeter(), &ca, &["http/1.1"])
        .await
        .expect("handler");

    let found = discover_with(&both.url(), VersionPreference::Negotiate, &tls)
        .await
        .expect("discover");
    assert_eq!(
        found.http_version,
        HttpVersion::Http2,
        "the server offers h2"
    );
    assert_eq!(found.manifest.services[0].name, "Greeter");
    assert_eq!(
        both.requests().len(),
        0,
        "discovery is not recorded as a request"
    );

    let found = discover_with(&h1_only.url(), VersionPreference::Negotiate, &tls)
        .await
        .expect("discover");
    assert_eq!(
        found.http_version,
        HttpVersion::Http1,
        "no h2 in the server's ALPN"
    );

    let found = discover_with(
        &both.url(),
        VersionPreference::Fixed(HttpVersion::Http1),
        &tls,
    )
    .await
    .expect("discover");
    assert_eq!(found.http_version, HttpVersion::Http1, "HTTP/1.1 asked for");

    // Not trusted: a connect error naming the certificate problem.
    let untrusted = HandlerTls::system().expect("system trust store");
    let e = discover_with(&both.url(), VersionPreference::Negotiate, &untrusted)
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DiscoveryError::Connect { .. }), "{msg}");
    assert!(
        msg.contains(&format!("{}/discover", both.url())) && msg.contains("UnknownIssuer"),
        "{msg}"
    );
}

#[tokio::test]
async fn h2c_discovery_with_prior_knowledge() {
    let tls = HandlerTls::system().expect("system trust store");
    // The recording handler serves h2c as well as HTTP/1.1 on its cleartext port.
    let handler = RecordingHandler::start(greeter()).await.expect("handler");
    let found = discover_with(
        &handler.url(),
        VersionPreference::Fixed(HttpVersion::Http2),
        &tls,
    )
    .await
    .expect("discover");
    assert_eq!(found.http_version, HttpVersion::Http2);
    // Negotiation on cleartext is HTTP/1.1: there is no ALPN to ask.
    let found = discover_with(&handler.url(), VersionPreference::Negotiate, &tls)
        .await
        .expect("discover");
    assert_eq!(found.http_version, HttpVersion::Http1);

    // An HTTP/1.1-only server cannot answer the HTTP/2 preface: the error says what was tried.
    let body = br#"{"services":[{"name":"S","ty":"SERVICE","handlers":[{"name":"h"}]}]}"#;
    let (url, _requests) =
        raw_server(Some(http_response("200 OK", "application/json", body))).await;
    let e = discover_with(&url, VersionPreference::Fixed(HttpVersion::Http2), &tls)
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("HTTP/2 with prior knowledge") && msg.contains("use_http_11"),
        "{msg}"
    );
}
