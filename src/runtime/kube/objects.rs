//! The objects one service is made of on a cluster — what Onyxia's Helm charts create, built
//! in code: the project's namespace (and its optional ResourceQuota), a Secret with the
//! service's environment, PersistentVolumeClaims, a StatefulSet with one replica, a Service,
//! and an Ingress when the region exposes services on a domain.
//!
//! The StatefulSet carries every field of the service's [`ServiceMeta`] in annotations (the
//! cluster is the source of truth, as container labels are for Docker); every object carries
//! the standard `app.kubernetes.io/*` labels and the `onyxia-lite/*` labels selectors use.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvFromSource, Namespace, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ResourceQuota, ResourceQuotaSpec, ResourceRequirements, Secret,
    SecretEnvSource, SecurityContext, Service, ServicePort, ServiceSpec, TCPSocketAction, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::names::{base_name, is_dns_label, label_value};
use crate::runtime::{ContainerSpec, ServiceMeta, meta};

/// Label every object onyxia-lite creates carries, for listing them back.
pub const MANAGED: &str = "onyxia-lite/managed";
pub const PROJECT: &str = "onyxia-lite/project";
pub const RELEASE: &str = "onyxia-lite/release";
/// The field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "onyxia-lite";
/// Label telling a service's meta Secret from its environment Secret.
pub const PART: &str = "onyxia-lite/part";
/// `ServiceMeta` fields kept in the meta Secret (its data keys) rather than in annotations.
pub const PRIVATE_FIELDS: &[&str] = &["values", "notes"];
/// The name of the ResourceQuota onyxia-lite keeps in a project's namespace.
pub const QUOTA_NAME: &str = "onyxia-lite";

/// How services are exposed by an Ingress (only when the region names a real domain).
#[derive(Clone, Debug, Default)]
pub struct IngressSettings {
    /// Services answer at `<release>.<domain>`.
    pub domain: String,
    pub class: Option<String>,
    /// A TLS secret (e.g. a wildcard certificate) in each project's namespace.
    pub tls_secret: Option<String>,
}

/// What the operator chose about the objects (runtime.kube_* options).
#[derive(Clone, Debug)]
pub struct ObjectSettings {
    pub ingress: Option<IngressSettings>,
    pub storage_class: Option<String>,
    /// Size of each persistent volume claim (a quantity).
    pub volume_size: String,
    /// Hard limits of the ResourceQuota put in each project namespace; empty: none.
    pub namespace_quota: BTreeMap<String, String>,
}

impl Default for ObjectSettings {
    fn default() -> Self {
        ObjectSettings {
            ingress: None,
            storage_class: None,
            volume_size: "10Gi".into(),
            namespace_quota: BTreeMap::new(),
        }
    }
}

/// Everything applied for one service, in the order it is applied.
#[derive(Clone, Debug)]
pub struct ServiceObjects {
    pub namespace: Namespace,
    pub quota: Option<ResourceQuota>,
    /// The service's environment, given to its container.
    pub secret: Secret,
    /// The fields of its `ServiceMeta` that may hold secrets (values, notes); never mounted.
    pub meta_secret: Secret,
    pub volumes: Vec<PersistentVolumeClaim>,
    pub service: Service,
    pub statefulset: StatefulSet,
    pub ingress: Option<Ingress>,
}

