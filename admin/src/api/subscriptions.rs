//! `/subscriptions`: create (Restate's body), list with filters, get, delete, pause, resume,
//! status.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ingress::engine::status::SubscriptionStatus;
use ingress::manager::SubscriptionView;
use serde::Serialize;

use super::body::{json_object, path_param, query_params, Fields};
use super::error::ApiError;
use super::AppState;

/// The fields `POST /subscriptions` accepts.
const CREATE_FIELDS: &[&str] = &["source", "sink", "options"];

/// `{"subscriptions": [...]}`.
#[derive(Debug, Serialize)]
pub struct SubscriptionList {
    /// The subscriptions, in creation order.
    pub subscriptions: Vec<SubscriptionView>,
}

/// A `Location` header value for `<collection>/<id>` (relative, as Restate sends it).
pub fn location(collection: &str, id: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&format!("{collection}/{id}"))
        .map_err(|_| ApiError::internal(format!("cannot build a Location header for {id:?}")))
}

/// `POST /subscriptions`: 201 + `Location: subscriptions/<id>` + the subscription.
pub async fn create(
    State(ingress): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(json_object(&headers, body)?, CREATE_FIELDS)?;
    let source = fields.required_string("source", "kafka://<cluster>/<topic>")?;
    let sink = fields.required_string("sink", "service://<Service>/<handler>")?;
    let options = fields.string_map("options", "option", true)?;
    let view = ingress.create_subscription(&source, &sink, options).await?;
    let location = location("subscriptions", &view.id)?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

/// `GET /subscriptions[?sink=...&source=...]`.
pub async fn list(
    State(ingress): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<SubscriptionList>, ApiError> {
    let params = query_params(query, &["sink", "source"])?;
    let subscriptions = ingress
        .list_subscriptions(
            params.get("sink").map(String::as_str),
            params.get("source").map(String::as_str),
        )
        .await;
    Ok(Json(SubscriptionList { subscriptions }))
}

/// `GET /subscriptions/{id}`.
pub async fn get(
    State(ingress): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let id = path_param(id)?;
    Ok(Json(ingress.get_subscription(&id).await?))
}

/// `DELETE /subscriptions/{id}`: 202, empty body.
pub async fn delete(
    State(ingress): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let id = path_param(id)?;
    ingress.delete_subscription(&id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /subscriptions/{id}/pause`: the status after pausing.
pub async fn pause(
    state: State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<SubscriptionStatus>, ApiError> {
    set_paused(state, id, true).await
}

/// `POST /subscriptions/{id}/resume`: the status after resuming.
pub async fn resume(
    state: State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<SubscriptionStatus>, ApiError> {
    set_paused(state, id, false).await
}

async fn set_paused(
    State(ingress): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    paused: bool,
) -> Result<Json<SubscriptionStatus>, ApiError> {
    let id = path_param(id)?;
    ingress.set_paused(&id, paused).await?;
    Ok(Json(ingress.subscription_status(&id).await?))
}

/// `GET /subscriptions/{id}/status`.
pub async fn status(
    State(ingress): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<SubscriptionStatus>, ApiError> {
    let id = path_param(id)?;
    Ok(Json(ingress.subscription_status(&id).await?))
}
