//! `/my-lab/app*`, `/my-lab/services`, `/my-lab/events` and `/my-lab/quota`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::region::RegionSettings;
use super::user::{ApiUser, Project, authenticate, project_of, region_of};
use super::{OnyxiaState, Problem, json_response, parse_body};
use crate::catalog::values;
use crate::classes::limits::Limits;
use crate::markup::rfc3339;
use crate::runtime::{EventKind, RuntimeEvent};
use crate::services::culling::Deadlines;
use crate::services::{Caller, InstallRequest, Quota, Service, Status};

/// The quota report's key for the bytes of the personal bucket.
const S3_STORAGE: &str = "s3.storage";

/// How long an event stream stays open (onyxia-api's emitter timeout).
const EVENT_STREAM_SECONDS: u64 = 600;

struct Context {
    user: ApiUser,
    project: Project,
    region: RegionSettings,
    /// The class limits of the user, in a personal project (none in a group's).
    limits: Limits,
    /// The region's quota of the project, with the class limits written over it.
    quota: Option<Quota>,
}

impl Context {
    fn caller(&self) -> Caller<'_> {
        let group_project = self.project.group.is_some();
        Caller {
            username: &self.user.username,
            claims: &self.user.claims,
            project: &self.project.id,
            group: self.project.group.as_deref(),
            // Everybody shares the single namespace: show others' services only when shared.
            group_project: group_project || self.region.single_namespace,
            quota: self.quota.as_ref(),
        }
    }
}

