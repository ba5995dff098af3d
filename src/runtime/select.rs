//! Choosing where services run from `runtime.kind`: a container engine found by `detect`, or
//! the Kubernetes cluster the kubeconfig (or the pod's service account) points at. What was
//! tried is kept as probes, so `onyxia-lite doctor` and install errors can say why.

use std::sync::Arc;

use super::Runtime;
use super::detect::{self, Probe};
use super::kube::KubeRuntime;
use super::kube::connect;
use super::kube::objects::ObjectSettings;
use crate::config::{Config, RuntimeKind};

/// Probe source of the Kubernetes runtime.
pub const KUBERNETES: &str = "kubernetes";

pub struct Selection {
    pub runtime: Option<Arc<dyn Runtime>>,
    pub probes: Vec<Probe>,
    /// The cluster's client, when the Kubernetes runtime was chosen (for doctor's checks).
    pub kube: Option<kube::Client>,
}

/// The kind `runtime.kind` means here: `auto` is the cluster inside a pod, else an engine.
pub fn effective_kind(config: &Config) -> RuntimeKind {
    match config.runtime.kind {
        RuntimeKind::Auto if connect::in_cluster() => RuntimeKind::Kube,
        RuntimeKind::Auto => RuntimeKind::Docker,
        kind => kind,
    }
}

/// Connects to the configured runtime. `objects` says how Kubernetes objects are made.
pub async fn select(config: &Config, objects: ObjectSettings) -> Selection {
    let docker_host = config.onyxia.docker_host.as_deref();
    if effective_kind(config) == RuntimeKind::Docker {
        let detection = detect::detect(docker_host).await;
        return Selection {
            runtime: detection.runtime.map(|r| Arc::new(r) as Arc<dyn Runtime>),
            probes: detection.probes,
            kube: None,
        };
    }
    let context = config.runtime.kube_context.as_deref();
    let kubeconfig = config.runtime.kubeconfig.as_deref();
    let file = kubeconfig.map_or_else(|| "kubeconfig".to_owned(), |p| p.display().to_string());
    let asked = match context {
        Some(c) => format!("{file}, context {c}"),
        None if kubeconfig.is_none() && connect::in_cluster() => {
            "in-cluster service account".to_owned()
        }
        None => format!("{file}, current context"),
    };
    match connect::connect(kubeconfig, context).await {
        Ok(connection) => {
            let platform_host = match &config.runtime.kube_platform_host {
                Some(host) => Some(host.clone()),
                None => kind_host(connection.context.as_deref(), docker_host).await,
            };
            let probe = Probe {
                source: KUBERNETES.into(),
                endpoint: format!("{} ({asked})", connection.cluster_url),
                outcome: Ok(format!("Kubernetes {}", connection.version)),
            };
            let client = connection.client.clone();
            Selection {
                runtime: Some(Arc::new(KubeRuntime::new(
                    connection,
                    objects,
                    platform_host,
                ))),
                probes: vec![probe],
                kube: Some(client),
            }
        }
        Err(e) => Selection {
            runtime: None,
            probes: vec![Probe {
                source: KUBERNETES.into(),
                endpoint: asked,
                outcome: Err(crate::markup::chain(&e)),
            }],
            kube: None,
        },
    }
}

/// On Kind (contexts `kind-*`), the host as its nodes see it: the gateway of the engine's
/// `kind` network, where the platform then also listens.
async fn kind_host(context: Option<&str>, docker_host: Option<&str>) -> Option<String> {
    if !context.is_some_and(|c| c.starts_with("kind-")) || detect::is_disabled(docker_host) {
        return None;
    }
    let found = detect::network_gateway(docker_host, "kind").await;
    if let Some(gateway) = &found {
        tracing::info!(%gateway, "pods on Kind reach the platform at the kind network's gateway");
    }
    found
}
