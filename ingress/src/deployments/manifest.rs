//! Restate's endpoint manifest (the answer to `GET <uri>/discover`, SPEC §5): serde types with
//! Restate's field names, validation, and the effective handler semantics the dispatcher needs.
//!
//! Only what the ingress acts on is kept (service/handler names and types, the input content
//! type); every other field (`protocolMode`, `minProtocolVersion`, `jsonSchema`, ...) is ignored
//! on input, so manifests of newer SDKs still load.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The content type a handler takes when its manifest names none.
pub const DEFAULT_INPUT_CONTENT_TYPE: &str = "application/json";

/// A deployment's manifest: the services it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointManifest {
    /// The services, in manifest order. A missing list reads as empty (and fails validation
    /// with a clear message instead of a serde "missing field").
    #[serde(default)]
    pub services: Vec<ServiceManifest>,
}

/// One service, virtual object or workflow of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceManifest {
    /// The service name (the first path segment of its invocation URLs).
    pub name: String,
    /// Service, virtual object or workflow.
    pub ty: ServiceType,
    /// The handlers, in manifest order.
    #[serde(default)]
    pub handlers: Vec<HandlerManifest>,
}

/// The kind of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceType {
    /// Stateless: handlers are invoked in parallel, the record key is not part of the URL.
    Service,
    /// Keyed state: the record key names the object.
    VirtualObject,
    /// A workflow: the record key names the workflow instance.
    Workflow,
}

impl ServiceType {
    /// The manifest spelling, e.g. `VIRTUAL_OBJECT`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Service => "SERVICE",
            ServiceType::VirtualObject => "VIRTUAL_OBJECT",
            ServiceType::Workflow => "WORKFLOW",
        }
    }

    /// Whether invocations are addressed by a key (virtual objects and workflows).
    pub fn is_keyed(self) -> bool {
        !matches!(self, ServiceType::Service)
    }
}

impl fmt::Display for ServiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One handler of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlerManifest {
    /// The handler name (the last path segment of its invocation URLs).
    pub name: String,
    /// The declared handler type; absent for plain services (see [`Self::effective_type`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<HandlerType>,
    /// What the handler accepts as input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputPayload>,
}

/// The kind of a handler of a virtual object or workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HandlerType {
    /// One invocation per key at a time (virtual objects' default).
    Exclusive,
    /// Concurrent, read-only access to the key's state (workflows' default).
    Shared,
    /// A workflow's run handler, once per workflow key.
    Workflow,
}

impl HandlerType {
    /// The manifest spelling, e.g. `EXCLUSIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            HandlerType::Exclusive => "EXCLUSIVE",
            HandlerType::Shared => "SHARED",
            HandlerType::Workflow => "WORKFLOW",
        }
    }
}

impl fmt::Display for HandlerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A handler's input description; only the content type matters to the ingress.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InputPayload {
    /// The content type the handler expects, e.g. `application/json`.
    #[serde(
        rename = "contentType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub content_type: Option<String>,
}

impl HandlerManifest {
    /// The handler type that governs dispatch: for virtual objects the declared type or
    /// EXCLUSIVE; for workflows the declared type or SHARED (the run handler is declared
    /// WORKFLOW); for plain services `None` whatever is declared, since they are stateless.
    pub fn effective_type(&self, service_ty: ServiceType) -> Option<HandlerType> {
        match service_ty {
            ServiceType::Service => None,
            ServiceType::VirtualObject => Some(self.ty.unwrap_or(HandlerType::Exclusive)),
            ServiceType::Workflow => Some(self.ty.unwrap_or(HandlerType::Shared)),
        }
    }

    /// The declared input content type, or `application/json` when the manifest names none.
    pub fn input_content_type(&self) -> &str {
        self.input
            .as_ref()
            .and_then(|i| i.content_type.as_deref())
            .unwrap_or(DEFAULT_INPUT_CONTENT_TYPE)
    }
}

impl ServiceManifest {
    /// The handler named `name`, if any.
    pub fn handler(&self, name: &str) -> Option<&HandlerManifest> {
        self.handlers.iter().find(|h| h.name == name)
    }
}

