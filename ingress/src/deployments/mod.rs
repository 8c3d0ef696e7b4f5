//! Deployments: Restate endpoint manifests (`manifest`), their discovery over HTTP
//! (`discovery`), and the registry that maps services to deployments and resolves a
//! subscription's sink (`registry`).

pub mod discovery;
pub mod manifest;
pub mod registry;
pub mod restate;

pub use discovery::{discover, normalize_deployment_uri, DiscoveryError, UriError};
pub use manifest::{
    EndpointManifest, HandlerManifest, HandlerType, InputPayload, ManifestError, ServiceManifest,
    ServiceType,
};
pub use registry::{
    Deployment, DeploymentRegistry, HandlerInfo, RegistryError, ServiceInfo, SinkError, SinkTarget,
};
