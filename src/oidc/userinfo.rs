//! The userinfo endpoint (bearer token in the header, or `access_token` in a POST body).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{OAuthError, OidcState, no_store, read_form};
use crate::identity::tokens::Target;
use crate::identity::verifier::VerifyError;
use crate::markup::bearer_token;

pub async fn userinfo_get(State(state): State<Arc<OidcState>>, headers: HeaderMap) -> Response {
    respond(&state, bearer_token(&headers).map(str::to_owned))
}

pub async fn userinfo_post(
    State(state): State<Arc<OidcState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let token = match bearer_token(&headers).map(str::to_owned) {
        Some(t) => Some(t),
        None => match read_form(&state, &headers, body).await {
            Ok(form) => form.get("access_token").map(str::to_owned),
            Err(e) => return e.into_response(),
        },
    };
    respond(&state, token)
}

fn respond(state: &OidcState, token: Option<String>) -> Response {
    match userinfo(state, token) {
        Ok(claims) => no_store(Json(claims).into_response()),
        Err(e) => e.into_response(),
    }
}

fn userinfo(state: &OidcState, token: Option<String>) -> Result<Value, OAuthError> {
    let token = token.ok_or_else(|| OAuthError::invalid_token("Token not provided"))?;
    let identity = &state.identity;
    let claims = state
        .verifier
        .for_userinfo(&token)
        .map_err(|e| OAuthError::invalid_token(userinfo_refusal(&e)))?;
    let azp = claims
        .get("azp")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let client = identity
        .realm
        .client(azp)
        .ok_or_else(|| OAuthError::invalid_token("Token issued to an unknown client"))?;
    let username = claims
        .get("preferred_username")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match identity.realm.user(username) {
        Some(user) if claims.get("sub") == Some(&json!(user.sub)) => Ok(Value::Object(
            identity.user_claims(&user, client, Target::Userinfo),
        )),
        // Service-account tokens (client_credentials) describe the client itself.
        _ if claims.contains_key("clientId") => Ok(json!({
            "sub": claims.get("sub"),
            "preferred_username": username,
        })),
        _ => Err(OAuthError::invalid_token(
            "User of this token no longer exists",
        )),
    }
}

/// The refusal text userinfo has always sent (clients and log readers match on it).
fn userinfo_refusal(e: &VerifyError) -> String {
    match e {
        VerifyError::UnknownKey => "token was not signed by this issuer's key".into(),
        VerifyError::Expired => "invalid token: ExpiredSignature".into(),
        VerifyError::NotYetValid => "invalid token: ImmatureSignature".into(),
        other => other.to_string(),
    }
}
