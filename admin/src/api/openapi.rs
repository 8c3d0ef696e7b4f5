//! `GET /openapi.json`: an OpenAPI 3.0 document built from [`ROUTES`] (paths, parameters,
//! bodies, statuses) and the hand-written schemas below.

use axum::Json;
use serde_json::{json, Map, Value};

use super::{Route, Success, ROUTES};

/// `GET /openapi.json`. Not an `async fn`: its opaque future type would depend on
/// [`ROUTES`], whose handlers include this one (a type cycle).
pub fn handler() -> std::future::Ready<Json<Value>> {
    std::future::ready(Json(document(ROUTES)))
}

/// The OpenAPI 3.0 document describing `routes`.
pub fn document(routes: &[Route]) -> Value {
    let mut paths = Map::new();
    for route in routes {
        let item = paths
            .entry(route.path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(route.verb.as_str().to_ascii_lowercase(), operation(route));
        }
    }
    let mut tags: Vec<&str> = Vec::new();
    for route in routes {
        if !tags.contains(&route.doc.tag) {
            tags.push(route.doc.tag);
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "kafka-ingress admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Manage subscriptions (Kafka topic -> handler), deployments and \
                services, and observe the ingress. Compatible with Restate's admin API for \
                subscriptions and deployments. Every error body is {\"message\": \"...\"} \
                naming the field and the reason.",
        },
        "tags": tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "responses": error_responses(),
        },
    })
}

fn operation(route: &Route) -> Value {
    let doc = &route.doc;
    let mut parameters: Vec<Value> = path_params(route.path)
        .into_iter()
        .map(|name| {
            json!({
                "name": name,
                "in": "path",
                "required": true,
                "description": path_param_description(name),
                "schema": {"type": "string"},
            })
        })
        .collect();
    parameters.extend(doc.query.iter().map(|p| {
        json!({
            "name": p.name,
            "in": "query",
            "required": false,
            "description": p.description,
            "schema": {"type": p.ty},
        })
    }));

    let mut success = Map::new();
    success.insert("description".into(), json!(status_description(doc.status)));
    match doc.response {
        Success::Json(schema) => {
            success.insert(
                "content".into(),
                json!({"application/json": {"schema": schema_ref(schema)}}),
            );
        }
        Success::Text(content_type) => {
            success.insert(
                "content".into(),
                json!({content_type: {"schema": {"type": "string"}}}),
            );
        }
        Success::Empty => {}
    }
    if doc.location {
        success.insert(
            "headers".into(),
            json!({"Location": {
                "description": "The new resource, relative: <collection>/<id>.",
                "schema": {"type": "string"},
            }}),
        );
    }
    let mut responses = Map::new();
    responses.insert(doc.status.to_string(), Value::Object(success));
    for status in doc.errors.iter().chain(&[500]) {
        responses.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/{}", error_response_name(*status))}),
        );
    }

    let mut op = Map::new();
    op.insert("operationId".into(), json!(doc.operation_id));
    op.insert("tags".into(), json!([doc.tag]));
    op.insert("summary".into(), json!(doc.summary));
    if !parameters.is_empty() {
        op.insert("parameters".into(), Value::Array(parameters));
    }
    if let Some(schema) = doc.request {
        op.insert(
            "requestBody".into(),
            json!({
                "required": true,
                "content": {"application/json": {"schema": schema_ref(schema)}},
            }),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// The `{name}` segments of a path template.
fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

fn path_param_description(name: &str) -> &'static str {
    match name {
        "id" => "The id (sub_... for subscriptions, dp_... for deployments).",
        "name" => "The service name.",
        _ => "A path parameter.",
    }
}

fn status_description(status: u16) -> &'static str {
    match status {
        201 => "Created.",
        202 => "Accepted; no body.",
        _ => "OK.",
    }
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The name under `components/responses` of an error status.
fn error_response_name(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        404 => "NotFound",
        409 => "Conflict",
        415 => "UnsupportedMediaType",
        422 => "Unprocessable",
        _ => "Internal",
    }
}

fn error_responses() -> Value {
    let error = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": schema_ref("Error")}},
        })
    };
    json!({
        "BadRequest": error("The request is invalid: malformed JSON (with line and column), \
            a missing or mistyped field, an unknown field, a bad source/sink URI, an unknown \
            cluster (the known ones are listed), service or handler, an invalid option \
            (librdkafka's message), or a failed discovery."),
        "NotFound": error("No such subscription, deployment or service."),
        "Conflict": error("It conflicts with existing state: a deployment with this uri \
            exists (use force), a subscription with the same source, sink and group.id \
            exists, or the deployment is in use."),
        "UnsupportedMediaType": error("The body is not declared as application/json."),
        "Unprocessable": error("The request is well-formed but cannot be processed."),
        "Internal": error("The server failed (e.g. persisting the state)."),
    })
}

