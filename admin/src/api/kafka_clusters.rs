//! `/kafka-clusters` (Restate 1.7's API): list, get (optionally with its subscriptions),
//! register, patch and delete clusters. Clusters of the configuration file are listed and
//! readable, and read-only (409 on create, patch or delete).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ingress::manager::{ClusterDetail, ClusterView};
use serde::Serialize;

use super::body::{bool_param, json_object, path_param, query_params, Fields};
use super::error::ApiError;
use super::subscriptions::location;
use super::AppState;

/// `{"clusters": [...]}` (Restate's list shape).
#[derive(Debug, Serialize)]
pub struct ClusterList {
    /// The clusters.
    pub clusters: Vec<ClusterView>,
}

/// `GET /kafka-clusters`.
pub async fn list(State(ingress): State<AppState>) -> Json<ClusterList> {
    Json(ClusterList {
        clusters: ingress.clusters().await,
    })
}

/// `GET /kafka-clusters/{name}[?include_subscriptions=true]`.
pub async fn get(
    State(ingress): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<ClusterDetail>, ApiError> {
    let name = path_param(name)?;
    let params = query_params(query, &["include_subscriptions"])?;
    let include = bool_param(
        "include_subscriptions",
        params.get("include_subscriptions").map(String::as_str),
    )?;
    Ok(Json(ingress.cluster(&name, include).await?))
}

/// `POST /kafka-clusters` `{"name", "properties"}`: 201 + `Location: kafka-clusters/<name>`.
pub async fn create(
    State(ingress): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(json_object(&headers, body)?, &["name", "properties"])?;
    let name = fields.required_string("name", "a cluster name such as \"local\"")?;
    let properties = fields.string_map("properties", "property", true)?;
    let view = ingress.create_kafka_cluster(&name, properties).await?;
    let location = location("kafka-clusters", &view.name)?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

/// `PATCH /kafka-clusters/{name}` `{"properties"}`: replaces every property.
pub async fn patch(
    State(ingress): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ClusterView>, ApiError> {
    let name = path_param(name)?;
    let mut fields = Fields::new(json_object(&headers, body)?, &["properties"])?;
    if !fields.contains("properties") {
        return Err(ApiError::bad_request(
            "missing field \"properties\" in the request body (expected an object of \
             librdkafka properties; it replaces all of them)",
        ));
    }
    let properties = fields.string_map("properties", "property", true)?;
    Ok(Json(ingress.patch_kafka_cluster(&name, properties).await?))
}

/// `DELETE /kafka-clusters/{name}[?force=true]`: 202, empty body.
pub async fn delete(
    State(ingress): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let name = path_param(name)?;
    let params = query_params(query, &["force"])?;
    let force = bool_param("force", params.get("force").map(String::as_str))?;
    ingress.delete_kafka_cluster(&name, force).await?;
    Ok(StatusCode::ACCEPTED)
}