/// Why a manifest cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The manifest lists no service.
    #[error("the manifest declares no services")]
    NoServices,
    /// A service has an empty name.
    #[error("service #{index} has an empty name")]
    EmptyServiceName {
        /// 0-based position in `services`.
        index: usize,
    },
    /// A service or handler name cannot be addressed by a sink or URL.
    #[error("{what} name {name:?} is invalid: {reason}")]
    InvalidName {
        /// `service` or `handler "X/y"` context.
        what: String,
        /// The offending name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// Two services share a name.
    #[error("service {service:?} is declared more than once")]
    DuplicateService {
        /// The service.
        service: String,
    },
    /// A handler has an empty name.
    #[error("service {service:?}: handler #{index} has an empty name")]
    EmptyHandlerName {
        /// The service.
        service: String,
        /// 0-based position in `handlers`.
        index: usize,
    },
    /// Two handlers of one service share a name.
    #[error("service {service:?}: handler {handler:?} is declared more than once")]
    DuplicateHandler {
        /// The service.
        service: String,
        /// The handler.
        handler: String,
    },
    /// A WORKFLOW handler in a service that is not a workflow.
    #[error(
        "service {service:?} ({service_ty}): handler {handler:?} has type WORKFLOW, \
         which only workflows may have"
    )]
    WorkflowHandlerOutsideWorkflow {
        /// The service.
        service: String,
        /// Its type.
        service_ty: ServiceType,
        /// The handler.
        handler: String,
    },
    /// A workflow with more than one WORKFLOW handler.
    #[error(
        "workflow {service:?} declares more than one WORKFLOW handler ({}); it may have one",
        handlers.join(", ")
    )]
    MultipleWorkflowHandlers {
        /// The workflow.
        service: String,
        /// The WORKFLOW handlers.
        handlers: Vec<String>,
    },
}

impl EndpointManifest {
    /// Checks what the registry and the dispatcher rely on: at least one service; non-empty
    /// names without `/` (a name with `/` could not be written as `service://<Service>/<handler>`);
    /// unique service names and unique handler names per service; WORKFLOW handlers only in
    /// workflows, at most one per workflow. Plain services may declare EXCLUSIVE or SHARED
    /// handlers (some SDKs do); they are treated as stateless either way.
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.services.is_empty() {
            return Err(ManifestError::NoServices);
        }
        let mut services = BTreeSet::new();
        for (index, service) in self.services.iter().enumerate() {
            if service.name.is_empty() {
                return Err(ManifestError::EmptyServiceName { index });
            }
            check_name("service".to_owned(), &service.name)?;
            if !services.insert(service.name.as_str()) {
                return Err(ManifestError::DuplicateService {
                    service: service.name.clone(),
                });
            }
            let mut handlers = BTreeSet::new();
            let mut workflow_handlers = Vec::new();
            for (index, handler) in service.handlers.iter().enumerate() {
                if handler.name.is_empty() {
                    return Err(ManifestError::EmptyHandlerName {
                        service: service.name.clone(),
                        index,
                    });
                }
                check_name(
                    format!("service {:?}: handler", service.name),
                    &handler.name,
                )?;
                if !handlers.insert(handler.name.as_str()) {
                    return Err(ManifestError::DuplicateHandler {
                        service: service.name.clone(),
                        handler: handler.name.clone(),
                    });
                }
                if handler.ty == Some(HandlerType::Workflow) {
                    if service.ty != ServiceType::Workflow {
                        return Err(ManifestError::WorkflowHandlerOutsideWorkflow {
                            service: service.name.clone(),
                            service_ty: service.ty,
                            handler: handler.name.clone(),
                        });
                    }
                    workflow_handlers.push(handler.name.clone());
                }
            }
            if workflow_handlers.len() > 1 {
                return Err(ManifestError::MultipleWorkflowHandlers {
                    service: service.name.clone(),
                    handlers: workflow_handlers,
                });
            }
        }
        Ok(())
    }

    /// The service named `name`, if any.
    pub fn service(&self, name: &str) -> Option<&ServiceManifest> {
        self.services.iter().find(|s| s.name == name)
    }
}

