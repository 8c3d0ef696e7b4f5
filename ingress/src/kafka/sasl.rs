//! SASL authentication after ApiVersions: SaslHandshake v1 names the mechanism, then
//! SaslAuthenticate carries the mechanism's messages.
//!
//! Mechanisms: `PLAIN` (RFC 4616), `SCRAM-SHA-256` / `SCRAM-SHA-512` (RFC 5802 / RFC 7677,
//! without channel binding) and `OAUTHBEARER` (RFC 7628, tokens from [`super::oauthbearer`]). The SCRAM exchange is a sans-IO state machine ([`ScramClient`]) so
//! it is tested against the RFC's vectors; [`authenticate`] drives it over a connection.
//! Passwords are used as UTF-8 bytes without SASLprep, like the Java client and librdkafka.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use kafka_proto::error_code::ErrorCode;
use kafka_proto::messages::sasl_authenticate::SaslAuthenticateRequest;
use kafka_proto::messages::sasl_handshake::SaslHandshakeRequest;
use kafka_proto::negotiate::NegotiatedVersions;
use sha2::{Digest, Sha256, Sha512};

use super::connection::BrokerConnection;
use super::error::ClientError;
use super::oauthbearer;
use crate::options::{SaslMechanism, SaslSettings, Secret};

/// The fewest PBKDF2 iterations a server may ask for (RFC 7677 recommends 4096; Kafka's
/// minimum is 4096 too). Fewer would let a rogue broker cheapen an offline attack.
const MIN_ITERATIONS: u32 = 4096;
/// The most PBKDF2 iterations accepted, so a rogue broker cannot make us spin for minutes.
const MAX_ITERATIONS: u32 = 10_000_000;

/// Authenticates `conn` with `sasl`: SaslHandshake (v1) then SaslAuthenticate exchanges.
///
/// Every failure is a [`ClientError::Authentication`] naming the broker and carrying the
/// broker's own message when it sent one (enabled mechanisms, `error_message`).
pub async fn authenticate(
    conn: &BrokerConnection,
    versions: &NegotiatedVersions,
    sasl: &SaslSettings,
    timeout: Duration,
) -> Result<(), ClientError> {
    let addr = conn.addr();
    let fail = |reason: String| ClientError::Authentication {
        addr: addr.to_owned(),
        reason,
    };
    let mechanism = sasl.mechanism.as_str();

    let handshake_version = versions
        .version_for::<SaslHandshakeRequest>()
        .map_err(|e| fail(format!("the broker does not support SaslHandshake: {e}")))?;
    if handshake_version < 1 {
        return Err(fail(
            "the broker only supports SaslHandshake v0 (Kafka < 1.0); SaslAuthenticate framing is required"
                .to_owned(),
        ));
    }
    let handshake = conn
        .send(
            &SaslHandshakeRequest {
                mechanism: mechanism.to_owned(),
            },
            handshake_version,
            timeout,
        )
        .await?;
    match ErrorCode::from_code(handshake.error_code) {
        ErrorCode::None => {}
        ErrorCode::UnsupportedSaslMechanism => {
            return Err(fail(format!(
                "mechanism {mechanism} is not enabled on the broker (enabled: {})",
                if handshake.mechanisms.is_empty() {
                    "none".to_owned()
                } else {
                    handshake.mechanisms.join(", ")
                }
            )))
        }
        code => return Err(fail(format!("SaslHandshake failed: {code}"))),
    }

    let auth_version = versions
        .version_for::<SaslAuthenticateRequest>()
        .map_err(|e| fail(format!("the broker does not support SaslAuthenticate: {e}")))?;
    let mut exchange = Exchange {
        conn,
        version: auth_version,
        timeout,
        mechanism,
        session_lifetime_ms: 0,
    };
    match sasl.mechanism {
        SaslMechanism::Plain => {
            exchange
                .round(plain_message(&sasl.username, &sasl.password))
                .await?;
        }
        SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
            let hash = if sasl.mechanism == SaslMechanism::ScramSha256 {
                ScramHash::Sha256
            } else {
                ScramHash::Sha512
            };
            let (scram, client_first) = ScramClient::new(hash, &sasl.username, &sasl.password);
            let server_first = exchange.round(client_first.into_bytes()).await?;
            let (scram, client_final) = scram.handle_server_first(&server_first).map_err(fail)?;
            let server_final = exchange.round(client_final.into_bytes()).await?;
            scram.handle_server_final(&server_final).map_err(fail)?;
        }
        SaslMechanism::OauthBearer => {
            let settings = sasl
                .oauthbearer
                .as_ref()
                .ok_or_else(|| fail("OAUTHBEARER without token settings".to_owned()))?;
            let token = oauthbearer::token(settings, timeout)
                .await
                .map_err(|e| fail(e.to_string()))?;
            let message = oauthbearer::client_first_message(token.expose(), settings.extensions());
            let challenge = exchange.round(message).await?;
            if !challenge.is_empty() {
                // RFC 7628 §3.2.2: an error (JSON status); acknowledge with %x01, then the
                // broker fails the exchange with its own message.
                let status = String::from_utf8_lossy(&challenge).into_owned();
                let detail = match exchange.round(vec![0x01]).await {
                    Err(ClientError::Authentication { reason, .. }) => reason,
                    Err(e) => e.to_string(),
                    Ok(_) => "the broker did not fail the exchange".to_owned(),
                };
                return Err(fail(format!(
                    "the broker rejected the token {status}: {detail}"
                )));
            }
        }
    }
    tracing::debug!(broker = addr, mechanism, "SASL authentication succeeded");
    if exchange.session_lifetime_ms > 0 {
        // KIP-368 re-authentication is not implemented: the broker closes the connection when
        // the session expires and the client reconnects (and authenticates) on the next request.
        tracing::debug!(
            broker = addr,
            session_lifetime_ms = exchange.session_lifetime_ms,
            "the broker limits the SASL session; the connection is re-opened when it expires"
        );
    }
    Ok(())
}

