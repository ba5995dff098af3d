//! The authorization endpoint and the login form (code flow with PKCE).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::form::Params;
use super::{CodeGrant, MAX_PENDING, OidcState, PendingLogin, pages, query_params, read_form};
use crate::config::fixtures::Grant;
use crate::identity::records::Session;
use crate::identity::tokens::granted_scope;

const MAX_PARAM_LEN: usize = 2048;
pub const SESSION_COOKIE: &str = "ONYXIA_LITE_SESSION";
pub(super) const LOGIN_COOKIE: &str = "ONYXIA_LITE_LOGIN";

#[derive(Clone, Copy, PartialEq, Eq)]
enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// A validated authorization request.
#[derive(Clone)]
pub struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    /// Whether the client sent redirect_uri (then the token request must repeat it).
    redirect_uri_sent: bool,
    mode: ResponseMode,
    state: Option<String>,
    nonce: Option<String>,
    scope: String,
    code_challenge: Option<String>,
    login_hint: String,
}

/// Where the outcome goes, once the redirect URI is known to be registered.
struct Reply<'a> {
    redirect_uri: &'a str,
    mode: ResponseMode,
    state: Option<&'a str>,
}

impl Reply<'_> {
    fn send(&self, params: &[(&str, &str)]) -> Response {
        let mut all: Vec<(&str, &str)> = params.to_vec();
        if let Some(state) = self.state {
            all.push(("state", state));
        }
        match self.mode {
            ResponseMode::FormPost => pages::form_post(self.redirect_uri, &all),
            ResponseMode::Query => {
                let mut url =
                    url::Url::parse(self.redirect_uri).expect("registered redirect URIs parse");
                url.query_pairs_mut().extend_pairs(&all);
                Redirect::to(url.as_str()).into_response()
            }
            ResponseMode::Fragment => {
                let fragment = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&all)
                    .finish();
                let mut url =
                    url::Url::parse(self.redirect_uri).expect("registered redirect URIs parse");
                url.set_fragment(Some(&fragment));
                Redirect::to(url.as_str()).into_response()
            }
        }
    }

    fn error(&self, error: &str, description: &str) -> Response {
        tracing::debug!(error, description, "authorization request refused");
        self.send(&[("error", error), ("error_description", description)])
    }
}

pub async fn authorize_get(
    State(state): State<Arc<OidcState>>,
    jar: CookieJar,
    uri: Uri,
) -> Response {
    match query_params(&uri) {
        Ok(params) => authorize(&state, jar, params).await,
        Err(e) => pages::error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

pub async fn authorize_post(
    State(state): State<Arc<OidcState>>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match read_form(&state, &headers, body).await {
        Ok(params) => authorize(&state, jar, params).await,
        Err(e) => pages::error(e.status, &e.description),
    }
}

async fn authorize(state: &OidcState, jar: CookieJar, params: Params) -> Response {
    let identity = &state.identity;
    // Until the client and redirect URI are trusted, errors stay on this server's pages.
    let Some(client_id) = params.get("client_id") else {
        return pages::error(StatusCode::BAD_REQUEST, "Missing parameter: client_id");
    };
    let Some(client) = identity.realm.client(client_id) else {
        return pages::error(StatusCode::BAD_REQUEST, "Client not found.");
    };
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if client.redirect_allowed(uri) => uri.to_owned(),
        Some(_) => return pages::error(StatusCode::BAD_REQUEST, "Invalid parameter: redirect_uri"),
        None => return pages::error(StatusCode::BAD_REQUEST, "Missing parameter: redirect_uri"),
    };
    let mode = match params.get("response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("fragment") => ResponseMode::Fragment,
        // A form post to a non-web scheme would be a script injection vector.
        Some("form_post")
            if redirect_uri.starts_with("http://") || redirect_uri.starts_with("https://") =>
        {
            ResponseMode::FormPost
        }
        Some(_) => {
            return pages::error(StatusCode::BAD_REQUEST, "Invalid parameter: response_mode");
        }
    };
    let reply = Reply {
        redirect_uri: &redirect_uri,
        mode,
        state: params.get("state"),
    };
    // Values kept while the login form is pending are bounded, so requests cannot pile up memory.
    for name in ["state", "nonce", "login_hint", "scope"] {
        if params.get(name).is_some_and(|v| v.len() > MAX_PARAM_LEN) {
            return pages::error(
                StatusCode::BAD_REQUEST,
                &format!("Parameter {name} is longer than {MAX_PARAM_LEN} bytes"),
            );
        }
    }
    if params.get("response_type") != Some("code") {
        return match params.get("response_type") {
            None => reply.error("invalid_request", "Missing parameter: response_type"),
            Some(_) => reply.error(
                "unsupported_response_type",
                "Only response_type=code is supported",
            ),
        };
    }
    if !client.allows(Grant::AuthorizationCode) {
        return reply.error(
            "unauthorized_client",
            "Client is not allowed to initiate browser login",
        );
    }
    let code_challenge = match code_challenge(&params, client.public) {
        Ok(challenge) => challenge,
        Err((error, description)) => return reply.error(error, description),
    };
    let request = AuthRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.clone(),
        redirect_uri_sent: true,
        mode,
        state: params.get("state").map(str::to_owned),
        nonce: params.get("nonce").map(str::to_owned),
        scope: granted_scope(params.get("scope")),
        code_challenge,
        login_hint: params.get("login_hint").unwrap_or_default().to_owned(),
    };
    let prompt = params.get("prompt").unwrap_or_default();
    let max_age = params.get("max_age").and_then(|v| v.parse::<u64>().ok());
    let session = match jar.get(SESSION_COOKIE) {
        Some(cookie) if !prompt.split(' ').any(|p| p == "login") => {
            signed_in(state, cookie.value().to_owned()).await
        }
        _ => None,
    };
    if let Some(session) = session
        && max_age.is_none_or(|age| {
            state
                .identity
                .clock
                .secs()
                .saturating_sub(session.auth_time)
                <= age
        })
    {
        return issue_code(state, &request, &session);
    }
    if prompt.split(' ').any(|p| p == "none") {
        return reply.error("login_required", "The user is not signed in");
    }
    show_login(state, jar, request)
}

