//! Usage metering: what each service used — hours running, CPU-hours, memory-hours — and how
//! many services ran at once, recorded at every look at the services (see `culling.rs`) into
//! redb, so usage reports survive restarts. CPU-hours are the measured use when the engine
//! measures it, else the CPU the service requested; memory-hours are its memory request. Only
//! time the platform was up and the service running counts.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::runtime::ServiceMeta;
use crate::store::{Store, StoreError, Table};

/// One service's usage over its life.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceUsage {
    pub owner: String,
    pub project: String,
    pub release: String,
    pub catalog: String,
    pub chart: String,
    pub launched_ms: u64,
    /// Last look that saw it running.
    pub last_seen_ms: u64,
    pub running_hours: f64,
    pub cpu_hours: f64,
    pub memory_gib_hours: f64,
}

/// Keyed `<launch ms, 16 hex digits>/<project>/<release>`: a range is a span of launches.
const SERVICES: Table<ServiceUsage> = Table::new("usage_services");
/// Keyed by the look's time (16 hex digits): services running then.
const SAMPLES: Table<u64> = Table::new("usage_samples");

fn row(meta: &ServiceMeta) -> String {
    format!("{:016x}/{}/{}", meta.created_ms, meta.project, meta.release)
}

/// A look at one running service: its meta, and its CPU in millicores (measured, or the
/// request when unknown).
pub struct Seen {
    pub meta: ServiceMeta,
    pub cpu_millicores: u64,
}

pub struct Meter {
    store: Arc<Store>,
    /// The previous look's time: only time between two looks of a running platform counts.
    previous: Mutex<Option<u64>>,
}

impl Meter {
    pub fn new(store: Arc<Store>) -> Self {
        Meter {
            store,
            previous: Mutex::new(None),
        }
    }

    /// Records a look at `now`: each running service's time since the previous look, and how
    /// many ran. Blocking (one redb transaction).
    pub fn record(&self, seen: &[Seen], now: u64) -> Result<(), StoreError> {
        let since = crate::sync::lock(&self.previous).replace(now);
        self.store.write(|w| {
            for s in seen {
                let key = row(&s.meta);
                let mut usage = w.get(&SERVICES, &key)?.unwrap_or_else(|| ServiceUsage {
                    owner: s.meta.owner.clone(),
                    project: s.meta.project.clone(),
                    release: s.meta.release.clone(),
                    catalog: s.meta.catalog.clone(),
                    chart: s.meta.chart.clone(),
                    launched_ms: s.meta.created_ms,
                    ..Default::default()
                });
                // From the later of the previous look and the last time it was seen: time
                // the platform was down, or the service suspended, does not count.
                let from = since.map_or(now, |p| p.max(usage.last_seen_ms).max(s.meta.created_ms));
                let hours = now.saturating_sub(from) as f64 / 3_600_000.0;
                usage.running_hours += hours;
                usage.cpu_hours += hours * s.cpu_millicores as f64 / 1000.0;
                usage.memory_gib_hours +=
                    hours * s.meta.memory_request_bytes as f64 / (1u64 << 30) as f64;
                usage.last_seen_ms = now;
                w.put(&SERVICES, &key, &usage)?;
            }
            w.put(&SAMPLES, &format!("{now:016x}"), &(seen.len() as u64))?;
            Ok(())
        })
    }

    /// Services launched at or after `since_ms`, with what they used.
    pub fn services_since(&self, since_ms: u64) -> Result<Vec<ServiceUsage>, StoreError> {
        Ok(self
            .store
            .range(&SERVICES, &format!("{since_ms:016x}"), None, usize::MAX)?
            .into_iter()
            .map(|(_, u)| u)
            .collect())
    }

    /// (time, services running) of each look at or after `since_ms`.
    pub fn concurrency_since(&self, since_ms: u64) -> Result<Vec<(u64, u64)>, StoreError> {
        Ok(self
            .store
            .range(&SAMPLES, &format!("{since_ms:016x}"), None, usize::MAX)?
            .into_iter()
            .filter_map(|(k, n)| Some((u64::from_str_radix(&k, 16).ok()?, n)))
            .collect())
    }
}
