//! Enrolment by a teacher on a running platform (an onyxia-lite extension of the API):
//! `POST /api/class/import[?prune=true]` with a CSV class list, for users in `teachers`. The
//! list is read and checked as `onyxia-lite class import` reads it; a teacher may not name the
//! platform's own accounts or teachers, and their prune reaches only the groups their list
//! names. The answer is the import's report, generated one-time passwords included (once).
//! `GET /api/class/report` answers the usage report (JSON or CSV).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::user::{ApiUser, authenticate};
use super::{OnyxiaState, Problem, json_response};
use crate::identity::enrol::{self, Prune, TEACHERS};
use crate::services::LabError;

#[derive(Debug, Default, Deserialize)]
pub struct ImportQuery {
    #[serde(default)]
    prune: bool,
}

/// The caller, when they are a teacher.
pub async fn require_teacher(state: &OnyxiaState, headers: &HeaderMap) -> Result<ApiUser, Problem> {
    let user = authenticate(state, headers).await?;
    if !user.groups.iter().any(|g| g == TEACHERS) {
        return Err(Problem::forbidden(format!(
            "managing a class is for members of `{TEACHERS}`"
        )));
    }
    Ok(user)
}

pub async fn import(
    State(state): State<Arc<OnyxiaState>>,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let user = require_teacher(&state, &headers).await?;
    if state.verifier.external_issuer().is_some() {
        return Err(Problem::new(
            axum::http::StatusCode::CONFLICT,
            "Conflict",
            "users are managed by the external issuer",
        ));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| Problem::bad_request("the class list is not UTF-8 text"))?;
    let members = enrol::parse_class_list(text).map_err(|e| Problem::bad_request(e.to_string()))?;
    let identity = state.verifier.identity().clone();
    let classroom = state.classroom.clone();
    let prune = if query.prune {
        Prune::ListedGroups
    } else {
        Prune::No
    };
    let outcome = crate::blocking::run(move || {
        let refused = identity.refused_for_teacher(&members)?;
        if !refused.is_empty() {
            return Ok(Err(refused));
        }
        let report = identity.import_class(&members, prune)?;
        // New members get their personal bucket, and their groups' limits apply to it.
        classroom.sync()?;
        Ok(Ok(report))
    })
    .await
    .map_err(|e| Problem::from(LabError::Blocking(e)))?
    .map_err(|e: crate::objects::ObjectError| Problem::internal(&e))?;
    let report = outcome.map_err(|refused| Problem::forbidden(refused.join("; ")))?;
    tracing::info!(
        teacher = %user.username,
        added = report.added.len(),
        updated = report.updated.len(),
        disabled = report.disabled.len(),
        "class list imported"
    );
    let passwords: Vec<_> = report
        .passwords
        .iter()
        .map(|(username, password)| json!({ "username": username, "password": password }))
        .collect();
    Ok(super::json_response(&json!({
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "disabled": report.disabled,
        "passwords": passwords,
    })))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/class/report?since=30d&format=json|csv`: usage of every user and group for the
/// services launched since then (default: 30 days).
pub async fn report(
    State(state): State<Arc<OnyxiaState>>,
    Query(query): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    require_teacher(&state, &headers).await?;
    let now = state.lab.clock().millis();
    let since = crate::classes::report::parse_since(query.since.as_deref().unwrap_or("30d"), now)
        .map_err(Problem::bad_request)?;
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "format `{other}`: csv or json"
            )));
        }
    };
    let (classroom, meter) = (state.classroom.clone(), state.lab.meter.clone());
    let report = crate::blocking::run(move || classroom.report(&meter, since))
        .await
        .map_err(|e| Problem::internal(&e))?
        .map_err(|e| Problem::internal(&e))?;
    if csv {
        let mut response = crate::classes::report::to_csv(&report).into_response();
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        return Ok(response);
    }
    Ok(json_response(
        &serde_json::to_value(&report).map_err(|e| Problem::internal(&e))?,
    ))
}

/// `POST /api/class/reset` with a [`ResetPlan`](crate::classes::reset::ResetPlan) as JSON:
/// end of term for the enrolled students of some groups; with `"dryRun": true`, only what
/// would go.
pub async fn reset(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    use crate::classes::reset::{ResetError, ResetPlan};
    let teacher = require_teacher(&state, &headers).await?;
    let plan: ResetPlan = super::parse_body(&body)?;
    let report = state
        .classroom
        .reset(&state.lab, &plan)
        .await
        .map_err(|e| match e {
            ResetError::Plan(m) => Problem::bad_request(m),
            ResetError::Lab(e) => Problem::from(e),
            e => Problem::internal(&e),
        })?;
    tracing::info!(teacher = %teacher.username, groups = ?plan.groups, dry_run = plan.dry_run, students = report.students.len(), "class reset");
    Ok(json_response(
        &serde_json::to_value(&report).map_err(|e| Problem::internal(&e))?,
    ))
}