async fn context(state: &OnyxiaState, headers: &HeaderMap) -> Result<Context, Problem> {
    let user = authenticate(state, headers).await?;
    let region = region_of(state, headers);
    let project = project_of(&user, &region, headers)?;
    let (limits, quota) = match &project.group {
        Some(_) => (Limits::default(), region.group_quota.clone()),
        None => {
            let limits = state.classroom.limits_of(&user.username, &user.groups);
            let quota = limits.over_quota(region.user_quota.as_ref());
            (limits, quota)
        }
    };
    Ok(Context {
        user,
        project,
        region,
        limits,
        quota,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstallBody {
    #[serde(default)]
    catalog_id: Option<String>,
    package_name: String,
    #[serde(default)]
    package_version: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    friendly_name: Option<String>,
    #[serde(default)]
    share: Option<bool>,
    #[serde(default)]
    options: Value,
    #[serde(default)]
    dry_run: bool,
}

pub async fn install(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let ctx = context(&state, &headers).await?;
    let body: InstallBody = parse_body(&body)?;
    let catalog = body
        .catalog_id
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "internal".into());
    let version = match body.package_version.filter(|v| !v.is_empty()) {
        Some(v) => v,
        None => state
            .lab
            .catalog(&catalog)
            .and_then(|c| c.latest(&body.package_name))
            .map(|p| p.version.clone())
            .ok_or_else(|| {
                Problem::not_found(format!(
                    "no chart `{}` in catalog `{catalog}`",
                    body.package_name
                ))
            })?,
    };
    let release = body.name.filter(|n| !n.is_empty()).unwrap_or_else(|| {
        format!(
            "{}-{}",
            body.package_name,
            rand::random::<u32>() % 1_000_000
        )
    });
    let request = InstallRequest {
        catalog,
        chart: body.package_name,
        version,
        release,
        friendly_name: body.friendly_name.filter(|n| !n.is_empty()),
        share: body.share.unwrap_or(false),
        options: body.options,
    };
    if body.dry_run {
        state.lab.validate(&ctx.caller(), &request)?;
    } else {
        state.lab.install(&ctx.caller(), request).await?;
    }
    // onyxia-api answers with Helm's output, which the web ignores.
    Ok(json_response(&json!([[]])))
}

/// One service in onyxia-api's shape, with onyxia-lite's culling deadlines (`suspendAt`,
/// `expireAt`, epoch milliseconds) when they apply.
fn service_json(s: &Service, project: &str, deadlines: Deadlines) -> Value {
    let status = match &s.status {
        Status::Installing => "pending-install",
        Status::Deployed => "deployed",
        Status::Failed(_) => "failed",
    };
    let tasks: Vec<Value> = match &s.task {
        Some((container, running, ready)) => {
            let mut task_status = json!({ "status": if *running { "Running" } else { "Failed" } });
            if let Status::Failed(reason) = &s.status {
                task_status["status"] = json!("Failed");
                task_status["reason"] = json!(reason);
            } else if *running && !*ready {
                task_status["reason"] = json!("Starting");
            }
            vec![json!({
                "id": container,
                "status": task_status,
                "containers": [{ "name": s.meta.chart, "ready": *ready }],
            })]
        }
        None => Vec::new(),
    };
    let updated = rfc3339(s.updated_ms as i128 * 1_000_000);
    let mut out = json!({
        "id": s.meta.release,
        "name": s.meta.release,
        "instances": 1,
        "cpus": 0.0,
        "mem": 0.0,
        "status": status,
        "urls": [s.url],
        "env": values::flatten(&s.meta.values),
        "tasks": tasks,
        "subtitle": format!("{}-{}", s.meta.chart, s.meta.version),
        "postInstallInstructions": s.meta.notes,
        "namespace": project,
        "revision": "1",
        "updated": updated,
        "appVersion": "1",
        "chart": format!("{}-{}", s.meta.chart, s.meta.version),
        "startedAt": s.updated_ms,
        "suspendable": s.suspendable,
        "suspended": s.suspended,
        "catalogId": s.meta.catalog,
        "owner": s.meta.owner,
        "friendlyName": s.meta.friendly_name,
        "share": s.meta.share,
        "controllers": [{
            "healthy": s.task.as_ref().is_some_and(|t| t.2),
            "name": s.meta.release,
            "kind": "Container",
            "details": { "desired": if s.suspended { 0 } else { 1 }, "ready": if s.task.as_ref().is_some_and(|t| t.2) { 1 } else { 0 } }
        }],
    });
    if let Status::Failed(reason) = &s.status {
        out["message"] = json!(reason);
    }
    put_deadlines(&mut out, deadlines);
    out
}

/// `suspendAt` and `expireAt` (epoch milliseconds) of the deadlines that apply.
fn put_deadlines(out: &mut Value, deadlines: Deadlines) {
    if let Some(at) = deadlines.suspend_at_ms {
        out["suspendAt"] = json!(at);
    }
    if let Some(at) = deadlines.delete_at_ms {
        out["expireAt"] = json!(at);
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceQuery {
    #[serde(default)]
    service_id: Option<String>,
    #[serde(default)]
    task_id: Option<String>,
}

fn release_of(id: Option<&str>) -> Result<&str, Problem> {
    id.map(|s| s.trim_start_matches('/'))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Problem::bad_request("serviceId is required"))
}

pub async fn get_service(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
    Query(q): Query<ServiceQuery>,
) -> Result<Response, Problem> {
    let ctx = context(&state, &headers).await?;
    let release = release_of(q.service_id.as_deref())?;
    let service = state.lab.get(&ctx.caller(), release).await?;
    let deadlines = state.lab.deadlines(&service);
    Ok(json_response(&service_json(
        &service,
        &ctx.project.id,
        deadlines,
    )))
}

pub async fn list_services(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let ctx = context(&state, &headers).await?;
    let services = state.lab.list(&ctx.caller()).await?;
    let apps: Vec<Value> = services
        .iter()
        .map(|s| service_json(s, &ctx.project.id, state.lab.deadlines(s)))
        .collect();
    Ok(json_response(&json!({ "apps": apps, "groups": [] })))
}

#[derive(Deserialize)]
pub struct UninstallQuery {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    bulk: Option<bool>,
}

pub async fn uninstall(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
    Query(q): Query<UninstallQuery>,
) -> Result<Response, Problem> {
    let ctx = context(&state, &headers).await?;
    let path = q.path.unwrap_or_default();
    if q.bulk == Some(true) {
        state.lab.delete_all(&ctx.caller()).await?;
    } else {
        let release = release_of(Some(&path))?;
        state.lab.delete(&ctx.caller(), release).await?;
    }
    Ok(json_response(&json!({ "path": path, "success": true })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceBody {
    #[serde(rename = "serviceID")]
    service_id: String,
    #[serde(default)]
    friendly_name: Option<String>,
    #[serde(default)]
    share: Option<bool>,
}

pub async fn rename(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let ctx = context(&state, &headers).await?;
    let body: ServiceBody = parse_body(&body)?;
    let name = body
        .friendly_name
        .ok_or_else(|| Problem::bad_request("friendlyName is required"))?;
    state
        .lab
        .rename(&ctx.caller(), release_of(Some(&body.service_id))?, &name)
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn share(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let ctx = context(&state, &headers).await?;
    let body: ServiceBody = parse_body(&body)?;
    let share = body
        .share
        .ok_or_else(|| Problem::bad_request("share is required"))?;
    state
        .lab
        .share(&ctx.caller(), release_of(Some(&body.service_id))?, share)
        .await?;
    Ok(StatusCode::OK.into_response())
}

async fn set_suspended(
    state: &OnyxiaState,
    headers: &HeaderMap,
    body: &Bytes,
    suspend: bool,
) -> Result<Response, Problem> {
    let ctx = context(state, headers).await?;
    let body: ServiceBody = parse_body(body)?;
    state
        .lab
        .set_suspended(&ctx.caller(), release_of(Some(&body.service_id))?, suspend)
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn suspend(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    set_suspended(&state, &headers, &body, true).await
}

pub async fn resume(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    set_suspended(&state, &headers, &body, false).await
}

/// `POST /my-lab/app/extend` (an onyxia-lite extension): the owner postpones an idle
/// suspension; answers the service's new deadlines.
pub async fn extend(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let ctx = context(&state, &headers).await?;
    let body: ServiceBody = parse_body(&body)?;
    let release = release_of(Some(&body.service_id))?;
    let deadlines = state.lab.extend(&ctx.caller(), release).await?;
    let mut out = json!({});
    put_deadlines(&mut out, deadlines);
    Ok(json_response(&out))
}

pub async fn logs(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
    Query(q): Query<ServiceQuery>,
) -> Result<Response, Problem> {
    let ctx = context(&state, &headers).await?;
    let release = release_of(q.service_id.as_deref())?;
    if let Some(task) = q.task_id.as_deref()
        && !task.is_empty()
    {
        let service = state.lab.get(&ctx.caller(), release).await?;
        if service.task.as_ref().is_some_and(|t| t.0 != task) {
            return Err(Problem::not_found(format!(
                "no task `{task}` in service `{release}`"
            )));
        }
    }
    let text = state.lab.logs(&ctx.caller(), release).await?;
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    Ok(response)
}

pub async fn quota(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let ctx = context(&state, &headers).await?;
    let caller = ctx.caller();
    let Some(quota) = caller.quota else {
        return Err(Problem::forbidden(
            "quotas are not enabled for this project",
        ));
    };
    let usage = state.lab.usage(&ctx.project.id).await?;
    let mut report = quota.report(&usage);
    // An onyxia-lite key beside Kubernetes' ones: the personal bucket's bytes and limit.
    if let Some(limit) = &ctx.limits.s3_storage {
        let classroom = state.classroom.clone();
        let username = ctx.user.username.clone();
        let held = crate::blocking::run(move || classroom.personal_bytes(&username))
            .await
            .map_err(|e| Problem::from(crate::services::LabError::Blocking(e)))?
            .map_err(|e| Problem::internal(&e))?;
        report["spec"][S3_STORAGE] = Value::String(limit.clone());
        report["usage"][S3_STORAGE] = Value::String(values::format_memory(held));
    }
    Ok(json_response(&report))
}

/// A service event as a Kubernetes `v1/Event`, which is what the web reads.
fn event_json(e: &RuntimeEvent) -> Value {
    let time = rfc3339(e.time_ms as i128 * 1_000_000);
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": format!("{}.{}", e.release, &e.uid[..8.min(e.uid.len())]),
            "namespace": e.project,
            "uid": e.uid,
            "creationTimestamp": time,
        },
        "involvedObject": { "kind": "Service", "name": e.release, "namespace": e.project },
        "reason": e.reason,
        "message": e.message,
        "type": match e.kind { EventKind::Normal => "Normal", EventKind::Warning => "Warning" },
        "count": 1,
        "firstTimestamp": time,
        "lastTimestamp": time,
        "source": { "component": "onyxia-lite" },
    })
}

fn frame(e: &RuntimeEvent) -> Bytes {
    Bytes::from(format!("data:{}\n\n", event_json(e)))
}

/// Server-sent events of the project: past events first, then new ones, for ten minutes.
pub async fn events(
    State(state): State<Arc<OnyxiaState>>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let ctx = context(&state, &headers).await?;
    let project = ctx.project.id.clone();
    let (past, rx) = state.lab.events.follow(&project);
    let stream = event_frames(past, project, rx, state.lab.events.closing());
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// The frames of past events, then of each new event of `project`, until the stream times out
/// or the platform stops.
fn event_frames(
    past: Vec<RuntimeEvent>,
    project: String,
    mut rx: tokio::sync::broadcast::Receiver<RuntimeEvent>,
    mut closing: tokio::sync::watch::Receiver<bool>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> {
    use tokio::sync::broadcast::error::RecvError;
    let (tx, out) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        for e in &past {
            if tx.send(frame(e)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(EVENT_STREAM_SECONDS);
        loop {
            let received = tokio::select! {
                r = rx.recv() => r,
                _ = tokio::time::sleep_until(deadline) => return,
                _ = tx.closed() => return,
                _ = closing.wait_for(|closed| *closed) => return,
            };
            match received {
                Ok(e) if e.project == project => {
                    if tx.send(frame(&e)).await.is_err() {
                        return;
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    });
    futures_util::stream::unfold(out, |mut out| async move {
        out.recv().await.map(|b| (Ok(b), out))
    })
}
