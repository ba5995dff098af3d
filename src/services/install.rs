//! Installs: a request is checked (catalog, values against the schema, name, quota) and
//! reserved under one lock, then deployed in the background. Until its container exists — while
//! its image is pulled, or when that failed — a service lives in the pending installs here.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::naming::check_release_name;
use super::quota::QuotaUsage;
use super::{Caller, InstallRequest, Lab, LabError, Service, Status, suspendable};
use crate::catalog::launch::{Launch, render_notes};
use crate::catalog::{Package, schema, values};
use crate::runtime::{ContainerSpec, EventKind, Runtime, ServiceMeta};

pub(super) struct Pending {
    pub meta: ServiceMeta,
    pub failure: Option<String>,
    /// Deleted while deploying: remove the container once it exists.
    pub cancelled: bool,
}

/// (project, release) → its install in progress or failed before a container existed.
pub(super) type PendingInstalls = HashMap<(String, String), Pending>;

impl Lab {
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
            let errors = schema::validate(&schema, &effective)?;
            if !errors.is_empty() {
                return Err(LabError::Validation(errors));
            }
        }
        let launch = package
            .launch
            .render(&effective, &req.release, caller.project, &self.reach)
            .map_err(|e| LabError::Validation(vec![e.to_string()]))?;
        self.check_course(caller, &launch.spec)?;
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
                volume_request_bytes,
            },
        ) = self.prepare(caller, &req)?;
        let runtime = self.require_runtime()?.clone();
        self.listing_for_install(&runtime).await?;
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
            volume_request_bytes,
            created_ms: self.clock.millis(),
            probe: match package.launch.probe {
                crate::catalog::launch::Probe::Http => "http".into(),
                crate::catalog::launch::Probe::Tcp => "tcp".into(),
            },
            project_owner: match caller.group {
                Some(group) => format!("group:{group}"),
                None if caller.group_project => String::new(),
                None => format!("user:{}", caller.username),
            },
            course: spec
                .course
                .as_ref()
                .map(|c| c.bucket.clone())
                .unwrap_or_default(),
        };
        let key = (meta.project.clone(), meta.release.clone());
        // Name and quota checks and the reservation happen under one lock, so two concurrent
        // installs cannot both pass them.
        {
            let mut pending = crate::sync::lock(&self.pending);
            let existing = self.with_own_changes();
            // A cancelled install still holds its name until what it made is removed.
            let taken = existing.iter().any(|m| m.release == req.release)
                || pending.values().any(|p| p.meta.release == req.release);
            if taken {
                return Err(LabError::Conflict(format!(
                    "a service named `{}` already exists",
                    req.release
                )));
            }
            if let Some(quota) = caller.quota {
                let usage = self.project_usage(caller.project, &existing, &pending);
                quota
                    .admit(&usage, &QuotaUsage::of_service(&meta))
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
        // An earlier service of the same name may have left a rename, share or suspension.
        let _ = self.overrides.clear(&meta.project, &meta.release).await;
        tracing::info!(release = %meta.release, project = %meta.project, chart = %meta.chart, image = %spec.image, "installing");
        self.deploys.spawn(
            "deploy",
            self.clone().finish_install(runtime, meta, spec, key),
        );
        Ok(())
    }

    /// The background half of an install: deploys, then settles the pending record (or, when
    /// the service was deleted meanwhile, removes whatever got made).
    async fn finish_install(
        self: Arc<Self>,
        runtime: Arc<dyn Runtime>,
        meta: ServiceMeta,
        mut spec: ContainerSpec,
        key: (String, String),
    ) {
        let result = match self.prepare_course(runtime.as_ref(), &mut spec).await {
            Ok(()) => runtime.deploy(&meta, &spec, &self.events).await,
            Err(e) => Err(e),
        };
        self.events.touch();
        let cancelled = {
            let mut pending = crate::sync::lock(&self.pending);
            let cancelled = pending.get(&key).is_some_and(|p| p.cancelled);
            match &result {
                // Removed below, once what it made is gone.
                _ if cancelled => {}
                Ok(()) => {
                    pending.remove(&key);
                    self.record_own_change(&key.0, &key.1, Some(meta.clone()));
                }
                Err(e) => {
                    if let Some(p) = pending.get_mut(&key) {
                        p.failure = Some(e.to_string());
                    }
                }
            }
            cancelled
        };
        if cancelled {
            // Deleted while installing: whatever got made (even a container that failed
            // to start) goes, and only then is the name free again.
            let _ = runtime.delete(&key.0, &key.1).await;
            self.events.touch();
            let mut pending = crate::sync::lock(&self.pending);
            pending.remove(&key);
            self.record_own_change(&key.0, &key.1, None);
            return;
        }
        match result {
            Ok(()) => {}
            Err(e) => {
                // A container may exist half made (created, not started): it stays
                // visible as failed until the user deletes the service.
                let message = e.to_string();
                tracing::warn!(release = %key.1, error = %message, "install failed");
                self.events
                    .record(&key.0, &key.1, "Failed", message, EventKind::Warning);
            }
        }
    }

    /// Requests of a project's services on the engine (`existing`) and of its installs still
    /// in progress (`pending`, already locked by the caller).
    pub(super) fn project_usage(
        &self,
        project: &str,
        existing: &[ServiceMeta],
        pending: &PendingInstalls,
    ) -> QuotaUsage {
        let mut usage = QuotaUsage::default();
        for meta in existing.iter().filter(|m| m.project == project) {
            usage.add(meta, self.overrides.is_suspended(meta));
        }
        for p in pending.values() {
            if p.meta.project == project && !p.cancelled && p.failure.is_none() {
                usage.add(&p.meta, false);
            }
        }
        usage
    }

    pub(super) fn pending_views(&self, project: &str) -> Vec<Service> {
        let pending: Vec<(ServiceMeta, Option<String>)> = {
            let pending = crate::sync::lock(&self.pending);
            pending
                .values()
                .filter(|p| p.meta.project == project && !p.cancelled)
                .map(|p| (p.meta.clone(), p.failure.clone()))
                .collect()
        };
        pending
            .into_iter()
            .map(|(mut meta, failure)| {
                self.overrides.apply(&mut meta);
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
}
