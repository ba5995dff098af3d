//! An external OpenID provider (e.g. a real Keycloak): its JWKS, found through discovery,
//! fetched over HTTP and cached for the token verifier (`identity::verifier`), and fetched
//! again when a token names an unknown `kid` (at most every 30 s).

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;

use crate::identity::verifier::{KeySource, VerifyKey};

/// Refetch keys at most this often, so bad tokens cannot make us hammer the provider.
const REFETCH_AFTER: Duration = Duration::from_secs(30);

pub struct ExternalIssuer {
    issuer: String,
    http: reqwest::Client,
    keys: tokio::sync::Mutex<Option<(Instant, Arc<Vec<VerifyKey>>)>>,
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

    async fn fetch(&self) -> Result<Vec<VerifyKey>, String> {
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
            let (Ok(algorithm), Ok(key)) = (
                alg.to_string().parse::<jsonwebtoken::Algorithm>(),
                DecodingKey::from_jwk(jwk),
            ) else {
                continue;
            };
            keys.push(VerifyKey {
                kid,
                algorithm,
                key,
            });
        }
        Ok(keys)
    }
}

#[async_trait::async_trait]
impl KeySource for ExternalIssuer {
    fn issuer(&self) -> &str {
        &self.issuer
    }

    async fn keys(&self, refresh: bool) -> Result<Arc<Vec<VerifyKey>>, String> {
        let mut cache = self.keys.lock().await;
        let stale = cache
            .as_ref()
            .is_none_or(|(at, _)| refresh && at.elapsed() > REFETCH_AFTER);
        if stale {
            match self.fetch().await {
                Ok(keys) => *cache = Some((Instant::now(), Arc::new(keys))),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot fetch the external issuer's keys");
                    if cache.is_none() {
                        return Err(e);
                    }
                }
            }
        }
        Ok(cache.as_ref().map(|(_, k)| k.clone()).unwrap_or_default())
    }
}
