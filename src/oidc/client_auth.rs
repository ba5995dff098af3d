//! Client authentication at the token and revocation endpoints:
//! `client_secret_basic`, `client_secret_post` and `none` (public clients).

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;

use super::OAuthError;
use super::form::Params;
use crate::identity::Identity;
use crate::identity::realm::Client;

const BAD_CLIENT: &str = "Invalid client or Invalid client credentials";

/// The authenticated client of a request.
pub fn authenticate<'a>(
    identity: &'a Identity,
    headers: &HeaderMap,
    params: &Params,
) -> Result<&'a Client, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    if let Some(encoded) = basic {
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                OAuthError::invalid_client("Malformed Basic authorization header", true)
            })?;
        let (raw_id, raw_secret) = decoded.split_once(':').ok_or_else(|| {
            OAuthError::invalid_client("Malformed Basic authorization header", true)
        })?;
        // RFC 6749 says to form-encode both parts first; many clients do not. Accept both.
        let id = percent_decode_str(raw_id).decode_utf8_lossy().into_owned();
        let client = identity
            .realm
            .client(&id)
            .or_else(|| identity.realm.client(raw_id))
            .ok_or_else(|| OAuthError::invalid_client(BAD_CLIENT, true))?;
        if let Some(body_id) = params.get("client_id")
            && body_id != client.id
        {
            return Err(OAuthError::invalid_request(
                "client_id does not match the authorization header",
            ));
        }
        let decoded_secret = percent_decode_str(raw_secret).decode_utf8_lossy();
        if client.public
            || client.secret_matches(raw_secret)
            || client.secret_matches(&decoded_secret)
        {
            return Ok(client);
        }
        return Err(OAuthError::invalid_client(BAD_CLIENT, true));
    }
    let id = params
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_client("Missing parameter: client_id", false))?;
    let client = identity
        .realm
        .client(id)
        .ok_or_else(|| OAuthError::invalid_client(BAD_CLIENT, false))?;
    if client.public {
        return Ok(client);
    }
    match params.get("client_secret") {
        Some(secret) if client.secret_matches(secret) => Ok(client),
        _ => Err(OAuthError::invalid_client(BAD_CLIENT, false)),
    }
}
