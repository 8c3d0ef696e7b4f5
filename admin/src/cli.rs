//! The CLI client: `kafka-ingress subscriptions|deployments|services ...` speaks the admin API's
//! JSON (SPEC §4) to a running server and prints the answers.
//!
//! Turning a command into a request ([`ClientCommand::to_request`]) is pure, so it is tested
//! without a server; [`run`] sends it and maps the answer to output and an exit code.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::{Args, Subcommand};
use http::{header, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

/// Admin API address used when neither `--admin-url` nor the environment names one.
pub const DEFAULT_ADMIN_URL: &str = "http://localhost:9070";

/// Environment variable that sets the admin API address.
pub const ADMIN_URL_ENV: &str = "KAFKA_INGRESS_ADMIN_URL";

/// Bound on one request: registering a deployment waits for the server's discovery call.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest response body accepted; admin answers are small, this only stops a runaway peer.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Where the admin API is; shared by every client subcommand.
#[derive(Debug, Clone, Args)]
pub struct AdminConnection {
    /// Base URL of the admin API.
    #[arg(
        long,
        global = true,
        env = ADMIN_URL_ENV,
        default_value = DEFAULT_ADMIN_URL,
        value_name = "URL"
    )]
    pub admin_url: String,
}

/// Client subcommands: each talks to the admin API of a running `kafka-ingress`.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create, list, inspect, pause, resume and delete subscriptions.
    Subscriptions(SubscriptionsArgs),
    /// Register, list, inspect and remove handler deployments.
    Deployments(DeploymentsArgs),
    /// List and inspect the services of the registered deployments.
    Services(ServicesArgs),
}

/// `kafka-ingress subscriptions ...`.
#[derive(Debug, Args)]
pub struct SubscriptionsArgs {
    #[command(flatten)]
    connection: AdminConnection,
    #[command(subcommand)]
    command: SubscriptionsCommand,
}

/// Subscription operations.
#[derive(Debug, Subcommand)]
pub enum SubscriptionsCommand {
    /// Subscribe a handler to a topic (POST /subscriptions).
    Create {
        /// The topic: kafka://<cluster>/<topic>.
        #[arg(long, value_name = "kafka://CLUSTER/TOPIC")]
        source: String,
        /// The handler: service://<Service>/<handler>.
        #[arg(long, value_name = "service://SERVICE/HANDLER")]
        sink: String,
        /// A librdkafka or ingress.* option; repeat for several.
        #[arg(long = "option", short = 'o', value_name = "KEY=VALUE", value_parser = parse_key_value)]
        options: Vec<KeyValue>,
    },
    /// List subscriptions, optionally filtered (GET /subscriptions).
    List {
        /// Only subscriptions with this sink.
        #[arg(long, value_name = "service://SERVICE/HANDLER")]
        sink: Option<String>,
        /// Only subscriptions with this source.
        #[arg(long, value_name = "kafka://CLUSTER/TOPIC")]
        source: Option<String>,
    },
    /// Show one subscription (GET /subscriptions/{id}).
    Get {
        /// Subscription id.
        id: String,
    },
    /// Delete a subscription (DELETE /subscriptions/{id}).
    Delete {
        /// Subscription id.
        id: String,
    },
    /// Stop fetching for a subscription, keeping its offsets (POST /subscriptions/{id}/pause).
    Pause {
        /// Subscription id.
        id: String,
    },
    /// Resume a paused subscription (POST /subscriptions/{id}/resume).
    Resume {
        /// Subscription id.
        id: String,
    },
    /// Per-partition offsets, lag and stuck records (GET /subscriptions/{id}/status).
    Status {
        /// Subscription id.
        id: String,
    },
}

/// `kafka-ingress deployments ...`.
#[derive(Debug, Args)]
pub struct DeploymentsArgs {
    #[command(flatten)]
    connection: AdminConnection,
    #[command(subcommand)]
    command: DeploymentsCommand,
}

