//! A Restate server as a deployment: records are invoked through its HTTP ingress
//! (`POST <ingress>/<Service>/<handler>`, `/<Object>/<key>/<handler>`), and its services are
//! read from its admin API (`GET <admin>/services`) instead of `GET <uri>/discover`, which
//! Restate's ingress does not serve.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::discovery::{fetch, normalize_deployment_uri, DiscoveryError};
use super::manifest::{
    EndpointManifest, HandlerManifest, HandlerType, InputPayload, ServiceManifest, ServiceType,
};
use crate::http_client::{HandlerTls, HttpVersion, VersionPreference};

/// `GET /services` of Restate's admin API (only what the ingress needs).
#[derive(Debug, Deserialize)]
struct Services {
    services: Vec<Service>,
}

#[derive(Debug, Deserialize)]
struct Service {
    name: String,
    ty: String,
    #[serde(default)]
    handlers: Vec<Handler>,
    #[serde(default = "yes")]
    public: bool,
}

#[derive(Debug, Deserialize)]
struct Handler {
    name: String,
    #[serde(default)]
    ty: Option<String>,
    #[serde(default)]
    input_description: Option<String>,
    #[serde(default = "yes")]
    public: bool,
}

fn yes() -> bool {
    true
}

/// The public services of the Restate server whose admin API is `admin_url`, as a manifest
/// (private services and handlers cannot be called through its ingress, so they are left out).
pub async fn discover_restate(
    admin_url: &str,
    additional_headers: &BTreeMap<String, String>,
    tls: &HandlerTls,
    timeout: Duration,
) -> Result<EndpointManifest, DiscoveryError> {
    let base = normalize_deployment_uri(admin_url)?;
    let url = format!("{base}/services");
    let (_, body) = fetch(
        &url,
        "application/json",
        additional_headers,
        VersionPreference::Fixed(HttpVersion::Http1),
        false,
        tls,
        timeout,
    )
    .await?;
    let manifest = manifest_of(&body).map_err(|reason| DiscoveryError::InvalidJson {
        url: url.clone(),
        reason,
    })?;
    // No services is a real state of a Restate server (none registered yet, or all removed):
    // the deployment then serves nothing, and the subscriptions on it fail, saying so.
    if !manifest.services.is_empty() {
        manifest
            .validate()
            .map_err(|source| DiscoveryError::InvalidManifest { url, source })?;
    }
    Ok(manifest)
}

/// Restate's `{"services": [ServiceMetadata...]}` as an endpoint manifest.
fn manifest_of(body: &[u8]) -> Result<EndpointManifest, String> {
    let listed: Services = serde_json::from_slice(body)
        .map_err(|e| format!("not Restate's GET /services answer: {e}"))?;
    let mut services = Vec::new();
    for service in listed.services.into_iter().filter(|s| s.public) {
        let ty = match service.ty.as_str() {
            "Service" => ServiceType::Service,
            "VirtualObject" => ServiceType::VirtualObject,
            "Workflow" => ServiceType::Workflow,
            other => {
                return Err(format!(
                    "service {:?} has the unknown type {other:?} (expected Service, \
                     VirtualObject or Workflow)",
                    service.name
                ))
            }
        };
        let mut handlers = Vec::new();
        for handler in service.handlers.into_iter().filter(|h| h.public) {
            let handler_ty = match handler.ty.as_deref() {
                None => None,
                Some("Exclusive") => Some(HandlerType::Exclusive),
                Some("Shared") => Some(HandlerType::Shared),
                Some("Workflow") => Some(HandlerType::Workflow),
                Some(other) => {
                    return Err(format!(
                        "handler {}/{} has the unknown type {other:?} (expected Exclusive, \
                         Shared or Workflow)",
                        service.name, handler.name
                    ))
                }
            };
            handlers.push(HandlerManifest {
                name: handler.name,
                ty: handler_ty,
                input: input_of(handler.input_description.as_deref()),
            });
        }
        // Restate lists services and handlers in no stable order; sorted, an unchanged
        // server reads as the same manifest on every refresh.
        handlers.sort_by(|a, b| a.name.cmp(&b.name));
        services.push(ServiceManifest {
            name: service.name,
            ty,
            handlers,
        });
    }
    services.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(EndpointManifest { services })
}

