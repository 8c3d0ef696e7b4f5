//! The deployment registry: which deployment serves which service, and what a subscription's
//! sink resolves to.
//!
//! Plain data (no I/O, no async): the admin layer owns locking and persistence and stores
//! [`DeploymentRegistry::list`] as is. Deployments are kept in registration order; when several
//! deployments declare a service, the newest one serves it (Restate's semantics), and removing
//! it hands the service back to the next newest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::discovery::{check_header, normalize_deployment_uri, UriError};
use super::manifest::{EndpointManifest, HandlerType, ManifestError, ServiceManifest, ServiceType};
use crate::engine::invocation::HandlerTarget;
use crate::engine::DispatchMode;
use crate::http_client::HttpVersion;
use crate::ids::restate_id;

/// The prefix of deployment ids.
pub const DEPLOYMENT_ID_PREFIX: &str = "dp_";

/// A registered deployment: persisted as is and returned by the admin API.
///
/// `additional_headers` values may be credentials (e.g. `authorization`); callers decide
/// whether to show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// `dp_1` + 22 base62 characters (Restate's id format); older ids are kept as they are.
    pub id: String,
    /// The base URI, without trailing slash.
    pub uri: String,
    /// Headers sent with discovery and every invocation.
    #[serde(default)]
    pub additional_headers: BTreeMap<String, String>,
    /// The services of its manifest.
    pub services: Vec<ServiceManifest>,
    /// The HTTP version the invoker speaks to it (state files from before this field was
    /// added hold HTTP/1.1 deployments, the only version then).
    #[serde(default)]
    pub http_version: HttpVersion,
    /// When it was registered (RFC 3339, UTC).
    pub created_at: String,
    /// For a Restate server (`uri` = its HTTP ingress): its admin API, where the services are
    /// read (`GET <admin>/services`) at registration and on every refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restate_admin_url: Option<String>,
}

/// One service as served now, for `GET /services`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// The service name.
    pub name: String,
    /// Service, virtual object or workflow.
    pub ty: ServiceType,
    /// The deployment serving it (the newest one declaring it).
    pub deployment_id: String,
    /// Its handlers in manifest order.
    pub handlers: Vec<HandlerInfo>,
}

/// One handler of a [`ServiceInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlerInfo {
    /// The handler name.
    pub name: String,
    /// The effective type ([`super::HandlerManifest::effective_type`]); `None` for services.
    pub ty: Option<HandlerType>,
    /// The input content type (`application/json` when the manifest names none).
    pub input_content_type: String,
}

/// What a `service://<Service>/<handler>` sink resolves to: where and how to invoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkTarget {
    /// The deployment serving the service.
    pub deployment_id: String,
    /// Its base URI.
    pub base_uri: String,
    /// The service name.
    pub service: String,
    /// The handler name.
    pub handler: String,
    /// The service type.
    pub service_ty: ServiceType,
    /// The effective handler type; `None` for services.
    pub handler_ty: Option<HandlerType>,
    /// The record key goes into the URL: the service is a virtual object or workflow. This
    /// holds for SHARED handlers too, since Restate addresses them by object key as well.
    pub keyed: bool,
    /// Records with the same key are delivered one at a time in offset order: keyed and the
    /// handler is EXCLUSIVE or WORKFLOW. SHARED and service handlers run in parallel.
    pub ordered_per_key: bool,
    /// The handler's input content type.
    pub input_content_type: String,
    /// The deployment's additional headers.
    pub additional_headers: Vec<(String, String)>,
    /// The HTTP version to speak to the deployment.
    pub http_version: HttpVersion,
}

impl SinkTarget {
    /// The invocation target for [`crate::engine::invocation::build_invocation`].
    pub fn handler_target(&self) -> HandlerTarget {
        HandlerTarget {
            base_uri: self.base_uri.clone(),
            service: self.service.clone(),
            handler: self.handler.clone(),
            keyed: self.keyed,
            input_content_type: self.input_content_type.clone(),
            additional_headers: self.additional_headers.clone(),
        }
    }

