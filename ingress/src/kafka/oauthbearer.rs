//! OAUTHBEARER (RFC 7628) tokens for SASL: fetched from an OIDC token endpoint with the
//! client-credentials grant, or built as an unsecured JWT for development brokers; cached per
//! token configuration and renewed at 80 % of their lifetime, like librdkafka. Shared by our
//! connections and rskafka's (dead-letter producer).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};

use crate::http_client::{client, error_chain, HandlerTls, HttpVersion, VersionPreference};
use crate::options::{OauthBearerSettings, OidcSettings, Secret, TlsSettings, UnsecuredJwt};
use crate::sync::lock;

/// The largest token endpoint answer read.
const MAX_TOKEN_RESPONSE: usize = 1 << 20;
/// How much of an error answer is quoted.
const QUOTED_BODY_CHARS: usize = 200;

/// Why no token could be had. The message names the endpoint, never the client secret.
#[derive(Debug, thiserror::Error)]
#[error("OAUTHBEARER token: {0}")]
pub struct TokenError(String);

#[derive(Debug, Clone)]
struct CachedToken {
    token: Secret,
    renew_at: SystemTime,
    expires_at: SystemTime,
}

/// Tokens by the configuration that produced them: connections of every subscription with
/// the same credentials share one token.
fn cache() -> &'static Mutex<HashMap<OauthBearerSettings, CachedToken>> {
    static CACHE: OnceLock<Mutex<HashMap<OauthBearerSettings, CachedToken>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A valid token for `settings`: the cached one until 80 % of its lifetime, else a new one
/// (the token endpoint's answer bounded by `timeout`).
pub async fn token(
    settings: &OauthBearerSettings,
    timeout: Duration,
) -> Result<Secret, TokenError> {
    let now = SystemTime::now();
    if let Some(cached) = lock(cache()).get(settings) {
        if now < cached.renew_at {
            return Ok(cached.token.clone());
        }
    }
    let fresh = match settings {
        OauthBearerSettings::Unsecured(jwt) => unsecured_token(jwt, now),
        OauthBearerSettings::Oidc(oidc) => match oidc_token(oidc, timeout).await {
            Ok(t) => t,
            // Renewal failed: a token that has not expired yet still serves.
            Err(e) => match lock(cache()).get(settings) {
                Some(c) if SystemTime::now() < c.expires_at => {
                    tracing::warn!("{e}; using the current token until it expires");
                    return Ok(c.token.clone());
                }
                _ => return Err(e),
            },
        },
    };
    let token = fresh.token.clone();
    lock(cache()).insert(settings.clone(), fresh);
    Ok(token)
}

/// The client's first (and only) message: `n,,\x01auth=Bearer <token>\x01` + one
/// `key=value\x01` per extension + `\x01`.
pub fn client_first_message(token: &str, extensions: &[(String, String)]) -> Vec<u8> {
    let mut out = format!("n,,\x01auth=Bearer {token}\x01");
    for (key, value) in extensions {
        out.push_str(key);
        out.push('=');
        out.push_str(value);
        out.push('\x01');
    }
    out.push('\x01');
    out.into_bytes()
}

fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn cached(token: String, issued: SystemTime, lifetime: Duration) -> CachedToken {
    CachedToken {
        token: Secret::new(token),
        renew_at: issued + lifetime.mul_f64(0.8),
        expires_at: issued + lifetime,
    }
}

/// An unsigned JWT (`alg: none`) as librdkafka builds it from `sasl.oauthbearer.config`.
fn unsecured_token(jwt: &UnsecuredJwt, now: SystemTime) -> CachedToken {
    let iat = epoch_secs(now);
    let mut claims = serde_json::Map::new();
    claims.insert(jwt.principal_claim.clone(), jwt.principal.clone().into());
    claims.insert("iat".to_owned(), iat.into());
    claims.insert(
        "exp".to_owned(),
        iat.saturating_add(jwt.lifetime_secs).into(),
    );
    if !jwt.scope.is_empty() {
        claims.insert(jwt.scope_claim.clone(), jwt.scope.clone().into());
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::Value::Object(claims).to_string());
    cached(
        format!("{header}.{payload}."),
        now,
        Duration::from_secs(jwt.lifetime_secs),
    )
}

