//! An external OpenID provider (e.g. a real Keycloak) whose tokens STS accepts: its JWKS is
//! found through discovery, cached, and fetched again when a token names an unknown `kid`.

use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;

use crate::identity::tokens::{Claims, WebIdentityError, verify_web_identity};

/// Refetch keys at most this often, so bad tokens cannot make us hammer the provider.
const REFETCH_AFTER: Duration = Duration::from_secs(30);

/// The provider's keys: (kid, algorithm, key).
type Keys = Vec<(String, jsonwebtoken::Algorithm, DecodingKey)>;

pub struct ExternalIssuer {
    pub issuer: String,
    http: reqwest::Client,
    keys: tokio::sync::Mutex<Option<(Instant, Keys)>>,
}

impl ExternalIssuer {
    pub fn new(issuer: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        ExternalIssuer {
            issuer: issuer.trim_end_matches('/').to_owned(),
            http,
            keys: tokio::sync::Mutex::new(None),
        }
    }

    async fn fetch(&self) -> Result<Keys, String> {
        let discovery: serde_json::Value = self
            .http
            .get(format!("{}/.well-known/openid-configuration", self.issuer))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("discovery of {}: {e}", self.issuer))?
            .json()
            .await
            .map_err(|e| format!("discovery of {}: {e}", self.issuer))?;
        let jwks_uri = discovery["jwks_uri"]
            .as_str()
            .ok_or("discovery document has no jwks_uri")?;
        let set: JwkSet = self
            .http
            .get(jwks_uri)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("keys of {}: {e}", self.issuer))?
            .json()
            .await
            .map_err(|e| format!("keys of {}: {e}", self.issuer))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), jwk.common.key_algorithm)
            else {
                continue;
            };
            let (Ok(alg), Ok(key)) = (
                alg.to_string().parse::<jsonwebtoken::Algorithm>(),
                DecodingKey::from_jwk(jwk),
            ) else {
                continue;
            };
            keys.push((kid, alg, key));
        }
        Ok(keys)
    }

    /// Verifies a token of this provider, fetching its keys when needed.
    pub async fn verify(&self, token: &str, client_id: &str) -> Result<Claims, WebIdentityError> {
        let mut cache = self.keys.lock().await;
        for attempt in 0..2 {
            let stale = cache
                .as_ref()
                .is_none_or(|(at, _)| attempt > 0 && at.elapsed() > REFETCH_AFTER);
            if stale {
                match self.fetch().await {
                    Ok(keys) => *cache = Some((Instant::now(), keys)),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot fetch the external issuer's keys");
                        if cache.is_none() {
                            return Err(WebIdentityError::Invalid(format!(
                                "the external issuer is unreachable: {e}"
                            )));
                        }
                    }
                }
            }
            let keys: Vec<(&str, jsonwebtoken::Algorithm, &DecodingKey)> = cache
                .as_ref()
                .map(|(_, k)| {
                    k.iter()
                        .map(|(kid, alg, key)| (kid.as_str(), *alg, key))
                        .collect()
                })
                .unwrap_or_default();
            match verify_web_identity(token, &self.issuer, &keys, client_id) {
                Err(WebIdentityError::UnknownKey(_)) if attempt == 0 => continue,
                other => return other,
            }
        }
        Err(WebIdentityError::Invalid(
            "the token's kid is not among the issuer's keys".into(),
        ))
    }
}