    /// Where and how the target is invoked: a change of either restarts its subscriptions.
    pub fn endpoint(&self) -> (String, HttpVersion) {
        (self.base_uri.clone(), self.http_version)
    }

    /// How a partition's records are dispatched to this target.
    pub fn dispatch_mode(&self) -> DispatchMode {
        if self.ordered_per_key {
            DispatchMode::PerKey
        } else {
            DispatchMode::Parallel
        }
    }
}

/// Why a registry change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// A deployment with this URI exists and `force` was not set.
    #[error(
        "a deployment with uri {uri} is already registered ({id}); register with force to \
         replace it"
    )]
    AlreadyRegistered {
        /// The normalized URI.
        uri: String,
        /// The existing deployment.
        id: String,
    },
    /// No deployment has this id.
    #[error("deployment {id:?} not found")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// The new manifest changes the type of a service another deployment serves, which would
    /// silently change how existing subscriptions address it; allowed only with `force`.
    #[error(
        "service {service:?} is a {from} in deployment {deployment_id}, the new manifest makes \
         it a {to}; register with force to change its type"
    )]
    ServiceTypeChanged {
        /// The service.
        service: String,
        /// The deployment currently serving it.
        deployment_id: String,
        /// Its current type.
        from: ServiceType,
        /// The new type.
        to: ServiceType,
    },
    /// The URI is unusable.
    #[error(transparent)]
    InvalidUri(#[from] UriError),
    /// An additional header is not valid HTTP.
    #[error("invalid additional header {name:?}: {reason}")]
    InvalidHeader {
        /// The header name.
        name: String,
        /// Why (never the value).
        reason: String,
    },
    /// The manifest breaks a rule.
    #[error("invalid manifest: {0}")]
    InvalidManifest(#[from] ManifestError),
}

/// Why a sink does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// No deployment serves the service.
    #[error("unknown service {service:?}{}", known_services(known))]
    UnknownService {
        /// The service asked for.
        service: String,
        /// Every registered service, sorted.
        known: Vec<String>,
    },
    /// The service has no such handler.
    #[error(
        "unknown handler {handler:?} of service {service:?}{}",
        known_handlers(known)
    )]
    UnknownHandler {
        /// The service.
        service: String,
        /// The handler asked for.
        handler: String,
        /// The service's handlers, in manifest order.
        known: Vec<String>,
    },
}

fn known_services(known: &[String]) -> String {
    if known.is_empty() {
        ": no services are registered; register a deployment first".to_owned()
    } else {
        format!("; registered services: {}", known.join(", "))
    }
}

fn known_handlers(known: &[String]) -> String {
    if known.is_empty() {
        ": the service has no handlers".to_owned()
    } else {
        format!("; its handlers: {}", known.join(", "))
    }
}

/// The registered deployments, oldest first.
#[derive(Debug, Clone, Default)]
pub struct DeploymentRegistry {
    deployments: Vec<Deployment>,
}

impl DeploymentRegistry {
    /// A registry holding `deployments` (e.g. loaded from the state file), oldest first.
    pub fn from_deployments(deployments: Vec<Deployment>) -> Self {
        DeploymentRegistry { deployments }
    }

    /// Registers a deployment serving `manifest` at `uri`, invoked with `http_version`, and
    /// returns it.
    ///
    /// The URI is normalized (no trailing slash) and must be `http://` or `https://`. An already registered
    /// URI is refused unless `force`, which overwrites that deployment: it keeps its id (as
    /// Restate's overwrite does) and gets the new services, headers and creation time.
    /// Services declared by older deployments move to this one; changing a service's type
    /// needs `force` too.
    pub fn register(
        &mut self,
        uri: &str,
        additional_headers: BTreeMap<String, String>,
        manifest: EndpointManifest,
        http_version: HttpVersion,
        force: bool,
    ) -> Result<Deployment, RegistryError> {
        let mut deployment =
            self.new_deployment(uri, additional_headers, manifest, http_version, None)?;
        if force {
            self.take_over_id(&mut deployment);
        }
        self.insert(deployment.clone(), force)?;
        Ok(deployment)
    }

