//! The lab: launching catalog packages as services on the runtime, and everything users do
//! with them afterwards. Knows catalogs and the [`Runtime`] trait, not HTTP nor the engine.
//!
//! A service exists on the engine (its labels say whose it is). `Lab` is the thin front; each
//! job has its own file: installs and the installs still pending (`install.rs`), renames,
//! shares and suspensions kept in redb (`overrides.rs`), readiness (`readiness.rs`, probed by
//! the runtime), the proxy's routes (`routes.rs`), names and URLs (`naming.rs`), quotas,
//! use seen through the proxy (`activity.rs`), idle culling (`culling.rs`), usage metering
//! (`metering.rs`), course data (`courses.rs`) and the engine's listing (`listing.rs`).

mod activity;
pub mod courses;
pub mod culling;
mod install;
mod listing;
pub mod metering;
mod naming;
mod overrides;
pub mod quota;
mod readiness;
mod routes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::catalog::launch::Reachability;
use crate::catalog::schema::{self, Registry};
use crate::catalog::{Catalog, Package, values};
use crate::clock::Clock;
use crate::runtime::detect::Probe;
use crate::runtime::{
    EventKind, EventLog, Phase, Runtime, RuntimeError, RuntimeService, ServiceMeta,
};
use crate::store::Store;
use crate::tasks::Tasks;
use install::PendingInstalls;
pub use naming::{Exposure, check_release_name, is_label};
use overrides::OverrideStore;
pub use quota::{Quota, QuotaUsage};
use readiness::Readiness;
use routes::Routes;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("Validation failed")]
    Validation(Vec<String>),
    #[error("{0}")]
    Conflict(String),
    /// Allowed to install, but not what the request names (a course bucket they cannot read).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    QuotaExceeded(quota::QuotaExceeded),
    #[error("{0}")]
    NoRuntime(String),
    #[error("{0}")]
    Engine(String),
    /// The platform failed (logged; the client sees a generic message).
    #[error("{0}")]
    Internal(String),
    /// A package's launcher schema does not compile (an operator's catalog).
    #[error(transparent)]
    Schema(#[from] crate::catalog::schema::SchemaError),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Blocking(#[from] crate::blocking::BlockingError),
}

impl From<RuntimeError> for LabError {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::NotFound => LabError::NotFound("no such service".into()),
            RuntimeError::Engine(m) => LabError::Engine(m),
        }
    }
}

/// An install request, as the API received it.
#[derive(Debug, Clone)]
pub struct InstallRequest {
    pub catalog: String,
    pub chart: String,
    pub version: String,
    pub release: String,
    pub friendly_name: Option<String>,
    pub share: bool,
    pub options: Value,
}

/// Who asks, and for which project.
#[derive(Debug, Clone)]
pub struct Caller<'a> {
    pub username: &'a str,
    pub claims: &'a Map<String, Value>,
    pub project: &'a str,
    /// The group whose project it is (none for a personal or the shared project).
    pub group: Option<&'a str>,
    /// Group projects show only shared services and the caller's own.
    pub group_project: bool,
    pub quota: Option<&'a Quota>,
}

/// Where a service's state stands, as users see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Image being pulled or container being created.
    Installing,
    Deployed,
    Failed(String),
}

/// One service with everything the API shows of it.
#[derive(Debug, Clone)]
pub struct Service {
    pub meta: ServiceMeta,
    pub status: Status,
    pub suspended: bool,
    pub suspendable: bool,
    /// The container, when it exists: (name, running, ready).
    pub task: Option<(String, bool, bool)>,
    pub url: String,
    pub updated_ms: u64,
}

