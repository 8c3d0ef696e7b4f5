//! TLS to brokers with rustls (`ring` provider): a [`TlsConnector`] wrapping TCP, built from
//! librdkafka's `ssl.*` options, and [`connector_for`] picking TCP or TLS for a protocol.
//!
//! Trust: `ssl.ca.location` (a PEM file or a directory of PEM files) and/or `ssl.ca.pem`;
//! without either, the system trust store (the Mozilla roots when the system has none).
//! Mutual TLS: `ssl.certificate.location` + `ssl.key.location` (PEM; PKCS#8, PKCS#1 or SEC1
//! keys; encrypted PKCS#8 with `ssl.key.password`). Host names are checked unless
//! `ssl.endpoint.identification.algorithm=none` (the chain is still verified);
//! `enable.ssl.certificate.verification=false` accepts any certificate.

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::broker::{Connector, TcpConnector};
use super::connection::{BoxedTransport, ConnectionError};
use super::error::ClientError;
use crate::options::{EndpointIdentification, SecuritySettings, TlsSettings};

/// Opens TCP, then a TLS session on it; the handshake is bounded by the connect timeout.
#[derive(Clone)]
pub struct TlsConnector {
    tcp: TcpConnector,
    config: Arc<ClientConfig>,
    summary: String,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The client config holds the private key: show only what was configured.
        f.debug_struct("TlsConnector")
            .field("tcp", &self.tcp)
            .field("tls", &self.summary)
            .finish_non_exhaustive()
    }
}

/// Builds the connector for `security`: TLS for `ssl`/`sasl_ssl`, plain TCP otherwise.
pub fn connector_for(
    security: &SecuritySettings,
    connect_timeout: Duration,
) -> Result<Arc<dyn Connector>, ClientError> {
    let tcp = TcpConnector { connect_timeout };
    if !security.protocol.uses_tls() {
        return Ok(Arc::new(tcp));
    }
    let tls = security.tls.clone().unwrap_or_default();
    Ok(Arc::new(TlsConnector::new(tcp, &tls)?))
}

fn config_error(reason: impl Into<String>) -> ClientError {
    ClientError::TlsConfig {
        reason: reason.into(),
    }
}

impl TlsConnector {
    /// Builds a TLS connector from the `ssl.*` settings; reads the CA, certificate and key
    /// files now, so a bad path or key fails here rather than on every connect.
    pub fn new(tcp: TcpConnector, settings: &TlsSettings) -> Result<TlsConnector, ClientError> {
        let (config, summary) = client_config(settings)?;
        Ok(TlsConnector {
            tcp,
            config,
            summary,
        })
    }
}

/// The rustls client configuration the `ssl.*` settings describe (trust, host name check,
/// client certificate) and a description of it without key material. Reads the files now.
pub fn client_config(settings: &TlsSettings) -> Result<(Arc<ClientConfig>, String), ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("TLS protocol versions: {e}")))?;

    let mut summary = Vec::new();
    let verifier: Arc<dyn ServerCertVerifier> = if settings.verify_certificates {
        let (roots, source) = root_store(settings)?;
        summary.push(format!("trust: {source}"));
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| config_error(format!("cannot build the certificate verifier: {e}")))?;
        match settings.endpoint_identification {
            EndpointIdentification::Https => webpki,
            EndpointIdentification::None => {
                summary.push("no host name check".to_owned());
                Arc::new(ChainOnlyVerifier { inner: webpki })
            }
        }
    } else {
        tracing::warn!(
            "enable.ssl.certificate.verification=false: broker certificates are NOT verified; \
             any server (or man in the middle) is accepted. Never use this in production."
        );
        summary.push("certificate verification DISABLED".to_owned());
        Arc::new(AcceptAnyVerifier {
            provider: rustls::crypto::ring::default_provider(),
        })
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);

    let config = match (&settings.certificate_location, &settings.key_location) {
        (Some(cert_path), Some(key_path)) => {
            let certs = load_certs(Path::new(cert_path), "ssl.certificate.location")?;
            let key = load_key(
                Path::new(key_path.expose()),
                settings.key_password.as_ref().map(|p| p.expose()),
            )?;
            summary.push(format!("client certificate {cert_path}"));
            builder.with_client_auth_cert(certs, key).map_err(|e| {
                config_error(format!(
                    "the client certificate ({cert_path}) and key do not fit: {e}"
                ))
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => {
            return Err(config_error(
                "ssl.certificate.location is set but ssl.key.location is not",
            ))
        }
        (None, Some(_)) => {
            return Err(config_error(
                "ssl.key.location is set but ssl.certificate.location is not",
            ))
        }
    };
    Ok((Arc::new(config), summary.join(", ")))
}

impl Connector for TlsConnector {
    fn connect<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = Result<BoxedTransport, ConnectionError>> + Send + 'a>> {
        Box::pin(async move {
            let addr = format!("{host}:{port}");
            let fail = |reason: String| ConnectionError::Connect {
                addr: addr.clone(),
                reason,
            };
            let server_name = ServerName::try_from(host.to_owned())
                .map_err(|e| fail(format!("invalid TLS server name {host:?}: {e}")))?;
            let tcp = self.tcp.connect(host, port).await?;
            let connector = tokio_rustls::TlsConnector::from(self.config.clone());
            let stream = tokio::time::timeout(
                self.tcp.connect_timeout,
                connector.connect(server_name, tcp),
            )
            .await
            .map_err(|_| {
                fail(format!(
                    "TLS handshake timed out after {:?}",
                    self.tcp.connect_timeout
                ))
            })?
            .map_err(|e| fail(handshake_error(&e)))?;
            Ok(Box::new(stream) as BoxedTransport)
        })
    }
}

/// A readable reason for a failed handshake, with a hint for certificate problems.
fn handshake_error(e: &std::io::Error) -> String {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return format!("TLS handshake failed: {e}");
    };
    let hint = match tls {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            " (the broker's certificate is not signed by a trusted CA: set ssl.ca.location or ssl.ca.pem to the CA that signed it)"
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => {
            " (the broker's certificate does not name this host; ssl.endpoint.identification.algorithm=none skips this check)"
        }
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => " (the broker's certificate has expired)",
        rustls::Error::AlertReceived(_) => {
            " (the broker refused the handshake; does it require a client certificate (ssl.certificate.location / ssl.key.location)?)"
        }
        _ => "",
    };
    let kind = if matches!(tls, rustls::Error::InvalidCertificate(_)) {
        "certificate error: "
    } else {
        ""
    };
    format!("TLS handshake failed: {kind}{tls}{hint}")
}

