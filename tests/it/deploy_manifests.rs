//! deploy/kubernetes/: every manifest is an object the API server would take (its k8s-openapi
//! type with no unknown field, names and labels by the server's rules), the ClusterRole grants
//! every permission the kube runtime uses, and the platform's settings load.

use std::path::Path;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde::Deserialize;
use serde_json::Value;

use crate::kube_fake::checks;

/// Every YAML document of deploy/kubernetes/, with its file name.
fn manifests() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"));
            if !value.is_null() {
                out.push((name.clone(), value));
            }
        }
    }
    out
}

/// The (group, resource, apiVersion) of a kind used in the manifests.
fn resource_of(kind: &str) -> (&'static str, &'static str, &'static str) {
    match kind {
        "Namespace" => ("", "namespaces", "v1"),
        "ServiceAccount" => ("", "serviceaccounts", "v1"),
        "ConfigMap" => ("", "configmaps", "v1"),
        "Service" => ("", "services", "v1"),
        "StatefulSet" => ("apps", "statefulsets", "apps/v1"),
        "Ingress" => ("networking.k8s.io", "ingresses", "networking.k8s.io/v1"),
        "ClusterRole" => (
            "rbac.authorization.k8s.io",
            "clusterroles",
            "rbac.authorization.k8s.io/v1",
        ),
        "ClusterRoleBinding" => (
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            "rbac.authorization.k8s.io/v1",
        ),
        other => panic!("deploy/kubernetes has a {other}, which this test does not know"),
    }
}

fn one<T: serde::de::DeserializeOwned>(kind: &str) -> T {
    let found: Vec<Value> = manifests()
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| v["kind"] == kind)
        .collect();
    assert_eq!(found.len(), 1, "one {kind} in deploy/kubernetes");
    serde_json::from_value(found[0].clone()).unwrap()
}

#[test]
fn every_manifest_is_an_object_the_api_server_takes() {
    let all = manifests();
    assert!(all.len() >= 8, "{} objects", all.len());
    for (file, object) in &all {
        let kind = object["kind"].as_str().unwrap_or_default();
        let (group, resource, api_version) = resource_of(kind);
        assert_eq!(object["apiVersion"], api_version, "{file}: {kind}");
        let causes = checks::check_object(group, resource, object, None);
        assert!(causes.is_empty(), "{file}: {kind}: {causes:?}");
        let namespaced = !matches!(kind, "Namespace" | "ClusterRole" | "ClusterRoleBinding");
        assert_eq!(
            object["metadata"]["namespace"].as_str(),
            namespaced.then_some("onyxia-lite"),
            "{file}: {kind}"
        );
    }
}

#[test]
fn the_cluster_role_grants_every_permission_the_runtime_uses() {
    let role: ClusterRole = one("ClusterRole");
    let rules = role.rules.unwrap_or_default();
    for (verb, group, resource, sub) in onyxia_lite::runtime::kube::connect::PERMISSIONS {
        let named = if sub.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}/{sub}")
        };
        let granted = rules.iter().any(|r| {
            let has = |list: &Option<Vec<String>>, x: &str| {
                list.as_ref()
                    .is_some_and(|l| l.iter().any(|i| i == x || i == "*"))
            };
            has(&r.api_groups, group)
                && has(&r.resources, &named)
                && r.verbs.iter().any(|v| v == verb)
        });
        assert!(
            granted,
            "the ClusterRole does not grant {verb} on {named} (group {group:?})"
        );
    }
    let binding: ClusterRoleBinding = one("ClusterRoleBinding");
    assert_eq!(binding.role_ref.name, role.metadata.name.unwrap());
    let statefulset: StatefulSet = one("StatefulSet");
    let pod = statefulset.spec.unwrap().template.spec.unwrap();
    let subject = &binding.subjects.unwrap()[0];
    assert_eq!(subject.kind, "ServiceAccount");
    assert_eq!(pod.service_account_name.as_ref(), Some(&subject.name));
}

#[test]
fn the_platform_settings_load_and_match_the_service_and_ingress() {
    let config: ConfigMap = one("ConfigMap");
    let env: Vec<(String, String)> = config.data.unwrap().into_iter().collect();
    let loaded = onyxia_lite::Config::load(None, env, &[]).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = loaded.config;
    assert_eq!(config.runtime.kind, onyxia_lite::config::RuntimeKind::Kube);
    assert!(config.bind.is_unspecified(), "{}", config.bind);
    // Pods reach the platform at its Service, which exposes the three listeners.
    let service: Service = one("Service");
    let host = config.runtime.kube_platform_host.clone().unwrap();
    let (name, namespace) = (
        service.metadata.name.clone().unwrap(),
        service.metadata.namespace.clone().unwrap(),
    );
    assert!(
        host.starts_with(&format!("{name}.{namespace}.svc")),
        "{host}"
    );
    let ports: Vec<i32> = service
        .spec
        .unwrap()
        .ports
        .unwrap()
        .iter()
        .map(|p| p.port)
        .collect();
    let listeners = [config.port, config.s3_port, config.vault_port].map(i32::from);
    assert_eq!(ports, listeners);
    // The Ingress serves the public host and every service host of the expose domain.
    let ingress: Ingress = one("Ingress");
    let hosts: Vec<String> = ingress
        .spec
        .unwrap()
        .rules
        .unwrap()
        .into_iter()
        .filter_map(|r| r.host)
        .collect();
    let public = config.public_url.unwrap();
    let domain = config.onyxia.expose_domain;
    assert!(
        hosts.iter().any(|h| public == format!("https://{h}")),
        "{hosts:?}"
    );
    assert!(hosts.contains(&format!("*.{domain}")), "{hosts:?}");
}
