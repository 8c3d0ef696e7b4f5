//! The admin API: a thin HTTP layer over [`Ingress`]. JSON everywhere; every error is
//! `{"message": "..."}` naming the field and the reason.
//!
//! Status codes: 201 for creations (with `Location`), 202 for deletions (empty body), 200
//! otherwise; errors map [`ingress::manager::ErrorKind`] to 400/404/409/422/500. A malformed
//! request (syntax, missing field, wrong JSON type, unknown field, bad query or path) is a
//! 400 like Restate answers; only a body not declared as JSON is a 415.
//!
//! [`ROUTES`] is the one list of routes: the router is built from it and so is the OpenAPI
//! document, so the two cannot drift apart.

mod body;
mod deployments;
mod error;
mod kafka_clusters;
mod metrics;
mod openapi;
mod query;
mod subscriptions;

use std::sync::Arc;

use axum::extract::{MatchedPath, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, on, MethodFilter, MethodRouter};
use axum::{Json, Router};
use ingress::manager::Ingress;
use serde::Serialize;
use serde_json::json;

pub use error::ApiError;

/// The state every handler gets: the ingress.
pub type AppState = Arc<Ingress>;

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `GET` (also answers `HEAD`).
    Get,
    /// `POST`.
    Post,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl Verb {
    /// The method name, e.g. `GET`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }

    /// The method.
    pub fn method(self) -> Method {
        match self {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Patch => Method::PATCH,
            Verb::Delete => Method::DELETE,
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Patch => MethodFilter::PATCH,
            Verb::Delete => MethodFilter::DELETE,
        }
    }
}

/// What a successful response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Success {
    /// A JSON body of this schema (a name under `components/schemas`).
    Json(&'static str),
    /// A text body of this content type.
    Text(&'static str),
    /// No body.
    Empty,
}

/// A query parameter of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// Its name.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Its JSON schema type (`string`, `boolean`).
    pub ty: &'static str,
}

/// The documentation of a route, for the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Doc {
    /// A unique operation id.
    pub operation_id: &'static str,
    /// The group it belongs to.
    pub tag: &'static str,
    /// One line saying what it does.
    pub summary: &'static str,
    /// Its query parameters.
    pub query: &'static [Param],
    /// The schema of its JSON request body, if it takes one.
    pub request: Option<&'static str>,
    /// The success status.
    pub status: u16,
    /// The success body.
    pub response: Success,
    /// Whether the success response has a `Location` header.
    pub location: bool,
    /// The error statuses it answers (besides 405/500 any route may answer).
    pub errors: &'static [u16],
}

/// One route: method, path (axum and OpenAPI share the `{param}` syntax), handler and docs.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The method.
    pub verb: Verb,
    /// The path template.
    pub path: &'static str,
    /// Builds the method router for `verb` (taking the filter keeps method and handler in
    /// one place).
    pub handler: fn(MethodFilter) -> MethodRouter<AppState>,
    /// Its documentation.
    pub doc: Doc,
}

const FILTERS: &[Param] = &[
    Param {
        name: "sink",
        description: "Only subscriptions with exactly this sink (service://<Service>/<handler>).",
        ty: "string",
    },
    Param {
        name: "source",
        description: "Only subscriptions with exactly this source (kafka://<cluster>/<topic>).",
        ty: "string",
    },
];