fn nullable(schema: Value) -> Value {
    match schema {
        Value::Object(mut m) if !m.contains_key("$ref") => {
            m.insert("nullable".into(), json!(true));
            Value::Object(m)
        }
        other => json!({"allOf": [other], "nullable": true}),
    }
}

fn string_map(description: &str) -> Value {
    json!({
        "type": "object",
        "description": description,
        "additionalProperties": {"type": "string"},
    })
}

fn schemas() -> Value {
    let int64 = json!({"type": "integer", "format": "int64"});
    let count = json!({"type": "integer", "minimum": 0});
    json!({
        "Error": {
            "type": "object",
            "required": ["message"],
            "properties": {"message": {"type": "string", "description": "Names the field and the reason."}},
        },
        "CreateSubscriptionRequest": {
            "type": "object",
            "required": ["source", "sink"],
            "additionalProperties": false,
            "properties": {
                "source": {"type": "string", "description": "kafka://<cluster>/<topic>", "example": "kafka://my-cluster/orders"},
                "sink": {"type": "string", "description": "service://<Service>/<handler>", "example": "service://Counter/add"},
                "options": {
                    "type": "object",
                    "description": "librdkafka properties (names, aliases and value syntax of librdkafka 2.15) and ingress.* options; they override the cluster's options. Numbers and booleans are taken as their text.",
                    "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]},
                    "example": {"auto.offset.reset": "earliest"},
                },
            },
        },
        "Subscription": {
            "type": "object",
            "required": ["id", "source", "sink", "options"],
            "properties": {
                "id": {"type": "string", "example": "sub_11XHoawrCVPbmFlm2ZpMNTsk"},
                "source": {"type": "string", "example": "kafka://my-cluster/orders"},
                "sink": {"type": "string", "example": "service://Counter/add"},
                "options": string_map("The options as given plus the defaulted group.id and client.id; secrets are shown as ***."),
            },
        },
        "SubscriptionList": {
            "type": "object",
            "required": ["subscriptions"],
            "properties": {"subscriptions": {"type": "array", "items": schema_ref("Subscription")}},
        },
        "SubscriptionStatus": {
            "type": "object",
            "required": ["id", "state", "partitions"],
            "properties": {
                "id": {"type": "string"},
                "state": {"type": "string", "enum": ["starting", "running", "paused", "restarting", "stopping", "stopped", "failed"]},
                "reason": {"type": "string", "description": "Why it is restarting or failed."},
                "partitions": {"type": "array", "items": schema_ref("PartitionStatus"), "description": "Partitions this process owns, by topic and partition."},
                "cluster": schema_ref("GroupStatus"),
            },
        },
        "GroupStatus": {
            "type": "object",
            "description": "With store = \"kafka\": the subscription's consumer group across every process, from Kafka (DescribeGroups, OffsetFetch, ListOffsets); only `error` when Kafka could not be asked.",
            "properties": {
                "group": {"type": "string"},
                "state": {"type": "string", "description": "The coordinator's group state (Stable, PreparingRebalance, ...)."},
                "members": {"type": "array", "items": {
                    "type": "object",
                    "required": ["member_id", "client_id", "client_host", "partitions"],
                    "properties": {
                        "member_id": {"type": "string"},
                        "instance_id": nullable(json!({"type": "string"})),
                        "client_id": {"type": "string"},
                        "client_host": {"type": "string"},
                        "partitions": {"type": "array", "items": {"type": "integer", "format": "int32"}},
                    },
                }},
                "partitions": {"type": "array", "items": {
                    "type": "object",
                    "required": ["partition"],
                    "properties": {
                        "partition": {"type": "integer", "format": "int32"},
                        "owner": nullable(json!({"type": "string", "description": "The owner's group.instance.id (<instance-id>-<subscription id>), or its member id."})),
                        "committed": nullable(int64.clone()),
                        "high_watermark": nullable(int64.clone()),
                        "lag": nullable(int64.clone()),
                    },
                }},
                "error": {"type": "string"},
            },
        },
        "PartitionStatus": {
            "type": "object",
            "required": ["topic", "partition", "commit_watermark", "position", "in_flight", "in_flight_limit", "buffered", "fetch_paused", "failing"],
            "properties": {
                "topic": {"type": "string"},
                "partition": {"type": "integer", "format": "int32"},
                "committed": nullable(int64.clone()),
                "commit_watermark": int64.clone(),
                "position": int64.clone(),
                "high_watermark": nullable(int64.clone()),
                "lag": nullable(int64.clone()),
                "in_flight": count.clone(),
                "in_flight_limit": count.clone(),
                "buffered": count.clone(),
                "fetch_paused": {"type": "boolean"},
                "failing": count.clone(),
                "stuck": nullable(schema_ref("StuckRecord")),
                "error": nullable(json!({"type": "string"})),
            },
        },
        "StuckRecord": {
            "type": "object",
            "required": ["offset", "attempts", "last_error", "since"],
            "properties": {
                "offset": int64,
                "key": nullable(json!({"type": "string"})),
                "attempts": count,
                "last_error": {"type": "string"},
                "since": {"type": "string", "format": "date-time"},
            },
        },
        "RegisterDeploymentRequest": {
            "type": "object",
            "required": ["uri"],
            "additionalProperties": false,
            "properties": {
                "uri": {"type": "string", "example": "http://localhost:9080"},
                "additional_headers": string_map("Headers sent with discovery and every invocation."),
                "force": {"type": "boolean", "default": false, "description": "Overwrite the deployment with the same uri (rediscovered, same id), or change a service's type."},
                "breaking": {"type": "boolean", "default": false, "description": "Allow service type changes."},
                "dry_run": {"type": "boolean", "default": false, "description": "Discover and validate; answer what would be registered; change nothing."},
                "metadata": string_map("Restate's deployment metadata: accepted, not used."),
                "restate_admin_url": {"type": "string", "example": "http://restate:9070", "description": "uri is a Restate server's HTTP ingress; its services are read from this admin API (GET <admin>/services) at registration, on force and every restate-refresh-interval-ms."},
                "use_http_11": {"type": "boolean", "description": "true: HTTP/1.1; false: HTTP/2 (h2c with prior knowledge on http://). Absent: HTTP/1.1 on http://, on https:// what ALPN agrees on during discovery."},
                "services": {"type": "array", "items": schema_ref("ServiceManifest"), "description": "The manifest inline; discovery (GET <uri>/discover) is skipped."},
            },
        },
        "ServiceManifest": {
            "type": "object",
            "required": ["name", "ty"],
            "properties": {
                "name": {"type": "string"},
                "ty": {"type": "string", "enum": ["SERVICE", "VIRTUAL_OBJECT", "WORKFLOW"]},
                "handlers": {"type": "array", "items": schema_ref("HandlerManifest")},
            },
        },
        "HandlerManifest": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "ty": {"type": "string", "enum": ["EXCLUSIVE", "SHARED", "WORKFLOW"]},
                "input": {"type": "object", "properties": {"contentType": {"type": "string"}}},
            },
        },
        "Deployment": {
            "type": "object",
            "required": ["id", "uri", "additional_headers", "http_version", "created_at", "protocol_type", "min_protocol_version", "max_protocol_version", "services"],
            "properties": {
                "id": {"type": "string", "example": "dp_14LsPzKeRbNNgGBf2Rs4RUPt"},
                "uri": {"type": "string"},
                "additional_headers": string_map("Credential-like header values are shown as ***."),
                "http_version": {"type": "string", "enum": ["HTTP/1.1", "HTTP/2.0"], "description": "What invocations speak."},
                "created_at": {"type": "string", "format": "date-time"},
                "protocol_type": {"type": "string", "enum": ["RequestResponse"], "description": "Restate's field: one request and one response per record."},
                "min_protocol_version": {"type": "integer", "description": "0: a plain HTTP handler, not Restate's service protocol."},
                "max_protocol_version": {"type": "integer"},
                "services": {"type": "array", "items": schema_ref("Service"), "description": "The services it declares, with their revision."},
            },
        },
        "DeploymentList": {
            "type": "object",
            "required": ["deployments"],
            "properties": {"deployments": {"type": "array", "items": schema_ref("Deployment")}},
        },
        "Service": {
            "type": "object",
            "required": ["name", "ty", "deployment_id", "revision", "public", "handlers"],
            "properties": {
                "name": {"type": "string"},
                "ty": {"type": "string", "enum": ["Service", "VirtualObject", "Workflow"], "description": "Restate's admin API spelling (the manifest says SERVICE, VIRTUAL_OBJECT, WORKFLOW)."},
                "deployment_id": {"type": "string", "description": "The newest deployment declaring it, which serves it."},
                "revision": {"type": "integer", "description": "Its position among the deployments declaring it, oldest first."},
                "public": {"type": "boolean"},
                "handlers": {"type": "array", "items": schema_ref("Handler")},
            },
        },
        "Handler": {
            "type": "object",
            "required": ["name", "input_description", "output_description", "input_content_type"],
            "properties": {
                "name": {"type": "string"},
                "ty": {"type": "string", "enum": ["Exclusive", "Shared", "Workflow"], "description": "Effective type; absent for services."},
                "input_description": {"type": "string", "description": "The content type records are sent with."},
                "output_description": {"type": "string", "description": "Empty: handler output is not read."},
                "input_content_type": {"type": "string"},
            },
        },
        "HandlerList": {
            "type": "object",
            "required": ["handlers"],
            "properties": {"handlers": {"type": "array", "items": schema_ref("Handler")}},
        },
        "ServiceList": {
            "type": "object",
            "required": ["services"],
            "properties": {"services": {"type": "array", "items": schema_ref("Service")}},
        },
        "KafkaCluster": {
            "type": "object",
            "required": ["name", "properties", "created_at", "info"],
            "properties": {
                "name": {"type": "string"},
                "properties": string_map("librdkafka properties: the configured options plus metadata.broker.list (the brokers); secrets are shown as ***."),
                "created_at": {"type": "string", "format": "date-time", "description": "When it was registered; 1970-01-01T00:00:00Z for clusters of the configuration file (Restate's convention)."},
                "info": {"type": "array", "items": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}},
            },
        },
        "KafkaClusterDetail": {
            "type": "object",
            "required": ["name", "properties", "created_at", "info", "subscriptions"],
            "properties": {
                "name": {"type": "string"},
                "properties": string_map("As in KafkaCluster."),
                "created_at": {"type": "string", "format": "date-time"},
                "info": {"type": "array", "items": {"type": "object"}},
                "subscriptions": {"type": "array", "items": schema_ref("Subscription"), "description": "With include_subscriptions=true: the subscriptions consuming from it; otherwise empty."},
            },
        },
        "CreateKafkaClusterRequest": {
            "type": "object",
            "required": ["name", "properties"],
            "properties": {
                "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"},
                "properties": string_map("librdkafka properties; bootstrap.servers (or metadata.broker.list) is required."),
            },
        },
        "UpdateKafkaClusterRequest": {
            "type": "object",
            "required": ["properties"],
            "properties": {
                "properties": string_map("The new properties: they replace all of them. A value of *** for a secret property keeps the stored value."),
            },
        },
        "KafkaClusterList": {
            "type": "object",
            "required": ["clusters"],
            "properties": {"clusters": {"type": "array", "items": schema_ref("KafkaCluster")}},
        },
        "ClusterOverview": {
            "type": "object",
            "required": ["store", "instance_id", "processes", "errors"],
            "properties": {
                "store": {"type": "string", "enum": ["local", "kafka"]},
                "metadata_topic": nullable(json!({"type": "string"})),
                "applied_offset": nullable(int64.clone()),
                "instance_id": {"type": "string"},
                "processes": {"type": "array", "items": {
                    "type": "object",
                    "required": ["instance_id", "this", "subscriptions", "partitions"],
                    "properties": {
                        "instance_id": {"type": "string"},
                        "this": {"type": "boolean"},
                        "subscriptions": {"type": "array", "items": {"type": "string"}},
                        "partitions": count.clone(),
                    },
                }},
                "errors": {"type": "array", "items": {"type": "string"}},
            },
        },
        "Version": {
            "type": "object",
            "required": ["version", "min_admin_api_version", "max_admin_api_version", "features"],
            "properties": {
                "version": {"type": "string"},
                "min_admin_api_version": {"type": "integer"},
                "max_admin_api_version": {"type": "integer"},
                "features": {"type": "object", "additionalProperties": {"type": "boolean"}},
            },
        },
        "QueryRequest": {
            "type": "object",
            "required": ["query"],
            "properties": {"query": {"type": "string", "description": "SELECT ... FROM sys_invocation_status ... (the Restate CLI's invocation counts)."}},
        },
        "QueryResult": {
            "type": "object",
            "required": ["rows"],
            "properties": {"rows": {"type": "array", "maxItems": 0, "items": {"type": "object"}, "description": "Always empty: kafka-ingress keeps no invocation table."}},
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string", "enum": ["ok"]}},
        },
        "OpenApiDocument": {
            "type": "object",
            "description": "An OpenAPI 3.0 document.",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_route_is_documented() {
        let doc = document(ROUTES);
        for r in ROUTES {
            let op = &doc["paths"][r.path][r.verb.as_str().to_ascii_lowercase()];
            assert!(op.is_object(), "{} {} missing", r.verb.as_str(), r.path);
            assert!(
                op["responses"][r.doc.status.to_string()].is_object(),
                "{}",
                r.path
            );
            for p in path_params(r.path) {
                let params = op["parameters"].as_array().unwrap();
                assert!(params.iter().any(|x| x["name"] == p && x["in"] == "path"));
            }
        }
    }

    #[test]
    fn every_ref_resolves_and_operation_ids_are_unique() {
        let doc = document(ROUTES);
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let pointer = r.strip_prefix('#').unwrap();
            assert!(doc.pointer(pointer).is_some(), "unresolved {r}");
        }
        let mut ids: Vec<&str> = ROUTES.iter().map(|r| r.doc.operation_id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate operationId");
    }

    #[test]
    fn path_params_are_found() {
        assert_eq!(path_params("/subscriptions/{id}/pause"), vec!["id"]);
        assert!(path_params("/health").is_empty());
    }
}
