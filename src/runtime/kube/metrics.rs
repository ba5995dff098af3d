//! CPU use of the services' pods from the cluster's metrics API (`metrics.k8s.io`, served by
//! metrics-server): one cluster-wide listing of pod metrics per call, whatever the number of
//! services, matched to services by namespace and pod name.

use std::collections::HashMap;

use kube::Client;
use serde_json::Value;

use super::objects::pod_name;
use crate::catalog::values::cpu_millis;
use crate::runtime::{CpuReading, CpuUsage, Phase, RuntimeError, RuntimeResult, RuntimeService};

const PODS: &str = "/apis/metrics.k8s.io/v1beta1/pods";

pub async fn cpu_usage(client: &Client, services: &[RuntimeService]) -> RuntimeResult<CpuUsage> {
    if !services.iter().any(|s| s.phase == Phase::Running) {
        return Ok(CpuUsage::new());
    }
    let request = http::Request::get(PODS)
        .body(Vec::new())
        .map_err(|e| RuntimeError::Engine(e.to_string()))?;
    let list: Value = client.request(request).await.map_err(|e| match e {
        kube::Error::Api(s) if s.code == 404 || s.code == 503 => RuntimeError::Engine(
            "the cluster has no metrics API (metrics.k8s.io); install metrics-server".into(),
        ),
        e => RuntimeError::Engine(format!("cannot read pod metrics: {e}")),
    })?;
    // (namespace, pod) → millicores over its containers.
    let mut pods: HashMap<(String, String), u64> = HashMap::new();
    for item in list["items"].as_array().into_iter().flatten() {
        let namespace = item["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = item["metadata"]["name"].as_str().unwrap_or_default();
        let millicores = item["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| cpu_millis(&c["usage"]["cpu"]).ok())
            .sum();
        pods.insert((namespace.to_owned(), name.to_owned()), millicores);
    }
    Ok(services
        .iter()
        .filter(|s| s.phase == Phase::Running)
        .filter_map(|s| {
            let key = (s.meta.project.clone(), pod_name(&s.meta.release));
            let millicores = *pods.get(&key)?;
            let service = (s.meta.project.clone(), s.meta.release.clone());
            Some((service, CpuReading::Rate { millicores }))
        })
        .collect())
}