/// One SaslAuthenticate round trip on a connection.
struct Exchange<'a> {
    conn: &'a BrokerConnection,
    version: i16,
    timeout: Duration,
    mechanism: &'static str,
    session_lifetime_ms: i64,
}

impl Exchange<'_> {
    async fn round(&mut self, auth_bytes: Vec<u8>) -> Result<Bytes, ClientError> {
        let response = self
            .conn
            .send(
                &SaslAuthenticateRequest {
                    auth_bytes: Bytes::from(auth_bytes),
                    unknown_tagged_fields: Vec::new(),
                },
                self.version,
                self.timeout,
            )
            .await?;
        let code = ErrorCode::from_code(response.error_code);
        if code != ErrorCode::None {
            let message = response
                .error_message
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "no message".to_owned());
            return Err(ClientError::Authentication {
                addr: self.conn.addr().to_owned(),
                reason: format!("{} rejected ({code}): {message}", self.mechanism),
            });
        }
        self.session_lifetime_ms = response.session_lifetime_ms;
        Ok(response.auth_bytes)
    }
}

/// RFC 4616 `PLAIN` message: `[authzid] NUL authcid NUL passwd`, no authorization identity.
fn plain_message(username: &Secret, password: &Secret) -> Vec<u8> {
    let (user, pass) = (username.expose().as_bytes(), password.expose().as_bytes());
    let mut out = Vec::with_capacity(user.len() + pass.len() + 2);
    out.push(0);
    out.extend_from_slice(user);
    out.push(0);
    out.extend_from_slice(pass);
    out
}

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    /// `SCRAM-SHA-256`.
    Sha256,
    /// `SCRAM-SHA-512`.
    Sha512,
}

