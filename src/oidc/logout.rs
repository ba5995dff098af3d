//! RP-initiated logout (end_session_endpoint) and the adapters' back-channel POST.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use serde_json::Value;

use super::authorize::SESSION_COOKIE;
use super::form::Params;
use super::{OidcState, client_auth, pages, query_params, read_form};

pub async fn logout_get(State(state): State<Arc<OidcState>>, jar: CookieJar, uri: Uri) -> Response {
    match query_params(&uri) {
        Ok(params) => logout(&state, jar, params, false).await,
        Err(e) => pages::error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

pub async fn logout_post(
    State(state): State<Arc<OidcState>>,
    jar: CookieJar,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let params = match read_form(&state, &headers, body).await {
        Ok(p) => p,
        Err(e) => return pages::error(e.status, &e.description),
    };
    // Keycloak adapters log out with refresh_token and client credentials: answer 204.
    if let Some(refresh) = params.get("refresh_token") {
        let client = match client_auth::authenticate(&state.identity, &headers, &params) {
            Ok(c) => c,
            Err(e) => return e.into_response(),
        };
        if let Some(sid) = state.identity.refresh_token_session(client, refresh)
            && let Err(e) = end_session(&state, sid).await
        {
            return e.into_response();
        }
        return StatusCode::NO_CONTENT.into_response();
    }
    let merged = match query_params(&uri) {
        Ok(q) if params.iter().next().is_none() => q,
        _ => params,
    };
    logout(&state, jar, merged, true).await
}

/// Ends a session and its refresh tokens; the redb write runs on the blocking pool.
async fn end_session(state: &OidcState, sid: String) -> Result<(), super::OAuthError> {
    Ok(state
        .on_identity(move |identity| identity.end_session(&sid))
        .await??)
}

async fn logout(state: &OidcState, jar: CookieJar, params: Params, posted: bool) -> Response {
    let identity = &state.identity;
    let hint = match params
        .get("id_token_hint")
        .map(|t| identity.decode_id_token_hint(t))
    {
        Some(Ok(claims)) if claims.get("typ").and_then(Value::as_str) == Some("ID") => Some(claims),
        Some(Ok(_)) => {
            return pages::error(StatusCode::BAD_REQUEST, "id_token_hint is not an ID token");
        }
        Some(Err(e)) => return pages::error(StatusCode::BAD_REQUEST, &e.to_string()),
        None => None,
    };
    let hint_client = hint
        .as_ref()
        .and_then(|c| c.get("azp").and_then(Value::as_str).map(str::to_owned));
    let client_id = match (params.get("client_id"), hint_client.as_deref()) {
        (Some(a), Some(b)) if a != b => {
            return pages::error(
                StatusCode::BAD_REQUEST,
                "client_id does not match the id_token_hint",
            );
        }
        (Some(a), _) => Some(a.to_owned()),
        (None, b) => b.map(str::to_owned),
    };
    let redirect = params.get("post_logout_redirect_uri");
    if let Some(uri) = redirect {
        let allowed = client_id
            .as_deref()
            .and_then(|id| identity.realm.client(id))
            .is_some_and(|c| c.post_logout_allowed(uri));
        if !allowed {
            return pages::error(StatusCode::BAD_REQUEST, "Invalid redirect uri");
        }
    }
    let hint_sid = hint
        .as_ref()
        .and_then(|c| c.get("sid").and_then(Value::as_str).map(str::to_owned));
    let cookie_sid = jar
        .get(SESSION_COOKIE)
        .and_then(|c| c.value().split_once('.').map(|(sid, _)| sid.to_owned()));
    // The hint proves the app's session; it may end the browser's session only when they are
    // the same one. Otherwise ask the user, so a stray link cannot sign anyone out.
    let hint_matches = hint_sid.is_some() && (cookie_sid.is_none() || cookie_sid == hint_sid);
    let confirmed = posted && params.get("confirm") == Some("yes");
    if !hint_matches && !confirmed {
        let action = format!("{}/protocol/openid-connect/logout", state.realm_path());
        let keep: Vec<(&str, &str)> = ["client_id", "post_logout_redirect_uri", "state"]
            .iter()
            .filter_map(|k| params.get(k).map(|v| (*k, v)))
            .collect();
        return pages::logout_confirm(&action, &keep);
    }
    let sid = if confirmed {
        cookie_sid.or(hint_sid)
    } else {
        hint_sid
    };
    if let Some(sid) = sid
        && let Err(e) = end_session(state, sid).await
    {
        return e.into_response();
    }
    let jar = jar.remove(
        Cookie::build(SESSION_COOKIE)
            .path(format!("{}/", state.realm_path()))
            .build(),
    );
    match redirect {
        Some(uri) => {
            let mut url = url::Url::parse(uri).expect("validated above");
            if let Some(s) = params.get("state") {
                url.query_pairs_mut().append_pair("state", s);
            }
            (jar, Redirect::to(url.as_str())).into_response()
        }
        None => (jar, pages::logged_out()).into_response(),
    }
}
