//! The account page at Keycloak's path (`/realms/{realm}/account`), where onyxia-web's
//! "Account management" link goes: the profile, a password change (the current password, then
//! a new one; the user's other sessions end), "sign out everywhere", and a link back to the
//! application when `referrer_uri` is a registered redirect of the `referrer` client.
//!
//! Forms are protected by a token derived from the session cookie, and by the `Origin` header
//! when the browser sends one.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use sha2::{Digest, Sha256};

use super::authorize::{SESSION_COOKIE, cookie, signed_in};
use super::form::Params;
use super::pages::{self, escape};
use super::{OidcState, read_form};
use crate::identity::LoginError;
use crate::identity::account::PasswordChangeError;
use crate::identity::records::Session;

/// What the page says above its forms.
enum Notice {
    None,
    Done(String),
    Problem(String),
}

/// The token a signed-in form must carry: bound to the session cookie's secret.
fn form_token(cookie: &str) -> String {
    hex::encode(&Sha256::digest(format!("account-form:{cookie}"))[..16])
}

fn page_path(state: &OidcState, uri: &Uri) -> String {
    match uri.query() {
        Some(q) => format!("{}/account?{q}", state.realm_path()),
        None => format!("{}/account", state.realm_path()),
    }
}

/// The link back to the application, when the query names a client and one of its redirects.
/// Rendered as a paragraph; empty when there is none.
fn back_link(state: &OidcState, uri: &Uri) -> String {
    let target = (|| {
        let query = Params::parse(uri.query().unwrap_or_default().as_bytes()).ok()?;
        let client = state.identity.realm.client(query.get("referrer")?)?;
        let target = query.get("referrer_uri")?;
        client.redirect_allowed(target).then(|| target.to_owned())
    })();
    target
        .map(|to| {
            format!(
                "<p><a href=\"{}\" id=\"back\">Back to the application</a></p>",
                escape(&to)
            )
        })
        .unwrap_or_default()
}

pub async fn account_get(
    State(state): State<Arc<OidcState>>,
    jar: CookieJar,
    uri: Uri,
) -> Response {
    match current(&state, &jar).await {
        Some((session, cookie)) => render(&state, &uri, &session, &cookie, Notice::None),
        None => sign_in(&state, &uri, None, StatusCode::OK),
    }
}

/// The session of the cookie and the cookie's value.
async fn current(state: &OidcState, jar: &CookieJar) -> Option<(Session, String)> {
    let cookie = jar.get(SESSION_COOKIE)?.value().to_owned();
    let session = signed_in(state, cookie.clone()).await?;
    Some((session, cookie))
}

/// The refusal of a cross-site form post, if this is one: browsers name the page that sent it.
fn cross_site_refusal(state: &OidcState, headers: &HeaderMap) -> Option<Response> {
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())?;
    (!state.identity.issuer.starts_with(&format!("{origin}/"))).then(|| {
        pages::error(
            StatusCode::FORBIDDEN,
            "The form was sent from another site.",
        )
    })
}

pub async fn account_login(
    State(state): State<Arc<OidcState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    if let Some(refused) = cross_site_refusal(&state, &headers) {
        return refused;
    }
    let form = match read_form(&state, &headers, body).await {
        Ok(form) => form,
        Err(e) => return pages::error(e.status, &e.description),
    };
    let username = form.get("username").unwrap_or_default().to_owned();
    let password = form.get("password").unwrap_or_default().to_owned();
    let user = match state.check_password(&username, password, peer.ip()).await {
        Ok(user) => user,
        Err(e) => {
            let (status, message) = pages::login_refusal(e);
            return sign_in(&state, &uri, Some(&message), status);
        }
    };
    match state.on_identity(move |i| i.open_session(&user)).await {
        Ok(Ok((_, session_cookie))) => {
            let jar = jar.add(cookie(&state, SESSION_COOKIE, session_cookie));
            (jar, Redirect::to(&page_path(&state, &uri))).into_response()
        }
        Ok(Err(e)) => unavailable(&e),
        Err(e) => unavailable(&e),
    }
}

fn unavailable(e: &dyn std::error::Error) -> Response {
    tracing::error!(error = %e, "account page: cannot reach the session store");
    pages::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "The server cannot store sessions right now.",
    )
}

