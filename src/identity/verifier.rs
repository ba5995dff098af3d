//! The one token verifier: the embedded issuer's key plus, when configured, an external
//! issuer's keys, checked under one set of rules (`tokens::verify_signed`), with an explicit
//! audience rule for each consumer. The external issuer's keys come from a [`KeySource`] the
//! OIDC edge provides (it holds the HTTP client; this core holds none).
//!
//! | consumer | issuers trusted | audience |
//! |---|---|---|
//! | userinfo | embedded | any client; the token's session must be live |
//! | Onyxia API | the external one when configured, else embedded | external: `aud`/`azp` = `onyxia`; embedded: any client, live session |
//! | STS | embedded and external | `aud` contains or `azp` is the STS client (`onyxia-minio`) |
//! | Vault JWT login | embedded and external | `aud` contains or `azp` is one of the role's `bound_audiences` |

use std::sync::Arc;

use serde_json::Value;

use super::Identity;
use super::tokens::{Claims, claimed_issuer, verify_signed};

/// A verification key: (kid, algorithm, key).
pub struct VerifyKey {
    pub kid: String,
    pub algorithm: jsonwebtoken::Algorithm,
    pub key: jsonwebtoken::DecodingKey,
}

/// The keys of an external issuer, fetched and cached by whoever can reach it.
#[async_trait::async_trait]
pub trait KeySource: Send + Sync {
    /// The issuer's URL, as its tokens' `iss` says it.
    fn issuer(&self) -> &str;
    /// Its keys; `refresh` asks for a new fetch (a token named a `kid` the cache lacks).
    async fn keys(&self, refresh: bool) -> Result<Arc<Vec<VerifyKey>>, String>;
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// No key of the issuer has this `kid` (the issuer may have rotated its keys).
    UnknownKey,
    Expired,
    /// `nbf` is still ahead.
    NotYetValid,
    /// The token's issuer is not one this consumer trusts.
    Untrusted(String),
    /// The token was not issued to the client this consumer needs.
    WrongAudience(String),
    /// Access tokens of the embedded issuer die with their SSO session.
    SessionEnded,
    /// The issuer's keys could not be fetched.
    Unreachable(String),
    Invalid(String),
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyError::UnknownKey => write!(f, "the token was not signed by a key of its issuer"),
            VerifyError::Expired => write!(f, "the token has expired"),
            VerifyError::NotYetValid => write!(f, "the token is not yet valid"),
            VerifyError::Untrusted(iss) => write!(f, "tokens of {iss} are not trusted"),
            VerifyError::WrongAudience(aud) => write!(f, "the token's audience is not {aud}"),
            VerifyError::SessionEnded => write!(f, "the session of this token has ended"),
            VerifyError::Unreachable(e) => write!(f, "the external issuer is unreachable: {e}"),
            VerifyError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Which audience a consumer requires.
enum Audience<'a> {
    /// Any client's access token (`typ` Bearer) whose session is still live.
    LiveSession,
    /// `aud` contains, or `azp` is, one of these clients.
    OneOf(&'a [&'a str]),
}

pub struct Verifier {
    identity: Arc<Identity>,
    /// The embedded issuer's key, as `verify_signed` takes keys (made once, not per token).
    embedded_key: [VerifyKey; 1],
    external: Option<Arc<dyn KeySource>>,
}

impl Verifier {
    pub fn new(identity: Arc<Identity>, external: Option<Arc<dyn KeySource>>) -> Self {
        let embedded_key = [VerifyKey {
            kid: identity.signing.kid.clone(),
            algorithm: identity.signing.algorithm,
            key: identity.signing.decoding.clone(),
        }];
        Verifier {
            identity,
            embedded_key,
            external,
        }
    }

    /// The embedded issuer's identity core (its realm users).
    pub fn identity(&self) -> &Arc<Identity> {
        &self.identity
    }

    /// The external issuer's URL, when one is configured.
    pub fn external_issuer(&self) -> Option<&str> {
        self.external.as_deref().map(KeySource::issuer)
    }