/// Deployment operations.
#[derive(Debug, Subcommand)]
pub enum DeploymentsCommand {
    /// Register a handler endpoint; the server discovers its services (POST /deployments).
    Register {
        /// Base URI of the handler endpoint, e.g. http://localhost:9080.
        uri: String,
        /// Header sent with discovery and every invocation; repeat for several.
        #[arg(long = "header", short = 'H', value_name = "NAME=VALUE", value_parser = parse_key_value)]
        headers: Vec<KeyValue>,
        /// Replace an existing deployment with the same URI.
        #[arg(long)]
        force: bool,
        /// Speak HTTP/1.1 to it (Restate's `use_http_11: true`).
        #[arg(long = "use-http1.1", conflicts_with = "http2")]
        use_http_11: bool,
        /// Speak HTTP/2 to it: h2c with prior knowledge on http:// (`use_http_11: false`).
        #[arg(long)]
        http2: bool,
    },
    /// List deployments (GET /deployments).
    List,
    /// Show one deployment (GET /deployments/{id}).
    Get {
        /// Deployment id.
        id: String,
    },
    /// Remove a deployment (DELETE /deployments/{id}).
    Remove {
        /// Deployment id.
        id: String,
    },
}

/// `kafka-ingress services ...`.
#[derive(Debug, Args)]
pub struct ServicesArgs {
    #[command(flatten)]
    connection: AdminConnection,
    #[command(subcommand)]
    command: ServicesCommand,
}

/// Service operations.
#[derive(Debug, Subcommand)]
pub enum ServicesCommand {
    /// List services with their handlers (GET /services).
    List,
    /// Show one service (GET /services/{name}).
    Get {
        /// Service name.
        name: String,
    },
}

/// A `KEY=VALUE` command-line argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// Text before the first `=`.
    pub key: String,
    /// Text after the first `=` (may itself contain `=`).
    pub value: String,
}

/// Parses `KEY=VALUE`, splitting at the first `=` so values may contain `=` (base64, JAAS).
pub fn parse_key_value(arg: &str) -> Result<KeyValue, String> {
    let Some((key, value)) = arg.split_once('=') else {
        return Err(format!("expected KEY=VALUE, found `{arg}` (no `=`)"));
    };
    if key.is_empty() {
        return Err(format!("expected KEY=VALUE, found `{arg}` (empty key)"));
    }
    Ok(KeyValue {
        key: key.to_owned(),
        value: value.to_owned(),
    })
}

/// Collects `KEY=VALUE` pairs into a map; a key given twice is an error, not a silent override.
fn to_map(flag: &str, pairs: &[KeyValue]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for pair in pairs {
        if map.insert(pair.key.clone(), pair.value.clone()).is_some() {
            bail!("{flag} `{}` given more than once", pair.key);
        }
    }
    Ok(map)
}

/// One admin API call, built from a command.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Path and query, starting with `/`, already percent-encoded.
    pub path_and_query: String,
    /// JSON body, if the call has one.
    pub body: Option<Value>,
}

impl ApiRequest {
    fn new(method: Method, path_and_query: String) -> Self {
        Self {
            method,
            path_and_query,
            body: None,
        }
    }

    fn with_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

impl ClientCommand {
    /// The admin API base URL this command talks to.
    pub fn admin_url(&self) -> &str {
        match self {
            ClientCommand::Subscriptions(a) => &a.connection.admin_url,
            ClientCommand::Deployments(a) => &a.connection.admin_url,
            ClientCommand::Services(a) => &a.connection.admin_url,
        }
    }

