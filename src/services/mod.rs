//! The lab: launching catalog packages as services on the runtime, and everything users do
//! with them afterwards. Knows catalogs and the [`Runtime`] trait, not HTTP nor the engine.
//!
//! A service exists on the engine (its labels say whose it is). Until its container exists —
//! while its image is pulled, or when that failed — it lives in `pending` here. Renames,
//! shares and suspensions are kept in the store, because container labels cannot change.

mod naming;
pub mod quota;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::catalog::launch::{Launch, Reachability, render_notes};
use crate::catalog::schema::{self, Registry};
use crate::catalog::{Catalog, Package, values};
use crate::clock::Clock;
use crate::runtime::detect::Probe;
use crate::runtime::{
    EventKind, EventLog, Phase, Runtime, RuntimeError, RuntimeService, ServiceMeta,
};
use crate::store::{Store, Table};
pub use naming::{Exposure, check_release_name, is_label};
pub use quota::{Quota, QuotaUsage};

/// What users changed about a service after it was launched.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Overrides {
    friendly_name: Option<String>,
    share: Option<bool>,
    suspended: bool,
}

const OVERRIDES: Table<Overrides> = Table::new("service_overrides");

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
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{0}")]
    NoRuntime(String),
    #[error("{0}")]
    Engine(String),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
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

struct Pending {
    meta: ServiceMeta,
    failure: Option<String>,
    /// Deleted while deploying: remove the container once it exists.
    cancelled: bool,
}

struct CachedListing {
    generation: u64,
    at: std::time::Instant,
    services: Arc<Vec<RuntimeService>>,
}