    /// userinfo: an access token of the embedded issuer with a live session.
    pub fn for_userinfo(&self, token: &str) -> Result<Claims, VerifyError> {
        self.embedded(token, &Audience::LiveSession)
    }

    /// The Onyxia API: with an external issuer, only its tokens for `onyxia` (two issuers would
    /// share one namespace of usernames, and so of projects); else embedded access tokens.
    pub async fn for_api(&self, token: &str) -> Result<Claims, VerifyError> {
        match &self.external {
            Some(external) => self.external(external, token, &["onyxia"]).await,
            None => self.embedded(token, &Audience::LiveSession),
        }
    }

    /// STS AssumeRoleWithWebIdentity: tokens of either issuer issued to `client_id`.
    pub async fn for_sts(&self, token: &str, client_id: &str) -> Result<Claims, VerifyError> {
        self.either(token, &[client_id]).await
    }

    /// Vault's JWT login: tokens of either issuer issued to one of the role's audiences.
    pub async fn for_vault(&self, token: &str, audiences: &[&str]) -> Result<Claims, VerifyError> {
        self.either(token, audiences).await
    }

    /// Picks the issuer by the token's `iss`: the external one's keys, or the embedded key.
    async fn either(&self, token: &str, clients: &[&str]) -> Result<Claims, VerifyError> {
        match (claimed_issuer(token), &self.external) {
            (Some(iss), Some(external)) if iss == external.issuer() => {
                self.external(external, token, clients).await
            }
            _ => self.embedded(token, &Audience::OneOf(clients)),
        }
    }

    fn embedded(&self, token: &str, audience: &Audience<'_>) -> Result<Claims, VerifyError> {
        let identity = &self.identity;
        if let Some(iss) = claimed_issuer(token)
            && iss != identity.issuer
        {
            return Err(VerifyError::Untrusted(iss));
        }
        let now = identity.clock.secs();
        let claims = verify_signed(token, &identity.issuer, &self.embedded_key, now)?;
        // A disabled user's tokens stop working at once, not when they expire.
        if let Some(name) = claims.get("preferred_username").and_then(Value::as_str)
            && identity.realm.user(name).is_some_and(|u| !u.enabled)
        {
            return Err(VerifyError::Invalid("the user is disabled".into()));
        }
        match audience {
            Audience::LiveSession => {
                if claims.get("typ").and_then(Value::as_str) != Some("Bearer") {
                    return Err(VerifyError::Invalid("not an access token".into()));
                }
                if let Some(sid) = claims.get("sid").and_then(Value::as_str)
                    && identity.live_session(sid).is_none()
                {
                    return Err(VerifyError::SessionEnded);
                }
                Ok(claims)
            }
            Audience::OneOf(clients) => issued_to(claims, clients),
        }
    }

    async fn external(
        &self,
        source: &Arc<dyn KeySource>,
        token: &str,
        clients: &[&str],
    ) -> Result<Claims, VerifyError> {
        if let Some(iss) = claimed_issuer(token)
            && iss != source.issuer()
        {
            return Err(VerifyError::Untrusted(iss));
        }
        let now = self.identity.clock.secs();
        let keys = source.keys(false).await.map_err(VerifyError::Unreachable)?;
        let claims = match verify_signed(token, source.issuer(), &keys, now) {
            // A kid the cache lacks: the issuer may have rotated its keys.
            Err(VerifyError::UnknownKey) => {
                let keys = source.keys(true).await.map_err(VerifyError::Unreachable)?;
                verify_signed(token, source.issuer(), &keys, now)?
            }
            other => other?,
        };
        issued_to(claims, clients)
    }
}

/// The claims, when `aud` contains or `azp` is one of `clients`.
fn issued_to(claims: Claims, clients: &[&str]) -> Result<Claims, VerifyError> {
    let hit = |client: &str| {
        let aud = match claims.get("aud") {
            Some(Value::String(a)) => a == client,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(client)),
            _ => false,
        };
        aud || claims.get("azp").and_then(Value::as_str) == Some(client)
    };
    if clients.iter().any(|c| hit(c)) {
        Ok(claims)
    } else {
        Err(VerifyError::WrongAudience(clients.join(" or ")))
    }
}