impl ScramHash {
    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => hmac_with::<Hmac<Sha256>>(key, data),
            ScramHash::Sha512 => hmac_with::<Hmac<Sha512>>(key, data),
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// `Hi(password, salt, i)` of RFC 5802: PBKDF2 with HMAC of this hash.
    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => {
                let mut out = vec![0; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            ScramHash::Sha512 => {
                let mut out = vec![0; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

fn hmac_with<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    match <M as hmac::digest::KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// RFC 5802 `saslname`: `,` becomes `=2C` and `=` becomes `=3D`.
pub fn escape_saslname(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            ',' => out.push_str("=2C"),
            '=' => out.push_str("=3D"),
            c => out.push(c),
        }
    }
    out
}

/// The client side of a SCRAM exchange after its first message; see [`ScramClient::new`].
pub struct ScramClient {
    hash: ScramHash,
    password: Secret,
    client_nonce: String,
    client_first_bare: String,
}

impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramClient")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

/// The client side of a SCRAM exchange waiting for the server's final message.
pub struct ScramFinal {
    expected_server_signature: Vec<u8>,
}

impl std::fmt::Debug for ScramFinal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramFinal").finish_non_exhaustive()
    }
}

impl ScramClient {
    /// Starts an exchange with a random nonce; returns the state and the client-first message.
    pub fn new(hash: ScramHash, username: &Secret, password: &Secret) -> (ScramClient, String) {
        let mut nonce = [0u8; 24];
        rand::Rng::fill(&mut rand::rng(), &mut nonce[..]);
        Self::with_nonce(hash, username, password, &BASE64.encode(nonce))
    }

    /// Starts an exchange with the given nonce (printable, no `,`); for tests.
    pub fn with_nonce(
        hash: ScramHash,
        username: &Secret,
        password: &Secret,
        client_nonce: &str,
    ) -> (ScramClient, String) {
        let client_first_bare =
            format!("n={},r={client_nonce}", escape_saslname(username.expose()));
        let client_first = format!("n,,{client_first_bare}");
        (
            ScramClient {
                hash,
                password: password.clone(),
                client_nonce: client_nonce.to_owned(),
                client_first_bare,
            },
            client_first,
        )
    }

    /// Checks the server-first message (`r=..,s=..,i=..`) and computes the client-final
    /// message with the proof. Errors are human-readable reasons.
    pub fn handle_server_first(self, server_first: &[u8]) -> Result<(ScramFinal, String), String> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| "the server-first SCRAM message is not UTF-8".to_owned())?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for (i, attr) in server_first.split(',').enumerate() {
            let (name, value) = attr
                .split_once('=')
                .ok_or_else(|| format!("malformed server-first SCRAM message: {server_first:?}"))?;
            match name {
                "m" if i == 0 => {
                    return Err(
                        "the server requires a SCRAM extension this client does not support"
                            .to_owned(),
                    )
                }
                "e" => return Err(format!("server error: {value}")),
                "r" => nonce = Some(value),
                "s" => salt = Some(value),
                "i" => iterations = Some(value),
                _ => {} // extensions (e.g. Kafka's `tokenauth`) are ignored
            }
        }
        let nonce = nonce.ok_or("the server-first SCRAM message has no nonce (r=)")?;
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err("the server's SCRAM nonce does not extend the client nonce".to_owned());
        }
        let salt = BASE64
            .decode(salt.ok_or("the server-first SCRAM message has no salt (s=)")?)
            .map_err(|_| "the server's SCRAM salt is not valid base64".to_owned())?;
        let iterations: u32 = iterations
            .ok_or("the server-first SCRAM message has no iteration count (i=)")?
            .parse()
            .map_err(|_| "the server's SCRAM iteration count is not a number".to_owned())?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(format!(
                "the server's SCRAM iteration count {iterations} is outside {MIN_ITERATIONS}..={MAX_ITERATIONS}"
            ));
        }

        let h = self.hash;
        let salted = h.salted_password(self.password.expose().as_bytes(), &salt, iterations);
        let client_key = h.hmac(&salted, b"Client Key");
        let stored_key = h.hash(&client_key);
        // `biws` = base64("n,,"): no channel binding, no authorization identity.
        let client_final_without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!(
            "{},{server_first},{client_final_without_proof}",
            self.client_first_bare
        );
        let client_signature = h.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = h.hmac(&salted, b"Server Key");
        let expected_server_signature = h.hmac(&server_key, auth_message.as_bytes());
        Ok((
            ScramFinal {
                expected_server_signature,
            },
            format!("{client_final_without_proof},p={}", BASE64.encode(proof)),
        ))
    }
}