/// The trust anchors and a description of where they came from.
fn root_store(settings: &TlsSettings) -> Result<(RootCertStore, String), ClientError> {
    let mut roots = RootCertStore::empty();
    let mut sources = Vec::new();
    if let Some(location) = &settings.ca_location {
        let path = Path::new(location);
        let files = if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| config_error(format!("cannot read ssl.ca.location {location}: {e}")))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            files
        } else {
            vec![path.to_path_buf()]
        };
        let mut added = 0;
        for file in &files {
            let certs = if path.is_dir() {
                // A directory may hold other files (hash links, READMEs): skip what is not PEM.
                load_certs(file, "ssl.ca.location").unwrap_or_default()
            } else {
                load_certs(file, "ssl.ca.location")?
            };
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    config_error(format!(
                        "ssl.ca.location {}: not a usable CA certificate: {e}",
                        file.display()
                    ))
                })?;
                added += 1;
            }
        }
        if added == 0 {
            return Err(config_error(format!(
                "ssl.ca.location {location} holds no PEM certificate"
            )));
        }
        sources.push(format!("ssl.ca.location {location}"));
    }
    if let Some(pem) = &settings.ca_pem {
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| config_error(format!("ssl.ca.pem is not valid PEM: {e}")))?;
        if certs.is_empty() {
            return Err(config_error("ssl.ca.pem holds no PEM certificate"));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                config_error(format!("ssl.ca.pem: not a usable CA certificate: {e}"))
            })?;
        }
        sources.push("ssl.ca.pem".to_owned());
    }
    if sources.is_empty() {
        let native = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(native.certs);
        if added > 0 {
            sources.push(format!("system trust store ({added} CAs)"));
        } else {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            sources.push("built-in Mozilla roots (no system trust store found)".to_owned());
        }
    }
    Ok((roots, sources.join(" + ")))
}