/// The PKCE challenge of a request (required of public clients, S256 only), or the OAuth
/// error and description to answer.
fn code_challenge(
    params: &Params,
    public: bool,
) -> Result<Option<String>, (&'static str, &'static str)> {
    match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, _) if public => Err((
            "invalid_request",
            "Missing parameter: code_challenge_method",
        )),
        (None, _) => Ok(None),
        (Some(c), Some("S256")) if c.len() == 43 && URL_SAFE_NO_PAD.decode(c).is_ok() => {
            Ok(Some(c.to_owned()))
        }
        (Some(_), Some("S256")) => Err(("invalid_request", "Invalid parameter: code_challenge")),
        (Some(_), _) => Err((
            "invalid_request",
            "Invalid parameter: code_challenge_method (only S256)",
        )),
    }
}

/// The live session a cookie names, touched (a redb write, on the blocking pool).
pub(super) async fn signed_in(state: &OidcState, cookie: String) -> Option<Session> {
    match state
        .on_identity(move |identity| identity.session_from_cookie(&cookie))
        .await
    {
        Ok(session) => session,
        Err(e) => {
            tracing::error!(error = %e, "cannot check a session cookie");
            None
        }
    }
}

fn random() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn show_login(state: &OidcState, jar: CookieJar, request: AuthRequest) -> Response {
    let id = random();
    // One CSRF value per browser, so logins started in two tabs both stay valid.
    let csrf = jar
        .get(LOGIN_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 43 && URL_SAFE_NO_PAD.decode(v).is_ok())
        .unwrap_or_else(random);
    let username = request.login_hint.clone();
    let client_name = client_title(state, &request.client_id);
    {
        let mut logins = crate::sync::lock(&state.logins);
        if logins.len() >= MAX_PENDING {
            let now = state.now_ms();
            logins.retain(|_, l| l.expires > now);
            if logins.len() >= MAX_PENDING {
                return pages::error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Too many sign-ins are in progress. Try again in a few minutes.",
                );
            }
        }
        logins.insert(
            id.clone(),
            PendingLogin {
                request,
                csrf: csrf.clone(),
                expires: state.now_ms() + super::LOGIN_FORM_LIFESPAN.as_millis() as u64,
                verified: None,
            },
        );
    }
    let action = format!(
        "{}/login-actions/authenticate?request={id}",
        state.realm_path()
    );
    let form = pages::LoginForm {
        realm_title: &state.identity.realm.settings.display_name,
        client_name: &client_name,
        action: &action,
        csrf: &csrf,
        username: &username,
        error: None,
    };
    let jar = jar.add(cookie(state, LOGIN_COOKIE, csrf.clone()));
    (jar, pages::login(&form, StatusCode::OK)).into_response()
}

fn client_title(state: &OidcState, client_id: &str) -> String {
    state
        .identity
        .realm
        .client(client_id)
        .and_then(|c| c.name.clone())
        .unwrap_or_else(|| client_id.to_owned())
}

