//! Server-rendered pages of the issuer: login form, errors, logout.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

pub use crate::markup::escape;

const STYLE: &str = r#"
:root { color-scheme: light dark; --bg:#f4f6fb; --card:#fff; --fg:#1d2330; --muted:#5d6678; --accent:#2f5bea; --error:#b42318; --line:#d8dde8; --on-accent:#fff; }
@media (prefers-color-scheme: dark) { :root { --bg:#11141b; --card:#1b202b; --fg:#e8ebf2; --muted:#9aa3b5; --accent:#7c9cff; --error:#ff8a80; --line:#2d3444; --on-accent:#0b1020; } }
* { box-sizing: border-box; }
body { margin:0; min-height:100vh; display:grid; place-items:center; background:var(--bg); color:var(--fg);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { width:min(400px, 92vw); background:var(--card); border:1px solid var(--line); border-radius:14px; padding:32px;
  box-shadow: 0 10px 30px rgba(0,0,0,.08); }
.brand { display:flex; align-items:center; gap:10px; font-weight:650; font-size:18px; margin-bottom:20px; }
.brand span.dot { width:28px; height:28px; border-radius:8px; background:linear-gradient(135deg,var(--accent),#9b5cf6); }
h1 { font-size:22px; margin:0 0 6px; } p.sub { color:var(--muted); margin:0 0 22px; }
label { display:block; font-size:14px; font-weight:600; margin:14px 0 6px; }
input[type=text], input[type=password] { width:100%; padding:10px 12px; border-radius:8px; border:1px solid var(--line);
  background:transparent; color:inherit; font:inherit; }
input:focus-visible, button:focus-visible { outline:3px solid color-mix(in srgb, var(--accent) 45%, transparent); outline-offset:1px; }
button { margin-top:22px; width:100%; padding:11px; border:0; border-radius:8px; background:var(--accent); color:var(--on-accent);
  font:inherit; font-weight:600; cursor:pointer; }
.error { color:var(--error); background:color-mix(in srgb, var(--error) 10%, transparent); border-radius:8px; padding:10px 12px; margin-bottom:8px; }
footer { color:var(--muted); font-size:13px; margin-top:18px; text-align:center; }
h2 { font-size:17px; margin:26px 0 4px; }
.done { background:color-mix(in srgb, var(--accent) 12%, transparent); border-radius:8px; padding:10px 12px; margin-bottom:8px; }
dl { display:grid; grid-template-columns:auto 1fr; gap:4px 14px; margin:14px 0 0; } dt { color:var(--muted); } dd { margin:0; }
a { color:var(--accent); }
"#;

pub fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>\
         <div class=\"brand\"><span class=\"dot\" aria-hidden=\"true\"></span>onyxia-lite</div>{body}\
         </main></body></html>",
        escape(title)
    )
}

pub struct LoginForm<'a> {
    pub realm_title: &'a str,
    pub client_name: &'a str,
    pub action: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
}

pub fn login(form: &LoginForm<'_>, status: StatusCode) -> Response {
    let error = form
        .error
        .map(|e| {
            format!(
                "<div class=\"error\" role=\"alert\" id=\"login-error\">{}</div>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let autofocus_user = if form.username.is_empty() {
        " autofocus"
    } else {
        ""
    };
    let autofocus_pass = if form.username.is_empty() {
        ""
    } else {
        " autofocus"
    };
    let body = format!(
        "<h1>Sign in</h1><p class=\"sub\">to continue to {client} · {realm}</p>{error}\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"username\">Username or email</label>\
         <input type=\"text\" id=\"username\" name=\"username\" value=\"{user}\" autocomplete=\"username\" required{autofocus_user}>\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required{autofocus_pass}>\
         <button type=\"submit\" id=\"kc-login\">Sign in</button></form>\
         <footer>Your password is checked by this onyxia-lite server only.</footer>",
        client = escape(form.client_name),
        realm = escape(form.realm_title),
        action = escape(form.action),
        csrf = escape(form.csrf),
        user = escape(form.username),
    );
    (status, Html(layout("Sign in", &body))).into_response()
}

/// The page asking a user who signed in with a one-time password for their own.
pub fn update_password(
    action: &str,
    csrf: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let error = error
        .map(|e| {
            format!(
                "<div class=\"error\" role=\"alert\" id=\"input-error\">{}</div>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Update password</h1><p class=\"sub\">You signed in with a one-time password. \
         Choose your own to continue.</p>{error}\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"password-new\">New password</label>\
         <input type=\"password\" id=\"password-new\" name=\"password-new\" autocomplete=\"new-password\" minlength=\"{min}\" required autofocus>\
         <label for=\"password-confirm\">Confirm password</label>\
         <input type=\"password\" id=\"password-confirm\" name=\"password-confirm\" autocomplete=\"new-password\" required>\
         <button type=\"submit\" id=\"kc-update\">Set password and continue</button></form>",
        action = escape(action),
        csrf = escape(csrf),
        min = crate::identity::account::MIN_PASSWORD_CHARS,
    );
    (status, Html(layout("Update password", &body))).into_response()
}

/// What a sign-in form says when the password check refused.
pub fn login_refusal(e: crate::identity::LoginError) -> (StatusCode, String) {
    match e {
        crate::identity::LoginError::InvalidCredentials => (
            StatusCode::UNAUTHORIZED,
            "Invalid username or password.".to_owned(),
        ),
        crate::identity::LoginError::Locked(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed sign-in attempts. Try again in {} seconds.",
                wait.as_secs().max(1)
            ),
        ),
    }
}

/// A page for errors that cannot be sent back to the client (unknown client, bad redirect).
pub fn error(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>We are sorry…</h1><div class=\"error\" role=\"alert\">{}</div>\
         <footer>Go back to the application and try again.</footer>",
        escape(message)
    );
    (status, Html(layout("Error", &body))).into_response()
}

pub fn logout_confirm(action: &str, hidden: &[(&str, &str)]) -> Response {
    let fields: String = hidden
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let body = format!(
        "<h1>Sign out</h1><p class=\"sub\">Do you want to sign out of every application?</p>\
         <form method=\"post\" action=\"{}\">{fields}<input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <button type=\"submit\" id=\"kc-logout\">Sign out</button></form>",
        escape(action)
    );
    Html(layout("Sign out", &body)).into_response()
}

pub fn logged_out() -> Response {
    Html(layout(
        "Signed out",
        "<h1>You are signed out</h1><p class=\"sub\">You can close this page.</p>",
    ))
    .into_response()
}

/// `response_mode=form_post`: the browser posts the result to the client.
pub fn form_post(target: &str, params: &[(&str, &str)]) -> Response {
    let fields: String = params
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Submitting…</title></head>\
         <body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{}\">{fields}\
         <noscript><button type=\"submit\">Continue</button></noscript></form></body></html>",
        escape(target)
    ))
    .into_response()
}
