//! The Onyxia API (what onyxia-web 5.5 calls on onyxia-api 4.12) under `/api`: public
//! configuration, catalogs and schemas, user info, and the `/my-lab` service endpoints.
//!
//! Wire rules the web depends on: no `null` anywhere (absent fields are omitted), "no schema"
//! is an empty 200, errors are `application/problem+json`.

mod catalogs;
mod class;
mod class_limits;
mod lab;
pub mod region;
mod user;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use crate::identity::verifier::Verifier;
use crate::services::{Lab, LabError};
pub use region::RegionSettings;
pub use user::{ApiUser, Project};

pub struct OnyxiaState {
    pub lab: Arc<Lab>,
    /// Checks bearer tokens (the external issuer's when one is configured, else the
    /// embedded one's).
    pub verifier: Arc<Verifier>,
    /// Class limits and personal buckets.
    pub classroom: Arc<crate::classes::Classroom>,
    /// Regions as configured (the first is the default).
    pub regions: Vec<Value>,
    /// `oidcConfiguration` of `/public/configuration`.
    pub oidc: Value,
    pub started_secs: u64,
}

/// The API's routes, relative to its base path (mounted at `/api`).
pub fn router(state: Arc<OnyxiaState>) -> Router {
    Router::new()
        .route("/public/configuration", get(region::configuration))
        .route("/public/regions", get(region::regions))
        .route("/public/ip", get(user::ip))
        .route("/public/healthcheck", get(healthcheck))
        .route("/public/catalogs", get(catalogs::public_catalogs))
        .route("/my-lab/catalogs", get(catalogs::my_catalogs))
        .route(
            "/my-lab/catalogs/{catalog}/charts/{chart}",
            get(catalogs::chart_versions),
        )
        .route(
            "/my-lab/schemas/{catalog}/charts/{chart}/versions/{version}",
            get(catalogs::chart_schema),
        )
        .route("/user/info", get(user::info))
        .route("/onboarding", post(user::onboarding))
        .route("/profile/schema", get(empty_ok))
        .route(
            "/my-lab/app",
            put(lab::install)
                .get(lab::get_service)
                .delete(lab::uninstall),
        )
        .route("/my-lab/services", get(lab::list_services))
        .route("/my-lab/app/rename", post(lab::rename))
        .route("/my-lab/app/share", post(lab::share))
        .route("/my-lab/app/suspend", post(lab::suspend))
        .route("/my-lab/app/resume", post(lab::resume))
        .route("/my-lab/app/extend", post(lab::extend))
        .route("/my-lab/app/logs", get(lab::logs))
        .route("/my-lab/events", get(lab::events))
        .route("/my-lab/quota", get(lab::quota))
        .route("/class/import", post(class::import))
        .route("/class/limits", get(class_limits::list))
        .route("/class/report", get(class::report))
        .route("/class/reset", post(class::reset))
        .route(
            "/class/limits/{kind}/{name}",
            put(class_limits::put).delete(class_limits::delete),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn(errors_as_problems))
        .with_state(state)
}

/// Parses a JSON body whatever its `Content-Type` says, answering 400 in problem form when it
/// is not what is expected.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(body)
        .map_err(|e| Problem::bad_request(format!("malformed JSON body: {e}")))
}

/// Every error the API answers is `application/problem+json`, whoever produced it: what a
/// handler did not shape (the body limit's 413, the router's 405) is shaped here, keeping the
/// status and the headers that go with it.
async fn errors_as_problems(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    if is_problem || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let title = status.canonical_reason().unwrap_or("Error");
    let detail = if text.is_empty() {
        title.to_owned()
    } else {
        text
    };
    let mut problem = Problem::new(status, title, detail).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    problem
}

async fn healthcheck() -> StatusCode {
    // Catalogs are loaded before the listener serves: once answering, they are loaded.
    StatusCode::OK
}

/// "Nothing here" as onyxia-api says it: 200 with an empty body.
async fn empty_ok() -> StatusCode {
    StatusCode::OK
}

async fn not_found() -> Response {
    Problem::new(StatusCode::NOT_FOUND, "Not Found", "no such API endpoint").into_response()
}

/// An RFC 9457 problem, as Spring's ProblemDetail writes it.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    title: String,
    detail: String,
    errors: Vec<String>,
}

impl Problem {
    pub fn new(status: StatusCode, title: &str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            title: title.to_owned(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, "Bad Request", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::FORBIDDEN, "Access denied", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "Not Found", detail)
    }

    /// A failure of the platform, never of the client: logged, its text kept out of the answer.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "API request failed");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "internal error; see the server log",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if !self.errors.is_empty() {
            body["errors"] = json!(self.errors);
        }
        let mut response = (self.status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<LabError> for Problem {
    fn from(e: LabError) -> Self {
        match e {
            LabError::NotFound(m) => Problem::not_found(m),
            LabError::BadRequest(m) => Problem::bad_request(m),
            LabError::Validation(errors) => Problem {
                status: StatusCode::BAD_REQUEST,
                title: "Validation failed".into(),
                detail: errors.join("; "),
                errors,
            },
            LabError::Conflict(m) => Problem::new(StatusCode::CONFLICT, "Conflict", m),
            LabError::Forbidden(m) => Problem::new(StatusCode::FORBIDDEN, "Forbidden", m),
            LabError::QuotaExceeded(m) => {
                Problem::new(StatusCode::FORBIDDEN, "Quota exceeded", m.to_string())
            }
            LabError::NoRuntime(m) => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "No runtime", m)
            }
            LabError::Engine(m) => {
                tracing::warn!(error = %m, "runtime error");
                Problem::new(StatusCode::BAD_GATEWAY, "Runtime error", m)
            }
            LabError::Schema(e) => {
                tracing::error!(error = %crate::markup::chain(&e), "a package's schema does not compile");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    "the package's launcher schema is invalid; see the server log",
                )
            }
            LabError::Internal(m) => {
                tracing::error!(error = %m, "lab operation failed");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    "internal error; see the server log",
                )
            }
            LabError::Store(e) => {
                tracing::error!(error = %e, "store error");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    "the database failed; see the server log",
                )
            }
            LabError::Blocking(e) => {
                tracing::error!(error = %e, "lab operation did not finish");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    "internal error; see the server log",
                )
            }
        }
    }
}

/// JSON with the content type Spring sends.
pub fn json_response(value: &Value) -> Response {
    let mut response = (StatusCode::OK, value.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