    /// Gives `deployment` the id of the registered deployment with the same URI, if any: what
    /// an overwrite (`force`) registers. Returns whether it did.
    pub fn take_over_id(&self, deployment: &mut Deployment) -> bool {
        match self.deployments.iter().find(|d| d.uri == deployment.uri) {
            Some(existing) => {
                deployment.id = existing.id.clone();
                true
            }
            None => false,
        }
    }

    /// A new deployment (new id, creation time now) after checking its URI, headers and
    /// manifest; the registry is not changed (see [`DeploymentRegistry::insert`]).
    pub fn new_deployment(
        &self,
        uri: &str,
        additional_headers: BTreeMap<String, String>,
        manifest: EndpointManifest,
        http_version: HttpVersion,
        restate_admin_url: Option<String>,
    ) -> Result<Deployment, RegistryError> {
        let uri = normalize_deployment_uri(uri)?;
        for (name, value) in &additional_headers {
            check_header(name, value).map_err(|reason| RegistryError::InvalidHeader {
                name: name.clone(),
                reason: reason.to_owned(),
            })?;
        }
        // A Restate server may have no services (none registered in it yet, or all removed):
        // its deployment then serves nothing until a refresh finds some.
        if restate_admin_url.is_none() || !manifest.services.is_empty() {
            manifest.validate()?;
        }
        Ok(Deployment {
            id: restate_id(DEPLOYMENT_ID_PREFIX),
            uri,
            additional_headers,
            services: manifest.services,
            http_version,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            restate_admin_url,
        })
    }

    /// Adds `deployment` as the newest one. Deterministic (the same registry and deployment
    /// give the same result on every process), so the Kafka metadata log can replay it: an
    /// already registered URI is refused unless `force`, which replaces that deployment;
    /// changing a service's type needs `force` too. Adding a deployment that is already
    /// registered with the same id is a no-op (a duplicate append) unless `force`, which
    /// overwrites it (see [`DeploymentRegistry::take_over_id`]); either way the result is the
    /// same when the record is applied twice.
    pub fn insert(&mut self, deployment: Deployment, force: bool) -> Result<(), RegistryError> {
        let same_id = self.deployments.iter().position(|d| d.id == deployment.id);
        if same_id.is_some() && !force {
            return Ok(());
        }
        let replaced = same_id.or_else(|| {
            self.deployments
                .iter()
                .position(|d| d.uri == deployment.uri)
        });
        if let (Some(i), false) = (replaced, force) {
            return Err(RegistryError::AlreadyRegistered {
                uri: deployment.uri.clone(),
                id: self.deployments[i].id.clone(),
            });
        }
        if !force {
            for service in &deployment.services {
                if let Some((owner, current)) = self.owner(&service.name) {
                    if current.ty != service.ty {
                        return Err(RegistryError::ServiceTypeChanged {
                            service: service.name.clone(),
                            deployment_id: owner.id.clone(),
                            from: current.ty,
                            to: service.ty,
                        });
                    }
                }
            }
        }
        if let Some(i) = replaced {
            self.deployments.remove(i);
        }
        self.deployments.push(deployment);
        Ok(())
    }

    /// Removes the deployment `id` and returns it; its services fall back to the next newest
    /// deployment declaring them, if any.
    pub fn remove(&mut self, id: &str) -> Result<Deployment, RegistryError> {
        let i = self
            .deployments
            .iter()
            .position(|d| d.id == id)
            .ok_or_else(|| RegistryError::NotFound { id: id.to_owned() })?;
        Ok(self.deployments.remove(i))
    }