const FORCE: &[Param] = &[Param {
    name: "force",
    description: "Remove even while subscriptions use its services (they stop delivering).",
    ty: "boolean",
}];

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    Route {
        verb: Verb::Post,
        path: "/subscriptions",
        handler: |m| on(m, subscriptions::create),
        doc: Doc {
            operation_id: "create_subscription",
            tag: "subscriptions",
            summary: "Create a subscription from a Kafka topic to a handler and start it.",
            query: &[],
            request: Some("CreateSubscriptionRequest"),
            status: 201,
            response: Success::Json("Subscription"),
            location: true,
            errors: &[400, 409, 415, 422],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/subscriptions",
        handler: |m| on(m, subscriptions::list),
        doc: Doc {
            operation_id: "list_subscriptions",
            tag: "subscriptions",
            summary: "List subscriptions in creation order, optionally filtered.",
            query: FILTERS,
            request: None,
            status: 200,
            response: Success::Json("SubscriptionList"),
            location: false,
            errors: &[400],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/subscriptions/{id}",
        handler: |m| on(m, subscriptions::get),
        doc: Doc {
            operation_id: "get_subscription",
            tag: "subscriptions",
            summary: "Get a subscription.",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("Subscription"),
            location: false,
            errors: &[404],
        },
    },
    Route {
        verb: Verb::Delete,
        path: "/subscriptions/{id}",
        handler: |m| on(m, subscriptions::delete),
        doc: Doc {
            operation_id: "delete_subscription",
            tag: "subscriptions",
            summary: "Delete a subscription; it drains, commits and leaves its group in the \
                      background.",
            query: &[],
            request: None,
            status: 202,
            response: Success::Empty,
            location: false,
            errors: &[404],
        },
    },
    Route {
        verb: Verb::Post,
        path: "/subscriptions/{id}/pause",
        handler: |m| on(m, subscriptions::pause),
        doc: Doc {
            operation_id: "pause_subscription",
            tag: "subscriptions",
            summary: "Pause a subscription: no fetching, no new deliveries; group membership \
                      is kept. Persisted.",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("SubscriptionStatus"),
            location: false,
            errors: &[404],
        },
    },
    Route {
        verb: Verb::Post,
        path: "/subscriptions/{id}/resume",
        handler: |m| on(m, subscriptions::resume),
        doc: Doc {
            operation_id: "resume_subscription",
            tag: "subscriptions",
            summary: "Resume a paused subscription. Persisted.",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("SubscriptionStatus"),
            location: false,
            errors: &[404],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/subscriptions/{id}/status",
        handler: |m| on(m, subscriptions::status),
        doc: Doc {
            operation_id: "subscription_status",
            tag: "subscriptions",
            summary: "Runtime status: state and, per partition, offsets, lag, in-flight work \
                      and the record it is stuck on.",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("SubscriptionStatus"),
            location: false,
            errors: &[404],
        },
    },
    Route {
        verb: Verb::Post,
        path: "/deployments",
        handler: |m| on(m, deployments::register),
        doc: Doc {
            operation_id: "register_deployment",
            tag: "deployments",
            summary: "Register a deployment: discover its services (GET <uri>/discover) or \
                      take them inline.",
            query: &[],
            request: Some("RegisterDeploymentRequest"),
            status: 201,
            response: Success::Json("Deployment"),
            location: true,
            errors: &[400, 404, 409, 415],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/deployments",
        handler: |m| on(m, deployments::list),
        doc: Doc {
            operation_id: "list_deployments",
            tag: "deployments",
            summary: "List deployments, oldest first.",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("DeploymentList"),
            location: false,
            errors: &[],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/deployments/{id}",
        handler: |m| on(m, deployments::get),
        doc: Doc {
            operation_id: "get_deployment",
            tag: "deployments",
            summary: "Get a deployment.",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("Deployment"),
            location: false,
            errors: &[404],
        },
    },
    Route {
        verb: Verb::Delete,
        path: "/deployments/{id}",
        handler: |m| on(m, deployments::remove),
        doc: Doc {
            operation_id: "remove_deployment",
            tag: "deployments",
            summary: "Remove a deployment; refused (409) while subscriptions use its services \
                      unless force=true.",
            query: FORCE,
            request: None,
            status: 202,
            response: Success::Empty,
            location: false,
            errors: &[400, 404, 409],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/services",
        handler: |m| on(m, deployments::list_services),
        doc: Doc {
            operation_id: "list_services",
            tag: "services",
            summary: "List the services the deployments serve, by name.",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("ServiceList"),
            location: false,
            errors: &[],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/services/{name}",
        handler: |m| on(m, deployments::get_service),
        doc: Doc {
            operation_id: "get_service",
            tag: "services",
            summary: "Get a service and its handlers.",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("Service"),
            location: false,
            errors: &[404],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/services/{name}/handlers",
        handler: |m| on(m, deployments::list_handlers),
        doc: Doc {
            operation_id: "list_service_handlers",
            tag: "services",
            summary: "List a service's handlers (Restate's shape).",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("HandlerList"),
            location: false,
            errors: &[404],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/services/{name}/handlers/{handler}",
        handler: |m| on(m, deployments::get_handler),
        doc: Doc {
            operation_id: "get_service_handler",
            tag: "services",
            summary: "Get one handler of a service.",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("Handler"),
            location: false,
            errors: &[404],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/kafka-clusters",
        handler: |m| on(m, kafka_clusters::list),
        doc: Doc {
            operation_id: "list_kafka_clusters",
            tag: "kafka-clusters",
            summary: "List the Kafka clusters: the configuration file's (read-only) and the \
                      registered ones (Restate's shape; secret properties shown as ***).",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("KafkaClusterList"),
            location: false,
            errors: &[],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/kafka-clusters/{name}",
        handler: |m| on(m, kafka_clusters::get),
        doc: Doc {
            operation_id: "get_kafka_cluster",
            tag: "kafka-clusters",
            summary: "One Kafka cluster; with include_subscriptions=true also the subscriptions \
                      consuming from it.",
            query: &[Param {
                name: "include_subscriptions",
                description: "List the cluster's subscriptions (default false).",
                ty: "boolean",
            }],
            request: None,
            status: 200,
            response: Success::Json("KafkaClusterDetail"),
            location: false,
            errors: &[400, 404],
        },
    },
    Route {
        verb: Verb::Post,
        path: "/kafka-clusters",
        handler: |m| on(m, kafka_clusters::create),
        doc: Doc {
            operation_id: "create_kafka_cluster",
            tag: "kafka-clusters",
            summary: "Register a Kafka cluster: a name and librdkafka properties (checked like \
                      the configuration file's; bootstrap.servers required). Persisted and, \
                      with store = \"kafka\", replicated.",
            query: &[],
            request: Some("CreateKafkaClusterRequest"),
            status: 201,
            response: Success::Json("KafkaCluster"),
            location: true,
            errors: &[400, 409, 415],
        },
    },
    Route {
        verb: Verb::Patch,
        path: "/kafka-clusters/{name}",
        handler: |m| on(m, kafka_clusters::patch),
        doc: Doc {
            operation_id: "update_kafka_cluster",
            tag: "kafka-clusters",
            summary: "Replace a registered cluster's properties (*** for a secret keeps the \
                      stored value); its subscriptions restart with them. Configuration-file \
                      clusters are read-only (409).",
            query: &[],
            request: Some("UpdateKafkaClusterRequest"),
            status: 200,
            response: Success::Json("KafkaCluster"),
            location: false,
            errors: &[400, 404, 409, 415],
        },
    },
    Route {
        verb: Verb::Delete,
        path: "/kafka-clusters/{name}",
        handler: |m| on(m, kafka_clusters::delete),
        doc: Doc {
            operation_id: "delete_kafka_cluster",
            tag: "kafka-clusters",
            summary: "Remove a registered cluster; refused (409) while subscriptions consume \
                      from it unless force=true, which stops them (their status says why).",
            query: &[Param {
                name: "force",
                description: "Remove even while subscriptions consume from it (they stop).",
                ty: "boolean",
            }],
            request: None,
            status: 202,
            response: Success::Empty,
            location: false,
            errors: &[400, 404, 409],
        },
    },
    Route {
        verb: Verb::Post,
        path: "/query",
        handler: |m| on(m, query::handler),
        doc: Doc {
            operation_id: "query",
            tag: "operations",
            summary: "The Restate CLI's invocation-count queries (FROM sys_invocation_status): \
                      always no rows, as JSON with Accept: application/json, else as an Arrow \
                      IPC stream. Other SQL is refused.",
            query: &[],
            request: Some("QueryRequest"),
            status: 200,
            response: Success::Json("QueryResult"),
            location: false,
            errors: &[400, 415],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/cluster",
        handler: |m| on(m, cluster),
        doc: Doc {
            operation_id: "cluster",
            tag: "operations",
            summary: "The processes of this ingress: this one and, with store = \"kafka\", \
                      every process Kafka lists as a member of a subscription's group.",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("ClusterOverview"),
            location: false,
            errors: &[],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/health",
        handler: |m| on(m, health),
        doc: Doc {
            operation_id: "health",
            tag: "operations",
            summary: "Liveness: 200 while the admin API serves.",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("Health"),
            location: false,
            errors: &[],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/metrics",
        handler: |m| on(m, metrics::handler),
        doc: Doc {
            operation_id: "metrics",
            tag: "operations",
            summary: "Prometheus metrics (text format 0.0.4): deliveries, retries, \
                      dead-letters, skips, handler latency, and per partition lag and offsets.",
            query: &[],
            request: None,
            status: 200,
            response: Success::Text(metrics::CONTENT_TYPE),
            location: false,
            errors: &[],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/version",
        handler: |m| on(m, version),
        doc: Doc {
            operation_id: "version",
            tag: "operations",
            summary: "The server version and the admin API versions it implements (Restate's \
                      /version; every route is also served under /v4).",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("Version"),
            location: false,
            errors: &[],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/openapi",
        handler: |m| on(m, openapi::handler),
        doc: Doc {
            operation_id: "openapi_restate_path",
            tag: "operations",
            summary: "This API's OpenAPI 3.0 document (Restate's path; also /openapi.json).",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("OpenApiDocument"),
            location: false,
            errors: &[],
        },
    },
    Route {
        verb: Verb::Get,
        path: "/openapi.json",
        handler: |m| on(m, openapi::handler),
        doc: Doc {
            operation_id: "openapi",
            tag: "operations",
            summary: "This API's OpenAPI 3.0 document.",
            query: &[],
            request: None,
            status: 200,
            response: Success::Json("OpenApiDocument"),
            location: false,
            errors: &[],
        },
    },
];

/// The admin API versions (Restate's numbering) served under `/v<N>`; the unversioned paths
/// are the same API. Restate's CLI uses `/v<min(ours, its own max)>`.
pub const ADMIN_API_VERSIONS: std::ops::RangeInclusive<u16> = 4..=4;

/// The admin API router over `ingress`: every route of [`ROUTES`], unversioned and under
/// `/v4` (Restate's versioned prefix), a JSON 400 for other `/v<N>` prefixes, a JSON 404 for
/// unknown paths and a JSON 405 (with `Allow`) for unknown methods.
pub fn router(ingress: Arc<Ingress>) -> Router {
    let api: Router<AppState> = ROUTES
        .iter()
        .fold(Router::new(), |router, route| {
            router.route(route.path, (route.handler)(route.verb.filter()))
        })
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed);
    let mut versioned = Router::new().merge(api.clone());
    for v in 1..=9u16 {
        versioned = if ADMIN_API_VERSIONS.contains(&v) {
            versioned.nest(&format!("/v{v}"), api.clone())
        } else {
            versioned.route(&format!("/v{v}/{{*rest}}"), any(unsupported_version))
        };
    }
    versioned.with_state(ingress)
}

async fn unsupported_version(uri: Uri) -> ApiError {
    ApiError::bad_request(format!(
        "unsupported admin API version in {}: this server implements versions {}..={} \
         (see GET /version)",
        uri.path(),
        ADMIN_API_VERSIONS.start(),
        ADMIN_API_VERSIONS.end()
    ))
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri, matched: Option<MatchedPath>) -> ApiError {
    let allowed: Vec<&str> = matched
        .map(|m| {
            let path = strip_version_prefix(m.as_str());
            ROUTES
                .iter()
                .filter(|r| r.path == path)
                .map(|r| r.verb.as_str())
                .collect()
        })
        .unwrap_or_default();
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "method {method} is not allowed for {}; allowed: {}",
            uri.path(),
            allowed.join(", ")
        ),
    )
}

async fn cluster(State(ingress): State<AppState>) -> Json<ingress::manager::ClusterOverview> {
    Json(ingress.cluster_overview().await)
}

/// `/v4/subscriptions` -> `/subscriptions` (the route table's path).
fn strip_version_prefix(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("/v") else {
        return path;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    match rest[digits..].strip_prefix('/') {
        Some(_) if digits > 0 => &rest[digits..],
        _ => path,
    }
}

/// Restate's `GET /version` body.
#[derive(Debug, Serialize)]
struct VersionBody {
    version: &'static str,
    min_admin_api_version: u16,
    max_admin_api_version: u16,
    /// Restate's optional features; none of them apply here (the field is required by
    /// Restate's CLI).
    features: serde_json::Map<String, serde_json::Value>,
}

async fn version() -> Json<VersionBody> {
    Json(VersionBody {
        version: env!("CARGO_PKG_VERSION"),
        min_admin_api_version: *ADMIN_API_VERSIONS.start(),
        max_admin_api_version: *ADMIN_API_VERSIONS.end(),
        features: serde_json::Map::new(),
    })
}

async fn health() -> Response {
    Json(json!({"status": "ok"})).into_response()
}