fn check_name(what: String, name: &str) -> Result<(), ManifestError> {
    let reason = if name.contains('/') {
        "it must not contain '/'"
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "it must not contain whitespace or control characters"
    } else {
        return Ok(());
    };
    Err(ManifestError::InvalidName {
        what,
        name: name.to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: serde_json::Value) -> EndpointManifest {
        serde_json::from_value(v).unwrap()
    }

    fn handler(name: &str, ty: Option<HandlerType>) -> HandlerManifest {
        HandlerManifest {
            name: name.into(),
            ty,
            input: None,
        }
    }

    fn one(ty: ServiceType, handlers: Vec<HandlerManifest>) -> EndpointManifest {
        EndpointManifest {
            services: vec![ServiceManifest {
                name: "S".into(),
                ty,
                handlers,
            }],
        }
    }

    #[test]
    fn parses_restate_manifest_ignoring_unknown_fields() {
        let m = parse(json!({
            "protocolMode": "REQUEST_RESPONSE",
            "minProtocolVersion": 1,
            "maxProtocolVersion": 3,
            "services": [{
                "name": "Greeter",
                "ty": "VIRTUAL_OBJECT",
                "documentation": "hi",
                "handlers": [
                    {"name": "greet", "ty": "EXCLUSIVE",
                     "input": {"contentType": "text/plain", "required": true, "jsonSchema": {}},
                     "output": {"contentType": "application/json"}},
                    {"name": "get", "ty": "SHARED"},
                    {"name": "plain"}
                ]
            }]
        }));
        assert!(m.validate().is_ok());
        let s = &m.services[0];
        assert_eq!(s.name, "Greeter");
        assert_eq!(s.ty, ServiceType::VirtualObject);
        assert_eq!(s.handlers[0].ty, Some(HandlerType::Exclusive));
        assert_eq!(s.handlers[0].input_content_type(), "text/plain");
        assert_eq!(s.handlers[1].ty, Some(HandlerType::Shared));
        assert_eq!(s.handlers[1].input_content_type(), "application/json");
        assert_eq!(s.handlers[2].ty, None);
        assert!(m
            .service("Greeter")
            .is_some_and(|s| s.handler("get").is_some()));
        assert!(m.service("Nope").is_none());
    }

    #[test]
    fn serializes_with_restate_names_and_skips_absent_fields() {
        let m = one(
            ServiceType::Workflow,
            vec![
                HandlerManifest {
                    name: "run".into(),
                    ty: Some(HandlerType::Workflow),
                    input: Some(InputPayload {
                        content_type: Some("application/json".into()),
                    }),
                },
                handler("signal", None),
            ],
        );
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            json!({"services": [{"name": "S", "ty": "WORKFLOW", "handlers": [
                {"name": "run", "ty": "WORKFLOW", "input": {"contentType": "application/json"}},
                {"name": "signal"}
            ]}]})
        );
        assert_eq!(parse(v), m);
    }

    #[test]
    fn unknown_type_is_a_serde_error() {
        let e = serde_json::from_value::<EndpointManifest>(
            json!({"services": [{"name": "S", "ty": "ACTOR", "handlers": []}]}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("ACTOR"), "{e}");
    }

    #[test]
    fn effective_types() {
        let none = handler("h", None);
        let excl = handler("h", Some(HandlerType::Exclusive));
        let shared = handler("h", Some(HandlerType::Shared));
        let wf = handler("h", Some(HandlerType::Workflow));
        assert_eq!(none.effective_type(ServiceType::Service), None);
        assert_eq!(shared.effective_type(ServiceType::Service), None);
        assert_eq!(
            none.effective_type(ServiceType::VirtualObject),
            Some(HandlerType::Exclusive)
        );
        assert_eq!(
            shared.effective_type(ServiceType::VirtualObject),
            Some(HandlerType::Shared)
        );
        assert_eq!(
            none.effective_type(ServiceType::Workflow),
            Some(HandlerType::Shared)
        );
        assert_eq!(
            wf.effective_type(ServiceType::Workflow),
            Some(HandlerType::Workflow)
        );
        assert_eq!(
            excl.effective_type(ServiceType::Workflow),
            Some(HandlerType::Exclusive)
        );
    }

    #[test]
    fn input_content_type_defaults_to_json() {
        let mut h = handler("h", None);
        assert_eq!(h.input_content_type(), "application/json");
        h.input = Some(InputPayload::default());
        assert_eq!(h.input_content_type(), "application/json");
        h.input = Some(InputPayload {
            content_type: Some("application/octet-stream".into()),
        });
        assert_eq!(h.input_content_type(), "application/octet-stream");
    }

    #[test]
    fn validation_accepts_typical_manifests() {
        for m in [
            one(ServiceType::Service, vec![handler("a", None)]),
            // Some SDKs type service handlers; they stay stateless.
            one(
                ServiceType::Service,
                vec![
                    handler("a", Some(HandlerType::Shared)),
                    handler("b", Some(HandlerType::Exclusive)),
                ],
            ),
            one(
                ServiceType::Workflow,
                vec![
                    handler("run", Some(HandlerType::Workflow)),
                    handler("get", Some(HandlerType::Shared)),
                ],
            ),
            // A service without handlers is odd but harmless.
            one(ServiceType::VirtualObject, vec![]),
        ] {
            assert_eq!(m.validate(), Ok(()), "{m:?}");
        }
    }

    #[test]
    fn validation_errors_name_service_handler_and_reason() {
        let cases: Vec<(EndpointManifest, &str)> = vec![
            (
                EndpointManifest { services: vec![] },
                "the manifest declares no services",
            ),
            (
                EndpointManifest {
                    services: vec![ServiceManifest {
                        name: String::new(),
                        ty: ServiceType::Service,
                        handlers: vec![],
                    }],
                },
                "service #0 has an empty name",
            ),
            (
                EndpointManifest {
                    services: vec![ServiceManifest {
                        name: "a/b".into(),
                        ty: ServiceType::Service,
                        handlers: vec![],
                    }],
                },
                "service name \"a/b\" is invalid: it must not contain '/'",
            ),
            (
                one(ServiceType::Service, vec![handler("x y", None)]),
                "service \"S\": handler name \"x y\" is invalid: it must not contain whitespace",
            ),
            (
                EndpointManifest {
                    services: vec![
                        one(ServiceType::Service, vec![]).services[0].clone(),
                        one(ServiceType::Workflow, vec![]).services[0].clone(),
                    ],
                },
                "service \"S\" is declared more than once",
            ),
            (
                one(ServiceType::Service, vec![handler("", None)]),
                "service \"S\": handler #0 has an empty name",
            ),
            (
                one(
                    ServiceType::VirtualObject,
                    vec![handler("h", None), handler("h", None)],
                ),
                "service \"S\": handler \"h\" is declared more than once",
            ),
            (
                one(
                    ServiceType::VirtualObject,
                    vec![handler("run", Some(HandlerType::Workflow))],
                ),
                "service \"S\" (VIRTUAL_OBJECT): handler \"run\" has type WORKFLOW, \
                 which only workflows may have",
            ),
            (
                one(
                    ServiceType::Service,
                    vec![handler("run", Some(HandlerType::Workflow))],
                ),
                "service \"S\" (SERVICE): handler \"run\"",
            ),
            (
                one(
                    ServiceType::Workflow,
                    vec![
                        handler("a", Some(HandlerType::Workflow)),
                        handler("b", Some(HandlerType::Workflow)),
                    ],
                ),
                "workflow \"S\" declares more than one WORKFLOW handler (a, b)",
            ),
        ];
        for (m, want) in cases {
            let got = m.validate().unwrap_err().to_string();
            assert!(got.starts_with(want), "got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn missing_services_field_reads_empty_and_fails_validation() {
        let m = parse(json!({"protocolMode": "BIDI_STREAM"}));
        assert_eq!(m.validate(), Err(ManifestError::NoServices));
    }

    #[test]
    fn type_display_matches_manifest_spelling() {
        assert_eq!(ServiceType::VirtualObject.to_string(), "VIRTUAL_OBJECT");
        assert_eq!(HandlerType::Workflow.to_string(), "WORKFLOW");
        assert!(ServiceType::Workflow.is_keyed());
        assert!(!ServiceType::Service.is_keyed());
    }
}