    /// The deployment `id`.
    pub fn get(&self, id: &str) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.id == id)
    }

    /// Every deployment, oldest first (the order to persist).
    pub fn list(&self) -> &[Deployment] {
        &self.deployments
    }

    /// Every service as served now, sorted by name.
    pub fn services(&self) -> Vec<ServiceInfo> {
        let mut served: BTreeMap<&str, ServiceInfo> = BTreeMap::new();
        for deployment in self.deployments.iter().rev() {
            for service in &deployment.services {
                served
                    .entry(service.name.as_str())
                    .or_insert_with(|| service_info(deployment, service));
            }
        }
        served.into_values().collect()
    }

    /// Restate's revision of `service` in deployment `deployment_id`: its 1-based position
    /// among the registered deployments declaring the service, oldest first (the newest
    /// serves it).
    pub fn revision(&self, deployment_id: &str, service: &str) -> u32 {
        let mut revision = 0u32;
        for d in &self.deployments {
            if d.services.iter().any(|s| s.name == service) {
                revision = revision.saturating_add(1);
            }
            if d.id == deployment_id {
                break;
            }
        }
        revision.max(1)
    }

    /// The service `name` as served now.
    pub fn service(&self, name: &str) -> Option<ServiceInfo> {
        self.owner(name).map(|(d, s)| service_info(d, s))
    }

    /// Resolves `service://<service>/<handler>`.
    ///
    /// Rules: the newest deployment declaring `service` serves it. `keyed` = the service is a
    /// virtual object or workflow (the record key names the object, for SHARED handlers too);
    /// `ordered_per_key` = keyed and the effective handler type is EXCLUSIVE or WORKFLOW;
    /// SHARED and service handlers are dispatched in parallel.
    pub fn resolve_sink(&self, service: &str, handler: &str) -> Result<SinkTarget, SinkError> {
        let (deployment, svc) = self
            .owner(service)
            .ok_or_else(|| SinkError::UnknownService {
                service: service.to_owned(),
                known: self.services().into_iter().map(|s| s.name).collect(),
            })?;
        let h = svc
            .handler(handler)
            .ok_or_else(|| SinkError::UnknownHandler {
                service: service.to_owned(),
                handler: handler.to_owned(),
                known: svc.handlers.iter().map(|h| h.name.clone()).collect(),
            })?;
        let handler_ty = h.effective_type(svc.ty);
        let keyed = svc.ty.is_keyed();
        Ok(SinkTarget {
            deployment_id: deployment.id.clone(),
            base_uri: deployment.uri.clone(),
            service: svc.name.clone(),
            handler: h.name.clone(),
            service_ty: svc.ty,
            handler_ty,
            keyed,
            ordered_per_key: keyed
                && matches!(
                    handler_ty,
                    Some(HandlerType::Exclusive | HandlerType::Workflow)
                ),
            input_content_type: h.input_content_type().to_owned(),
            additional_headers: deployment
                .additional_headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            http_version: deployment.http_version,
        })
    }

    /// The newest deployment declaring `service`, with its declaration.
    fn owner(&self, service: &str) -> Option<(&Deployment, &ServiceManifest)> {
        self.deployments.iter().rev().find_map(|d| {
            d.services
                .iter()
                .find(|s| s.name == service)
                .map(|s| (d, s))
        })
    }
}