pub(super) fn cookie(state: &OidcState, name: &'static str, value: String) -> Cookie<'static> {
    // Over https, SameSite=None lets silent renewal in an iframe of another site send the
    // session cookie (as Keycloak does); over plain http browsers require Lax.
    let same_site = if state.secure_cookies {
        SameSite::None
    } else {
        SameSite::Lax
    };
    Cookie::build((name, value))
        .path(format!("{}/", state.realm_path()))
        .http_only(true)
        .same_site(same_site)
        .secure(state.secure_cookies)
        .build()
}

fn issue_code(state: &OidcState, request: &AuthRequest, session: &Session) -> Response {
    let code = random();
    {
        let mut codes = crate::sync::lock(&state.codes);
        if codes.len() >= MAX_PENDING {
            let now = state.now_ms();
            codes.retain(|_, c| c.expires > now);
        }
        codes.insert(
            code.clone(),
            CodeGrant {
                spent: false,
                client_id: request.client_id.clone(),
                redirect_uri: request
                    .redirect_uri_sent
                    .then(|| request.redirect_uri.clone()),
                code_challenge: request.code_challenge.clone(),
                nonce: request.nonce.clone(),
                scope: request.scope.clone(),
                sid: session.sid.clone(),
                username: session.username.clone(),
                expires: state.now_ms() + state.code_lifespan.as_millis() as u64,
            },
        );
    }
    let reply = Reply {
        redirect_uri: &request.redirect_uri,
        mode: request.mode,
        state: request.state.as_deref(),
    };
    reply.send(&[
        ("code", &code),
        ("session_state", &session.sid),
        ("iss", &state.identity.issuer),
    ])
}

/// A POST to one of the login forms: its pending login (by the `request` query parameter, not
/// expired) and its fields, the CSRF value checked against the login cookie. A refusal is the
/// error page to answer.
pub(super) async fn read_login_form(
    state: &OidcState,
    jar: &CookieJar,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, PendingLogin, Params), Response> {
    let request_id = query_params(uri)
        .ok()
        .and_then(|q| q.get("request").map(str::to_owned))
        .unwrap_or_default();
    let pending = crate::sync::lock(&state.logins)
        .get(&request_id)
        .filter(|l| l.expires > state.now_ms())
        .cloned();
    let Some(pending) = pending else {
        return Err(pages::error(
            StatusCode::BAD_REQUEST,
            "Your login attempt timed out. Start again from the application.",
        ));
    };
    let form = read_form(state, headers, body)
        .await
        .map_err(|e| pages::error(e.status, &e.description))?;
    let cookie_csrf = jar.get(LOGIN_COOKIE).map(|c| c.value().to_owned());
    if form.get("csrf") != Some(pending.csrf.as_str())
        || cookie_csrf.as_deref() != Some(pending.csrf.as_str())
    {
        return Err(pages::error(
            StatusCode::FORBIDDEN,
            "The form could not be verified. Start again from the application.",
        ));
    }
    Ok((request_id, pending, form))
}

/// POST of the login form.
pub async fn login_submit(
    State(state): State<Arc<OidcState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (request_id, pending, form) =
        match read_login_form(&state, &jar, &uri, &headers, body).await {
            Ok(read) => read,
            Err(refused) => return refused,
        };
    let username = form.get("username").unwrap_or_default().to_owned();
    let password = form.get("password").unwrap_or_default().to_owned();
    let outcome = state.check_password(&username, password, peer.ip()).await;
    let user = match outcome {
        Ok(user) => user,
        Err(e) => {
            let (status, message) = pages::login_refusal(e);
            let action = format!(
                "{}/login-actions/authenticate?request={request_id}",
                state.realm_path(),
            );
            let client_name = client_title(&state, &pending.request.client_id);
            let page = pages::LoginForm {
                realm_title: &state.identity.realm.settings.display_name,
                client_name: &client_name,
                action: &action,
                csrf: &pending.csrf,
                username: &username,
                error: Some(&message),
            };
            return pages::login(&page, status);
        }
    };
    let id = request_id;
    let name = user.username.clone();
    match state
        .on_identity(move |identity| identity.password_is_temporary(&name))
        .await
    {
        Ok(Ok(false)) => {}
        Ok(Ok(true)) => return super::first_login::ask_new_password(&state, &id, user),
        Ok(Err(e)) => return unavailable(&e),
        Err(e) => return unavailable(&e),
    }
    crate::sync::lock(&state.logins).remove(&id);
    complete_login(&state, jar, &pending.request, user).await
}

fn unavailable(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "cannot read or store login state");
    pages::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "The server cannot store sessions right now.",
    )
}

/// Ends a login whose user is known: a new SSO session, and the code for the client.
pub(super) async fn complete_login(
    state: &OidcState,
    jar: CookieJar,
    request: &AuthRequest,
    user: Arc<crate::identity::realm::User>,
) -> Response {
    let opened = state
        .on_identity(move |identity| identity.open_session(&user))
        .await;
    let (session, session_cookie) = match opened {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return unavailable(&e),
        Err(e) => return unavailable(&e),
    };
    let jar = jar
        .remove(cookie(state, LOGIN_COOKIE, String::new()))
        .add(cookie(state, SESSION_COOKIE, session_cookie));
    let mut response = issue_code(state, request, &session);
    response.headers_mut().remove(header::SET_COOKIE);
    (jar, response).into_response()
}

/// What presenting a code found.
pub(super) enum CodeUse {
    Fresh(CodeGrant),
    /// Presented before: the session it started is suspect.
    Spent {
        sid: String,
    },
    Unknown,
}

/// Spends a code (single use); the entry stays as a tombstone until it expires.
pub(super) fn take_code(state: &OidcState, code: &str) -> CodeUse {
    let mut codes = crate::sync::lock(&state.codes);
    match codes.get_mut(code) {
        None => CodeUse::Unknown,
        Some(grant) if grant.spent => CodeUse::Spent {
            sid: grant.sid.clone(),
        },
        Some(grant) => {
            grant.spent = true;
            CodeUse::Fresh(grant.clone())
        }
    }
}
