//! Request parsing with messages that name the field and the reason: JSON bodies (content
//! type, syntax with line/column, object shape, unknown fields, field types), query
//! parameters and path segments.
//!
//! Every malformed request is a 400 (as Restate answers), except a body that is not
//! declared as JSON, which is a 415. Bodies are checked by hand rather than with serde's
//! derive so a message says which field is wrong and why, without echoing values (an option
//! value may be a password).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, StatusCode};
use serde_json::{Map, Value};

use super::error::ApiError;

/// The JSON type of `value`, with an article, for messages ("a number", "an array").
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks that the request declares a JSON body (`application/json` or `application/*+json`,
/// parameters allowed); otherwise a 415.
pub fn require_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let unsupported = |detail: String| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type must be application/json, {detail}"),
        )
    };
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(unsupported(
            "the request has no Content-Type header (curl: -H 'content-type: application/json')"
                .to_owned(),
        ));
    };
    let text = value
        .to_str()
        .map_err(|_| unsupported("the Content-Type header is not valid text".to_owned()))?;
    let essence = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let is_json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if is_json {
        Ok(())
    } else {
        Err(unsupported(format!("got {text:?}")))
    }
}

/// The request body as a JSON object: checks the content type (415), reading the body (its
/// own status, e.g. 413), the syntax (400 with line and column) and that it is an object.
pub fn json_object(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, ApiError> {
    require_json_content_type(headers)?;
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        ApiError::new(
            status,
            format!("cannot read the request body: {}", rejection.body_text()),
        )
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "the request body is empty; expected a JSON object",
        ));
    }
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON request body: {e}")))?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::bad_request(format!(
            "the request body must be a JSON object, got {}",
            type_name(&other)
        ))),
    }
}

/// The fields of a JSON object body, taken one by one; unknown fields are refused up front.
#[derive(Debug)]
pub struct Fields {
    map: Map<String, Value>,
}

impl Fields {
    /// Wraps `map`, refusing any field not in `allowed` (400 naming them and the allowed ones).
    pub fn new(map: Map<String, Value>, allowed: &[&str]) -> Result<Self, ApiError> {
        let unknown: Vec<String> = map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| format!("{k:?}"))
            .collect();
        if !unknown.is_empty() {
            let noun = if unknown.len() == 1 {
                "unknown field"
            } else {
                "unknown fields"
            };
            return Err(ApiError::bad_request(format!(
                "{noun} {} in the request body; expected {}",
                unknown.join(", "),
                allowed.join(", ")
            )));
        }
        Ok(Fields { map })
    }

    /// A field that must be a string; `hint` says what it looks like.
    pub fn required_string(&mut self, name: &str, hint: &str) -> Result<String, ApiError> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Err(ApiError::bad_request(format!(
                "missing field {name:?} in the request body (expected {hint})"
            ))),
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(ApiError::bad_request(format!(
                "field {name:?} must be a string ({hint}), got {}",
                type_name(&other)
            ))),
        }
    }

    /// An optional boolean field (`null` reads as absent).
    pub fn optional_bool(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(ApiError::bad_request(format!(
                "field {name:?} must be a boolean, got {}",
                type_name(&other)
            ))),
        }
    }

    /// Whether the body has the field with a non-null value.
    pub fn contains(&self, name: &str) -> bool {
        self.map.get(name).is_some_and(|v| !v.is_null())
    }

    /// An optional field taken as it is (`null` reads as absent).
    pub fn optional_value(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name).filter(|v| !v.is_null())
    }

    /// An optional object of names to values (`null` reads as empty). Strings are taken as
    /// they are; with `scalars`, numbers and booleans become their JSON text (`1000`,
    /// `true`). Anything else is refused naming the entry as `<what> "<name>"`.
    pub fn string_map(
        &mut self,
        name: &str,
        what: &str,
        scalars: bool,
    ) -> Result<BTreeMap<String, String>, ApiError> {
        let map = match self.map.remove(name) {
            None | Some(Value::Null) => return Ok(BTreeMap::new()),
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "field {name:?} must be an object of {what} names to values, got {}",
                    type_name(&other)
                )))
            }
        };
        let expected = if scalars {
            "a string, number or boolean"
        } else {
            "a string"
        };
        map.into_iter()
            .map(|(key, value)| {
                let text = match value {
                    Value::String(s) => s,
                    Value::Number(n) if scalars => n.to_string(),
                    Value::Bool(b) if scalars => b.to_string(),
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "{what} {key:?} in field {name:?} must be {expected}, got {}",
                            type_name(&other)
                        )))
                    }
                };
                Ok((key, text))
            })
            .collect()
    }
}