/// The content type records are sent with, from Restate's `input_description`: JSON for
/// `application/json`, `JSON ...` and anything that accepts any content type (`*/*`, `none`,
/// `one of [...]` — a Kafka record is most often JSON, and Restate checks what it accepts);
/// a single other content type (`text/plain`) as it is.
fn input_of(description: Option<&str>) -> Option<InputPayload> {
    let description = description?.trim();
    let single = description
        .strip_prefix("optional ")
        .unwrap_or(description)
        .trim();
    let is_single_type = single.contains('/')
        && !single.contains('*')
        && !single.contains(char::is_whitespace)
        && !single.eq_ignore_ascii_case("application/json");
    is_single_type.then(|| InputPayload {
        content_type: Some(single.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn restate_services_become_a_manifest() {
        let body = serde_json::json!({"services": [
            {"name": "Counter", "ty": "VirtualObject", "deployment_id": "dp_1", "revision": 2,
             "public": true, "handlers": [
                {"name": "add", "ty": "Exclusive", "input_description": "JSON", "output_description": "JSON"},
                {"name": "get", "ty": "Shared", "input_description": "none", "output_description": "JSON"},
                {"name": "hidden", "ty": "Shared", "public": false, "input_description": "", "output_description": ""}]},
            {"name": "Text", "ty": "Service", "handlers": [
                {"name": "put", "input_description": "text/plain", "output_description": ""},
                {"name": "any", "input_description": "*/*", "output_description": ""}]},
            {"name": "Internal", "ty": "Service", "public": false, "handlers": []}
        ]});
        let m = manifest_of(body.to_string().as_bytes()).unwrap();
        m.validate().unwrap();
        assert_eq!(m.services.len(), 2);
        let counter = &m.services[0];
        assert_eq!(counter.ty, ServiceType::VirtualObject);
        let names: Vec<&str> = counter.handlers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["add", "get"]);
        assert_eq!(counter.handlers[1].ty, Some(HandlerType::Shared));
        assert_eq!(counter.handlers[0].input_content_type(), "application/json");
        let text = &m.services[1];
        assert_eq!(text.handlers[0].name, "any");
        assert_eq!(text.handlers[0].input_content_type(), "application/json");
        assert_eq!(text.handlers[1].input_content_type(), "text/plain");
    }

    #[test]
    fn the_order_restate_lists_services_in_does_not_matter() {
        let a = manifest_of(
            br#"{"services":[{"name":"B","ty":"Service","handlers":[{"name":"y"},{"name":"x"}]},
                {"name":"A","ty":"Service","handlers":[]}]}"#,
        )
        .unwrap();
        let b = manifest_of(
            br#"{"services":[{"name":"A","ty":"Service","handlers":[]},
                {"name":"B","ty":"Service","handlers":[{"name":"x"},{"name":"y"}]}]}"#,
        )
        .unwrap();
        assert_eq!(a.services, b.services);
        assert_eq!(a.services[0].name, "A");
    }

    #[test]
    fn a_restate_server_without_services_is_an_empty_manifest() {
        let m = manifest_of(br#"{"services":[]}"#).unwrap();
        assert!(m.services.is_empty());
        let m =
            manifest_of(br#"{"services":[{"name":"P","ty":"Service","public":false}]}"#).unwrap();
        assert!(m.services.is_empty());
    }

    #[test]
    fn malformed_answers_say_what_is_wrong() {
        let e = manifest_of(b"<html>").unwrap_err();
        assert!(e.contains("GET /services"), "{e}");
        let e =
            manifest_of(br#"{"services":[{"name":"S","ty":"Actor","handlers":[]}]}"#).unwrap_err();
        assert!(e.contains("\"Actor\""), "{e}");
    }
}
