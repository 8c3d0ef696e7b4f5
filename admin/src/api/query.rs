//! `POST /query`: the two invocation-count queries the Restate CLI sends before removing a
//! deployment (JSON form) and when describing a service (Arrow form).
//!
//! kafka-ingress has no invocation table: an invocation is one HTTP request per record, and
//! nothing is pinned to a deployment the way a Restate invocation is, so the truthful count
//! is zero. Any other query is refused with a 400 naming what is supported.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::body::{json_object, Fields};
use super::error::ApiError;

/// An Arrow IPC stream holding an empty schema and the end-of-stream marker: "no rows".
const EMPTY_ARROW_STREAM: [u8; 72] = [
    0xff, 0xff, 0xff, 0xff, 0x38, 0x00, 0x00, 0x00, // continuation, metadata length 56
    0x10, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x14, 0x00, // flatbuffer: Message{version V5,
    0x10, 0x00, 0x12, 0x00, 0x04, 0x00, 0x08, 0x00, //   header Schema{fields: []},
    0x0c, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, //   bodyLength 0}
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    0x04, 0x00, 0x01, 0x00, 0x08, 0x00, 0x08, 0x00, //
    0x00, 0x00, 0x04, 0x00, 0x08, 0x00, 0x00, 0x00, //
    0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, // end of stream
];

/// The only table the supported queries read.
const INVOCATION_TABLE: &str = "sys_invocation_status";

/// `POST /query` `{"query": "SELECT ... FROM sys_invocation_status ..."}`: `{"rows": []}`
/// (`Accept: application/json`) or an empty Arrow stream (otherwise).
pub async fn handler(
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(json_object(&headers, body)?, &["query"])?;
    let query = fields.required_string("query", "SELECT ... FROM sys_invocation_status")?;
    let normalized = query.trim_start().to_ascii_lowercase();
    if !normalized.starts_with("select") || !normalized.contains(INVOCATION_TABLE) {
        return Err(ApiError::bad_request(format!(
            "only the Restate CLI's invocation-count queries (SELECT ... FROM \
             {INVOCATION_TABLE}) are supported; kafka-ingress keeps no invocation table \
             (every invocation is one HTTP request, so the count is always 0)"
        )));
    }
    let wants_json = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"));
    if wants_json {
        // Exactly `application/json`: the CLI refuses a charset parameter.
        return Ok((
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            r#"{"rows":[]}"#,
        )
            .into_response());
    }
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.apache.arrow.stream"),
        )],
        EMPTY_ARROW_STREAM.to_vec(),
    )
        .into_response())
}
