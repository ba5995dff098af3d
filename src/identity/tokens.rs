//! Token contents: Keycloak-shaped access tokens, ID tokens, refresh tokens, userinfo.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::Identity;
use super::realm::{Client, User};
use super::verifier::{VerifyError, VerifyKey};
use crate::config::fixtures::MapperKind;

pub type Claims = Map<String, Value>;

/// Which token a claim set is for; mappers choose per target.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Access,
    Id,
    Userinfo,
}

/// Scopes this issuer knows; others in a request are ignored.
const KNOWN_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "roles",
    "web-origins",
    "groups",
];

/// The granted scope string: `openid` if asked, then Keycloak's default `profile email`,
/// then any other known scope asked for.
pub fn granted_scope(requested: Option<&str>) -> String {
    let asked: Vec<&str> = requested.unwrap_or_default().split_whitespace().collect();
    let mut granted: Vec<&str> = Vec::new();
    if asked.contains(&"openid") {
        granted.push("openid");
    }
    granted.extend(["profile", "email"]);
    for scope in asked {
        if KNOWN_SCOPES.contains(&scope) && !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    granted.join(" ")
}

/// Who a token is about.
pub enum Subject<'a> {
    User(&'a User),
    /// The client's own service account (client_credentials).
    Client,
}

/// Everything a minted token depends on.
pub struct TokenRequest<'a> {
    pub client: &'a Client,
    pub subject: Subject<'a>,
    pub scope: &'a str,
    pub sid: Option<&'a str>,
    pub auth_time: Option<u64>,
    pub nonce: Option<&'a str>,
}

/// A token response's content.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access_token: String,
    pub expires_in: u64,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub refresh_expires_in: u64,
    pub scope: String,
    pub session_state: Option<String>,
}

fn audience_value(list: Vec<String>) -> Value {
    if list.len() == 1 {
        Value::String(list[0].clone())
    } else {
        json!(list)
    }
}

impl Identity {
    pub fn access_token_lifespan(&self, client: &Client) -> u64 {
        client
            .access_token_lifespan
            .unwrap_or(self.realm.settings.access_token_lifespan)
    }

    /// Profile, email, extra and mapped claims of a user for one target.
    pub fn user_claims(&self, user: &User, client: &Client, target: Target) -> Claims {
        let mut c = Claims::new();
        c.insert("sub".into(), json!(user.sub));
        c.insert("email_verified".into(), json!(user.email.is_some()));
        if let Some(name) = user.full_name() {
            c.insert("name".into(), json!(name));
        }
        c.insert("preferred_username".into(), json!(user.username));
        if let Some(v) = &user.first_name {
            c.insert("given_name".into(), json!(v));
        }
        if let Some(v) = &user.last_name {
            c.insert("family_name".into(), json!(v));
        }
        if let Some(v) = &user.email {
            c.insert("email".into(), json!(v));
        }
        for (k, v) in &user.claims {
            c.insert(k.clone(), v.clone());
        }
        self.apply_mappers(&mut c, Some(user), client, target);
        c
    }

    /// The claims of the access token `client_id` would give a realm user (what S3's STS
    /// judges their policies by); `None` for an unknown user or client.
    pub fn access_claims_for(&self, username: &str, client_id: &str) -> Option<Claims> {
        let user = self.realm.user(username)?;
        let client = self.realm.client(client_id)?;
        Some(self.user_claims(&user, client, Target::Access))
    }

    fn apply_mappers(&self, c: &mut Claims, user: Option<&User>, client: &Client, target: Target) {
        for m in &client.mappers {
            let wanted = match target {
                Target::Access => m.access_token,
                Target::Id => m.id_token,
                Target::Userinfo => m.userinfo,
            };
            if !wanted {
                continue;
            }
            match m.kind {
                MapperKind::HardcodedClaim => {
                    if let (Some(claim), Some(value)) = (&m.claim, &m.value) {
                        c.insert(claim.clone(), value.clone());
                    }
                }
                MapperKind::UserAttribute => {
                    let value =
                        user.and_then(|u| m.attribute.as_ref().and_then(|a| u.attributes.get(a)));
                    if let (Some(claim), Some(value)) = (&m.claim, value) {
                        c.insert(claim.clone(), value.clone());
                    }
                }
                MapperKind::Groups => {
                    if let Some(user) = user {
                        let groups: Vec<String> = user
                            .groups
                            .iter()
                            .map(|g| {
                                if m.full_path {
                                    format!("/{g}")
                                } else {
                                    g.clone()
                                }
                            })
                            .collect();
                        c.insert(
                            m.claim.clone().unwrap_or_else(|| "groups".into()),
                            json!(groups),
                        );
                    }
                }
                // Audiences only shape `aud` of access tokens (see `access_audience`).
                MapperKind::Audience => {}
            }
        }
    }

