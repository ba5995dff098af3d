//! The token endpoint (authorization_code, refresh_token, password, client_credentials)
//! and token revocation (RFC 7009).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::authorize::{CodeUse, take_code};
use super::form::Params;
use super::{OAuthError, OidcState, client_auth, no_store, read_form};
use crate::config::fixtures::Grant;
use crate::identity::realm::Client;
use crate::identity::tokens::{TokenSet, granted_scope};
use crate::identity::{Identity, LoginError, RefreshError};

pub async fn token(
    State(state): State<Arc<OidcState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match grant(&state, peer, &headers, body).await {
        Ok(set) => no_store(Json(token_json(&set)).into_response()),
        Err(e) => e.into_response(),
    }
}

/// Runs an identity operation for `client` on the blocking pool: sessions and refresh tokens
/// are redb writes, and each commit fsyncs.
async fn for_client<T: Send + 'static>(
    state: &OidcState,
    client: &Client,
    op: impl FnOnce(&Identity, &Client) -> T + Send + 'static,
) -> Result<T, OAuthError> {
    let id = client.id.clone();
    let missing = format!("client {id} left the realm");
    state
        .on_identity(move |identity| {
            // The realm is fixed at start: the client authenticated above is still there.
            identity
                .realm
                .client(&id)
                .map(|client| op(identity, client))
        })
        .await?
        .ok_or_else(|| OAuthError::server_error(missing))
}

fn token_json(set: &TokenSet) -> serde_json::Value {
    let mut body = json!({
        "access_token": set.access_token,
        "expires_in": set.expires_in,
        "refresh_expires_in": set.refresh_expires_in,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "scope": set.scope,
    });
    let map = body.as_object_mut().expect("object literal");
    if let Some(t) = &set.refresh_token {
        map.insert("refresh_token".into(), json!(t));
    }
    if let Some(t) = &set.id_token {
        map.insert("id_token".into(), json!(t));
    }
    if let Some(s) = &set.session_state {
        map.insert("session_state".into(), json!(s));
    }
    body
}

async fn grant(
    state: &OidcState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<TokenSet, OAuthError> {
    let params = read_form(state, headers, body).await?;
    let identity = &state.identity;
    let client = client_auth::authenticate(identity, headers, &params)?;
    let grant_type = params
        .require("grant_type")
        .map_err(OAuthError::invalid_request)?;
    match grant_type {
        "authorization_code" => authorization_code(state, client, &params).await,
        "refresh_token" => {
            if !client.allows(Grant::RefreshToken) {
                return Err(OAuthError::unauthorized_client(
                    "Client is not allowed to refresh tokens",
                ));
            }
            let token = params
                .require("refresh_token")
                .map_err(OAuthError::invalid_request)?;
            let token = token.to_owned();
            for_client(state, client, move |identity, client| {
                identity.refresh(client, &token)
            })
            .await?
            .map_err(|e| match e {
                RefreshError::Store(e) => OAuthError::from(e),
                other => OAuthError::invalid_grant(other.to_string()),
            })
        }
        "password" => password(state, client, &params, peer).await,
        "client_credentials" => {
            if !client.allows(Grant::ClientCredentials) {
                return Err(OAuthError::unauthorized_client(
                    "Client not enabled to retrieve service account",
                ));
            }
            Ok(identity.issue_for_client(client, &granted_scope(params.get("scope"))))
        }
        other => Err(OAuthError::unsupported_grant_type(format!(
            "Unsupported grant_type: {other}"
        ))),
    }
}

async fn authorization_code(
    state: &OidcState,
    client: &Client,
    params: &Params,
) -> Result<TokenSet, OAuthError> {
    if !client.allows(Grant::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client(
            "Client is not allowed the authorization_code grant",
        ));
    }
    let code = params
        .require("code")
        .map_err(OAuthError::invalid_request)?;
    let grant = match take_code(state, code) {
        CodeUse::Fresh(grant) => grant,
        // RFC 6749 §4.1.2: a code used twice revokes what it granted.
        CodeUse::Spent { sid } => {
            tracing::warn!(sid, "authorization code reused; ending its session");
            state
                .on_identity(move |identity| identity.end_session(&sid))
                .await??;
            return Err(OAuthError::invalid_grant("Code not valid"));
        }
        CodeUse::Unknown => return Err(OAuthError::invalid_grant("Code not valid")),
    };
    if grant.expires <= state.now_ms() {
        return Err(OAuthError::invalid_grant("Code is expired"));
    }
    if grant.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "Code was issued to another client",
        ));
    }
    if let Some(expected) = &grant.redirect_uri
        && params.get("redirect_uri") != Some(expected.as_str())
    {
        return Err(OAuthError::invalid_grant("Incorrect redirect_uri"));
    }
    if grant.code_challenge.is_none() && params.get("code_verifier").is_some() {
        return Err(OAuthError::invalid_grant(
            "PKCE code verifier specified but challenge not present in authorization",
        ));
    }
    if let Some(challenge) = &grant.code_challenge {
        let verifier = params
            .get("code_verifier")
            .ok_or_else(|| OAuthError::invalid_grant("PKCE code verifier not specified"))?;
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if !well_formed {
            return Err(OAuthError::invalid_grant(
                "PKCE verification failed: Invalid code verifier",
            ));
        }
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if computed != *challenge {
            return Err(OAuthError::invalid_grant(
                "PKCE verification failed: Code mismatch",
            ));
        }
    }
    let identity = &state.identity;
    let session = identity
        .live_session(&grant.sid)
        .ok_or_else(|| OAuthError::invalid_grant("Session not active"))?;
    let user = identity
        .realm
        .user(&grant.username)
        .ok_or_else(|| OAuthError::invalid_grant("User not found"))?;
    Ok(for_client(state, client, move |identity, client| {
        identity.issue_for_user(
            client,
            &user,
            Some(&session),
            &grant.scope,
            grant.nonce.as_deref(),
        )
    })
    .await??)
}