/// `service` as `deployment` serves it.
pub fn service_info(deployment: &Deployment, service: &ServiceManifest) -> ServiceInfo {
    ServiceInfo {
        name: service.name.clone(),
        ty: service.ty,
        deployment_id: deployment.id.clone(),
        handlers: service
            .handlers
            .iter()
            .map(|h| HandlerInfo {
                name: h.name.clone(),
                ty: h.effective_type(service.ty),
                input_content_type: h.input_content_type().to_owned(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn manifest(v: serde_json::Value) -> EndpointManifest {
        serde_json::from_value(v).unwrap()
    }

    fn one(name: &str, ty: &str, handlers: serde_json::Value) -> EndpointManifest {
        manifest(json!({"services": [{"name": name, "ty": ty, "handlers": handlers}]}))
    }

    fn greeter() -> EndpointManifest {
        manifest(json!({"services": [
            {"name": "Greeter", "ty": "SERVICE", "handlers": [{"name": "greet"}]},
            {"name": "Counter", "ty": "VIRTUAL_OBJECT", "handlers": [
                {"name": "add"},
                {"name": "get", "ty": "SHARED", "input": {"contentType": "text/plain"}}
            ]},
            {"name": "Signup", "ty": "WORKFLOW", "handlers": [
                {"name": "run", "ty": "WORKFLOW"},
                {"name": "click"}
            ]}
        ]}))
    }

    /// `register` at HTTP/1.1, the version most tests do not look at.
    trait AddHttp1 {
        fn add(
            &mut self,
            uri: &str,
            headers: BTreeMap<String, String>,
            manifest: EndpointManifest,
            force: bool,
        ) -> Result<Deployment, RegistryError>;
    }

    impl AddHttp1 for DeploymentRegistry {
        fn add(
            &mut self,
            uri: &str,
            headers: BTreeMap<String, String>,
            manifest: EndpointManifest,
            force: bool,
        ) -> Result<Deployment, RegistryError> {
            self.register(uri, headers, manifest, HttpVersion::Http1, force)
        }
    }

    fn headers() -> BTreeMap<String, String> {
        BTreeMap::from([("authorization".to_owned(), "Bearer t".to_owned())])
    }

    #[test]
    fn register_assigns_id_normalizes_uri_and_timestamps() {
        let mut r = DeploymentRegistry::default();
        let d = r
            .add("http://h:9080/", headers(), greeter(), false)
            .unwrap();
        let rest = d.id.strip_prefix("dp_").unwrap();
        assert_eq!(rest.len(), 1 + 22);
        assert!(rest.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(d.uri, "http://h:9080");
        assert_eq!(d.services.len(), 3);
        assert!(chrono::DateTime::parse_from_rfc3339(&d.created_at).is_ok());
        assert_eq!(r.get(&d.id), Some(&d));
        assert_eq!(r.list(), std::slice::from_ref(&d));
    }

    #[test]
    fn same_uri_needs_force_and_force_overwrites_keeping_the_id() {
        let mut r = DeploymentRegistry::default();
        let d1 = r
            .add("http://h:9080", BTreeMap::new(), greeter(), false)
            .unwrap();
        let e = r
            .add("http://h:9080/", BTreeMap::new(), greeter(), false)
            .unwrap_err();
        assert_eq!(
            e,
            RegistryError::AlreadyRegistered {
                uri: "http://h:9080".into(),
                id: d1.id.clone()
            }
        );
        assert!(e.to_string().contains("force"));
        let d2 = r.add("http://h:9080", headers(), greeter(), true).unwrap();
        assert_eq!(d1.id, d2.id);
        assert_ne!(d1.additional_headers, d2.additional_headers);
        assert_eq!(r.list(), std::slice::from_ref(&d2));
        // The overwrite record applied twice (a duplicate append) changes nothing more.
        r.insert(d2.clone(), true).unwrap();
        assert_eq!(r.list(), std::slice::from_ref(&d2));
        // A plain re-insert of a known id is a no-op even with other content.
        let mut stale = d1.clone();
        stale.additional_headers = BTreeMap::new();
        r.insert(stale, false).unwrap();
        assert_eq!(r.list(), std::slice::from_ref(&d2));
    }

    #[test]
    fn newest_deployment_serves_a_service_and_removal_falls_back() {
        let mut r = DeploymentRegistry::default();
        let old = r
            .add("http://a", BTreeMap::new(), greeter(), false)
            .unwrap();
        let new = r
            .add(
                "http://b",
                BTreeMap::new(),
                one(
                    "Greeter",
                    "SERVICE",
                    json!([{"name": "greet"}, {"name": "hello"}]),
                ),
                false,
            )
            .unwrap();
        assert_eq!(r.service("Greeter").unwrap().deployment_id, new.id);
        assert_eq!(r.service("Counter").unwrap().deployment_id, old.id);
        assert_eq!(
            r.resolve_sink("Greeter", "hello").unwrap().base_uri,
            "http://b"
        );
        let names: Vec<_> = r.services().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["Counter", "Greeter", "Signup"]);

        assert_eq!(r.remove(&new.id).unwrap().id, new.id);
        assert_eq!(r.service("Greeter").unwrap().deployment_id, old.id);
        assert!(matches!(
            r.resolve_sink("Greeter", "hello"),
            Err(SinkError::UnknownHandler { .. })
        ));
        assert_eq!(
            r.remove(&new.id),
            Err(RegistryError::NotFound { id: new.id.clone() })
        );
        r.remove(&old.id).unwrap();
        assert!(r.services().is_empty());
    }

    #[test]
    fn changing_a_service_type_needs_force() {
        let mut r = DeploymentRegistry::default();
        let old = r
            .add("http://a", BTreeMap::new(), greeter(), false)
            .unwrap();
        let vo = one("Greeter", "VIRTUAL_OBJECT", json!([{"name": "greet"}]));
        let e = r
            .add("http://b", BTreeMap::new(), vo.clone(), false)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "service \"Greeter\" is a SERVICE in deployment {}, the new manifest makes it a \
                 VIRTUAL_OBJECT; register with force to change its type",
                old.id
            )
        );
        assert_eq!(r.list().len(), 1);
        r.add("http://b", BTreeMap::new(), vo, true).unwrap();
        assert_eq!(r.service("Greeter").unwrap().ty, ServiceType::VirtualObject);
    }

    #[test]
    fn https_deployments_keep_their_http_version() {
        let mut r = DeploymentRegistry::default();
        let tls = r
            .register(
                "https://h/",
                BTreeMap::new(),
                greeter(),
                HttpVersion::Http2,
                false,
            )
            .unwrap();
        assert_eq!(
            (tls.uri.as_str(), tls.http_version),
            ("https://h", HttpVersion::Http2)
        );
        assert_eq!(
            r.resolve_sink("Greeter", "greet").unwrap().http_version,
            HttpVersion::Http2
        );
    }

    #[test]
    fn register_rejects_bad_uri_headers_and_manifest() {
        let mut r = DeploymentRegistry::default();
        assert!(matches!(
            r.add("ftp://h", BTreeMap::new(), greeter(), false),
            Err(RegistryError::InvalidUri(UriError::Invalid { .. }))
        ));
        let bad = BTreeMap::from([("x".to_owned(), "a\r\nb".to_owned())]);
        let e = r.add("http://h", bad, greeter(), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid additional header \"x\": the value is not a valid HTTP header value"
        );
        let e = r
            .add(
                "http://h",
                BTreeMap::new(),
                manifest(json!({"services": []})),
                false,
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid manifest: the manifest declares no services"
        );
        assert!(r.list().is_empty());
        // A Restate server with no services is a deployment serving nothing (yet).
        let d = r
            .new_deployment(
                "http://restate:8080",
                BTreeMap::new(),
                manifest(json!({"services": []})),
                HttpVersion::Http1,
                Some("http://restate:9070".to_owned()),
            )
            .unwrap();
        assert!(d.services.is_empty());
    }

    #[test]
    fn resolve_sink_rules() {
        let mut r = DeploymentRegistry::default();
        let d = r.add("http://h:9080", headers(), greeter(), false).unwrap();

        let s = r.resolve_sink("Greeter", "greet").unwrap();
        assert_eq!(
            s,
            SinkTarget {
                deployment_id: d.id.clone(),
                base_uri: "http://h:9080".into(),
                service: "Greeter".into(),
                handler: "greet".into(),
                service_ty: ServiceType::Service,
                handler_ty: None,
                keyed: false,
                ordered_per_key: false,
                input_content_type: "application/json".into(),
                additional_headers: vec![("authorization".into(), "Bearer t".into())],
                http_version: HttpVersion::Http1,
            }
        );
        assert_eq!(s.dispatch_mode(), DispatchMode::Parallel);

        let add = r.resolve_sink("Counter", "add").unwrap();
        assert_eq!(add.handler_ty, Some(HandlerType::Exclusive));
        assert!(add.keyed && add.ordered_per_key);
        assert_eq!(add.dispatch_mode(), DispatchMode::PerKey);

        let get = r.resolve_sink("Counter", "get").unwrap();
        assert_eq!(get.handler_ty, Some(HandlerType::Shared));
        assert!(get.keyed && !get.ordered_per_key);
        assert_eq!(get.input_content_type, "text/plain");
        assert_eq!(get.dispatch_mode(), DispatchMode::Parallel);

        let run = r.resolve_sink("Signup", "run").unwrap();
        assert_eq!(run.handler_ty, Some(HandlerType::Workflow));
        assert!(run.keyed && run.ordered_per_key);

        let click = r.resolve_sink("Signup", "click").unwrap();
        assert_eq!(click.handler_ty, Some(HandlerType::Shared));
        assert!(click.keyed && !click.ordered_per_key);

        let t = add.handler_target();
        assert_eq!(t.base_uri, "http://h:9080");
        assert_eq!((t.service.as_str(), t.handler.as_str()), ("Counter", "add"));
        assert!(t.keyed);
        assert_eq!(t.additional_headers, add.additional_headers);
    }

    #[test]
    fn sink_errors_list_what_is_known() {
        let mut r = DeploymentRegistry::default();
        assert_eq!(
            r.resolve_sink("Greeter", "greet").unwrap_err().to_string(),
            "unknown service \"Greeter\": no services are registered; register a deployment first"
        );
        r.add("http://h", BTreeMap::new(), greeter(), false)
            .unwrap();
        assert_eq!(
            r.resolve_sink("Greter", "greet").unwrap_err().to_string(),
            "unknown service \"Greter\"; registered services: Counter, Greeter, Signup"
        );
        assert_eq!(
            r.resolve_sink("Counter", "inc").unwrap_err(),
            SinkError::UnknownHandler {
                service: "Counter".into(),
                handler: "inc".into(),
                known: vec!["add".into(), "get".into()],
            }
        );
        assert_eq!(
            r.resolve_sink("Counter", "inc").unwrap_err().to_string(),
            "unknown handler \"inc\" of service \"Counter\"; its handlers: add, get"
        );
        r.add(
            "http://e",
            BTreeMap::new(),
            one("Empty", "SERVICE", json!([])),
            false,
        )
        .unwrap();
        assert_eq!(
            r.resolve_sink("Empty", "x").unwrap_err().to_string(),
            "unknown handler \"x\" of service \"Empty\": the service has no handlers"
        );
    }

    #[test]
    fn service_info_has_effective_types_and_serializes() {
        let mut r = DeploymentRegistry::default();
        let d = r
            .add("http://h", BTreeMap::new(), greeter(), false)
            .unwrap();
        let counter = r.service("Counter").unwrap();
        assert_eq!(
            serde_json::to_value(&counter).unwrap(),
            json!({"name": "Counter", "ty": "VIRTUAL_OBJECT", "deployment_id": d.id,
            "handlers": [
                {"name": "add", "ty": "EXCLUSIVE", "input_content_type": "application/json"},
                {"name": "get", "ty": "SHARED", "input_content_type": "text/plain"}
            ]})
        );
        assert_eq!(r.service("Greeter").unwrap().handlers[0].ty, None);
        assert!(r.service("Nope").is_none());
    }

    #[test]
    fn deployments_round_trip_through_json_and_from_deployments() {
        let mut r = DeploymentRegistry::default();
        r.add("http://a", headers(), greeter(), false).unwrap();
        r.add(
            "http://b",
            BTreeMap::new(),
            one("Greeter", "SERVICE", json!([{"name": "greet"}])),
            false,
        )
        .unwrap();
        let json = serde_json::to_string(r.list()).unwrap();
        let loaded: Vec<Deployment> = serde_json::from_str(&json).unwrap();
        let r2 = DeploymentRegistry::from_deployments(loaded);
        assert_eq!(r2.list(), r.list());
        assert_eq!(r2.services(), r.services());
        assert_eq!(
            r2.resolve_sink("Greeter", "greet").unwrap(),
            r.resolve_sink("Greeter", "greet").unwrap()
        );
    }
}