/// The objects of `meta`'s service running `spec`.
pub fn build(
    meta: &ServiceMeta,
    spec: &ContainerSpec,
    settings: &ObjectSettings,
) -> ServiceObjects {
    let base = base_name(&meta.release);
    let labels = labels(meta);
    let object_meta = |name: String| ObjectMeta {
        name: Some(name),
        namespace: Some(meta.project.clone()),
        labels: Some(labels.clone()),
        ..Default::default()
    };
    let secret = Secret {
        metadata: object_meta(secret_name(&base)),
        data: Some(
            spec.env
                .iter()
                .map(|(k, v)| (k.clone(), ByteString(v.clone().into_bytes())))
                .collect(),
        ),
        type_: Some("Opaque".into()),
        ..Default::default()
    };
    let volumes = spec
        .volumes
        .iter()
        .map(|v| PersistentVolumeClaim {
            metadata: object_meta(claim_name(&base, &v.name)),
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                storage_class_name: settings.storage_class.clone(),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([(
                        "storage".into(),
                        Quantity(match v.size_bytes {
                            Some(bytes) => crate::catalog::values::format_memory(bytes),
                            None => settings.volume_size.clone(),
                        }),
                    )])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let service = Service {
        metadata: object_meta(base.clone()),
        spec: Some(ServiceSpec {
            selector: Some(selector(meta)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: i32::from(spec.port),
                target_port: Some(IntOrString::Int(i32::from(spec.port))),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            type_: Some("ClusterIP".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (annotations, meta_secret) = split_meta(meta, spec.port, &base, &labels);
    let mut statefulset_meta = object_meta(base.clone());
    statefulset_meta.annotations = Some(annotations);
    let statefulset = StatefulSet {
        metadata: statefulset_meta,
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(base.clone()),
            selector: LabelSelector {
                match_labels: Some(selector(meta)),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                spec: Some(pod_spec(meta, spec, &base)),
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    ServiceObjects {
        namespace: namespace(meta),
        quota: quota(meta, settings),
        secret,
        meta_secret,
        volumes,
        ingress: settings.ingress.as_ref().map(|i| {
            ingress(
                object_meta(base.clone()),
                &meta.release,
                &base,
                spec.port,
                i,
            )
        }),
        service,
        statefulset,
    }
}

/// The StatefulSet's annotations and the meta Secret: values and notes may hold keys and
/// passwords, so they go to a Secret, not in clear on an object anyone who can read
/// StatefulSets reads.
fn split_meta(
    meta: &ServiceMeta,
    port: u16,
    base: &str,
    labels: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Secret) {
    let mut annotations: BTreeMap<String, String> =
        meta::encode(meta, port, meta::KUBE).into_iter().collect();
    let private: BTreeMap<String, ByteString> = PRIVATE_FIELDS
        .iter()
        .filter_map(|field| {
            let value = annotations.remove(&format!("{}{field}", meta::KUBE))?;
            Some(((*field).to_owned(), ByteString(value.into_bytes())))
        })
        .collect();
    let mut meta_labels = labels.clone();
    meta_labels.insert(PART.to_owned(), "meta".to_owned());
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(meta_secret_name(base)),
            namespace: Some(meta.project.clone()),
            labels: Some(meta_labels),
            ..Default::default()
        },
        data: Some(private),
        type_: Some("Opaque".into()),
        ..Default::default()
    };
    (annotations, secret)
}

/// The standard labels plus onyxia-lite's, all valid label values.
pub fn labels(meta: &ServiceMeta) -> BTreeMap<String, String> {
    let mut labels = selector(meta);
    for (key, value) in [
        ("app.kubernetes.io/name", label_value(&meta.chart)),
        ("app.kubernetes.io/instance", label_value(&meta.release)),
        ("app.kubernetes.io/version", label_value(&meta.version)),
        ("app.kubernetes.io/managed-by", FIELD_MANAGER.to_owned()),
        (MANAGED, "true".to_owned()),
        ("onyxia-lite/owner", label_value(&meta.owner)),
        ("onyxia-lite/catalog", label_value(&meta.catalog)),
        ("onyxia-lite/chart", label_value(&meta.chart)),
        ("onyxia-lite/share", meta.share.to_string()),
    ] {
        labels.insert(key.to_owned(), value);
    }
    labels
}

/// The labels that pick a service's pods (immutable once the StatefulSet exists).
fn selector(meta: &ServiceMeta) -> BTreeMap<String, String> {
    BTreeMap::from([
        (PROJECT.to_owned(), label_value(&meta.project)),
        (RELEASE.to_owned(), label_value(&meta.release)),
    ])
}

pub fn secret_name(base: &str) -> String {
    format!("{base}-env")
}

/// The `meta` encoding of a service from its StatefulSet's annotations and its meta
/// Secret's data (absent: values and notes are empty).
pub fn meta_fields(
    statefulset: &StatefulSet,
    meta_secret: Option<&Secret>,
) -> std::collections::HashMap<String, String> {
    let mut fields: std::collections::HashMap<String, String> = statefulset
        .metadata
        .annotations
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    for (key, value) in meta_secret
        .and_then(|s| s.data.as_ref())
        .into_iter()
        .flatten()
    {
        if PRIVATE_FIELDS.contains(&key.as_str()) {
            let text = String::from_utf8_lossy(&value.0).into_owned();
            fields.insert(format!("{}{key}", meta::KUBE), text);
        }
    }
    fields
}

pub fn meta_secret_name(base: &str) -> String {
    format!("{base}-meta")
}

pub fn claim_name(base: &str, volume: &str) -> String {
    format!("{base}-{volume}")
}

/// The single pod of a service's StatefulSet.
pub fn pod_name(release: &str) -> String {
    format!("{}-0", base_name(release))
}

/// The project's namespace, labelled with its owner (`onyxia-lite/owner-user` or
/// `onyxia-lite/owner-group`; the exact name in an annotation, as labels cannot hold any text).
fn namespace(meta: &ServiceMeta) -> Namespace {
    let mut labels = BTreeMap::from([
        (MANAGED.to_owned(), "true".to_owned()),
        (PROJECT.to_owned(), label_value(&meta.project)),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            FIELD_MANAGER.to_owned(),
        ),
    ]);
    let mut annotations = BTreeMap::new();
    if let Some((kind, name)) = meta.project_owner.split_once(':') {
        labels.insert(format!("{}owner-{kind}", meta::KUBE), label_value(name));
        annotations.insert(
            format!("{}project-owner", meta::KUBE),
            meta.project_owner.clone(),
        );
    }
    Namespace {
        metadata: ObjectMeta {
            name: Some(meta.project.clone()),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn quota(meta: &ServiceMeta, settings: &ObjectSettings) -> Option<ResourceQuota> {
    if settings.namespace_quota.is_empty() {
        return None;
    }
    Some(ResourceQuota {
        metadata: ObjectMeta {
            name: Some(QUOTA_NAME.into()),
            namespace: Some(meta.project.clone()),
            labels: Some(BTreeMap::from([(MANAGED.to_owned(), "true".to_owned())])),
            ..Default::default()
        },
        spec: Some(ResourceQuotaSpec {
            hard: Some(
                settings
                    .namespace_quota
                    .iter()
                    .map(|(k, v)| (k.clone(), Quantity(v.clone())))
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn pod_spec(meta: &ServiceMeta, spec: &ContainerSpec, base: &str) -> PodSpec {
    let (run_as_user, run_as_group) = user_and_group(spec.user.as_deref());
    let probe_port = IntOrString::Int(i32::from(spec.port));
    let readiness = if meta.probe == "tcp" {
        Probe {
            tcp_socket: Some(TCPSocketAction {
                port: probe_port,
                ..Default::default()
            }),
            ..probe_timing()
        }
    } else {
        Probe {
            http_get: Some(k8s_openapi::api::core::v1::HTTPGetAction {
                path: Some("/".into()),
                port: probe_port,
                ..Default::default()
            }),
            ..probe_timing()
        }
    };
    let container = Container {
        name: container_name(&meta.chart),
        image: Some(spec.image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: (!spec.command.is_empty()).then(|| spec.command.clone()),
        args: (!spec.args.is_empty()).then(|| spec.args.clone()),
        env_from: Some(vec![EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: secret_name(base),
                optional: Some(false),
            }),
            ..Default::default()
        }]),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: i32::from(spec.port),
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        resources: Some(resources(meta, spec)),
        readiness_probe: Some(readiness),
        volume_mounts: (!spec.volumes.is_empty()).then(|| {
            spec.volumes
                .iter()
                .map(|v| VolumeMount {
                    name: v.name.clone(),
                    mount_path: v.mount_path.clone(),
                    ..Default::default()
                })
                .collect()
        }),
        working_dir: spec.working_dir.clone(),
        security_context: (run_as_user.is_some() || run_as_group.is_some()).then(|| {
            SecurityContext {
                run_as_user,
                run_as_group,
                ..Default::default()
            }
        }),
        ..Default::default()
    };
    PodSpec {
        containers: vec![container],
        // Services get S3 and Vault credentials, never the cluster's.
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(10),
        security_context: run_as_group.map(|gid| PodSecurityContext {
            fs_group: Some(gid),
            ..Default::default()
        }),
        volumes: (!spec.volumes.is_empty()).then(|| {
            spec.volumes
                .iter()
                .map(|v| Volume {
                    name: v.name.clone(),
                    persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                        claim_name: claim_name(base, &v.name),
                        read_only: Some(false),
                    }),
                    ..Default::default()
                })
                .collect()
        }),
        ..Default::default()
    }
}

fn probe_timing() -> Probe {
    Probe {
        period_seconds: Some(3),
        timeout_seconds: Some(2),
        failure_threshold: Some(3),
        ..Default::default()
    }
}

/// Requests are what quotas count (the template's); limits are the container's.
fn resources(meta: &ServiceMeta, spec: &ContainerSpec) -> ResourceRequirements {
    let mut requests = BTreeMap::new();
    if meta.cpu_request_millis > 0 {
        requests.insert(
            "cpu".to_owned(),
            Quantity(format!("{}m", meta.cpu_request_millis)),
        );
    }
    if meta.memory_request_bytes > 0 {
        requests.insert(
            "memory".to_owned(),
            Quantity(meta.memory_request_bytes.to_string()),
        );
    }
    let mut limits = BTreeMap::new();
    if let Some(cpu) = spec.cpu_limit_millis {
        limits.insert("cpu".to_owned(), Quantity(format!("{cpu}m")));
    }
    if let Some(memory) = spec.memory_limit_bytes {
        limits.insert("memory".to_owned(), Quantity(memory.to_string()));
    }
    ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..Default::default()
    }
}

/// `1000` or `1000:100` → numeric user and group (a name cannot be set on Kubernetes).
fn user_and_group(user: Option<&str>) -> (Option<i64>, Option<i64>) {
    let Some(user) = user else {
        return (None, None);
    };
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    (uid.parse().ok(), gid.and_then(|g| g.parse().ok()))
}

fn container_name(chart: &str) -> String {
    let name = label_value(&chart.to_ascii_lowercase()).replace(['_', '.'], "-");
    if is_dns_label(&name) {
        name
    } else {
        "service".into()
    }
}

fn ingress(
    metadata: ObjectMeta,
    release: &str,
    service: &str,
    port: u16,
    settings: &IngressSettings,
) -> Ingress {
    let host = format!("{release}.{}", settings.domain);
    Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: settings.class.clone(),
            tls: settings.tls_secret.as_ref().map(|secret| {
                vec![IngressTLS {
                    hosts: Some(vec![host.clone()]),
                    secret_name: Some(secret.clone()),
                }]
            }),
            rules: Some(vec![IngressRule {
                host: Some(host),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: service.to_owned(),
                                port: Some(ServiceBackendPort {
                                    number: Some(i32::from(port)),
                                    ..Default::default()
                                }),
                            }),
                            ..Default::default()
                        },
                    }],
                }),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::VolumeSpec;
    use crate::runtime::kube::names::{
        is_dns_label, is_dns_subdomain, is_label_key, is_label_value, is_quantity,
    };

    fn sample() -> (ServiceMeta, ContainerSpec) {
        let meta = ServiceMeta {
            release: "jupyter-python-1".into(),
            project: "user-jane".into(),
            owner: "Jane Doe@example.org".into(),
            catalog: "ide".into(),
            chart: "jupyter-python".into(),
            version: "2.3.1+build".into(),
            friendly_name: "My notebook (GPU)".into(),
            share: false,
            values: serde_json::json!({"s3": {"secretAccessKey": "hunter2"}}),
            notes: "Open [it](http://x)".into(),
            cpu_request_millis: 500,
            memory_request_bytes: 1 << 30,
            volume_request_bytes: 3 << 29,
            created_ms: 1,
            probe: "http".into(),
            project_owner: "user:Jane Doe@example.org".into(),
            course: String::new(),
        };
        let spec = ContainerSpec {
            image: "inseefrlab/onyxia-jupyter-python:py3.12".into(),
            args: vec!["start-notebook.sh".into()],
            env: [("AWS_SECRET_ACCESS_KEY".to_owned(), "s3cr3t".to_owned())].into(),
            port: 8888,
            volumes: vec![VolumeSpec {
                name: "home".into(),
                mount_path: "/home/onyxia".into(),
                size_bytes: Some(3 << 29),
            }],
            cpu_limit_millis: Some(2000),
            memory_limit_bytes: Some(4 << 30),
            user: Some("1000:100".into()),
            ..Default::default()
        };
        (meta, spec)
    }

    fn check_meta(what: &str, meta: &ObjectMeta) {
        let name = meta.name.as_deref().unwrap_or_default();
        assert!(is_dns_subdomain(name), "{what} name {name}");
        for (key, value) in meta.labels.iter().flatten() {
            assert!(is_label_key(key), "{what} label key {key}");
            assert!(is_label_value(value), "{what} label {key}={value}");
        }
        for key in meta.annotations.iter().flatten().map(|(k, _)| k) {
            assert!(is_label_key(key), "{what} annotation key {key}");
        }
    }

    #[test]
    fn the_namespace_names_its_owner() {
        let (mut meta, spec) = sample();
        let o = build(&meta, &spec, &ObjectSettings::default());
        // The owner's name is cleaned into a label value, and kept whole in an annotation.
        let labels = o.namespace.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["onyxia-lite/owner-user"], "Jane-Doe-example.org");
        let annotations = o.namespace.metadata.annotations.as_ref().unwrap();
        assert_eq!(
            annotations["onyxia-lite/project-owner"],
            "user:Jane Doe@example.org"
        );
        meta.project_owner = "group:data-science".into();
        let o = build(&meta, &spec, &ObjectSettings::default());
        let labels = o.namespace.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["onyxia-lite/owner-group"], "data-science");
        assert!(!labels.contains_key("onyxia-lite/owner-user"));
        // A namespace everybody shares has no owner.
        meta.project_owner.clear();
        let o = build(&meta, &spec, &ObjectSettings::default());
        let labels = o.namespace.metadata.labels.as_ref().unwrap();
        assert!(!labels.keys().any(|k| k.starts_with("onyxia-lite/owner")));
        assert!(o.namespace.metadata.annotations.is_none());
    }

    #[test]
    fn every_object_follows_the_api_servers_rules() {
        let (meta, spec) = sample();
        let settings = ObjectSettings {
            ingress: Some(IngressSettings {
                domain: "lab.example.org".into(),
                class: Some("nginx".into()),
                tls_secret: Some("wildcard".into()),
            }),
            namespace_quota: [("requests.cpu".to_owned(), "4".to_owned())].into(),
            ..Default::default()
        };
        let o = build(&meta, &spec, &settings);
        check_meta("namespace", &o.namespace.metadata);
        assert!(is_dns_label(o.namespace.metadata.name.as_deref().unwrap()));
        check_meta("quota", &o.quota.as_ref().unwrap().metadata);
        check_meta("secret", &o.secret.metadata);
        check_meta("service", &o.service.metadata);
        // Service names are RFC 1035 labels: a letter first.
        let service_name = o.service.metadata.name.as_deref().unwrap();
        assert!(
            is_dns_label(service_name)
                && service_name.starts_with(|c: char| c.is_ascii_lowercase())
        );
        check_meta("statefulset", &o.statefulset.metadata);
        check_meta("ingress", &o.ingress.as_ref().unwrap().metadata);
        for claim in &o.volumes {
            check_meta("claim", &claim.metadata);
            let storage = &claim
                .spec
                .as_ref()
                .unwrap()
                .resources
                .as_ref()
                .unwrap()
                .requests
                .as_ref()
                .unwrap()["storage"];
            assert!(is_quantity(&storage.0));
            assert_eq!(storage.0, "1536Mi", "the size the package asked for");
        }
        let pod = o
            .statefulset
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap();
        let container = &pod.containers[0];
        assert!(is_dns_label(&container.name));
        let resources = container.resources.as_ref().unwrap();
        for q in resources
            .requests
            .iter()
            .chain(resources.limits.iter())
            .flat_map(|m| m.values())
        {
            assert!(is_quantity(&q.0), "{}", q.0);
        }
        assert_eq!(resources.requests.as_ref().unwrap()["cpu"].0, "500m");
        // The environment is in the Secret, never in clear in the pod spec.
        assert!(container.env.is_none());
        assert_eq!(
            o.secret.data.as_ref().unwrap()["AWS_SECRET_ACCESS_KEY"].0,
            b"s3cr3t"
        );
        let statefulset_json = serde_json::to_string(&o.statefulset).unwrap();
        assert!(!statefulset_json.contains("s3cr3t"));
        assert_eq!(
            container.security_context.as_ref().unwrap().run_as_user,
            Some(1000)
        );
        assert_eq!(pod.security_context.as_ref().unwrap().fs_group, Some(100));
        assert_eq!(pod.automount_service_account_token, Some(false));
        // The pod template's labels match the selector, or the API server refuses the set.
        let selector = o
            .statefulset
            .spec
            .as_ref()
            .unwrap()
            .selector
            .match_labels
            .clone()
            .unwrap();
        let template_labels = o
            .statefulset
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .clone()
            .unwrap();
        assert!(
            selector
                .iter()
                .all(|(k, v)| template_labels.get(k) == Some(v))
        );
        let rule = &o
            .ingress
            .as_ref()
            .unwrap()
            .spec
            .as_ref()
            .unwrap()
            .rules
            .as_ref()
            .unwrap()[0];
        assert_eq!(
            rule.host.as_deref(),
            Some("jupyter-python-1.lab.example.org")
        );
    }

    #[test]
    fn the_statefulset_carries_the_whole_service() {
        let (meta, spec) = sample();
        let o = build(&meta, &spec, &ObjectSettings::default());
        let fields = meta_fields(&o.statefulset, Some(&o.meta_secret));
        assert_eq!(meta::decode(&fields, meta::KUBE), Some(meta.clone()));
        assert_eq!(meta::port(&fields, meta::KUBE), Some(8888));
        // What may hold secrets is only in the Secret.
        let statefulset = serde_json::to_string(&o.statefulset).unwrap();
        assert!(!statefulset.contains("Open [it]") && !statefulset.contains("hunter2"));
        let without_secret = meta::decode(&meta_fields(&o.statefulset, None), meta::KUBE).unwrap();
        assert_eq!(without_secret.values, serde_json::json!({}));
        assert!(o.ingress.is_none() && o.quota.is_none());
    }

    #[test]
    fn objects_survive_a_round_trip_through_the_api_types() {
        let (meta, spec) = sample();
        let o = build(&meta, &spec, &ObjectSettings::default());
        let json = serde_json::to_value(&o.statefulset).unwrap();
        assert_eq!(json["apiVersion"], "apps/v1");
        assert_eq!(json["kind"], "StatefulSet");
        let back: StatefulSet = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
    }
}