async fn password(
    state: &OidcState,
    client: &Client,
    params: &Params,
    peer: SocketAddr,
) -> Result<TokenSet, OAuthError> {
    let identity = state.identity.clone();
    if !identity.password_grant_enabled || !client.allows(Grant::Password) {
        return Err(OAuthError::unauthorized_client(
            "Client not allowed for direct access grants",
        ));
    }
    let username = params
        .require("username")
        .map_err(OAuthError::invalid_request)?
        .to_owned();
    let password = params
        .require("password")
        .map_err(OAuthError::invalid_request)?
        .to_owned();
    let user = match state.check_password(&username, password, peer.ip()).await {
        Ok(user) => user,
        Err(LoginError::InvalidCredentials) => {
            return Err(OAuthError::invalid_grant("Invalid user credentials"));
        }
        Err(LoginError::Locked(wait)) => {
            let mut e = OAuthError::invalid_grant(format!(
                "Too many failed login attempts; try again in {} seconds",
                wait.as_secs().max(1)
            ));
            e.retry_after = Some(wait.as_secs().max(1));
            return Err(e);
        }
    };
    // A one-time password must first be replaced through the login page, as Keycloak's
    // required actions are.
    let name = user.username.clone();
    let temporary = state
        .on_identity(move |identity| identity.password_is_temporary(&name))
        .await
        .map_err(OAuthError::server_error)?
        .map_err(OAuthError::server_error)?;
    if temporary {
        return Err(OAuthError::invalid_grant("Account is not fully set up"));
    }
    let scope = granted_scope(params.get("scope"));
    Ok(for_client(state, client, move |identity, client| {
        let (session, _) = identity.open_session(&user)?;
        identity.issue_for_user(client, &user, Some(&session), &scope, None)
    })
    .await??)
}

/// RFC 7009: revoking an unknown or foreign token still answers 200.
pub async fn revoke(
    State(state): State<Arc<OidcState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let outcome = async {
        let params = read_form(&state, &headers, body).await?;
        let client = client_auth::authenticate(&state.identity, &headers, &params)?;
        let token = params
            .require("token")
            .map_err(OAuthError::invalid_request)?;
        let token = token.to_owned();
        for_client(&state, client, move |identity, client| {
            identity.revoke_refresh(client, &token)
        })
        .await??;
        Ok::<_, OAuthError>(())
    }
    .await;
    match outcome {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}
