//! Class limits set by a teacher (an onyxia-lite extension of the API), for users in
//! `teachers`:
//!
//! - `GET /api/class/limits`: every limit, `{"groups": {name: limits}, "users": {name: limits}}`;
//! - `PUT /api/class/limits/groups/{group}` and `/users/{username}` with the limits as JSON
//!   (`{"cpu": "2", "memory": "4Gi", "services": 2, "s3Storage": "5Gi", "volumeStorage":
//!   "10Gi"}`, each optional; `{}` removes them); answers what is now set;
//! - `DELETE` on the same paths removes them (204).
//!
//! A teacher may not limit the `teachers` group, a teacher, or an account the operator made
//! (a fixture user): only groups and enrolled members of classes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::class::require_teacher;
use super::{OnyxiaState, Problem, json_response, parse_body};
use crate::classes::limits::{Limits, Scope};
use crate::identity::enrol::TEACHERS;

pub async fn list(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    require_teacher(&state, &headers).await?;
    let all = state.classroom.limits.all();
    Ok(json_response(
        &serde_json::to_value(all).map_err(|e| Problem::internal(&e))?,
    ))
}

/// The group or user a path names: `groups/{name}` or `users/{name}`.
fn scope(kind: &str, name: String) -> Result<Scope, Problem> {
    match kind {
        "groups" => Ok(Scope::Group(name)),
        "users" => Ok(Scope::User(name)),
        _ => Err(Problem::not_found("no such API endpoint")),
    }
}

pub async fn put(
    State(state): State<Arc<OnyxiaState>>,
    Path((kind, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let scope = scope(&kind, name)?;
    let limits: Limits = parse_body(&body)?;
    set(&state, &headers, scope, limits).await
}

pub async fn delete(
    State(state): State<Arc<OnyxiaState>>,
    Path((kind, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    set(&state, &headers, scope(&kind, name)?, Limits::default()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn set(
    state: &OnyxiaState,
    headers: &HeaderMap,
    scope: Scope,
    limits: Limits,
) -> Result<Response, Problem> {
    let teacher = require_teacher(state, headers).await?;
    limits
        .check()
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    let identity = state.verifier.identity().clone();
    match &scope {
        Scope::Group(group) if group == TEACHERS => {
            return Err(Problem::forbidden("teachers are limited by the operator"));
        }
        Scope::Group(group) if group.is_empty() || group.len() > 255 => {
            return Err(Problem::bad_request("a group name is 1 to 255 characters"));
        }
        Scope::User(username) => {
            if identity.realm.user(username).is_none() {
                return Err(Problem::not_found(format!("no user `{username}`")));
            }
            let name = username.clone();
            let refusal = crate::blocking::run(move || identity.refusal_for_teacher(&name, false))
                .await
                .map_err(|e| Problem::internal(&e))?
                .map_err(|e| Problem::internal(&e))?;
            if let Some(why) = refusal {
                return Err(Problem::forbidden(why));
            }
        }
        Scope::Group(_) => {}
    }
    let classroom = state.classroom.clone();
    let stored = limits.clone();
    let scope_for_log = format!("{scope:?}");
    crate::blocking::run(move || classroom.set_limits(&scope, stored))
        .await
        .map_err(|e| Problem::internal(&e))?
        .map_err(|e| Problem::internal(&e))?;
    tracing::info!(teacher = %teacher.username, scope = %scope_for_log, ?limits, "class limits set");
    Ok(json_response(
        &serde_json::to_value(&limits).map_err(|e| Problem::internal(&e))?,
    ))
}
