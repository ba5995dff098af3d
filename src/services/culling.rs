//! Idle culling that spares busy work. A running service is idle only when, for its idle
//! time, nobody used it through the proxy (see `activity.rs`) *and* its CPU stayed below a
//! threshold, as the engine measures it — so a kernel training a model with its tab closed is
//! kept, and an open tab nobody touches does not keep a service alive. Idle services are
//! suspended (their volumes kept); a maximum age deletes services, suspended or not. Each
//! cull is an event on the service with its reason. Times are the platform's clock; CPU rates
//! from cumulative readings use real elapsed time, since that is what the CPU time counts.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::activity::Activity;
use super::metering;
use super::{Caller, Lab, LabError, Service};
use crate::runtime::{CpuReading, CpuUsage, EventKind, Phase, RuntimeService, ServiceMeta};

/// How one service is culled; `None` never.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CullSettings {
    pub idle_after_ms: Option<u64>,
    pub max_age_ms: Option<u64>,
    /// CPU use (millicores) under which the service counts as idle.
    pub cpu_threshold_millis: u64,
}

/// The settings of each service (its catalog's, its owner's class's, the platform's).
pub type CullPolicy = Arc<dyn Fn(&ServiceMeta) -> CullSettings + Send + Sync>;

/// What the lab keeps for culling.
#[derive(Default)]
pub struct Culling {
    pub activity: Activity,
    policy: std::sync::RwLock<Option<CullPolicy>>,
    /// (project, release) → the last cumulative CPU reading and when it was taken, for the
    /// rate at the next look.
    totals: std::sync::Mutex<HashMap<(String, String), (Instant, u64)>>,
    /// The engine's inability to measure CPU was logged.
    warned: AtomicBool,
}

/// What one pass did, by release.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CullReport {
    pub suspended: Vec<String>,
    pub deleted: Vec<String>,
    /// Idle long enough by traffic, kept because their CPU was above the threshold.
    pub kept_busy: Vec<String>,
}

/// When a service will be suspended if it stays idle, and deleted for its age.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Deadlines {
    pub suspend_at_ms: Option<u64>,
    pub delete_at_ms: Option<u64>,
}

/// What a look measured of a running service's CPU.
#[derive(Clone, Copy)]
enum Measured {
    Millicores(u64),
    /// A first cumulative reading: the rate comes at the next look.
    First,
}

impl Lab {
    /// Sets how services are culled (until set, none is).
    pub fn set_cull_policy(&self, policy: CullPolicy) {
        *crate::sync::write(&self.culling.policy) = Some(policy);
    }

    fn cull_settings(&self, meta: &ServiceMeta) -> CullSettings {
        match crate::sync::read(&self.culling.policy).as_ref() {
            Some(policy) => policy(meta),
            None => CullSettings::default(),
        }
    }

    /// Records that someone used the service `release` now (the proxy calls this).
    pub fn saw_use(&self, release: &str) {
        self.culling.activity.record(release, self.clock.millis());
    }

    /// When the service counted as used last: its last use or busy look, else its (re)start
    /// or the platform's start, whichever is latest.
    fn active_since(&self, meta: &ServiceMeta, changed_ms: u64) -> u64 {
        let used = self.culling.activity.last(&meta.release).unwrap_or(0);
        [used, meta.created_ms, changed_ms, self.started_ms]
            .into_iter()
            .max()
            .unwrap_or(0)
    }

    /// When `service` will be suspended (if still idle) and deleted.
    pub fn deadlines(&self, service: &Service) -> Deadlines {
        let settings = self.cull_settings(&service.meta);
        let running = service.task.as_ref().is_some_and(|t| t.1) && !service.suspended;
        Deadlines {
            suspend_at_ms: settings.idle_after_ms.filter(|_| running).map(|idle| {
                self.active_since(&service.meta, service.updated_ms)
                    .saturating_add(idle)
            }),
            delete_at_ms: settings
                .max_age_ms
                .map(|age| service.meta.created_ms.saturating_add(age)),
        }
    }

    /// Postpones the idle suspension of one of the caller's services: it counts as used now.
    pub async fn extend(&self, caller: &Caller<'_>, release: &str) -> Result<Deadlines, LabError> {
        let service = self.get(caller, release).await?;
        self.saw_use(release);
        Ok(self.deadlines(&service))
    }

