//! `/deployments` (register by discovery or inline manifest, list, get, remove) and
//! `/services` (what the deployments serve).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ingress::deployments::manifest::ServiceManifest;
use ingress::manager::{
    DeploymentView, HandlerView, IngressError, RegisterDeployment, Registration, ServiceView,
};
use serde::Serialize;

use super::body::{
    bool_param, json_object, path_param, path_params2, query_params, type_name, Fields,
};
use super::error::ApiError;
use super::subscriptions::location;
use super::AppState;

/// The fields `POST /deployments` accepts.
const REGISTER_FIELDS: &[&str] = &[
    "uri",
    "additional_headers",
    "force",
    "use_http_11",
    "services",
    "breaking",
    "dry_run",
    "metadata",
    "restate_admin_url",
];

/// `{"deployments": [...]}`.
#[derive(Debug, Serialize)]
pub struct DeploymentList {
    /// The deployments, oldest first.
    pub deployments: Vec<DeploymentView>,
}

/// `{"services": [...]}`.
#[derive(Debug, Serialize)]
pub struct ServiceList {
    /// The services, by name.
    pub services: Vec<ServiceView>,
}

/// `POST /deployments`: 201 + `Location: deployments/<id>` + the deployment.
pub async fn register(
    State(ingress): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(json_object(&headers, body)?, REGISTER_FIELDS)?;
    let uri = fields.required_string("uri", "http://<host>:<port>")?;
    let additional_headers = fields.string_map("additional_headers", "header", false)?;
    let force = fields.optional_bool("force")?.unwrap_or(false);
    let breaking = fields.optional_bool("breaking")?.unwrap_or(false);
    let dry_run = fields.optional_bool("dry_run")?.unwrap_or(false);
    // Restate's deployment metadata (its CLI adds GitHub Actions fields on its own): accepted
    // as an object of strings, not used.
    let _metadata = fields.string_map("metadata", "metadata entry", false)?;
    let use_http_11 = fields.optional_bool("use_http_11")?;
    let restate_admin_url = match fields.optional_value("restate_admin_url") {
        None => None,
        Some(serde_json::Value::String(url)) => Some(url),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "field \"restate_admin_url\" must be a string (the Restate server's admin API, \
                 e.g. http://restate:9070), got {}",
                type_name(&other)
            )))
        }
    };
    let services = match fields.optional_value("services") {
        None => None,
        Some(value @ serde_json::Value::Array(_)) => Some(
            serde_json::from_value::<Vec<ServiceManifest>>(value).map_err(|e| {
                ApiError::bad_request(format!("invalid field \"services\" (a manifest): {e}"))
            })?,
        ),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "field \"services\" must be an array of services (the endpoint manifest's \
                 \"services\"), got {}",
                type_name(&other)
            )))
        }
    };
    if services.is_some() && restate_admin_url.is_some() {
        return Err(ApiError::bad_request(
            "give either \"services\" (an inline manifest) or \"restate_admin_url\" (the \
             services are read from the Restate server), not both",
        ));
    }
    let (view, registration) = ingress
        .register_deployment(RegisterDeployment {
            uri,
            additional_headers,
            services,
            force,
            breaking,
            dry_run,
            use_http_11,
            restate_admin_url,
        })
        .await?;
    let location = location("deployments", &view.id)?;
    let status = match registration {
        Registration::Created => StatusCode::CREATED,
        Registration::Unchanged | Registration::Overwritten => StatusCode::OK,
    };
    Ok((status, [(header::LOCATION, location)], Json(view)).into_response())
}

/// `GET /deployments`.
pub async fn list(State(ingress): State<AppState>) -> Json<DeploymentList> {
    Json(DeploymentList {
        deployments: ingress.list_deployments().await,
    })
}

/// `GET /deployments/{id}`.
pub async fn get(
    State(ingress): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<DeploymentView>, ApiError> {
    let id = path_param(id)?;
    Ok(Json(ingress.get_deployment(&id).await?))
}

/// `DELETE /deployments/{id}[?force=true]`: 202, empty body.
pub async fn remove(
    State(ingress): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let id = path_param(id)?;
    let params = query_params(query, &["force"])?;
    let force = bool_param("force", params.get("force").map(String::as_str))?;
    ingress.remove_deployment(&id, force).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `GET /services`.
pub async fn list_services(State(ingress): State<AppState>) -> Json<ServiceList> {
    Json(ServiceList {
        services: ingress.list_services().await,
    })
}

/// `GET /services/{name}`.
pub async fn get_service(
    State(ingress): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<ServiceView>, ApiError> {
    let name = path_param(name)?;
    Ok(Json(ingress.get_service(&name).await?))
}

/// `{"handlers": [...]}` (Restate's shape).
#[derive(Debug, Serialize)]
pub struct HandlerList {
    /// The service's handlers, in manifest order.
    pub handlers: Vec<HandlerView>,
}

/// `GET /services/{name}/handlers`.
pub async fn list_handlers(
    State(ingress): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<HandlerList>, ApiError> {
    let name = path_param(name)?;
    let service = ingress.get_service(&name).await?;
    Ok(Json(HandlerList {
        handlers: service.handlers,
    }))
}

/// `GET /services/{name}/handlers/{handler}`.
pub async fn get_handler(
    State(ingress): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<HandlerView>, ApiError> {
    let (name, handler) = path_params2(path)?;
    let service = ingress.get_service(&name).await?;
    service
        .handlers
        .into_iter()
        .find(|h| h.name == handler)
        .map(Json)
        .ok_or_else(|| {
            ApiError::from(IngressError::HandlerNotFound {
                service: name,
                handler,
            })
        })
}