pub struct Lab {
    runtime: Option<Arc<dyn Runtime>>,
    pub probes: Vec<Probe>,
    pub catalogs: Vec<Catalog>,
    pub registry: Registry,
    pub events: EventLog,
    /// Service creation times.
    clock: Clock,
    pub exposure: Exposure,
    reach: Reachability,
    overrides: OverrideStore,
    pending: Mutex<PendingInstalls>,
    readiness: Readiness,
    routes: Routes,
    /// The engine's listing, kept between reads, and the lab's own changes since.
    listing: listing::Listing,
    /// Deploys still running after their install answered.
    deploys: Tasks,
    /// Use through the proxy, the culling policy and what culling passes saw.
    culling: culling::Culling,
    /// When the platform started (services count as used then).
    started_ms: u64,
    /// What services used, recorded at each look.
    pub meter: Arc<metering::Meter>,
    /// Who may mount which course and where copies live (set by `classes`).
    courses: std::sync::OnceLock<Arc<dyn courses::CourseData>>,
}

impl Lab {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        runtime: Option<Arc<dyn Runtime>>,
        probes: Vec<Probe>,
        catalogs: Vec<Catalog>,
        registry: Registry,
        exposure: Exposure,
        reach: Reachability,
        store: Arc<Store>,
        clock: Clock,
    ) -> Self {
        Lab {
            runtime,
            probes,
            catalogs,
            registry,
            events: EventLog::new(clock.clone()),
            clock: clock.clone(),
            exposure,
            reach,
            meter: Arc::new(metering::Meter::new(store.clone())),
            courses: std::sync::OnceLock::new(),
            overrides: OverrideStore::new(store),
            pending: Mutex::new(HashMap::new()),
            readiness: Readiness::default(),
            routes: Routes::default(),
            listing: listing::Listing::default(),
            deploys: Tasks::default(),
            culling: culling::Culling::default(),
            started_ms: clock.millis(),
        }
    }

    /// At shutdown, once no request can start another install: waits at most `grace` for
    /// the deploys in flight, then cancels the rest. A cancelled deploy leaves what it made
    /// so far (a pulled image, a created container), found again by its labels at the next
    /// start.
    pub async fn finish_deploys(&self, grace: Duration) {
        let cancelled = self.deploys.shutdown(grace).await;
        if cancelled > 0 {
            tracing::warn!(
                deploys = cancelled,
                "deploys still running at shutdown were cancelled"
            );
        }
    }

    /// The platform's clock, as the lab reads it.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn runtime(&self) -> Option<&Arc<dyn Runtime>> {
        self.runtime.as_ref()
    }

    fn require_runtime(&self) -> Result<&Arc<dyn Runtime>, LabError> {
        self.runtime
            .as_ref()
            .ok_or_else(|| LabError::NoRuntime(no_runtime_message(&self.probes)))
    }

    /// Services of one project on the engine.
    async fn project_services(
        &self,
        runtime: &Arc<dyn Runtime>,
        project: &str,
    ) -> Result<Vec<RuntimeService>, LabError> {
        Ok(self
            .engine_services(runtime)
            .await?
            .iter()
            .filter(|s| s.meta.project == project)
            .cloned()
            .collect())
    }

    pub fn catalog(&self, id: &str) -> Option<&Catalog> {
        self.catalogs.iter().find(|c| c.id == id)
    }

    /// The package's schema as the launcher gets it (registry applied).
    pub fn resolved_schema(&self, package: &Package) -> Option<Value> {
        package
            .schema
            .as_ref()
            .map(|s| schema::resolve(s, &self.registry))
    }

    /// Services of the caller's project that the caller may see.
    pub async fn list(&self, caller: &Caller<'_>) -> Result<Vec<Service>, LabError> {
        let mut out = Vec::new();
        if let Some(runtime) = &self.runtime {
            let found = self.project_services(runtime, caller.project).await?;
            let views =
                futures_util::future::join_all(found.into_iter().map(|s| self.view(s))).await;
            out.extend(views);
        }
        for pending in self.pending_views(caller.project) {
            match out
                .iter_mut()
                .find(|s| s.meta.release == pending.meta.release)
            {
                // Created but not started: the pending record knows why.
                Some(s) if matches!(pending.status, Status::Failed(_)) => s.status = pending.status,
                Some(_) => {}
                None => out.push(pending),
            }
        }
        out.retain(|s| visible(caller, &s.meta));
        out.sort_by(|a, b| {
            a.meta
                .created_ms
                .cmp(&b.meta.created_ms)
                .then(a.meta.release.cmp(&b.meta.release))
        });
        Ok(out)
    }

    /// One service of the caller's project; not found when the caller may not see it.
    pub async fn get(&self, caller: &Caller<'_>, release: &str) -> Result<Service, LabError> {
        let pending = self
            .pending_views(caller.project)
            .into_iter()
            .find(|s| s.meta.release == release);
        let service = match pending {
            Some(p) if p.status == Status::Installing => p,
            pending => {
                let found = match &self.runtime {
                    Some(runtime) => match runtime.get(caller.project, release).await {
                        Ok(s) => Some(self.view(s).await),
                        Err(RuntimeError::NotFound) => None,
                        Err(e) => return Err(e.into()),
                    },
                    None => None,
                };
                match (found, pending) {
                    (Some(mut s), Some(p)) => {
                        s.status = p.status;
                        s
                    }
                    (Some(s), None) => s,
                    (None, Some(p)) => p,
                    (None, None) => return Err(not_found(release)),
                }
            }
        };
        if visible(caller, &service.meta) {
            Ok(service)
        } else {
            Err(not_found(release))
        }
    }

    async fn view(&self, found: RuntimeService) -> Service {
        let running = found.phase == Phase::Running;
        let ready = running
            && match &self.runtime {
                Some(runtime) => self.readiness.check(runtime.as_ref(), &found).await,
                None => false,
            };
        let mut meta = found.meta;
        let overrides = self.overrides.apply(&mut meta);
        let address = found.address.filter(|_| running);
        self.routes.set(&meta.release, address);
        if address.is_none() {
            self.readiness.forget(&meta.project, &meta.release);
        }
        let status = match &found.phase {
            Phase::Failed(message) if !overrides.suspended => Status::Failed(message.clone()),
            Phase::Exited { oom: true, .. } if !overrides.suspended => {
                Status::Failed("the container ran out of memory and was killed".into())
            }
            Phase::Exited { code, .. } if !overrides.suspended && *code != 0 => {
                Status::Failed(format!("the container exited with code {code}"))
            }
            Phase::Exited { .. } if !overrides.suspended => {
                Status::Failed("the container stopped".into())
            }
            _ => Status::Deployed,
        };
        let suspendable = suspendable(&meta);
        if suspendable {
            values::set(
                &mut meta.values,
                "global.suspend",
                Value::Bool(overrides.suspended),
            );
        }
        Service {
            url: self.exposure.url(&meta.release),
            // A resumed service started again when it was resumed.
            updated_ms: found
                .changed_ms
                .max(meta.created_ms)
                .max(overrides.resumed_ms.unwrap_or(0)),
            meta,
            status,
            suspended: overrides.suspended,
            suspendable,
            task: (!overrides.suspended || running)
                .then(|| (found.container.clone(), running, ready)),
        }
    }

    /// Deletes a service (its container and volumes).
    pub async fn delete(&self, caller: &Caller<'_>, release: &str) -> Result<(), LabError> {
        let service = self.get(caller, release).await?;
        let key = (caller.project.to_owned(), release.to_owned());
        {
            let mut pending = crate::sync::lock(&self.pending);
            if let Some(p) = pending.get_mut(&key) {
                if p.failure.is_some() {
                    pending.remove(&key);
                } else {
                    p.cancelled = true;
                    return Ok(());
                }
            }
        }
        let text = format!("Service {} deleted", service.meta.friendly_name);
        self.remove_service(&service.meta, "Deleted", text, EventKind::Normal)
            .await?;
        Ok(())
    }

    /// Every service of the project the caller may see, deleted.
    pub async fn delete_all(&self, caller: &Caller<'_>) -> Result<(), LabError> {
        for s in self.list(caller).await? {
            self.delete(caller, &s.meta.release).await?;
        }
        Ok(())
    }

    pub async fn rename(
        &self,
        caller: &Caller<'_>,
        release: &str,
        name: &str,
    ) -> Result<(), LabError> {
        self.get(caller, release).await?;
        let name = name.to_owned();
        self.overrides
            .update(caller.project, release, move |o| {
                o.friendly_name = Some(name)
            })
            .await
    }

    pub async fn share(
        &self,
        caller: &Caller<'_>,
        release: &str,
        share: bool,
    ) -> Result<(), LabError> {
        self.get(caller, release).await?;
        self.overrides
            .update(caller.project, release, move |o| o.share = Some(share))
            .await
    }

    /// Stops or starts a suspendable service, keeping its volumes.
    pub async fn set_suspended(
        &self,
        caller: &Caller<'_>,
        release: &str,
        suspend: bool,
    ) -> Result<(), LabError> {
        let service = self.get(caller, release).await?;
        if !service.suspendable {
            return Err(LabError::BadRequest(format!(
                "service `{release}` cannot be suspended"
            )));
        }
        if service.task.is_none() && !service.suspended {
            return Err(LabError::Conflict(format!(
                "service `{release}` is still being installed"
            )));
        }
        let (reason, text) = if suspend {
            ("Suspended", "Service suspended")
        } else {
            ("Resumed", "Service resumed")
        };
        self.apply_suspension(
            caller.project,
            release,
            suspend,
            reason,
            text.into(),
            EventKind::Normal,
        )
        .await
    }

    /// The services in the personal projects of `owners`, as the engine lists them.
    pub async fn services_owned_by(&self, owners: &[String]) -> Result<Vec<ServiceMeta>, LabError> {
        let Some(runtime) = &self.runtime else {
            return Ok(Vec::new());
        };
        Ok(runtime
            .list(None)
            .await?
            .into_iter()
            .map(|s| s.meta)
            .filter(|m| owners.contains(&m.owner) && m.project_owner == format!("user:{}", m.owner))
            .collect())
    }

    /// Deletes a service on the platform's behalf (a class reset), recording why.
    pub async fn delete_for_platform(
        &self,
        meta: &ServiceMeta,
        reason: &str,
        text: String,
    ) -> Result<(), LabError> {
        self.remove_service(meta, reason, text, EventKind::Warning)
            .await
    }

    /// Suspends a service on the platform's behalf (a class reset), recording why; one
    /// already suspended stays so.
    pub async fn suspend_for_platform(
        &self,
        meta: &ServiceMeta,
        reason: &str,
        text: String,
    ) -> Result<(), LabError> {
        if self.overrides.is_suspended(meta) {
            return Ok(());
        }
        self.apply_suspension(
            &meta.project,
            &meta.release,
            true,
            reason,
            text,
            EventKind::Warning,
        )
        .await
    }

    /// Removes a service from the engine with everything kept for it, recording why.
    async fn remove_service(
        &self,
        meta: &ServiceMeta,
        reason: &str,
        text: String,
        kind: EventKind,
    ) -> Result<(), LabError> {
        let (project, release) = (meta.project.as_str(), meta.release.as_str());
        if let Some(runtime) = &self.runtime {
            let deleted = runtime.delete(project, release).await;
            self.events.touch();
            match deleted {
                Ok(()) | Err(RuntimeError::NotFound) => {
                    let _pending = crate::sync::lock(&self.pending);
                    self.record_own_change(project, release, None);
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.routes.set(release, None);
        self.culling.activity.forget(release);
        self.overrides.clear(project, release).await?;
        self.events.record(project, release, reason, text, kind);
        Ok(())
    }

    /// Suspends or resumes a service, recording why (the caller checked it may).
    async fn apply_suspension(
        &self,
        project: &str,
        release: &str,
        suspend: bool,
        reason: &str,
        text: String,
        kind: EventKind,
    ) -> Result<(), LabError> {
        let runtime = self.require_runtime()?;
        let was = self.overrides.get(project, release).suspended;
        let now = self.clock.millis();
        self.overrides
            .update(project, release, move |o| {
                o.suspended = suspend;
                if !suspend {
                    o.resumed_ms = Some(now);
                }
            })
            .await?;
        self.readiness.forget(project, release);
        let result = if suspend {
            self.routes.set(release, None);
            runtime.suspend(project, release).await
        } else {
            self.refresh_course(project, release).await;
            runtime.resume(project, release).await
        };
        self.events.touch();
        if let Err(e) = result {
            self.overrides
                .update(project, release, move |o| o.suspended = was)
                .await?;
            return Err(e.into());
        }
        self.events.record(project, release, reason, text, kind);
        Ok(())
    }

    pub async fn logs(&self, caller: &Caller<'_>, release: &str) -> Result<String, LabError> {
        let service = self.get(caller, release).await?;
        if service.task.is_none() {
            return Ok(String::new());
        }
        Ok(self
            .require_runtime()?
            .logs(caller.project, release)
            .await?)
    }

    /// Requests of the project's running services (suspended ones count for nothing).
    pub async fn usage(&self, project: &str) -> Result<QuotaUsage, LabError> {
        let existing: Vec<ServiceMeta> = match &self.runtime {
            Some(runtime) => self
                .engine_services(runtime)
                .await?
                .iter()
                .map(|s| s.meta.clone())
                .collect(),
            None => Vec::new(),
        };
        let pending = crate::sync::lock(&self.pending);
        Ok(self.project_usage(project, &existing, &pending))
    }

    /// Where the proxy reaches a running service. A miss reads the engine's listing through
    /// its cache, so unknown hosts cannot make the proxy hammer the engine.
    pub async fn route(&self, release: &str, refresh: bool) -> Option<SocketAddr> {
        if !refresh && let Some(port) = self.routes.get(release) {
            return Some(port);
        }
        let runtime = self.runtime.as_ref()?;
        if refresh {
            self.events.touch();
        }
        let services = self.engine_services(runtime).await.ok()?;
        let found = services
            .iter()
            .find(|s| s.meta.release == release && s.phase == Phase::Running)
            .and_then(|s| s.address);
        self.routes.set(release, found);
        found
    }
}

fn not_found(release: &str) -> LabError {
    LabError::NotFound(format!("no service `{release}` in this project"))
}

fn suspendable(meta: &ServiceMeta) -> bool {
    values::get(&meta.values, "global.suspend").is_some()
}

fn visible(caller: &Caller, meta: &ServiceMeta) -> bool {
    // Owners compare exactly: `Jane` and `jane` from an external issuer are two people.
    !caller.group_project || meta.share || meta.owner == caller.username
}

/// What to tell users when no engine (or cluster) was found.
pub fn no_runtime_message(probes: &[Probe]) -> String {
    if let Some(cluster) = probes
        .iter()
        .find(|p| p.source == crate::runtime::select::KUBERNETES)
    {
        return format!(
            "No Kubernetes cluster is reachable, so services cannot be launched. Tried {}: {}. Check KUBECONFIG, ~/.kube/config or runtime.kube_context, then restart onyxia-lite (`onyxia-lite doctor` tells more).",
            cluster.endpoint,
            cluster
                .outcome
                .as_ref()
                .err()
                .map(String::as_str)
                .unwrap_or("ok")
        );
    }
    let tried: Vec<String> = probes
        .iter()
        .map(|p| {
            format!(
                "{} ({}): {}",
                p.source,
                p.endpoint,
                p.outcome.as_ref().err().map(String::as_str).unwrap_or("ok")
            )
        })
        .collect();
    format!(
        "No container engine is available, so services cannot be launched. Start Docker (`sudo systemctl start docker`, or open Docker Desktop) or Podman's Docker-compatible API (`systemctl --user start podman.socket`, or `podman system service --time=0 &`), or set DOCKER_HOST, then restart onyxia-lite. Tried: {}",
        if tried.is_empty() {
            "nothing (runtime disabled)".to_owned()
        } else {
            tried.join("; ")
        }
    )
}
