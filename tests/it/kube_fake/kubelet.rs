//! The fake kubelet: pod statuses and their Events. A pod of registered images runs; an image
//! whose name contains `crash` crash-loops; any other image cannot be pulled.

use serde_json::{Value, json};

use super::controllers::record_event;
use super::store::{Key, State, now};

fn containers(pod: &Value) -> Vec<(String, String)> {
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let s = |f: &str| c[f].as_str().unwrap_or_default().to_string();
            (s("name"), s("image"))
        })
        .collect()
}

fn condition(type_: &str, ok: bool, at: &str) -> Value {
    json!({"type": type_, "status": if ok { "True" } else { "False" }, "lastTransitionTime": at})
}

/// The pod is scheduled and its containers are being created.
pub fn start_pod(st: &mut State, key: &Key, pod: &Value) {
    let at = now();
    let statuses: Vec<Value> = containers(pod)
        .into_iter()
        .map(|(name, image)| {
            json!({
                "name": name, "image": image, "imageID": "", "ready": false, "started": false,
                "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}},
            })
        })
        .collect();
    let status = json!({
        "phase": "Pending",
        "conditions": [condition("PodScheduled", true, &at)],
        "hostIP": "127.0.0.1",
        "startTime": at,
        "qosClass": "BestEffort",
        "containerStatuses": statuses,
    });
    st.set_status(key, status);
    let name = &key.name;
    record_event(
        st,
        pod,
        "Normal",
        "Scheduled",
        &format!(
            "Successfully assigned {}/{name} to fake-node",
            key.namespace
        ),
    );
}

enum Outcome {
    Running,
    Crash,
    PullFailed,
}

/// The pod's containers start (or fail to), and the pod's status says so.
pub fn finish_pod(st: &mut State, key: &Key, pod: &Value) {
    let at = now();
    let uid = pod["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let pod_ref = format!("{}_{}({uid})", key.name, key.namespace);
    let mut statuses = Vec::new();
    let mut worst = Outcome::Running;
    for (name, image) in containers(pod) {
        let known = st.images.contains_key(&image);
        let outcome = if image.contains("crash") {
            Outcome::Crash
        } else if known {
            Outcome::Running
        } else {
            Outcome::PullFailed
        };
        record_event(
            st,
            pod,
            "Normal",
            "Pulling",
            &format!("Pulling image \"{image}\""),
        );
        let base = json!({
            "name": name, "image": image, "imageID": format!("fake://{image}"),
            "containerID": format!("fake://{uid}-{name}"), "restartCount": 0,
        });
        let status = match outcome {
            Outcome::PullFailed => {
                let msg = format!("failed to pull image \"{image}\": not found");
                record_event(st, pod, "Warning", "Failed", &msg);
                json!({"ready": false, "started": false, "state": {"waiting": {"reason": "ErrImagePull", "message": msg}}})
            }
            Outcome::Crash => {
                started_events(st, pod, &name, &image);
                let msg = format!("back-off 10s restarting failed container={name} pod={pod_ref}");
                record_event(
                    st,
                    pod,
                    "Warning",
                    "BackOff",
                    &format!("Back-off restarting failed container {name} in pod {pod_ref}"),
                );
                json!({
                    "ready": false, "started": false, "restartCount": 1,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": msg}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": at, "finishedAt": at}},
                })
            }
            Outcome::Running => {
                started_events(st, pod, &name, &image);
                json!({"ready": true, "started": true, "state": {"running": {"startedAt": at}}})
            }
        };
        let mut full = base;
        for (k, v) in status.as_object().into_iter().flatten() {
            full[k] = v.clone();
        }
        statuses.push(full);
        worst = match (worst, outcome) {
            (Outcome::PullFailed, _) | (_, Outcome::PullFailed) => Outcome::PullFailed,
            (Outcome::Crash, _) | (_, Outcome::Crash) => Outcome::Crash,
            _ => Outcome::Running,
        };
    }
    let (phase, ready) = match worst {
        Outcome::Running => ("Running", true),
        Outcome::Crash => ("Running", false),
        Outcome::PullFailed => ("Pending", false),
    };
    let mut status = json!({
        "phase": phase,
        "conditions": [
            condition("PodScheduled", true, &at),
            condition("Initialized", true, &at),
            condition("ContainersReady", ready, &at),
            condition("Ready", ready, &at),
        ],
        "hostIP": "127.0.0.1",
        "startTime": pod["status"]["startTime"].as_str().unwrap_or(&at),
        "qosClass": "BestEffort",
        "containerStatuses": statuses,
    });
    if phase == "Running" {
        status["podIP"] = json!("127.0.0.1");
        status["podIPs"] = json!([{"ip": "127.0.0.1"}]);
    }
    st.set_status(key, status);
}

fn started_events(st: &mut State, pod: &Value, name: &str, image: &str) {
    record_event(
        st,
        pod,
        "Normal",
        "Pulled",
        &format!("Successfully pulled image \"{image}\""),
    );
    record_event(
        st,
        pod,
        "Normal",
        "Created",
        &format!("Created container: {name}"),
    );
    record_event(
        st,
        pod,
        "Normal",
        "Started",
        &format!("Started container {name}"),
    );
}

/// Whether a container of the pod is running now (a crash-looping one is not).
pub fn running(pod: &Value, container: &str) -> bool {
    let statuses = pod["status"]["containerStatuses"].as_array();
    let status = statuses
        .into_iter()
        .flatten()
        .find(|s| s["name"] == json!(container));
    status.is_some_and(|s| !s["state"]["running"].is_null())
}

/// Why a container cannot give logs or forward ports, or None when it runs.
pub fn not_running(pod: &Value, container: &str) -> Option<String> {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let statuses = pod["status"]["containerStatuses"].as_array();
    let status = statuses
        .into_iter()
        .flatten()
        .find(|s| s["name"] == json!(container));
    let Some(status) = status else {
        return Some(format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start: ContainerCreating"
        ));
    };
    if !status["state"]["running"].is_null() || !status["lastState"]["terminated"].is_null() {
        return None;
    }
    let reason = match status["state"]["waiting"]["reason"].as_str() {
        Some("ErrImagePull") => "trying and failing to pull image",
        Some(other) => other,
        None => "ContainerCreating",
    };
    Some(format!(
        "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {reason}"
    ))
}