    /// The request that carries out this command.
    pub fn to_request(&self) -> anyhow::Result<ApiRequest> {
        Ok(match self {
            ClientCommand::Subscriptions(a) => subscriptions_request(&a.command)?,
            ClientCommand::Deployments(a) => deployments_request(&a.command)?,
            ClientCommand::Services(a) => match &a.command {
                ServicesCommand::List => ApiRequest::new(Method::GET, "/services".into()),
                ServicesCommand::Get { name } => {
                    ApiRequest::new(Method::GET, format!("/services/{}", encode(name)))
                }
            },
        })
    }
}

fn subscriptions_request(command: &SubscriptionsCommand) -> anyhow::Result<ApiRequest> {
    let one = |id: &str, suffix: &str| format!("/subscriptions/{}{suffix}", encode(id));
    Ok(match command {
        SubscriptionsCommand::Create {
            source,
            sink,
            options,
        } => ApiRequest::new(Method::POST, "/subscriptions".into()).with_body(json!({
            "source": source,
            "sink": sink,
            "options": to_map("--option", options)?,
        })),
        SubscriptionsCommand::List { sink, source } => {
            let filters: Vec<String> = [("sink", sink), ("source", source)]
                .into_iter()
                .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}={}", encode(v))))
                .collect();
            let mut path = String::from("/subscriptions");
            if !filters.is_empty() {
                path.push('?');
                path.push_str(&filters.join("&"));
            }
            ApiRequest::new(Method::GET, path)
        }
        SubscriptionsCommand::Get { id } => ApiRequest::new(Method::GET, one(id, "")),
        SubscriptionsCommand::Delete { id } => ApiRequest::new(Method::DELETE, one(id, "")),
        SubscriptionsCommand::Pause { id } => ApiRequest::new(Method::POST, one(id, "/pause")),
        SubscriptionsCommand::Resume { id } => ApiRequest::new(Method::POST, one(id, "/resume")),
        SubscriptionsCommand::Status { id } => ApiRequest::new(Method::GET, one(id, "/status")),
    })
}

fn deployments_request(command: &DeploymentsCommand) -> anyhow::Result<ApiRequest> {
    Ok(match command {
        DeploymentsCommand::Register {
            uri,
            headers,
            force,
            use_http_11,
            http2,
        } => {
            let mut body = json!({
                "uri": uri,
                "additional_headers": to_map("--header", headers)?,
                "force": force,
            });
            // Neither flag: the server's default (HTTP/1.1, or ALPN for https).
            if *use_http_11 || *http2 {
                body["use_http_11"] = json!(*use_http_11);
            }
            ApiRequest::new(Method::POST, "/deployments".into()).with_body(body)
        }
        DeploymentsCommand::List => ApiRequest::new(Method::GET, "/deployments".into()),
        DeploymentsCommand::Get { id } => {
            ApiRequest::new(Method::GET, format!("/deployments/{}", encode(id)))
        }
        DeploymentsCommand::Remove { id } => {
            ApiRequest::new(Method::DELETE, format!("/deployments/{}", encode(id)))
        }
    })
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so an id or a filter value
/// (`service://S/h`) stays one path segment or one query value.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Checks the admin URL and joins it with a request path (a path prefix in the URL is kept,
/// for an admin API behind a reverse proxy).
fn request_uri(admin_url: &str, path_and_query: &str) -> anyhow::Result<Uri> {
    let base: Uri = admin_url
        .parse()
        .with_context(|| format!("invalid admin URL `{admin_url}`"))?;
    match base.scheme_str() {
        Some("http") => {}
        Some(other) => {
            bail!("invalid admin URL `{admin_url}`: scheme `{other}` is not supported, use http://")
        }
        None => bail!("invalid admin URL `{admin_url}`: expected http://host:port"),
    }
    if base.authority().is_none() {
        bail!("invalid admin URL `{admin_url}`: expected http://host:port");
    }
    if base.query().is_some() {
        bail!("invalid admin URL `{admin_url}`: must not have a query");
    }
    let joined = format!("{}{path_and_query}", admin_url.trim_end_matches('/'));
    joined
        .parse()
        .with_context(|| format!("invalid request URL `{joined}`"))
}

/// What the server answered.
#[derive(Debug)]
struct ApiResponse {
    status: StatusCode,
    body: Bytes,
}

async fn send(admin_url: &str, request: &ApiRequest) -> anyhow::Result<ApiResponse> {
    let uri = request_uri(admin_url, &request.path_and_query)?;
    let mut builder = Request::builder()
        .method(request.method.clone())
        .uri(uri)
        .header(header::ACCEPT, "application/json");
    let body = match &request.body {
        Some(value) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            Bytes::from(serde_json::to_vec(value).context("encoding the request body")?)
        }
        None => Bytes::new(),
    };
    let http_request = builder
        .body(Full::new(body))
        .context("building the request")?;

    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let exchange = async {
        let response = client.request(http_request).await.map_err(|e| {
            if e.is_connect() {
                anyhow::anyhow!(
                    "cannot reach the admin API at {admin_url}: is kafka-ingress running? ({})",
                    root_cause(&e)
                )
            } else {
                anyhow::anyhow!("request to {admin_url} failed: {}", root_cause(&e))
            }
        })?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading the response from {admin_url}: {e}"))?
            .to_bytes();
        Ok::<_, anyhow::Error>(ApiResponse { status, body })
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "no answer from the admin API at {admin_url} within {}s",
                REQUEST_TIMEOUT.as_secs()
            )
        })?
}

