//! rskafka clients built from the same settings as our consumer: bootstrap brokers, client
//! id, TLS (the same rustls configuration) and SASL. rskafka is used where it fits — producing
//! to dead-letter topics and topic admin — while consuming stays on our own client.

use rskafka::client::{ClientBuilder, Credentials, SaslConfig};

use super::broker::TcpConnector;
use super::error::ClientError;
use super::tls::TlsConnector;
use crate::options::{ConsumerSettings, SaslMechanism};

/// A rskafka client builder for the cluster `settings` describe.
pub fn rskafka_client_builder(settings: &ConsumerSettings) -> Result<ClientBuilder, ClientError> {
    let bootstrap = settings.bootstrap.iter().map(ToString::to_string).collect();
    let mut builder = ClientBuilder::new(bootstrap).client_id(settings.client_id.clone());
    let security = &settings.security;
    if security.protocol.uses_tls() {
        let tls = security.tls.clone().unwrap_or_default();
        let connector = TlsConnector::new(
            TcpConnector {
                connect_timeout: settings.socket_timeout,
            },
            &tls,
        )?;
        builder = builder.tls_config(connector.client_config());
    }
    if let Some(sasl) = &security.sasl {
        let credentials = Credentials::new(
            sasl.username.expose().to_owned(),
            sasl.password.expose().to_owned(),
        );
        builder = builder.sasl_config(match sasl.mechanism {
            SaslMechanism::Plain => SaslConfig::Plain(credentials),
            SaslMechanism::ScramSha256 => SaslConfig::ScramSha256(credentials),
            SaslMechanism::ScramSha512 => SaslConfig::ScramSha512(credentials),
        });
    }
    Ok(builder)
}
