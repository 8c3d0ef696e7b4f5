//! rskafka clients built from the same settings as our consumer: bootstrap brokers, client
//! id, TLS (the same rustls configuration) and SASL. rskafka is used where it fits — producing
//! to dead-letter topics and topic admin — while consuming stays on our own client.

use std::sync::Arc;

use rskafka::client::{
    ClientBuilder, Credentials, OauthBearerCredentials, OauthCallback, SaslConfig,
};

use super::error::ClientError;
use super::oauthbearer;
use super::tls::client_config;
use crate::options::{ConsumerSettings, SaslMechanism};

/// A rskafka client builder for the cluster `settings` describe.
pub fn rskafka_client_builder(settings: &ConsumerSettings) -> Result<ClientBuilder, ClientError> {
    let bootstrap = settings.bootstrap.iter().map(ToString::to_string).collect();
    let mut builder = ClientBuilder::new(bootstrap).client_id(settings.client_id.clone());
    let security = &settings.security;
    if security.protocol.uses_tls() {
        let tls = security.tls.clone().unwrap_or_default();
        let (config, _) = client_config(&tls)?;
        builder = builder.tls_config(config);
    }
    if let Some(sasl) = &security.sasl {
        let credentials = Credentials::new(
            sasl.username.expose().to_owned(),
            sasl.password.expose().to_owned(),
        );
        let timeout = settings.socket_timeout;
        builder = builder.sasl_config(match sasl.mechanism {
            SaslMechanism::Plain => SaslConfig::Plain(credentials),
            SaslMechanism::ScramSha256 => SaslConfig::ScramSha256(credentials),
            SaslMechanism::ScramSha512 => SaslConfig::ScramSha512(credentials),
            SaslMechanism::OauthBearer => {
                let oauth =
                    sasl.oauthbearer
                        .clone()
                        .ok_or_else(|| ClientError::Authentication {
                            addr: "rskafka".to_owned(),
                            reason: "OAUTHBEARER without token settings".to_owned(),
                        })?;
                let bearer_kvs = oauth.extensions().to_vec();
                // rskafka asks for a token on every connection; ours caches and renews.
                let callback: OauthCallback = Arc::new(move || {
                    let oauth = oauth.clone();
                    Box::pin(async move {
                        oauthbearer::token(&oauth, timeout)
                            .await
                            .map(|t| t.expose().to_owned())
                            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
                    })
                });
                SaslConfig::Oauthbearer(OauthBearerCredentials {
                    callback,
                    authz_id: None,
                    bearer_kvs,
                })
            }
        });
    }
    Ok(builder)
}
