//! OAuth 2.0 / OIDC errors as RFC 6749 §5.2 and RFC 6750 §3 shape them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// `WWW-Authenticate` value (401s), when the protocol asks for one.
    pub challenge: Option<String>,
    pub retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        let e = OAuthError {
            status,
            error,
            description: description.into(),
            challenge: None,
            retry_after: None,
        };
        tracing::debug!(error = e.error, description = %crate::markup::excerpt(&e.description), "oauth request refused");
        e
    }
    pub fn invalid_request(d: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d.to_string())
    }
    /// 401 with a Basic challenge when the client tried Basic auth (RFC 6749 §5.2).
    pub fn invalid_client(d: impl Into<String>, used_basic: bool) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "invalid_client", d);
        if used_basic {
            e.challenge = Some("Basic realm=\"onyxia-lite\"".into());
        }
        e
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", d)
    }
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", d)
    }
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            format!("request body exceeds {limit} bytes"),
        )
    }
    /// RFC 6750: a bad bearer token on a protected resource.
    pub fn invalid_token(d: impl Into<String>) -> Self {
        let d = d.into();
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "invalid_token", d.clone());
        e.challenge = Some(format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\"",
            d.replace('"', "'")
        ));
        e
    }
    pub fn server_error(d: impl std::fmt::Display) -> Self {
        tracing::error!(error = %d, "internal error in the issuer");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error, see the server log",
        )
    }
    pub fn realm_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Realm does not exist")
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        OAuthError::server_error(e)
    }
}

impl From<crate::blocking::BlockingError> for OAuthError {
    fn from(e: crate::blocking::BlockingError) -> Self {
        OAuthError::server_error(e)
    }
}
