//! deploy/kubernetes/: every manifest is an object the API server would take (its k8s-openapi
//! type with no unknown field, names and labels by the server's rules), the ClusterRole grants
//! every permission the kube runtime uses, the platform's settings load, and the kustomizations
//! (base, and the Kind overlay) render what they should.

use std::path::Path;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde::Deserialize;
use serde_json::Value;

use crate::kube_fake::checks;

/// Every object of deploy/kubernetes/base/, with its file name.
fn manifests() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/base");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| !p.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        out.extend(
            documents(&text, &name)
                .into_iter()
                .map(|v| (name.clone(), v)),
        );
    }
    out
}

fn documents(text: &str, name: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|document| {
            Value::deserialize(document).unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"))
        })
        .filter(|value| !value.is_null())
        .collect()
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
    let ports: Vec<(String, i32)> = service
        .spec
        .unwrap()
        .ports
        .unwrap()
        .into_iter()
        .map(|p| (p.name.unwrap_or_default(), p.port))
        .collect();
    let listeners = [config.port, config.s3_port, config.vault_port].map(i32::from);
    assert_eq!(ports.iter().map(|p| p.1).collect::<Vec<_>>(), listeners);
    // The Ingress sends each public URL's host to its listener, and every service host of
    // the expose domain to the main one (the proxy).
    let ingress: Ingress = one("Ingress");
    let spec = ingress.spec.unwrap();
    let tls_hosts: Vec<String> = spec
        .tls
        .unwrap()
        .into_iter()
        .flat_map(|t| t.hosts.unwrap())
        .collect();
    let routes: Vec<(String, String)> = spec
        .rules
        .unwrap()
        .into_iter()
        .map(|rule| {
            let path = &rule.http.unwrap().paths[0];
            let port = path
                .backend
                .service
                .as_ref()
                .unwrap()
                .port
                .as_ref()
                .unwrap();
            (rule.host.unwrap(), port.name.clone().unwrap())
        })
        .collect();
    let port_name = |port: u16| {
        ports
            .iter()
            .find(|p| p.1 == i32::from(port))
            .unwrap()
            .0
            .clone()
    };
    let domain = config.onyxia.expose_domain;
    for (url, port) in [
        (config.public_url.unwrap(), config.port),
        (config.s3_public_url.unwrap(), config.s3_port),
        (config.vault_public_url.unwrap(), config.vault_port),
        (format!("https://*.{domain}"), config.port),
    ] {
        let host = url
            .strip_prefix("https://")
            .expect("served over TLS")
            .to_owned();
        assert!(
            routes.contains(&(host.clone(), port_name(port))),
            "{host}: {routes:?}"
        );
        assert!(tls_hosts.contains(&host), "{host}: {tls_hosts:?}");
    }
}

/// `kubectl kustomize deploy/kubernetes/<dir>`: the objects `kubectl apply -k` would send.
fn kustomize(dir: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/kubernetes")
        .join(dir);
    let out = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            crate::support::missing("the kustomize test", &format!("kubectl: {e}"))
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    documents(&String::from_utf8(out.stdout).unwrap(), dir)
}

fn by_kind_and_name(objects: Vec<Value>) -> std::collections::BTreeMap<String, Value> {
    objects
        .into_iter()
        .map(|o| (format!("{}/{}", o["kind"], o["metadata"]["name"]), o))
        .collect()
}

#[test]
#[ignore = "needs kubectl (its kustomize): scripts/test.sh runs it"]
fn the_kustomizations_render_the_manifests_and_kinds_local_settings() {
    // The base is every manifest, unchanged: nothing forgotten in kustomization.yaml.
    let files = by_kind_and_name(manifests().into_iter().map(|(_, v)| v).collect());
    assert_eq!(by_kind_and_name(kustomize("base")), files);

    // Kind: the same objects but the Ingress, and settings for a port-forward to localhost.
    let kind = by_kind_and_name(kustomize("kind"));
    let mut expected: Vec<&String> = files.keys().filter(|k| !k.contains("Ingress")).collect();
    expected.sort();
    assert_eq!(kind.keys().collect::<Vec<_>>(), expected);
    let config: ConfigMap =
        serde_json::from_value(kind[r#""ConfigMap"/"onyxia-lite""#].clone()).unwrap();
    let env: Vec<(String, String)> = config.data.unwrap().into_iter().collect();
    let loaded = onyxia_lite::Config::load(None, env, &[]).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = loaded.config;
    assert_eq!(config.public_url.as_deref(), Some("http://localhost:8080"));
    assert_eq!(
        config.s3_public_url.as_deref(),
        Some("http://localhost:9000")
    );
    assert_eq!(
        config.vault_public_url.as_deref(),
        Some("http://localhost:8200")
    );
    assert_eq!(config.onyxia.expose_domain, "localhost");
    assert_eq!(config.runtime.kind, onyxia_lite::config::RuntimeKind::Kube);
    for (name, object) in &kind {
        let (group, resource, _) = resource_of(object["kind"].as_str().unwrap());
        let causes = checks::check_object(group, resource, object, None);
        assert!(causes.is_empty(), "{name}: {causes:?}");
    }
}
