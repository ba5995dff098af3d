//! A service's state from its StatefulSet and pod, in the terms the lab uses ([`Phase`],
//! readiness), with the cluster's own words when it cannot run the service.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret};

use super::objects::meta_fields;
use crate::runtime::{Phase, RuntimeService, meta};

/// Why a container waits that will not pass by itself.
const FAILING_REASONS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// The service a StatefulSet describes, with its pod when it has one. `failure` is a
/// refusal the cluster reported about the StatefulSet itself (a quota). The address is
/// left for the runtime to fill in.
pub fn service_of(
    statefulset: &StatefulSet,
    meta_secret: Option<&Secret>,
    pod: Option<&Pod>,
    failure: Option<&str>,
) -> Option<RuntimeService> {
    let meta = meta::decode(&meta_fields(statefulset, meta_secret), meta::KUBE)?;
    let replicas = statefulset
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let (phase, ready) = match pod {
        _ if replicas == 0 => (
            Phase::Exited {
                code: 0,
                oom: false,
            },
            false,
        ),
        Some(pod) => pod_phase(pod),
        None => match failure {
            Some(message) => (Phase::Failed(message.to_owned()), false),
            None => (Phase::Created, false),
        },
    };
    let created_ms = timestamp_ms(statefulset.metadata.creation_timestamp.as_ref());
    let started_ms = pod.and_then(started_ms).unwrap_or(created_ms);
    Some(RuntimeService {
        container: pod
            .and_then(|p| p.metadata.name.clone())
            .or_else(|| statefulset.metadata.name.clone())
            .unwrap_or_default(),
        meta,
        phase,
        address: None,
        ready: Some(ready),
        changed_ms: started_ms,
    })
}

/// The phase of a service's pod and whether the cluster says it is Ready.
pub fn pod_phase(pod: &Pod) -> (Phase, bool) {
    let Some(status) = &pod.status else {
        return (Phase::Created, false);
    };
    let ready = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let container = status.container_statuses.iter().flatten().next();
    let state = container.and_then(|c| c.state.as_ref());
    if let Some(waiting) = state.and_then(|s| s.waiting.as_ref())
        && let Some(reason) = waiting.reason.as_deref()
        && FAILING_REASONS.contains(&reason)
    {
        let message = waiting.message.as_deref().unwrap_or("");
        let text = if message.is_empty() {
            reason.to_owned()
        } else {
            format!("{reason}: {message}")
        };
        return (Phase::Failed(text), false);
    }
    if let Some(unschedulable) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    {
        let message = unschedulable.message.clone().unwrap_or_default();
        return (
            Phase::Failed(format!(
                "{}: {message}",
                unschedulable.reason.as_deref().unwrap_or("Unschedulable")
            )),
            false,
        );
    }
    if let Some(terminated) = state.and_then(|s| s.terminated.as_ref()) {
        let oom = terminated.reason.as_deref() == Some("OOMKilled");
        return (
            Phase::Exited {
                code: i64::from(terminated.exit_code),
                oom,
            },
            false,
        );
    }
    match status.phase.as_deref() {
        Some("Running") if state.is_some_and(|s| s.running.is_some()) => (Phase::Running, ready),
        Some("Failed") | Some("Succeeded") => (
            Phase::Exited {
                code: 0,
                oom: false,
            },
            false,
        ),
        _ => (Phase::Created, false),
    }
}

fn started_ms(pod: &Pod) -> Option<u64> {
    let status = pod.status.as_ref()?;
    let started = status
        .container_statuses
        .iter()
        .flatten()
        .find_map(|c| c.state.as_ref()?.running.as_ref()?.started_at.as_ref());
    started
        .map(|t| timestamp_ms(Some(t)))
        .or_else(|| Some(timestamp_ms(pod.metadata.creation_timestamp.as_ref())))
}

fn timestamp_ms(time: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> u64 {
    time.map(|t| t.0.as_millisecond().max(0) as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "tiny-0", "namespace": "user-alice"},
            "status": status
        }))
        .unwrap()
    }

    #[test]
    fn a_ready_running_pod_is_running_and_ready() {
        let p = pod(serde_json::json!({
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "tiny", "image": "x", "imageID": "", "ready": true,
                "restartCount": 0, "state": {"running": {"startedAt": "2026-12-07T10:00:00Z"}}}]
        }));
        assert_eq!(pod_phase(&p), (Phase::Running, true));
        assert_eq!(started_ms(&p), Some(1_796_637_600_000));
    }

    #[test]
    fn pods_that_cannot_run_fail_with_the_clusters_words() {
        let pull = pod(serde_json::json!({
            "phase": "Pending",
            "containerStatuses": [{"name": "tiny", "image": "x", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull",
                "message": "failed to pull image \"x\": not found"}}}]
        }));
        assert_eq!(
            pod_phase(&pull).0,
            Phase::Failed("ErrImagePull: failed to pull image \"x\": not found".into())
        );
        let unschedulable = pod(serde_json::json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 Insufficient cpu."}]
        }));
        assert_eq!(
            pod_phase(&unschedulable).0,
            Phase::Failed("Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.".into())
        );
        let creating = pod(serde_json::json!({
            "phase": "Pending",
            "containerStatuses": [{"name": "tiny", "image": "x", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]
        }));
        assert_eq!(pod_phase(&creating), (Phase::Created, false));
        let oom = pod(serde_json::json!({
            "phase": "Running",
            "containerStatuses": [{"name": "tiny", "image": "x", "imageID": "", "ready": false,
                "restartCount": 1, "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]
        }));
        assert_eq!(
            pod_phase(&oom).0,
            Phase::Exited {
                code: 137,
                oom: true
            }
        );
    }
}