fn load_certs(path: &Path, option: &str) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| config_error(format!("cannot read {option} {}: {e}", path.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| config_error(format!("{option} {} is not valid PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(config_error(format!(
            "{option} {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// Reads the client key (`ssl.key.location`); the path itself is not put in error messages
/// as it is treated as a secret option.
fn load_key(path: &Path, password: Option<&str>) -> Result<PrivateKeyDer<'static>, ClientError> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| config_error(format!("cannot read ssl.key.location: {e}")))?;
    if let (Some(start), Some(end)) = (pem.find(ENCRYPTED_BEGIN), pem.find(ENCRYPTED_END)) {
        let password = password.ok_or_else(|| {
            config_error(
                "ssl.key.location holds an encrypted private key but ssl.key.password is not set",
            )
        })?;
        let section = pem
            .get(start..end + ENCRYPTED_END.len())
            .ok_or_else(|| config_error("ssl.key.location: malformed encrypted private key"))?;
        let (_, der) = pkcs8::der::pem::decode_vec(section.as_bytes()).map_err(|e| {
            config_error(format!(
                "ssl.key.location: malformed encrypted private key: {e}"
            ))
        })?;
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice()).map_err(|e| {
            config_error(format!(
                "ssl.key.location: malformed encrypted private key: {e}"
            ))
        })?;
        let plain = info.decrypt(password).map_err(|e| {
            config_error(format!(
                "cannot decrypt the private key in ssl.key.location (wrong ssl.key.password, or an unsupported cipher: PBES2 with AES-CBC and PBKDF2/scrypt is supported): {e}"
            ))
        })?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            plain.as_bytes().to_vec(),
        )));
    }
    if pem.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(config_error(
            "ssl.key.location holds a key with legacy OpenSSL PEM encryption, which is not supported; \
             convert it to encrypted PKCS#8: openssl pkcs8 -topk8 -v2 aes-256-cbc -in old.key -out new.key",
        ));
    }
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| {
        config_error(format!(
            "ssl.key.location holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"
        ))
    })
}

/// Verifies the chain but not the host name (`ssl.endpoint.identification.algorithm=none`).
#[derive(Debug)]
struct ChainOnlyVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain (and revocation) before the name, so a name error means the
        // chain is good.
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Accepts any certificate (`enable.ssl.certificate.verification=false`); handshake
/// signatures are still checked so the session is at least bound to the presented key.
#[derive(Debug)]
struct AcceptAnyVerifier {
    provider: CryptoProvider,
}

impl ServerCertVerifier for AcceptAnyVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::options::{Secret, SecurityProtocol};

    fn settings() -> TlsSettings {
        TlsSettings {
            ca_location: None,
            ca_pem: None,
            certificate_location: None,
            key_location: None,
            key_password: None,
            endpoint_identification: EndpointIdentification::Https,
            verify_certificates: true,
        }
    }

    fn tcp() -> TcpConnector {
        TcpConnector {
            connect_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn plaintext_protocols_get_plain_tcp() {
        for protocol in [SecurityProtocol::Plaintext, SecurityProtocol::SaslPlaintext] {
            let c = connector_for(
                &SecuritySettings {
                    protocol,
                    sasl: None,
                    tls: None,
                },
                Duration::from_secs(1),
            )
            .unwrap();
            assert!(format!("{c:?}").starts_with("TcpConnector"), "{c:?}");
        }
        let c = connector_for(
            &SecuritySettings {
                protocol: SecurityProtocol::Ssl,
                sasl: None,
                tls: None,
            },
            Duration::from_secs(1),
        )
        .unwrap();
        assert!(format!("{c:?}").starts_with("TlsConnector"), "{c:?}");
    }

    #[test]
    fn bad_files_are_config_errors() {
        let mut s = settings();
        s.ca_location = Some("/nonexistent/ca.pem".into());
        let err = TlsConnector::new(tcp(), &s).unwrap_err().to_string();
        assert!(err.contains("ssl.ca.location /nonexistent/ca.pem"), "{err}");

        let mut s = settings();
        s.ca_pem = Some("not pem".into());
        let err = TlsConnector::new(tcp(), &s).unwrap_err().to_string();
        assert!(err.contains("ssl.ca.pem holds no PEM certificate"), "{err}");

        let mut s = settings();
        s.certificate_location = Some("/nonexistent/client.pem".into());
        let err = TlsConnector::new(tcp(), &s).unwrap_err().to_string();
        assert!(err.contains("ssl.key.location is not"), "{err}");
    }

    #[test]
    fn key_errors_do_not_show_the_key_path() {
        let dir = std::env::temp_dir().join(format!("tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let legacy = dir.join("legacy.key");
        std::fs::write(
            &legacy,
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        )
        .unwrap();
        let err = load_key(&legacy, Some("pw")).unwrap_err().to_string();
        assert!(err.contains("legacy OpenSSL PEM encryption"), "{err}");
        assert!(!err.contains("legacy.key"), "{err}");

        let enc = dir.join("enc.key");
        std::fs::write(&enc, format!("{ENCRYPTED_BEGIN}\nAAAA\n{ENCRYPTED_END}\n")).unwrap();
        let err = load_key(&enc, None).unwrap_err().to_string();
        assert!(err.contains("ssl.key.password is not set"), "{err}");
        let err = load_key(&enc, Some("pw")).unwrap_err().to_string();
        assert!(err.contains("malformed encrypted private key"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_hides_key_material() {
        let mut s = settings();
        s.key_password = Some(Secret::new("hunter2"));
        s.verify_certificates = false;
        let c = TlsConnector::new(tcp(), &s).unwrap();
        let shown = format!("{c:?}");
        assert!(shown.contains("verification DISABLED"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
