//! Certificates for TLS tests, made at test time: a private CA and a server certificate it
//! signed for `localhost` and `127.0.0.1`. The CA is written to a PEM file (removed on drop)
//! so it can be given to a client as a path, like a user's private CA.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::TestkitError;

fn tls_error(what: &str, e: impl std::fmt::Display) -> TestkitError {
    TestkitError::Handler(format!("test certificates: {what}: {e}"))
}

/// A private CA and one server certificate it signed.
#[derive(Debug)]
pub struct TestCa {
    ca_pem: String,
    ca_file: PathBuf,
    server_cert: CertificateDer<'static>,
    server_key: Vec<u8>,
}

impl TestCa {
    /// Makes a CA named `name` and a server certificate for `localhost`/`127.0.0.1`, and
    /// writes the CA certificate to a temporary PEM file.
    pub fn new(name: &str) -> Result<TestCa, TestkitError> {
        let ca_key = KeyPair::generate().map_err(|e| tls_error("CA key", e))?;
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| tls_error("CA", e))?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("kafka-ingress test CA {name}"));
        ca_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(|e| tls_error("CA certificate", e))?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().map_err(|e| tls_error("server key", e))?;
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .map_err(|e| tls_error("server", e))?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .map_err(|e| tls_error("server certificate", e))?;

        let ca_pem = ca_cert.pem();
        let ca_file = std::env::temp_dir().join(format!(
            "kafka-ingress-test-ca-{}-{}-{}.pem",
            name,
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::write(&ca_file, &ca_pem)
            .map_err(|e| tls_error(&format!("writing {}", ca_file.display()), e))?;
        Ok(TestCa {
            ca_pem,
            ca_file,
            server_cert: server_cert.der().clone(),
            server_key: server_key.serialize_der(),
        })
    }

    /// The CA certificate as PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The path of the CA certificate's PEM file.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// A rustls server configuration presenting the server certificate and offering `alpn`
    /// (e.g. `["h2", "http/1.1"]`, or `["http/1.1"]` for a server without HTTP/2).
    pub fn server_config(&self, alpn: &[&str]) -> Result<Arc<rustls::ServerConfig>, TestkitError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error("protocol versions", e))?
            .with_no_client_auth()
            .with_single_cert(vec![self.server_cert.clone()], key)
            .map_err(|e| tls_error("server config", e))?;
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Ok(Arc::new(config))
    }
}

/// Serves `app` over TLS with `config` on `listener` (HTTP/1.1 or HTTP/2, as ALPN agreed)
/// until the returned task is aborted.
pub fn serve_tls(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    config: Arc<rustls::ServerConfig>,
) -> tokio::task::JoinHandle<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let service = hyper_util::service::TowerToHyperService::new(app.clone());
            tokio::spawn(async move {
                // A client that rejects the certificate ends the handshake: not an error of
                // the server.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let builder = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                );
                let _ = builder
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    })
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}