/// The innermost error message (`Connection refused (os error 111)`), which is the useful one.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// The server's `message` for an error response, else its body text, else the status reason.
fn error_message(response: &ApiResponse) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(&response.body) {
        if let Some(message) = value.get("message").and_then(Value::as_str) {
            return message.to_owned();
        }
    }
    let text = String::from_utf8_lossy(&response.body).trim().to_owned();
    if text.is_empty() {
        response
            .status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned()
    } else {
        text
    }
}

/// What a successful response prints on stdout: pretty JSON, or the raw text if not JSON;
/// `None` for an empty body.
fn success_output(body: &[u8]) -> Option<String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => serde_json::to_string_pretty(&value).ok(),
        Err(_) => Some(String::from_utf8_lossy(body).trim_end().to_owned()),
    }
}

async fn execute(command: &ClientCommand) -> anyhow::Result<ExitCode> {
    let request = command.to_request()?;
    let response = send(command.admin_url(), &request).await?;
    if response.status.is_success() {
        match success_output(&response.body) {
            Some(text) => println!("{text}"),
            // DELETE answers 202 with no body: say something so the user sees it worked.
            None => eprintln!("{}", response.status),
        }
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: {} ({})", error_message(&response), response.status);
        Ok(ExitCode::FAILURE)
    }
}