/// The query parameters, each at most once and only from `allowed` (400 otherwise).
pub fn query_params(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    allowed: &[&str],
) -> Result<BTreeMap<String, String>, ApiError> {
    let Query(pairs) = query.map_err(|rejection| {
        ApiError::bad_request(format!("invalid query string: {}", rejection.body_text()))
    })?;
    let mut params = BTreeMap::new();
    for (name, value) in pairs {
        if !allowed.contains(&name.as_str()) {
            let expected = if allowed.is_empty() {
                "this route takes none".to_owned()
            } else {
                format!("expected {}", allowed.join(", "))
            };
            return Err(ApiError::bad_request(format!(
                "unknown query parameter {name:?}; {expected}"
            )));
        }
        if params.contains_key(&name) {
            return Err(ApiError::bad_request(format!(
                "query parameter {name:?} is given more than once"
            )));
        }
        params.insert(name, value);
    }
    Ok(params)
}

/// The one path parameter of a route (`{id}`, `{name}`), decoded.
pub fn path_param(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(p)| p).map_err(|rejection| {
        ApiError::new(
            rejection.status(),
            format!("invalid path parameter: {}", rejection.body_text()),
        )
    })
}

/// Two path parameters (e.g. `/services/{name}/handlers/{handler}`).
pub fn path_params2(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(String, String), ApiError> {
    path.map(|Path(p)| p).map_err(|rejection| {
        ApiError::new(
            rejection.status(),
            format!("invalid path parameter: {}", rejection.body_text()),
        )
    })
}

/// Parses a `true`/`false` query parameter.
pub fn bool_param(name: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(ApiError::bad_request(format!(
            "query parameter {name:?} must be true or false, got {v:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    fn headers(content_type: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = content_type {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        h
    }

    #[test]
    fn json_content_types_are_accepted() {
        for ct in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(
                require_json_content_type(&headers(Some(ct))).is_ok(),
                "{ct}"
            );
        }
    }

    #[test]
    fn other_content_types_are_415() {
        let e = require_json_content_type(&headers(None)).unwrap_err();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(e.message.contains("application/json"), "{}", e.message);
        let e = require_json_content_type(&headers(Some("application/x-www-form-urlencoded")))
            .unwrap_err();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(
            e.message.contains("application/x-www-form-urlencoded"),
            "{}",
            e.message
        );
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let e = json_object(
            &headers(Some("application/json")),
            Ok(Bytes::from_static(b"{\n\"source\": }")),
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("line 2 column"), "{}", e.message);
    }

    #[test]
    fn non_object_and_empty_bodies_are_refused() {
        let ct = headers(Some("application/json"));
        let e = json_object(&ct, Ok(Bytes::from_static(b"[1]"))).unwrap_err();
        assert_eq!(
            e.message,
            "the request body must be a JSON object, got an array"
        );
        let e = json_object(&ct, Ok(Bytes::from_static(b"  "))).unwrap_err();
        assert!(e.message.contains("empty"), "{}", e.message);
    }

    fn fields(v: Value, allowed: &[&str]) -> Result<Fields, ApiError> {
        match v {
            Value::Object(m) => Fields::new(m, allowed),
            _ => unreachable!(),
        }
    }

    #[test]
    fn unknown_fields_are_named() {
        let e = fields(
            json!({"source": "x", "snk": 1, "zz": 2}),
            &["source", "sink"],
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "unknown fields \"snk\", \"zz\" in the request body; expected source, sink"
        );
    }

    #[test]
    fn required_strings_name_the_field() {
        let mut f = fields(json!({"sink": 3}), &["source", "sink"]).unwrap();
        let e = f.required_string("source", "kafka://c/t").unwrap_err();
        assert!(
            e.message.contains("missing field \"source\""),
            "{}",
            e.message
        );
        let e = f.required_string("sink", "service://S/h").unwrap_err();
        assert!(
            e.message.contains("field \"sink\" must be a string"),
            "{}",
            e.message
        );
        assert!(e.message.contains("got a number"), "{}", e.message);
    }

    #[test]
    fn scalar_options_become_strings_and_others_are_refused() {
        let mut f = fields(
            json!({"options": {"a": "x", "b": 1000, "c": true, "d": 1.5}}),
            &["options"],
        )
        .unwrap();
        let m = f.string_map("options", "option", true).unwrap();
        assert_eq!(m["a"], "x");
        assert_eq!(m["b"], "1000");
        assert_eq!(m["c"], "true");
        assert_eq!(m["d"], "1.5");
        for bad in [json!({"o": {}}), json!({"o": []}), json!({"o": null})] {
            let mut f = fields(json!({"options": bad}), &["options"]).unwrap();
            let e = f.string_map("options", "option", true).unwrap_err();
            assert!(
                e.message.starts_with(
                    "option \"o\" in field \"options\" must be a string, number or boolean"
                ),
                "{}",
                e.message
            );
        }
        let mut f = fields(json!({"h": {"x": 1}}), &["h"]).unwrap();
        let e = f.string_map("h", "header", false).unwrap_err();
        assert!(
            e.message.contains("must be a string, got a number"),
            "{}",
            e.message
        );
    }

    #[test]
    fn bool_params() {
        assert!(!bool_param("force", None).unwrap());
        assert!(bool_param("force", Some("TRUE")).unwrap());
        assert!(!bool_param("force", Some("false")).unwrap());
        let e = bool_param("force", Some("yes")).unwrap_err();
        assert_eq!(
            e.message,
            "query parameter \"force\" must be true or false, got \"yes\""
        );
    }
}