impl ScramFinal {
    /// Verifies the server-final message (`v=<signature>`); a wrong signature is an error:
    /// the server does not know the password, so it is not the server we meant to talk to.
    pub fn handle_server_final(self, server_final: &[u8]) -> Result<(), String> {
        let server_final = std::str::from_utf8(server_final)
            .map_err(|_| "the server-final SCRAM message is not UTF-8".to_owned())?;
        let first = server_final.split(',').next().unwrap_or_default();
        if let Some(error) = first.strip_prefix("e=") {
            return Err(format!("server error: {error}"));
        }
        let signature = first
            .strip_prefix("v=")
            .ok_or_else(|| format!("malformed server-final SCRAM message: {server_final:?}"))?;
        let signature = BASE64
            .decode(signature)
            .map_err(|_| "the server's SCRAM signature is not valid base64".to_owned())?;
        if !constant_time_eq(&signature, &self.expected_server_signature) {
            return Err(
                "the server's SCRAM signature does not match: the broker could not prove it knows the credentials"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn saslname_escaping() {
        assert_eq!(escape_saslname("user"), "user");
        assert_eq!(escape_saslname("a,b=c"), "a=2Cb=3Dc");
        assert_eq!(escape_saslname("=,"), "=3D=2C");
    }

    #[test]
    fn plain_message_layout() {
        assert_eq!(
            plain_message(&"tim".into(), &"tanstaaftanstaaf".into()),
            b"\0tim\0tanstaaftanstaaf".to_vec()
        );
    }

    /// RFC 7677 section 3, SCRAM-SHA-256.
    #[test]
    fn rfc7677_sha256_vector() {
        let (client, first) = ScramClient::with_nonce(
            ScramHash::Sha256,
            &"user".into(),
            &"pencil".into(),
            "rOprNGfwEbeRWgbNEkqO",
        );
        assert_eq!(first, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let (fin, client_final) = client
            .handle_server_first(
                b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            )
            .unwrap();
        assert_eq!(
            client_final,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        fin.handle_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
    }

    fn sha256_final() -> ScramFinal {
        let (client, _) = ScramClient::with_nonce(
            ScramHash::Sha256,
            &"user".into(),
            &"pencil".into(),
            "rOprNGfwEbeRWgbNEkqO",
        );
        client
            .handle_server_first(
                b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            )
            .unwrap()
            .0
    }

    #[test]
    fn a_wrong_server_signature_is_an_error() {
        let err = sha256_final()
            .handle_server_final(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap_err();
        assert!(err.contains("signature does not match"), "{err}");
        let err = sha256_final()
            .handle_server_final(b"e=invalid-proof")
            .unwrap_err();
        assert!(err.contains("invalid-proof"), "{err}");
        assert!(sha256_final().handle_server_final(b"x=1").is_err());
    }

    #[test]
    fn server_first_is_checked() {
        let start =
            || ScramClient::with_nonce(ScramHash::Sha512, &"u".into(), &"p".into(), "abc").0;
        for (msg, want) in [
            ("r=xyz123,s=c2FsdA==,i=4096", "does not extend"),
            ("r=abc,s=c2FsdA==,i=4096", "does not extend"),
            ("r=abcdef,s=!!,i=4096", "base64"),
            ("r=abcdef,s=c2FsdA==,i=1", "outside"),
            ("r=abcdef,s=c2FsdA==,i=x", "not a number"),
            ("r=abcdef,s=c2FsdA==", "no iteration"),
            ("m=ext,r=abcdef,s=c2FsdA==,i=4096", "extension"),
            ("garbage", "malformed"),
        ] {
            let err = start().handle_server_first(msg.as_bytes()).unwrap_err();
            assert!(err.contains(want), "{msg}: {err}");
        }
        let (_, fin) = start()
            .handle_server_first(b"r=abcdef,s=c2FsdA==,i=4096")
            .unwrap();
        assert!(fin.starts_with("c=biws,r=abcdef,p="), "{fin}");
    }

    #[test]
    fn random_nonces_differ_and_debug_hides_secrets() {
        let (a, first_a) = ScramClient::new(ScramHash::Sha512, &"n,=".into(), &"hunter2".into());
        let (_, first_b) = ScramClient::new(ScramHash::Sha512, &"n,=".into(), &"hunter2".into());
        assert_ne!(first_a, first_b);
        assert!(first_a.starts_with("n,,n=n=2C=3D,r="), "{first_a}");
        assert!(!format!("{a:?}").contains("hunter2"));
    }
}
