//! Following the cluster: after the watches bring a change (or every few seconds), the managed
//! services are listed (from the cache, or in three requests whatever their number) and, for
//! services not yet Ready, their namespace's events are read. A changed state marks the lab's cached listing stale; the cluster's events (pulls,
//! scheduling, back-offs, quota refusals) become the service's events.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::Api;
use kube::api::ListParams;

use super::names::base_name;
use super::{Failures, KubeRuntime};
use crate::runtime::{EventKind, EventLog, Phase, Runtime, RuntimeService};

/// How often the cluster is read when nothing changes.
const POLL: Duration = Duration::from_secs(2);
/// After a change, how long to let a burst of changes gather before reading.
const GATHER: Duration = Duration::from_millis(200);
/// Events older than the watcher's start by more than this are history, not news.
const SLACK_MS: i64 = 5_000;

/// What the lab shows of a service, to notice changes.
fn summary(s: &RuntimeService) -> String {
    format!("{:?}/{:?}/{}", s.phase, s.ready, s.container)
}

pub async fn run(runtime: &KubeRuntime, failures: &Failures, events: EventLog) {
    let started_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut states: HashMap<(String, String), String> = HashMap::new();
    // namespace → event uid → the count already recorded.
    let mut seen: HashMap<String, HashMap<String, i32>> = HashMap::new();
    let mut changes = runtime.cache.changes();
    loop {
        match runtime.list(None).await {
            Ok(services) => {
                let now: HashMap<_, _> = services
                    .iter()
                    .map(|s| ((s.meta.project.clone(), s.meta.release.clone()), summary(s)))
                    .collect();
                // Services that changed since the last round have news even when they are
                // settled now (a pod that started between two rounds).
                let changed: HashSet<&str> = now
                    .iter()
                    .filter(|(key, state)| states.get(*key) != Some(*state))
                    .map(|((project, _), _)| project.as_str())
                    .collect();
                let unsettled: HashSet<&str> = services
                    .iter()
                    .filter(|s| !(s.phase == Phase::Running && s.ready == Some(true)))
                    .filter(|s| !matches!(s.phase, Phase::Exited { .. }))
                    .map(|s| s.meta.project.as_str())
                    .chain(changed)
                    .collect();
                // What was recorded is remembered while the namespace has services, so a
                // namespace read again later does not replay its events.
                seen.retain(|namespace, _| services.iter().any(|s| s.meta.project == *namespace));
                for namespace in unsettled {
                    let releases: Vec<&str> = services
                        .iter()
                        .filter(|s| s.meta.project == namespace)
                        .map(|s| s.meta.release.as_str())
                        .collect();
                    let fresh = forward_events(
                        runtime,
                        namespace,
                        &releases,
                        seen.entry(namespace.to_owned()).or_default(),
                        started_ms,
                        &events,
                        failures,
                    )
                    .await;
                    if fresh {
                        events.touch();
                    }
                }
                forget_resolved_failures(failures, &services);
                if now != states {
                    states = now;
                    events.touch();
                }
            }
            Err(e) => tracing::debug!(error = %e, "cannot list services on the cluster"),
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = changes.changed() => tokio::time::sleep(GATHER).await,
        }
        changes.mark_unchanged();
    }
}

/// Records the namespace's new events about `releases`; true when a quota refusal was new.
async fn forward_events(
    runtime: &KubeRuntime,
    namespace: &str,
    releases: &[&str],
    seen: &mut HashMap<String, i32>,
    started_ms: i64,
    events: &EventLog,
    failures: &Failures,
) -> bool {
    let api: Api<Event> = Api::namespaced(runtime.client().clone(), namespace);
    let listed = match api.list(&ListParams::default()).await {
        Ok(l) => l.items,
        Err(e) => {
            tracing::debug!(namespace, error = %e, "cannot read the cluster's events");
            return false;
        }
    };
    let by_object: HashMap<String, &str> = releases
        .iter()
        .flat_map(|r| [(base_name(r), *r), (format!("{}-0", base_name(r)), *r)])
        .collect();
    let listed_uids: HashSet<String> = listed
        .iter()
        .filter_map(|e| e.metadata.uid.clone())
        .collect();
    seen.retain(|uid, _| listed_uids.contains(uid));
    let mut new_failure = false;
    for event in listed {
        let Some(release) = event
            .involved_object
            .name
            .as_ref()
            .and_then(|n| by_object.get(n))
        else {
            continue;
        };
        let uid = event.metadata.uid.clone().unwrap_or_default();
        let count = event.count.unwrap_or(1);
        if seen.get(&uid) == Some(&count) {
            continue;
        }
        let first_time = !seen.contains_key(&uid);
        seen.insert(uid, count);
        let last_ms = event
            .last_timestamp
            .as_ref()
            .or(event.first_timestamp.as_ref())
            .map(|t| t.0.as_millisecond())
            .or_else(|| event.event_time.as_ref().map(|t| t.0.as_millisecond()))
            .unwrap_or(started_ms);
        if first_time && last_ms < started_ms - SLACK_MS {
            continue;
        }
        let reason = event.reason.clone().unwrap_or_default();
        let message = event.message.clone().unwrap_or_default();
        let kind = if event.type_.as_deref() == Some("Warning") {
            EventKind::Warning
        } else {
            EventKind::Normal
        };
        if reason == "FailedCreate" && event.involved_object.kind.as_deref() == Some("StatefulSet")
        {
            let key = (namespace.to_owned(), (*release).to_owned());
            new_failure |= crate::sync::lock(failures)
                .insert(key, message.clone())
                .is_none();
        }
        events.record(namespace, release, &reason, message, kind);
    }
    new_failure
}

/// A refusal stops counting once the pod exists (its name is the container's, where the
/// StatefulSet's name stands while there is none) or the service is gone.
fn forget_resolved_failures(failures: &Failures, services: &[RuntimeService]) {
    let podless: HashSet<(String, String)> = services
        .iter()
        .filter(|s| s.container == base_name(&s.meta.release))
        .map(|s| (s.meta.project.clone(), s.meta.release.clone()))
        .collect();
    crate::sync::lock(failures).retain(|key, _| podless.contains(key));
}
