//! A service's [`ServiceMeta`] written on the engine's objects and read back: Docker keeps it
//! in container labels (`onyxia-lite.owner`), Kubernetes in annotations (`onyxia-lite/owner`),
//! whose values may hold any text. One list of keys for both, so they cannot drift.

use std::collections::HashMap;

use super::ServiceMeta;

/// Docker label keys: `onyxia-lite.<key>`.
pub const DOCKER: &str = "onyxia-lite.";
/// Kubernetes annotation and label keys: `onyxia-lite/<key>`.
pub const KUBE: &str = "onyxia-lite/";

/// Every field of `meta` plus the service's port, under `prefix`.
pub fn encode(meta: &ServiceMeta, port: u16, prefix: &str) -> HashMap<String, String> {
    let fields = [
        ("managed", "true".to_owned()),
        ("release", meta.release.clone()),
        ("project", meta.project.clone()),
        ("owner", meta.owner.clone()),
        ("catalog", meta.catalog.clone()),
        ("chart", meta.chart.clone()),
        ("version", meta.version.clone()),
        ("friendly-name", meta.friendly_name.clone()),
        ("share", meta.share.to_string()),
        ("port", port.to_string()),
        ("cpu-request-millis", meta.cpu_request_millis.to_string()),
        (
            "memory-request-bytes",
            meta.memory_request_bytes.to_string(),
        ),
        (
            "volume-request-bytes",
            meta.volume_request_bytes.to_string(),
        ),
        ("created-ms", meta.created_ms.to_string()),
        ("notes", meta.notes.clone()),
        ("probe", meta.probe.clone()),
        ("project-owner", meta.project_owner.clone()),
        ("values", meta.values.to_string()),
        ("course", meta.course.clone()),
    ];
    fields
        .into_iter()
        .map(|(key, value)| (format!("{prefix}{key}"), value))
        .collect()
}

/// The service `map` describes; `None` when a key field (release, project) is missing.
pub fn decode(map: &HashMap<String, String>, prefix: &str) -> Option<ServiceMeta> {
    let get = |key: &str| map.get(&format!("{prefix}{key}")).cloned();
    let number = |key: &str| get(key).and_then(|v| v.parse().ok()).unwrap_or(0);
    Some(ServiceMeta {
        release: get("release")?,
        project: get("project")?,
        owner: get("owner").unwrap_or_default(),
        catalog: get("catalog").unwrap_or_default(),
        chart: get("chart").unwrap_or_default(),
        version: get("version").unwrap_or_default(),
        friendly_name: get("friendly-name").unwrap_or_default(),
        share: get("share").as_deref() == Some("true"),
        values: get("values")
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_else(|| serde_json::json!({})),
        notes: get("notes").unwrap_or_default(),
        cpu_request_millis: number("cpu-request-millis"),
        memory_request_bytes: number("memory-request-bytes"),
        volume_request_bytes: number("volume-request-bytes"),
        created_ms: number("created-ms"),
        probe: get("probe").unwrap_or_default(),
        project_owner: get("project-owner").unwrap_or_default(),
        course: get("course").unwrap_or_default(),
    })
}

/// The service's port as `encode` wrote it.
pub fn port(map: &HashMap<String, String>, prefix: &str) -> Option<u16> {
    map.get(&format!("{prefix}port"))?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_round_trips_under_both_prefixes() {
        let meta = ServiceMeta {
            release: "tiny-1".into(),
            project: "user-alice".into(),
            owner: "alice".into(),
            catalog: "test".into(),
            chart: "tiny".into(),
            version: "1.0.0".into(),
            friendly_name: "My tiny".into(),
            share: true,
            values: serde_json::json!({"a": {"b": 1}}),
            notes: "hello".into(),
            cpu_request_millis: 100,
            memory_request_bytes: 1 << 20,
            volume_request_bytes: 5 << 30,
            created_ms: 42,
            probe: "tcp".into(),
            project_owner: "user:alice".into(),
            course: "course-demo".into(),
        };
        for prefix in [DOCKER, KUBE] {
            let map = encode(&meta, 8080, prefix);
            assert_eq!(decode(&map, prefix), Some(meta.clone()));
            assert_eq!(port(&map, prefix), Some(8080));
        }
    }
}
