//! Every object the Kubernetes runtime generates passes the API server's checks as the fake
//! implements them (known fields only, names, labels, annotations, quantities, selectors
//! matching templates, mounts naming volumes), for awkward services too: releases starting
//! with a digit or of the longest length, owners with spaces and `@`, several volumes, an
//! ingress with TLS and a namespace quota.

use onyxia_lite::runtime::kube::objects::{IngressSettings, ObjectSettings, build};
use onyxia_lite::runtime::{ContainerSpec, ServiceMeta, VolumeSpec};

use crate::kube_fake::checks::check;

fn meta(release: &str, owner: &str) -> ServiceMeta {
    ServiceMeta {
        release: release.into(),
        project: "projet-data-science".into(),
        owner: owner.into(),
        catalog: "ide".into(),
        chart: "jupyter-pyspark".into(),
        version: "2.3.1".into(),
        friendly_name: "Ma session (GPU) — été".into(),
        share: true,
        values: serde_json::json!({"s3": {"secretAccessKey": "k"}}),
        notes: "Password: `x`".into(),
        cpu_request_millis: 250,
        memory_request_bytes: 512 << 20,
        volume_request_bytes: 2 << 30,
        created_ms: 1,
        probe: "tcp".into(),
        project_owner: "group:data-science".into(),
        course: String::new(),
    }
}

#[test]
fn generated_objects_pass_the_api_servers_checks() {
    let spec = ContainerSpec {
        image: "inseefrlab/onyxia-jupyter-pyspark:py3.12".into(),
        command: vec!["/bin/sh".into(), "-c".into()],
        args: vec!["start.sh".into()],
        env: [
            ("A".to_owned(), "1".to_owned()),
            ("PASSWORD".to_owned(), "p".to_owned()),
        ]
        .into(),
        port: 8888,
        volumes: vec![
            VolumeSpec {
                name: "home".into(),
                mount_path: "/home/onyxia".into(),
                size_bytes: None,
            },
            VolumeSpec {
                name: "data".into(),
                mount_path: "/data".into(),
                size_bytes: Some(2 << 30),
            },
        ],
        cpu_limit_millis: Some(4000),
        memory_limit_bytes: Some(8 << 30),
        working_dir: Some("/home/onyxia".into()),
        user: Some("1000:100".into()),
        course: None,
    };
    let settings = ObjectSettings {
        ingress: Some(IngressSettings {
            domain: "lab.example.org".into(),
            class: Some("nginx".into()),
            tls_secret: Some("wildcard-tls".into()),
        }),
        storage_class: Some("fast".into()),
        volume_size: "20Gi".into(),
        namespace_quota: [
            ("count/pods".to_owned(), "20".to_owned()),
            ("requests.cpu".to_owned(), "8".to_owned()),
            ("requests.memory".to_owned(), "16Gi".to_owned()),
        ]
        .into(),
    };
    let longest = format!("j{}", "x".repeat(52));
    for (release, owner) in [
        ("jupyter-pyspark-123456", "jane"),
        ("7zip", "Jane Doe"),
        (longest.as_str(), "jane@example.org"),
        ("a", "-"),
    ] {
        let o = build(&meta(release, owner), &spec, &settings);
        let mut causes = Vec::new();
        causes.extend(check(&o.namespace));
        causes.extend(check(o.quota.as_ref().unwrap()));
        causes.extend(check(&o.secret));
        causes.extend(check(&o.meta_secret));
        causes.extend(o.volumes.iter().flat_map(check));
        causes.extend(check(&o.service));
        causes.extend(check(&o.statefulset));
        causes.extend(check(o.ingress.as_ref().unwrap()));
        let text: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        assert!(text.is_empty(), "{release} / {owner}: {text:?}");
    }
}