    /// Looks at every service once: records what the running ones used (`metering.rs`),
    /// suspends the idle, deletes those past their maximum age.
    pub async fn cull_pass(&self) -> Result<CullReport, LabError> {
        let mut report = CullReport::default();
        let Some(runtime) = self.runtime.clone() else {
            return Ok(report);
        };
        let services = runtime.list(None).await?;
        let running: Vec<RuntimeService> = services
            .iter()
            .filter(|s| s.phase == Phase::Running && !self.overrides.is_suspended(&s.meta))
            .cloned()
            .collect();
        let cpu = match runtime.cpu_usage(&running).await {
            Ok(cpu) => cpu,
            Err(e) => {
                if !self.culling.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "CPU use of services is unknown: idle culling judges by traffic only");
                }
                HashMap::new()
            }
        };
        let measured = self.measure(&running, &cpu);
        let now = self.clock.millis();
        self.meter_look(&running, &measured, now).await;
        for s in &services {
            let settings = self.cull_settings(&s.meta);
            if let Some(age) = settings.max_age_ms
                && now >= s.meta.created_ms.saturating_add(age)
            {
                let text = format!(
                    "Deleted: launched more than {} ago, the maximum age",
                    hours(age)
                );
                self.remove_service(&s.meta, "Expired", text, EventKind::Warning)
                    .await?;
                report.deleted.push(s.meta.release.clone());
                continue;
            }
            let key = (s.meta.project.clone(), s.meta.release.clone());
            let (Some(idle_after), Some(&measured)) = (settings.idle_after_ms, measured.get(&key))
            else {
                continue;
            };
            let threshold = settings.cpu_threshold_millis;
            if let Some(Measured::Millicores(m)) = measured
                && m > threshold
            {
                // Busy counts as use: the idle time starts again.
                if now.saturating_sub(self.active_since(&s.meta, s.changed_ms)) >= idle_after {
                    report.kept_busy.push(key.1.clone());
                }
                self.culling.activity.record(&s.meta.release, now);
                continue;
            }
            if now.saturating_sub(self.active_since(&s.meta, s.changed_ms)) < idle_after {
                continue;
            }
            let cpu_words = match measured {
                Some(Measured::Millicores(m)) => format!("CPU at {m}m, under {threshold}m"),
                // A first cumulative reading cannot tell: wait for the next look.
                Some(Measured::First) => continue,
                None => "CPU use unknown".to_owned(),
            };
            let text = format!(
                "Suspended after {} without use through the proxy ({cpu_words}); resume it from My services",
                minutes(idle_after)
            );
            self.apply_suspension(
                &s.meta.project,
                &s.meta.release,
                true,
                "IdleSuspended",
                text,
                EventKind::Warning,
            )
            .await?;
            report.suspended.push(key.1.clone());
        }
        if report != CullReport::default() {
            tracing::info!(suspended = ?report.suspended, deleted = ?report.deleted, "culled services");
        }
        Ok(report)
    }
}

impl Lab {
    /// What each running service's CPU was since the previous look, keyed like `cpu` (a
    /// service left out has no figure): the engine's rate, or the rate between two
    /// cumulative readings over the real time between them, since that is what CPU time
    /// counts. Forgets the readings of services no longer running.
    fn measure(
        &self,
        running: &[RuntimeService],
        cpu: &CpuUsage,
    ) -> HashMap<(String, String), Option<Measured>> {
        let at = Instant::now();
        let mut totals = crate::sync::lock(&self.culling.totals);
        totals.retain(|key, _| cpu.contains_key(key));
        running
            .iter()
            .map(|s| {
                let key = (s.meta.project.clone(), s.meta.release.clone());
                let measured = match cpu.get(&key) {
                    None => None,
                    Some(CpuReading::Rate { millicores }) => {
                        Some(Measured::Millicores(*millicores))
                    }
                    Some(CpuReading::Total { nanos }) => {
                        match totals.insert(key.clone(), (at, *nanos)) {
                            None => Some(Measured::First),
                            Some((then, before)) => {
                                let elapsed = at.duration_since(then).as_nanos().max(1);
                                let used = u128::from(nanos.saturating_sub(before));
                                let millicores =
                                    u64::try_from(used * 1000 / elapsed).unwrap_or(u64::MAX);
                                Some(Measured::Millicores(millicores))
                            }
                        }
                    }
                };
                (key, measured)
            })
            .collect()
    }

    /// Records what the running services used since the previous look: the CPU measured,
    /// else what each requested.
    async fn meter_look(
        &self,
        running: &[RuntimeService],
        measured: &HashMap<(String, String), Option<Measured>>,
        now: u64,
    ) {
        let seen: Vec<metering::Seen> = running
            .iter()
            .map(|s| {
                let key = (s.meta.project.clone(), s.meta.release.clone());
                let cpu_millicores = match measured.get(&key) {
                    Some(Some(Measured::Millicores(m))) => *m,
                    _ => s.meta.cpu_request_millis,
                };
                metering::Seen {
                    meta: s.meta.clone(),
                    cpu_millicores,
                }
            })
            .collect();
        let meter = self.meter.clone();
        match crate::blocking::run(move || meter.record(&seen, now)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot record usage"),
            Err(e) => tracing::warn!(error = %e, "cannot record usage"),
        }
    }
}

fn minutes(ms: u64) -> String {
    let m = ms / 60_000;
    if m >= 120 && m.is_multiple_of(60) {
        hours(ms)
    } else {
        format!("{m} min")
    }
}

fn hours(ms: u64) -> String {
    format!("{} h", ms / 3_600_000)
}
