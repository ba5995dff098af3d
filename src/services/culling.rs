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
use crate::runtime::{CpuReading, EventKind, Phase, RuntimeService, ServiceMeta};

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
    /// (project, release) → what the last passes saw.
    watched: std::sync::Mutex<HashMap<(String, String), Watch>>,
    /// The engine's inability to measure CPU was logged.
    warned: AtomicBool,
}

struct Watch {
    /// Last time the service was used or busy (platform ms).
    active_ms: u64,
    /// The last cumulative CPU reading and when it was taken.
    cpu: Option<(Instant, u64)>,
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

/// How busy a service was since the last pass.
enum Cpu {
    Busy,
    Quiet(u64),
    /// No figure (the engine cannot measure, or a first cumulative reading).
    Unknown,
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

    /// When the service counted as used last: its last use or busy pass, else its (re)start
    /// or the platform's start, whichever is latest.
    fn active_since(&self, meta: &ServiceMeta, changed_ms: u64) -> u64 {
        let watched = crate::sync::lock(&self.culling.watched)
            .get(&(meta.project.clone(), meta.release.clone()))
            .map_or(0, |w| w.active_ms);
        let used = self.culling.activity.last(&meta.release).unwrap_or(0);
        [watched, used, meta.created_ms, changed_ms, self.started_ms]
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
        let read_at = Instant::now();
        let now = self.clock.millis();
        self.meter_look(&running, &cpu, now).await;
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
            let Some(idle_after) = settings.idle_after_ms else {
                continue;
            };
            if !running
                .iter()
                .any(|r| r.meta.release == s.meta.release && r.meta.project == s.meta.project)
            {
                crate::sync::lock(&self.culling.watched).remove(&key);
                continue;
            }
            let active = self.active_since(&s.meta, s.changed_ms);
            let busy = {
                let mut watched = crate::sync::lock(&self.culling.watched);
                let watch = watched.entry(key.clone()).or_insert(Watch {
                    active_ms: active,
                    cpu: None,
                });
                watch.active_ms = active;
                let busy = judge(watch, cpu.get(&key), read_at, settings.cpu_threshold_millis);
                if let Cpu::Busy = busy {
                    watch.active_ms = now;
                }
                busy
            };
            let idle_for = now.saturating_sub(active);
            match busy {
                Cpu::Busy if idle_for >= idle_after => report.kept_busy.push(key.1.clone()),
                Cpu::Busy => {}
                // A first cumulative reading cannot tell: wait for the next pass.
                Cpu::Unknown if cpu.contains_key(&key) => {}
                quiet if idle_for >= idle_after => {
                    let cpu_words = match quiet {
                        Cpu::Quiet(m) => {
                            format!("CPU at {m}m, under {}m", settings.cpu_threshold_millis)
                        }
                        _ => "CPU use unknown".to_owned(),
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
                    crate::sync::lock(&self.culling.watched).remove(&key);
                    report.suspended.push(key.1.clone());
                }
                _ => {}
            }
        }
        crate::sync::lock(&self.culling.watched).retain(|k, _| {
            services
                .iter()
                .any(|s| s.meta.project == k.0 && s.meta.release == k.1)
        });
        if report != CullReport::default() {
            tracing::info!(suspended = ?report.suspended, deleted = ?report.deleted, "culled services");
        }
        Ok(report)
    }
}

impl Lab {
    /// Records what the running services used since the previous look.
    async fn meter_look(
        &self,
        running: &[RuntimeService],
        cpu: &crate::runtime::CpuUsage,
        now: u64,
    ) {
        let seen: Vec<(ServiceMeta, u64)> = running
            .iter()
            .map(|s| {
                let key = (s.meta.project.clone(), s.meta.release.clone());
                (s.meta.clone(), self.meter.cpu_of(s, cpu.get(&key), now))
            })
            .collect();
        let meter = self.meter.clone();
        let recorded = crate::blocking::run(move || {
            let seen: Vec<metering::Seen<'_>> = seen
                .iter()
                .map(|(meta, cpu_millicores)| metering::Seen {
                    meta,
                    cpu_millicores: *cpu_millicores,
                })
                .collect();
            meter.record(&seen, now)
        })
        .await;
        match recorded {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot record usage"),
            Err(e) => tracing::warn!(error = %e, "cannot record usage"),
        }
    }
}

/// Whether a service was busy, from its reading now and, for cumulative readings, the last one.
fn judge(watch: &mut Watch, reading: Option<&CpuReading>, at: Instant, threshold: u64) -> Cpu {
    let millicores = match reading {
        None => return Cpu::Unknown,
        Some(CpuReading::Rate { millicores }) => *millicores,
        Some(CpuReading::Total { nanos }) => {
            let previous = watch.cpu.replace((at, *nanos));
            let Some((then, before)) = previous else {
                return Cpu::Unknown;
            };
            let elapsed = at.duration_since(then).as_nanos().max(1);
            let used = u128::from(nanos.saturating_sub(before));
            u64::try_from(used * 1000 / elapsed).unwrap_or(u64::MAX)
        }
    };
    if millicores > threshold {
        Cpu::Busy
    } else {
        Cpu::Quiet(millicores)
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