/// A cached listing is used for at most this long, in case an engine event was missed.
const LISTING_MAX_AGE: Duration = Duration::from_secs(5);

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
    store: Arc<Store>,
    pending: Mutex<HashMap<(String, String), Pending>>,
    /// Services seen answering since their container last started: not probed again. Entries
    /// go when the container is seen stopped, and on suspend and resume.
    ready: Mutex<HashSet<(String, String)>>,
    /// Release → published port, for the proxy.
    routes: Mutex<HashMap<String, u16>>,
    /// The engine's listing, valid while no event arrived since (and for a few seconds).
    listing: Mutex<Option<CachedListing>>,
    http: reqwest::Client,
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
            clock,
            exposure,
            reach,
            store,
            pending: Mutex::new(HashMap::new()),
            ready: Mutex::new(HashSet::new()),
            routes: Mutex::new(HashMap::new()),
            listing: Mutex::new(None),
            http: reqwest::Client::builder()
                .timeout(Duration::from_millis(800))
                .no_proxy()
                .build()
                .unwrap_or_default(),
        }
    }

    pub fn runtime(&self) -> Option<&Arc<dyn Runtime>> {
        self.runtime.as_ref()
    }

    fn require_runtime(&self) -> Result<&Arc<dyn Runtime>, LabError> {
        self.runtime
            .as_ref()
            .ok_or_else(|| LabError::NoRuntime(no_runtime_message(&self.probes)))
    }

    /// Services on the engine (all projects), from the cache when no event says it is stale.
    async fn engine_services(
        &self,
        runtime: &Arc<dyn Runtime>,
    ) -> Result<Arc<Vec<RuntimeService>>, LabError> {
        let generation = self.events.generation();
        if let Some(cached) = self
            .listing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            && cached.generation == generation
            && cached.at.elapsed() < LISTING_MAX_AGE
        {
            return Ok(cached.services.clone());
        }
        let services = Arc::new(runtime.list(None).await?);
        *self.listing.lock().unwrap_or_else(|e| e.into_inner()) = Some(CachedListing {
            generation,
            at: std::time::Instant::now(),
            services: services.clone(),
        });
        Ok(services)
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

    fn find_package(
        &self,
        caller: &Caller,
        catalog: &str,
        chart: &str,
        version: &str,
    ) -> Result<&Package, LabError> {
        let catalog_id = if catalog.is_empty() {
            "internal"
        } else {
            catalog
        };
        let catalog = self
            .catalog(catalog_id)
            .filter(|c| c.visible_to(Some(caller.claims)))
            .ok_or_else(|| LabError::NotFound(format!("no catalog `{catalog_id}`")))?;
        catalog.package(chart, version).ok_or_else(|| {
            LabError::NotFound(format!(
                "no chart `{chart}` version `{version}` in catalog `{catalog_id}`"
            ))
        })
    }

    /// Checks an install request without launching anything (what `dryRun` asks).
    pub fn validate(&self, caller: &Caller<'_>, req: &InstallRequest) -> Result<(), LabError> {
        self.prepare(caller, req).map(|_| ())
    }

    /// The package, the effective values and the container of an install request.
    fn prepare(
        &self,
        caller: &Caller<'_>,
        req: &InstallRequest,
    ) -> Result<(&Package, Value, Launch), LabError> {
        check_release_name(&req.release)?;
        let package = self.find_package(caller, &req.catalog, &req.chart, &req.version)?;
        if !req.options.is_object() && !req.options.is_null() {
            return Err(LabError::Validation(vec![
                "options must be an object".into(),
            ]));
        }
        let options = if req.options.is_null() {
            Value::Object(Map::new())
        } else {
            req.options.clone()
        };
        let effective = values::merge(&package.default_values, &options);
        if let Some(schema) = self.resolved_schema(package) {
            let errors = schema::validate(&schema, &effective).map_err(LabError::Engine)?;
            if !errors.is_empty() {
                return Err(LabError::Validation(errors));
            }
        }
        let launch = package
            .launch
            .render(&effective, &req.release, caller.project, &self.reach)
            .map_err(|e| LabError::Validation(vec![e]))?;
        Ok((package, effective, launch))
    }

    /// Validates and starts an installation; the image pull and start go on in the background.
    pub async fn install(
        self: &Arc<Self>,
        caller: &Caller<'_>,
        req: InstallRequest,
    ) -> Result<(), LabError> {
        let (
            package,
            effective,
            Launch {
                spec,
                cpu_request_millis,
                memory_request_bytes,
            },
        ) = self.prepare(caller, &req)?;
        let runtime = self.require_runtime()?.clone();
        let existing = self.engine_services(&runtime).await?;
        let url = self.exposure.url(&req.release);
        let meta = ServiceMeta {
            release: req.release.clone(),
            project: caller.project.to_owned(),
            owner: caller.username.to_owned(),
            catalog: req.catalog.clone(),
            chart: package.name.clone(),
            version: package.version.clone(),
            friendly_name: req
                .friendly_name
                .clone()
                .unwrap_or_else(|| package.name.clone()),
            share: req.share,
            // The full values (defaults included), as onyxia-web sends them.
            values: effective.clone(),
            notes: render_notes(
                &package.notes,
                &effective,
                &req.release,
                caller.project,
                &url,
            ),
            cpu_request_millis,
            memory_request_bytes,
            created_ms: self.clock.millis(),
            probe: match package.launch.probe {
                crate::catalog::launch::Probe::Http => "http".into(),
                crate::catalog::launch::Probe::Tcp => "tcp".into(),
            },
        };
        let key = (meta.project.clone(), meta.release.clone());
        // Name and quota checks and the reservation happen under one lock, so two concurrent
        // installs cannot both pass them.
        {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let live = || pending.values().filter(|p| !p.cancelled);
            let taken = existing.iter().any(|s| s.meta.release == req.release)
                || live().any(|p| p.meta.release == req.release);
            if taken {
                return Err(LabError::Conflict(format!(
                    "a service named `{}` already exists",
                    req.release
                )));
            }
            if let Some(quota) = caller.quota {
                let usage = self.project_usage(caller.project, &existing, &pending);
                quota
                    .admit(&usage, cpu_request_millis, memory_request_bytes)
                    .map_err(LabError::QuotaExceeded)?;
            }
            pending.insert(
                key.clone(),
                Pending {
                    meta: meta.clone(),
                    failure: None,
                    cancelled: false,
                },
            );
        }
        let _ = self
            .store
            .remove(&OVERRIDES, &override_key(&meta.project, &meta.release));
        tracing::info!(release = %meta.release, project = %meta.project, chart = %meta.chart, image = %spec.image, "installing");
        let lab = self.clone();
        tokio::spawn(async move {
            let result = runtime.deploy(&meta, &spec, &lab.events).await;
            lab.events.touch();
            let cancelled = {
                let mut pending = lab.pending.lock().unwrap_or_else(|e| e.into_inner());
                let cancelled = pending.get(&key).is_some_and(|p| p.cancelled);
                match &result {
                    Ok(()) => {
                        pending.remove(&key);
                    }
                    Err(e) if !cancelled => {
                        if let Some(p) = pending.get_mut(&key) {
                            p.failure = Some(e.to_string());
                        }
                    }
                    Err(_) => {
                        pending.remove(&key);
                    }
                }
                cancelled
            };
            if cancelled {
                // Deleted while installing: whatever got made (even a container that failed
                // to start) goes.
                let _ = runtime.delete(&key.0, &key.1).await;
                lab.events.touch();
                return;
            }
            match result {
                Ok(()) => {}
                Err(e) => {
                    // A container may exist half made (created, not started): it stays
                    // visible as failed until the user deletes the service.
                    let message = e.to_string();
                    tracing::warn!(release = %key.1, error = %message, "install failed");
                    lab.events
                        .record(&key.0, &key.1, "Failed", message, EventKind::Warning);
                }
            }
        });
        Ok(())
    }

    fn overrides(&self, project: &str, release: &str) -> Overrides {
        self.store
            .get(&OVERRIDES, &override_key(project, release))
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    fn is_suspended(&self, meta: &ServiceMeta) -> bool {
        self.overrides(&meta.project, &meta.release).suspended
    }

    /// Applies the renames and shares users made since launch; returns the overrides.
    fn with_overrides(&self, meta: &mut ServiceMeta) -> Overrides {
        let overrides = self.overrides(&meta.project, &meta.release);
        if let Some(name) = &overrides.friendly_name {
            meta.friendly_name = name.clone();
        }
        if let Some(share) = overrides.share {
            meta.share = share;
        }
        overrides
    }

    /// Requests of a project's services on the engine (`existing`) and of its installs still
    /// in progress (`pending`, already locked by the caller).
    fn project_usage(
        &self,
        project: &str,
        existing: &[RuntimeService],
        pending: &HashMap<(String, String), Pending>,
    ) -> QuotaUsage {
        let mut usage = QuotaUsage::default();
        for s in existing.iter().filter(|s| s.meta.project == project) {
            usage.add(&s.meta, self.is_suspended(&s.meta));
        }
        for p in pending.values() {
            if p.meta.project == project && !p.cancelled && p.failure.is_none() {
                usage.add(&p.meta, false);
            }
        }
        usage
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

    fn pending_views(&self, project: &str) -> Vec<Service> {
        let pending: Vec<(ServiceMeta, Option<String>)> = {
            let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending
                .values()
                .filter(|p| p.meta.project == project && !p.cancelled)
                .map(|p| (p.meta.clone(), p.failure.clone()))
                .collect()
        };
        pending
            .into_iter()
            .map(|(mut meta, failure)| {
                self.with_overrides(&mut meta);
                (meta, failure)
            })
            .map(|(meta, failure)| Service {
                status: match &failure {
                    Some(m) => Status::Failed(m.clone()),
                    None => Status::Installing,
                },
                suspended: false,
                suspendable: suspendable(&meta),
                task: None,
                url: self.exposure.url(&meta.release),
                updated_ms: meta.created_ms,
                meta,
            })
            .collect()
    }

    async fn view(&self, found: RuntimeService) -> Service {
        let mut meta = found.meta;
        let overrides = self.with_overrides(&mut meta);
        let running = found.phase == Phase::Running;
        let ready = running && self.answers(&meta, found.host_port).await;
        match found.host_port.filter(|_| running) {
            Some(port) => {
                self.routes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(meta.release.clone(), port);
            }
            None => {
                // Stopped or crashed: its port may go to another container.
                self.routes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&meta.release);
                self.forget_readiness(&meta.project, &meta.release);
            }
        }
        let status = match &found.phase {
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
            updated_ms: found.changed_ms.max(meta.created_ms),
            meta,
            status,
            suspended: overrides.suspended,
            suspendable,
            task: (!overrides.suspended || running)
                .then(|| (found.container.clone(), running, ready)),
        }
    }

    /// Whether the service answers on its published port (cached once it has).
    async fn answers(&self, meta: &ServiceMeta, port: Option<u16>) -> bool {
        let key = (meta.project.clone(), meta.release.clone());
        if self
            .ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&key)
        {
            return true;
        }
        let Some(port) = port else { return false };
        let ok = if meta.probe == "tcp" {
            tokio::time::timeout(
                Duration::from_millis(800),
                tokio::net::TcpStream::connect(("127.0.0.1", port)),
            )
            .await
            .is_ok_and(|c| c.is_ok())
        } else {
            self.http
                .get(format!("http://127.0.0.1:{port}/"))
                .send()
                .await
                .is_ok()
        };
        if ok {
            self.ready
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key);
        }
        ok
    }

    fn forget_readiness(&self, project: &str, release: &str) {
        self.ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(project.to_owned(), release.to_owned()));
    }

    /// Deletes a service (its container and volumes).
    pub async fn delete(&self, caller: &Caller<'_>, release: &str) -> Result<(), LabError> {
        let service = self.get(caller, release).await?;
        let key = (caller.project.to_owned(), release.to_owned());
        {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(p) = pending.get_mut(&key) {
                if p.failure.is_some() {
                    pending.remove(&key);
                } else {
                    p.cancelled = true;
                    return Ok(());
                }
            }
        }
        if let Some(runtime) = &self.runtime {
            let deleted = runtime.delete(caller.project, release).await;
            self.events.touch();
            match deleted {
                Ok(()) | Err(RuntimeError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(release);
        self.store
            .remove(&OVERRIDES, &override_key(caller.project, release))?;
        self.events.record(
            caller.project,
            release,
            "Deleted",
            format!("Service {} deleted", service.meta.friendly_name),
            EventKind::Normal,
        );
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
        self.update_overrides(caller.project, release, |o| {
            o.friendly_name = Some(name.to_owned())
        })
    }

    pub async fn share(
        &self,
        caller: &Caller<'_>,
        release: &str,
        share: bool,
    ) -> Result<(), LabError> {
        self.get(caller, release).await?;
        self.update_overrides(caller.project, release, |o| o.share = Some(share))
    }

    fn update_overrides(
        &self,
        project: &str,
        release: &str,
        change: impl FnOnce(&mut Overrides),
    ) -> Result<(), LabError> {
        let key = override_key(project, release);
        self.store.write(|w| {
            let mut o = w.get(&OVERRIDES, &key)?.unwrap_or_default();
            change(&mut o);
            w.put(&OVERRIDES, &key, &o)
        })?;
        Ok(())
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
        let runtime = self.require_runtime()?;
        let was = service.suspended;
        self.update_overrides(caller.project, release, |o| o.suspended = suspend)?;
        self.forget_readiness(caller.project, release);
        let result = if suspend {
            self.routes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(release);
            runtime.suspend(caller.project, release).await
        } else {
            runtime.resume(caller.project, release).await
        };
        self.events.touch();
        if let Err(e) = result {
            self.update_overrides(caller.project, release, |o| o.suspended = was)?;
            return Err(e.into());
        }
        let (reason, text) = if suspend {
            ("Suspended", "Service suspended")
        } else {
            ("Resumed", "Service resumed")
        };
        self.events
            .record(caller.project, release, reason, text, EventKind::Normal);
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
        let existing = match &self.runtime {
            Some(runtime) => self.engine_services(runtime).await?,
            None => Arc::new(Vec::new()),
        };
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        Ok(self.project_usage(project, &existing, &pending))
    }

    /// The loopback port of a running service, for the proxy. A miss reads the engine's
    /// listing through its cache, so unknown hosts cannot make the proxy hammer the engine.
    pub async fn route(&self, release: &str, refresh: bool) -> Option<u16> {
        if !refresh
            && let Some(port) = self
                .routes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(release)
        {
            return Some(*port);
        }
        let runtime = self.runtime.as_ref()?;
        if refresh {
            self.events.touch();
        }
        let services = self.engine_services(runtime).await.ok()?;
        let found = services
            .iter()
            .find(|s| s.meta.release == release && s.phase == Phase::Running)
            .and_then(|s| s.host_port);
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        match found {
            Some(port) => routes.insert(release.to_owned(), port),
            None => routes.remove(release),
        };
        found
    }
}

fn override_key(project: &str, release: &str) -> String {
    format!("{project}/{release}")
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

/// What to tell users when no engine was found.
pub fn no_runtime_message(probes: &[Probe]) -> String {
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
