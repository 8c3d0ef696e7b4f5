//! The one error type of the admin API: a status code and a message, sent as
//! `{"message": "...", "restate_code": ...}` (Restate's error body: its code where Restate has
//! one for the same situation, else `null`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ingress::manager::{ErrorKind, IngressError};
use serde::Serialize;

/// An error response: the status and a message naming the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong (never a secret value).
    pub message: String,
    /// Restate's error code for the same situation (e.g. `META0009`), if it has one.
    pub restate_code: Option<&'static str>,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
    restate_code: Option<&'static str>,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            restate_code: None,
        }
    }

    /// A 400: the request is malformed (body shape, query, path).
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// A 500: something failed on our side.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

/// The status code of an [`IngressError`] kind.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Restate's code for the situation of `e`: META0009 for an invalid subscription source or
/// sink, META0006 for a service type change, META0003 for a deployment discovery failure.
pub fn restate_code_of(e: &IngressError) -> Option<&'static str> {
    use ingress::deployments::registry::RegistryError;
    match e {
        IngressError::Spec(spec) if matches!(spec.field(), "source" | "sink") => Some("META0009"),
        IngressError::Sink(_) => Some("META0009"),
        IngressError::Registry(RegistryError::ServiceTypeChanged { .. }) => Some("META0006"),
        IngressError::Discovery(_) => Some("META0003"),
        _ => None,
    }
}

impl From<IngressError> for ApiError {
    fn from(e: IngressError) -> Self {
        ApiError {
            status: status_of(e.kind()),
            restate_code: restate_code_of(&e),
            message: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), message = %self.message,
                "admin API request failed");
        } else {
            // Client errors are the client's business; their messages may echo what the
            // client sent, so they are not logged.
            tracing::debug!(status = self.status.as_u16(), "admin API request refused");
        }
        let body = ErrorBody {
            message: &self.message,
            restate_code: self.restate_code,
        };
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_statuses() {
        assert_eq!(status_of(ErrorKind::BadRequest), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(ErrorKind::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(status_of(ErrorKind::Conflict), StatusCode::CONFLICT);
        assert_eq!(
            status_of(ErrorKind::Unprocessable),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status_of(ErrorKind::Internal),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn not_found_subscription_is_404_with_the_id() {
        let e = ApiError::from(IngressError::SubscriptionNotFound("sub_x".into()));
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert!(e.message.contains("sub_x"), "{}", e.message);
    }
}