/// Runs a client subcommand; errors go to stderr and exit code 1.
pub fn run(command: ClientCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(&command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct TestCli {
        #[command(subcommand)]
        command: ClientCommand,
    }

    fn parse(args: &[&str]) -> Result<ClientCommand, clap::Error> {
        TestCli::try_parse_from(std::iter::once("kafka-ingress").chain(args.iter().copied()))
            .map(|c| c.command)
    }

    fn request(args: &[&str]) -> ApiRequest {
        parse(args).unwrap().to_request().unwrap()
    }

    #[test]
    fn key_value_splits_at_the_first_equals_sign() {
        assert_eq!(
            parse_key_value("auto.offset.reset=earliest").unwrap(),
            KeyValue {
                key: "auto.offset.reset".into(),
                value: "earliest".into()
            }
        );
        let kv = parse_key_value("sasl.jaas.config=a=b==").unwrap();
        assert_eq!(kv.key, "sasl.jaas.config");
        assert_eq!(kv.value, "a=b==");
        assert_eq!(parse_key_value("k=").unwrap().value, "");
    }

    #[test]
    fn key_value_without_equals_or_key_is_an_error() {
        let err = parse_key_value("auto.offset.reset").unwrap_err();
        assert!(err.contains("no `=`"), "{err}");
        let err = parse_key_value("=earliest").unwrap_err();
        assert!(err.contains("empty key"), "{err}");
    }

    #[test]
    fn missing_equals_is_a_usage_error() {
        let err = parse(&[
            "subscriptions",
            "create",
            "--source",
            "kafka://c/t",
            "--sink",
            "service://S/h",
            "--option",
            "earliest",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(err.to_string().contains("no `=`"), "{err}");
    }

    #[test]
    fn create_builds_the_body_with_options() {
        let r = request(&[
            "subscriptions",
            "create",
            "--source",
            "kafka://c/t",
            "--sink",
            "service://S/h",
            "--option",
            "auto.offset.reset=earliest",
            "-o",
            "ingress.max-in-flight=4",
        ]);
        assert_eq!(r.method, Method::POST);
        assert_eq!(r.path_and_query, "/subscriptions");
        assert_eq!(
            r.body,
            Some(json!({
                "source": "kafka://c/t",
                "sink": "service://S/h",
                "options": {"auto.offset.reset": "earliest", "ingress.max-in-flight": "4"},
            }))
        );
    }

    #[test]
    fn create_without_options_sends_an_empty_map() {
        let r = request(&[
            "subscriptions",
            "create",
            "--source",
            "kafka://c/t",
            "--sink",
            "service://S/h",
        ]);
        assert_eq!(r.body.unwrap()["options"], json!({}));
    }

    #[test]
    fn duplicate_option_is_an_error() {
        let cmd = parse(&[
            "subscriptions",
            "create",
            "--source",
            "kafka://c/t",
            "--sink",
            "service://S/h",
            "--option",
            "a=1",
            "--option",
            "a=2",
        ])
        .unwrap();
        let err = cmd.to_request().unwrap_err().to_string();
        assert!(err.contains("`a` given more than once"), "{err}");
    }

    #[test]
    fn create_requires_source_and_sink() {
        assert!(parse(&["subscriptions", "create", "--source", "kafka://c/t"]).is_err());
        assert!(parse(&["subscriptions", "create", "--sink", "service://S/h"]).is_err());
    }

    #[test]
    fn list_filters_are_query_parameters() {
        assert_eq!(
            request(&["subscriptions", "list"]).path_and_query,
            "/subscriptions"
        );
        let r = request(&[
            "subscriptions",
            "list",
            "--sink",
            "service://S/h",
            "--source",
            "kafka://c/t",
        ]);
        assert_eq!(r.method, Method::GET);
        assert_eq!(
            r.path_and_query,
            "/subscriptions?sink=service%3A%2F%2FS%2Fh&source=kafka%3A%2F%2Fc%2Ft"
        );
    }

    #[test]
    fn subscription_id_commands() {
        let cases = [
            ("get", Method::GET, "/subscriptions/sub_1"),
            ("delete", Method::DELETE, "/subscriptions/sub_1"),
            ("pause", Method::POST, "/subscriptions/sub_1/pause"),
            ("resume", Method::POST, "/subscriptions/sub_1/resume"),
            ("status", Method::GET, "/subscriptions/sub_1/status"),
        ];
        for (verb, method, path) in cases {
            let r = request(&["subscriptions", verb, "sub_1"]);
            assert_eq!((r.method, r.path_and_query.as_str()), (method, path));
            assert_eq!(r.body, None);
        }
        assert!(parse(&["subscriptions", "get"]).is_err());
    }

    #[test]
    fn ids_are_one_path_segment() {
        let r = request(&["subscriptions", "get", "a/b c"]);
        assert_eq!(r.path_and_query, "/subscriptions/a%2Fb%20c");
    }

    #[test]
    fn deployments_register_body() {
        let r = request(&[
            "deployments",
            "register",
            "http://localhost:9080",
            "--header",
            "authorization=Bearer x=y",
            "-H",
            "x-env=prod",
            "--force",
        ]);
        assert_eq!(r.method, Method::POST);
        assert_eq!(r.path_and_query, "/deployments");
        assert_eq!(
            r.body,
            Some(json!({
                "uri": "http://localhost:9080",
                "additional_headers": {"authorization": "Bearer x=y", "x-env": "prod"},
                "force": true,
            }))
        );
        let r = request(&["deployments", "register", "http://h:9080"]);
        assert_eq!(
            r.body,
            Some(json!({"uri": "http://h:9080", "additional_headers": {}, "force": false}))
        );
        assert!(parse(&["deployments", "register", "http://h", "--header", "x"]).is_err());
        let r = request(&["deployments", "register", "https://h", "--use-http1.1"]);
        assert_eq!(
            r.body.as_ref().map(|b| &b["use_http_11"]),
            Some(&json!(true))
        );
        let r = request(&["deployments", "register", "http://h", "--http2"]);
        assert_eq!(
            r.body.as_ref().map(|b| &b["use_http_11"]),
            Some(&json!(false))
        );
        assert!(parse(&[
            "deployments",
            "register",
            "http://h",
            "--http2",
            "--use-http1.1"
        ])
        .is_err());
    }

    #[test]
    fn deployments_and_services_paths() {
        let cases: [(&[&str], Method, &str); 5] = [
            (&["deployments", "list"], Method::GET, "/deployments"),
            (
                &["deployments", "get", "dp_1"],
                Method::GET,
                "/deployments/dp_1",
            ),
            (
                &["deployments", "remove", "dp_1"],
                Method::DELETE,
                "/deployments/dp_1",
            ),
            (&["services", "list"], Method::GET, "/services"),
            (
                &["services", "get", "Counter"],
                Method::GET,
                "/services/Counter",
            ),
        ];
        for (args, method, path) in cases {
            let r = request(args);
            assert_eq!((r.method, r.path_and_query.as_str()), (method, path));
        }
    }

    #[test]
    fn admin_url_flag_before_or_after_the_verb() {
        let a = parse(&["services", "--admin-url", "http://h:1", "list"]).unwrap();
        assert_eq!(a.admin_url(), "http://h:1");
        let b = parse(&["services", "list", "--admin-url", "http://h:2"]).unwrap();
        assert_eq!(b.admin_url(), "http://h:2");
    }

    #[test]
    fn request_uri_joins_and_validates() {
        assert_eq!(
            request_uri("http://localhost:9070", "/services").unwrap(),
            "http://localhost:9070/services"
        );
        assert_eq!(
            request_uri("http://proxy/admin/", "/services").unwrap(),
            "http://proxy/admin/services"
        );
        let err = request_uri("https://h:9070", "/x").unwrap_err().to_string();
        assert!(err.contains("scheme `https` is not supported"), "{err}");
        assert!(request_uri("localhost:9070", "/x").is_err());
        assert!(request_uri("not a url", "/x").is_err());
    }

    #[test]
    fn error_message_prefers_the_message_field() {
        let response = |status: u16, body: &str| ApiResponse {
            status: StatusCode::from_u16(status).unwrap(),
            body: Bytes::from(body.to_owned()),
        };
        assert_eq!(
            error_message(&response(400, r#"{"message":"bad sink"}"#)),
            "bad sink"
        );
        assert_eq!(
            error_message(&response(502, "upstream down\n")),
            "upstream down"
        );
        assert_eq!(error_message(&response(404, "")), "Not Found");
    }

    #[test]
    fn success_output_pretty_prints_json() {
        assert_eq!(success_output(br#"{"a":1}"#).unwrap(), "{\n  \"a\": 1\n}");
        assert_eq!(success_output(b"").as_deref(), None);
        assert_eq!(success_output(b"plain\n").unwrap(), "plain");
    }
}