    fn access_audience(&self, client: &Client) -> Value {
        let mut aud = vec![client.id.clone()];
        for m in &client.mappers {
            if m.kind == MapperKind::Audience
                && m.access_token
                && let Some(a) = &m.audience
                && !aud.contains(a)
            {
                aud.push(a.clone());
            }
        }
        audience_value(aud)
    }

    fn header(&self) -> Header {
        let mut header = Header::new(self.signing.algorithm);
        header.kid = Some(self.signing.kid.clone());
        header.typ = Some("JWT".into());
        header
    }

    pub fn sign(&self, claims: &Claims) -> String {
        self.signing.sign_jwt(&self.header(), claims)
    }

    /// Mints the access token, and the ID token when `openid` was granted.
    pub fn mint(&self, req: &TokenRequest<'_>) -> (String, Option<String>, u64) {
        let now = self.clock.secs();
        let lifespan = self.access_token_lifespan(req.client);
        let mut access = Claims::new();
        access.insert("exp".into(), json!(now + lifespan));
        access.insert("iat".into(), json!(now));
        if let Some(t) = req.auth_time {
            access.insert("auth_time".into(), json!(t));
        }
        access.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
        access.insert("iss".into(), json!(self.issuer));
        access.insert("aud".into(), self.access_audience(req.client));
        access.insert("typ".into(), json!("Bearer"));
        access.insert("azp".into(), json!(req.client.id));
        if let Some(sid) = req.sid {
            access.insert("sid".into(), json!(sid));
            access.insert("session_state".into(), json!(sid));
        }
        access.insert("acr".into(), json!("1"));
        access.insert(
            "realm_access".into(),
            json!({"roles": [format!("default-roles-{}", self.realm.settings.name), "offline_access", "uma_authorization"]}),
        );
        access.insert("scope".into(), json!(req.scope));
        match req.subject {
            Subject::User(user) => {
                access.extend(self.user_claims(user, req.client, Target::Access))
            }
            Subject::Client => {
                let name = format!("service-account-{}", req.client.id);
                access.insert(
                    "sub".into(),
                    json!(super::realm::stable_subject(
                        &self.realm.settings.name,
                        &name
                    )),
                );
                access.insert("preferred_username".into(), json!(name));
                access.insert("clientId".into(), json!(req.client.id));
                self.apply_mappers(&mut access, None, req.client, Target::Access);
            }
        }
        let access_token = self.sign(&access);

        let id_token = match req.subject {
            Subject::User(user) if req.scope.split(' ').any(|s| s == "openid") => {
                let mut id = Claims::new();
                id.insert("exp".into(), json!(now + lifespan));
                id.insert("iat".into(), json!(now));
                if let Some(t) = req.auth_time {
                    id.insert("auth_time".into(), json!(t));
                }
                id.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
                id.insert("iss".into(), json!(self.issuer));
                id.insert("aud".into(), json!(req.client.id));
                id.insert("typ".into(), json!("ID"));
                id.insert("azp".into(), json!(req.client.id));
                if let Some(nonce) = req.nonce {
                    id.insert("nonce".into(), json!(nonce));
                }
                if let Some(sid) = req.sid {
                    id.insert("sid".into(), json!(sid));
                    id.insert("session_state".into(), json!(sid));
                }
                id.insert("at_hash".into(), json!(at_hash(&access_token)));
                id.insert("acr".into(), json!("1"));
                id.extend(self.user_claims(user, req.client, Target::Id));
                Some(self.sign(&id))
            }
            _ => None,
        };
        (access_token, id_token, lifespan)
    }

