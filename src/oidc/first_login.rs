//! Keycloak's "update password" required action: a user who signed in with a one-time
//! password (from a class enrolment) chooses their own before the login completes. The login
//! form's pending entry remembers the verified user; nothing else is granted until then.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum_extra::extract::CookieJar;

use super::{OidcState, authorize, pages};
use crate::identity::account::PasswordChangeError;
use crate::identity::realm::User;

fn action(state: &OidcState, request_id: &str) -> String {
    format!(
        "{}/login-actions/required-action?execution=UPDATE_PASSWORD&request={request_id}",
        state.realm_path()
    )
}

/// Remembers that this login proved `user`'s one-time password, and asks for a new one.
pub(super) fn ask_new_password(state: &OidcState, request_id: &str, user: Arc<User>) -> Response {
    let csrf = {
        let mut logins = crate::sync::lock(&state.logins);
        let Some(pending) = logins.get_mut(request_id) else {
            return pages::error(
                StatusCode::BAD_REQUEST,
                "Your login attempt timed out. Start again from the application.",
            );
        };
        pending.verified = Some(user);
        pending.csrf.clone()
    };
    pages::update_password(&action(state, request_id), &csrf, None, StatusCode::OK)
}

/// POST of the new password.
pub async fn update_password_submit(
    State(state): State<Arc<OidcState>>,
    jar: CookieJar,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (request_id, pending, form) =
        match authorize::read_login_form(&state, &jar, &uri, &headers, body).await {
            Ok(read) => read,
            Err(refused) => return refused,
        };
    let Some(user) = pending.verified.clone() else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "Your login attempt timed out. Start again from the application.",
        );
    };
    let new = form.get("password-new").unwrap_or_default().to_owned();
    let again = form.get("password-confirm").unwrap_or_default();
    let retry = |message: &str| {
        let action = action(&state, &request_id);
        pages::update_password(
            &action,
            &pending.csrf,
            Some(message),
            StatusCode::BAD_REQUEST,
        )
    };
    if new != again {
        return retry("Passwords don't match.");
    }
    let name = user.username.clone();
    let changed = state
        .on_identity(move |identity| identity.replace_temporary_password(&name, &new))
        .await;
    match changed {
        Ok(Ok(())) => {}
        Ok(Err(PasswordChangeError::Store(e))) => {
            tracing::error!(error = %e, "cannot store a password");
            return pages::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server cannot store passwords right now.",
            );
        }
        Ok(Err(refused)) => return retry(&refused.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "cannot store a password");
            return pages::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server cannot store passwords right now.",
            );
        }
    }
    crate::sync::lock(&state.logins).remove(&request_id);
    authorize::complete_login(&state, jar, &pending.request, user).await
}
