//! Discovery document, JWKS and the realm's public-key document.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::OidcState;

pub async fn openid_configuration(State(state): State<Arc<OidcState>>) -> Json<Value> {
    let iss = &state.identity.issuer;
    let ep = |p: &str| format!("{iss}/protocol/openid-connect/{p}");
    let alg = format!("{:?}", state.identity.signing.algorithm);
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": ep("auth"),
        "token_endpoint": ep("token"),
        "userinfo_endpoint": ep("userinfo"),
        "end_session_endpoint": ep("logout"),
        "jwks_uri": ep("certs"),
        "revocation_endpoint": ep("revoke"),
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "password"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [alg],
        "userinfo_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "roles", "web-origins", "groups"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "sid", "at_hash",
            "name", "given_name", "family_name", "preferred_username", "email", "email_verified", "groups"
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    }))
}

pub async fn jwks(State(state): State<Arc<OidcState>>) -> Json<Value> {
    Json(json!({ "keys": [state.identity.signing.jwk] }))
}

/// `GET /realms/{realm}`: what old Keycloak adapters read to find the realm's public key.
pub async fn realm_info(State(state): State<Arc<OidcState>>) -> Json<Value> {
    let identity = &state.identity;
    Json(json!({
        "realm": identity.realm.settings.name,
        "public_key": identity.signing.public_key_der_b64,
        "token-service": format!("{}/protocol/openid-connect", identity.issuer),
        "account-service": format!("{}/account", identity.issuer),
        "tokens-not-before": 0,
    }))
}

/// keycloak-js probes third-party cookies through these pages before it starts its session
/// iframe. Answering "unsupported" makes it skip the iframe (this issuer has none) instead of
/// waiting for a timeout.
pub async fn third_party_cookies() -> axum::response::Html<&'static str> {
    axum::response::Html(
        "<!doctype html><html><body><script>\
         window.parent.postMessage(\"unsupported\", \"*\");</script></body></html>",
    )
}