    /// An ID token this issuer signed, expired or not (RP-initiated logout accepts both).
    pub fn decode_id_token_hint(&self, token: &str) -> Result<Claims, InvalidHint> {
        let mut validation = Validation::new(self.signing.algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.validate_aud = false;
        validation.validate_exp = false;
        validation.set_required_spec_claims::<&str>(&[]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.signing.decoding, &validation)
            .map_err(InvalidHint)?;
        Ok(data.claims)
    }

    pub(super) fn sign_refresh(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.refresh_key.encoding,
        )
        .expect("HS256 signing")
    }

    pub(super) fn decode_refresh(&self, token: &str) -> Result<Claims, RefreshTokenError> {
        let data = jsonwebtoken::decode::<Claims>(
            token,
            &self.refresh_key.decoding,
            &rules(Algorithm::HS256, &self.issuer),
        )
        .map_err(RefreshTokenError::Jwt)?;
        check_window(&data.claims, self.clock.secs()).map_err(RefreshTokenError::Window)?;
        match data.claims.get("typ").and_then(Value::as_str) {
            Some("Refresh") => Ok(data.claims),
            _ => Err(RefreshTokenError::NotRefresh),
        }
    }
}

/// An `id_token_hint` this issuer did not sign, or not for this issuer.
#[derive(Debug, thiserror::Error)]
#[error("invalid id_token_hint: {0}")]
pub struct InvalidHint(#[source] jsonwebtoken::errors::Error);

/// Why a refresh token does not decode.
#[derive(Debug, thiserror::Error)]
pub enum RefreshTokenError {
    #[error("{0}")]
    Jwt(#[source] jsonwebtoken::errors::Error),
    #[error("{0}")]
    Window(#[source] VerifyError),
    #[error("not a refresh token")]
    NotRefresh,
}

/// The rules every token check follows (access, STS and Vault login tokens, from this issuer
/// or an external one, and refresh tokens): the signature and `iss`, with `exp`, `iss` and
/// `sub` required. The validity window is checked by [`check_window`] against the platform's
/// clock, not jsonwebtoken's.
fn rules(algorithm: Algorithm, issuer: &str) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    validation
}

/// `exp` and `nbf` against `now`, with no leeway (JWT times have one-second resolution): a
/// token is valid from `nbf` up to and including `exp`.
fn check_window(claims: &Claims, now: u64) -> Result<(), VerifyError> {
    let time = |name: &str| claims.get(name).and_then(Value::as_u64);
    if time("exp").is_none_or(|exp| exp < now) {
        return Err(VerifyError::Expired);
    }
    if time("nbf").is_some_and(|nbf| nbf > now) {
        return Err(VerifyError::NotYetValid);
    }
    Ok(())
}

/// Checks a token signed by one of `keys` under [`rules`] and [`check_window`] at `now`: the
/// one path every bearer and identity token goes through.
pub fn verify_signed(
    token: &str,
    issuer: &str,
    keys: &[VerifyKey],
    now: u64,
) -> Result<Claims, VerifyError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| VerifyError::Invalid("malformed token".into()))?;
    let kid = header
        .kid
        .ok_or_else(|| VerifyError::Invalid("the token has no kid".into()))?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid && k.algorithm == header.alg)
        .ok_or(VerifyError::UnknownKey)?;
    let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &rules(key.algorithm, issuer))
        .map_err(|e| VerifyError::Invalid(format!("token rejected: {e}")))?
        .claims;
    check_window(&claims, now)?;
    Ok(claims)
}

/// The `iss` a token claims, read without verification (to pick the keys to verify it with).
pub fn claimed_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// Left half of SHA-256 of the access token, base64url (OIDC Core 3.1.3.6).
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_grant() {
        assert_eq!(
            granted_scope(Some("openid email bogus")),
            "openid profile email"
        );
        assert_eq!(granted_scope(None), "profile email");
        assert_eq!(
            granted_scope(Some("groups openid")),
            "openid profile email groups"
        );
    }
}