/// `application/x-www-form-urlencoded` escaping of one value.
fn form_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'*') {
            out.push(char::from(b));
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `exp` claim of a JWT, if `token` is one.
fn jwt_expiry(token: &str) -> Option<u64> {
    let mut parts = token.split('.');
    let (_, payload) = (parts.next()?, parts.next()?);
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let exp = claims.get("exp")?.as_f64()?;
    (exp.is_finite() && exp > 0.0).then_some(exp as u64)
}

/// The client-credentials grant (RFC 6749 §4.4) at the token endpoint, client
/// authentication with HTTP Basic, like librdkafka.
async fn oidc_token(oidc: &OidcSettings, timeout: Duration) -> Result<CachedToken, TokenError> {
    let url = &oidc.token_endpoint;
    let fail = |what: String| TokenError(format!("token endpoint {url}: {what}"));
    let tls = HandlerTls::from_settings(&TlsSettings {
        ca_location: oidc.ca_location.clone(),
        ca_pem: oidc.ca_pem.clone(),
        ..TlsSettings::default()
    })
    .map_err(|e| fail(e.to_string()))?;
    let http = client::<Full<Bytes>>(VersionPreference::Fixed(HttpVersion::Http1), &tls, timeout);
    let mut body = "grant_type=client_credentials".to_owned();
    if let Some(scope) = &oidc.scope {
        body.push_str("&scope=");
        body.push_str(&form_escape(scope));
    }
    let basic = STANDARD.encode(format!(
        "{}:{}",
        oidc.client_id,
        oidc.client_secret.expose()
    ));
    let request = http::Request::post(url.as_str())
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::AUTHORIZATION, format!("Basic {basic}"))
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| fail(format!("cannot build the request: {e}")))?;
    let issued = SystemTime::now();
    let exchange = async {
        let response = http
            .request(request)
            .await
            .map_err(|e| fail(format!("request failed: {}", error_chain(&e))))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_TOKEN_RESPONSE)
            .collect()
            .await
            .map_err(|e| fail(format!("reading the answer: {}", error_chain(e.as_ref()))))?
            .to_bytes();
        Ok::<_, TokenError>((status, body))
    };
    let (status, body) = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| fail(format!("no answer within {timeout:?}")))??;
    if !status.is_success() {
        let quoted: String = String::from_utf8_lossy(&body)
            .chars()
            .take(QUOTED_BODY_CHARS)
            .collect();
        return Err(fail(format!("answered {status}: {quoted:?}")));
    }
    let answer: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| fail(format!("the answer is not JSON: {e}")))?;
    let access_token = answer
        .get("access_token")
        .and_then(serde_json::Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| fail("the answer has no \"access_token\"".to_owned()))?;
    let lifetime = match jwt_expiry(access_token) {
        Some(exp) => Duration::from_secs(exp.saturating_sub(epoch_secs(issued))),
        None => answer
            .get("expires_in")
            .and_then(serde_json::Value::as_f64)
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| {
                fail("the token has no expiry (neither a JWT exp claim nor expires_in)".to_owned())
            })?,
    };
    if lifetime.is_zero() {
        return Err(fail("the token has already expired".to_owned()));
    }
    Ok(cached(access_token.to_owned(), issued, lifetime))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(scope: Vec<String>) -> UnsecuredJwt {
        UnsecuredJwt {
            principal: "alice".into(),
            principal_claim: "sub".into(),
            scope_claim: "scope".into(),
            scope,
            lifetime_secs: 100,
            extensions: Vec::new(),
        }
    }

    #[test]
    fn unsecured_tokens_are_unsigned_jwts_with_the_claims() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let t = unsecured_token(&jwt(vec!["read".into()]), now);
        let text = t.token.expose().to_owned();
        let parts: Vec<&str> = text.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], "", "no signature");
        let header = URL_SAFE_NO_PAD.decode(parts[0]).unwrap_or_default();
        assert_eq!(header, br#"{"alg":"none"}"#);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(
            claims,
            serde_json::json!({"sub": "alice", "iat": 1_700_000_000u64, "exp": 1_700_000_100u64, "scope": ["read"]})
        );
        assert_eq!(jwt_expiry(&text), Some(1_700_000_100));
        assert_eq!(t.renew_at, now + Duration::from_secs(80));
        assert_eq!(t.expires_at, now + Duration::from_secs(100));
    }

    #[test]
    fn client_message_layout() {
        let msg = client_first_message("tok", &[("traceId".into(), "1".into())]);
        assert_eq!(msg, b"n,,\x01auth=Bearer tok\x01traceId=1\x01\x01");
        assert_eq!(
            client_first_message("t", &[]),
            b"n,,\x01auth=Bearer t\x01\x01"
        );
    }

    #[test]
    fn form_values_are_escaped() {
        assert_eq!(
            form_escape("api://x/.default read"),
            "api%3A%2F%2Fx%2F.default+read"
        );
    }

    #[test]
    fn non_jwt_tokens_have_no_expiry_claim() {
        assert_eq!(jwt_expiry("opaque-token"), None);
        assert_eq!(jwt_expiry("a.!!!.c"), None);
        assert_eq!(jwt_expiry(""), None);
    }

    #[tokio::test]
    async fn cached_until_renewal() {
        let settings = OauthBearerSettings::Unsecured(jwt(Vec::new()));
        let a = token(&settings, Duration::from_secs(1)).await.ok();
        let b = token(&settings, Duration::from_secs(1)).await.ok();
        assert!(a.is_some());
        assert_eq!(a, b, "the second call is served from the cache");
    }
}