/// Reads a signed-in form: the session, its cookie and the fields, or the answer to give.
async fn signed_in_form(
    state: &OidcState,
    jar: &CookieJar,
    uri: &Uri,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<(Session, String, Params), Response> {
    if let Some(refused) = cross_site_refusal(state, headers) {
        return Err(refused);
    }
    let Some((session, cookie)) = current(state, jar).await else {
        return Err(sign_in(state, uri, None, StatusCode::UNAUTHORIZED));
    };
    let form = read_form(state, headers, body)
        .await
        .map_err(|e| pages::error(e.status, &e.description))?;
    if form.get("token") != Some(form_token(&cookie).as_str()) {
        return Err(pages::error(
            StatusCode::FORBIDDEN,
            "The form could not be verified. Reload the page and try again.",
        ));
    }
    Ok((session, cookie, form))
}

pub async fn change_password(
    State(state): State<Arc<OidcState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let (session, cookie, form) = match signed_in_form(&state, &jar, &uri, &headers, body).await {
        Ok(parts) => parts,
        Err(answer) => return answer,
    };
    let current_password = form.get("password").unwrap_or_default().to_owned();
    let new = form.get("password-new").unwrap_or_default().to_owned();
    if form.get("password-confirm") != Some(new.as_str()) {
        let notice = Notice::Problem("The new passwords do not match.".into());
        return with_status(
            StatusCode::BAD_REQUEST,
            render(&state, &uri, &session, &cookie, notice),
        );
    }
    let checked = state
        .check_password(&session.username, current_password.clone(), peer.ip())
        .await;
    if let Err(e) = checked {
        let (status, message) = match e {
            LoginError::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "The current password is not right.".to_owned(),
            ),
            other => pages::login_refusal(other),
        };
        return with_status(
            status,
            render(&state, &uri, &session, &cookie, Notice::Problem(message)),
        );
    }
    let (username, sid) = (session.username.clone(), session.sid.clone());
    let changed = state
        .on_identity(move |i| {
            i.set_password(&username, &current_password, &new)?;
            i.end_sessions_of(&username, Some(&sid))?;
            Ok::<_, PasswordChangeError>(())
        })
        .await;
    match changed {
        Ok(Ok(())) => {
            tracing::info!(user = %session.username, "password changed on the account page");
            let notice =
                Notice::Done("Your password was changed. Your other sessions were ended.".into());
            render(&state, &uri, &session, &cookie, notice)
        }
        Ok(Err(PasswordChangeError::Store(e))) => unavailable(&e),
        Ok(Err(refused)) => {
            let notice = Notice::Problem(refused.to_string());
            with_status(
                StatusCode::BAD_REQUEST,
                render(&state, &uri, &session, &cookie, notice),
            )
        }
        Err(e) => unavailable(&e),
    }
}

pub async fn sign_out_everywhere(
    State(state): State<Arc<OidcState>>,
    jar: CookieJar,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let (session, _, _) = match signed_in_form(&state, &jar, &uri, &headers, body).await {
        Ok(parts) => parts,
        Err(answer) => return answer,
    };
    let username = session.username.clone();
    match state
        .on_identity(move |i| i.end_sessions_of(&username, None))
        .await
    {
        Ok(Ok(ended)) => {
            tracing::info!(user = %session.username, sessions = ended, "signed out everywhere");
            let back = back_link(&state, &uri);
            let body = format!(
                "<h1>You are signed out everywhere</h1>\
                 <p class=\"sub\">Every session of {} has ended, on every device.</p>{back}",
                escape(&session.username)
            );
            let jar = jar.remove(cookie(&state, SESSION_COOKIE, String::new()));
            (jar, Html(pages::layout("Signed out", &body))).into_response()
        }
        Ok(Err(e)) => unavailable(&e),
        Err(e) => unavailable(&e),
    }
}

fn with_status(status: StatusCode, mut response: Response) -> Response {
    *response.status_mut() = status;
    response
}

fn sign_in(state: &OidcState, uri: &Uri, error: Option<&str>, status: StatusCode) -> Response {
    let action = match uri.query() {
        Some(q) => format!("{}/account/login?{q}", state.realm_path()),
        None => format!("{}/account/login", state.realm_path()),
    };
    let form = pages::LoginForm {
        realm_title: &state.identity.realm.settings.display_name,
        client_name: "your account",
        action: &action,
        csrf: "",
        username: "",
        error,
    };
    pages::login(&form, status)
}

fn render(
    state: &OidcState,
    uri: &Uri,
    session: &Session,
    cookie: &str,
    notice: Notice,
) -> Response {
    let Some(user) = state.identity.realm.user(&session.username) else {
        return sign_in(state, uri, None, StatusCode::UNAUTHORIZED);
    };
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let base = format!("{}/account", state.realm_path());
    let token = form_token(cookie);
    let notice = match notice {
        Notice::None => String::new(),
        Notice::Done(text) => format!(
            "<div class=\"done\" role=\"status\" id=\"account-done\">{}</div>",
            escape(&text)
        ),
        Notice::Problem(text) => format!(
            "<div class=\"error\" role=\"alert\" id=\"account-error\">{}</div>",
            escape(&text)
        ),
    };
    let back = back_link(state, uri);
    let groups = if user.groups.is_empty() {
        "none".to_owned()
    } else {
        user.groups.join(", ")
    };
    let row =
        |label: &str, value: &str| format!("<dt>{}</dt><dd>{}</dd>", escape(label), escape(value));
    let body = format!(
        "<h1>Your account</h1>{back}{notice}\
         <dl id=\"profile\">{}{}{}{}</dl>\
         <h2>Change password</h2>\
         <form method=\"post\" action=\"{base}/password{query}\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <input type=\"text\" name=\"username\" value=\"{user_attr}\" autocomplete=\"username\" hidden>\
         <label for=\"password\">Current password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
         <label for=\"password-new\">New password</label>\
         <input type=\"password\" id=\"password-new\" name=\"password-new\" autocomplete=\"new-password\" minlength=\"{min}\" required>\
         <label for=\"password-confirm\">New password, again</label>\
         <input type=\"password\" id=\"password-confirm\" name=\"password-confirm\" autocomplete=\"new-password\" minlength=\"{min}\" required>\
         <button type=\"submit\" id=\"change-password\">Change password</button></form>\
         <h2>Sessions</h2>\
         <form method=\"post\" action=\"{base}/sign-out-everywhere{query}\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <button type=\"submit\" id=\"sign-out-everywhere\">Sign out everywhere</button></form>",
        row("Username", &user.username),
        row("Name", user.full_name().as_deref().unwrap_or("")),
        row("Email", user.email.as_deref().unwrap_or("")),
        row("Groups", &groups),
        base = escape(&base),
        query = escape(&query),
        user_attr = escape(&user.username),
        min = crate::identity::account::MIN_PASSWORD_CHARS,
    );
    let mut response = Html(pages::layout("Your account", &body)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}
