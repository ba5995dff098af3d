//! The Kubernetes runtime when things go wrong, and `doctor` on a cluster: images that cannot
//! be pulled, containers that crash, a namespace quota refusing the pod, an unreachable
//! cluster, missing permissions — each with the cluster's own words.

use std::time::Duration;

use k8s_openapi::api::core::v1::ResourceQuota;
use kube::api::PostParams;
use reqwest::Method;
use serde_json::json;

use crate::lab_kube_support::{fake_with_tiny, kube_config};
use crate::lab_support::{Api, ready, through_proxy, wait_for};
use crate::process::BIN;
use crate::support::TestPlatform;

async fn install(api: &Api<'_>, release: &str, options: serde_json::Value) {
    let (status, body) = api
        .send(
            Method::PUT,
            "/my-lab/app",
            &json!({"catalogId": "test", "packageName": "tiny", "packageVersion": "1.0.0",
            "name": release, "options": options}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

fn failed_with(s: &serde_json::Value, words: &str) -> bool {
    s["status"] == "failed" && s.to_string().contains(words)
}

#[tokio::test]
async fn pods_the_cluster_cannot_run_fail_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, kubeconfig) = fake_with_tiny(dir.path()).await;
    let tp = TestPlatform::start_with(kube_config(&kubeconfig, None)).await;
    let api = Api::new(&tp, "alice");
    let custom = |image: &str| json!({"service": {"image": {"custom": {"enabled": true, "version": image}}}});

    install(&api, "missing-image", custom("example.org/nothing:1")).await;
    let s = wait_for(&api, "missing-image", Duration::from_secs(30), |s| {
        failed_with(s, "ErrImagePull")
    })
    .await;
    assert!(s.to_string().contains("example.org/nothing:1"), "{s}");

    install(&api, "crashing", custom("example.org/crash:1")).await;
    wait_for(&api, "crashing", Duration::from_secs(30), |s| {
        failed_with(s, "CrashLoopBackOff")
    })
    .await;

    // An administrator's quota on the namespace, stricter than the region's: the
    // StatefulSet exists, its pod is refused, and the service fails with the refusal.
    let quotas: kube::Api<ResourceQuota> = kube::Api::namespaced(fake.client(), "user-alice");
    let quota: ResourceQuota = serde_json::from_value(json!({
        "metadata": {"name": "admin-limits"},
        "spec": {"hard": {"requests.cpu": "10m"}}
    }))
    .unwrap();
    quotas.create(&PostParams::default(), &quota).await.unwrap();
    install(&api, "over-quota", json!({})).await;
    wait_for(&api, "over-quota", Duration::from_secs(30), |s| {
        failed_with(s, "exceeded quota")
    })
    .await;
    tp.stop().await;
}

#[tokio::test]
async fn a_refused_port_forward_is_a_bad_gateway_page_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, kubeconfig) = fake_with_tiny(dir.path()).await;
    let tp = TestPlatform::start_with(kube_config(&kubeconfig, None)).await;
    let api = Api::new(&tp, "alice");
    install(&api, "no-forward", json!({})).await;
    wait_for(&api, "no-forward", Duration::from_secs(30), ready).await;
    fake.refuse_port_forward();
    let (status, page) = tokio::time::timeout(
        Duration::from_secs(10),
        through_proxy(&tp, "no-forward", "/"),
    )
    .await
    .expect("the proxy answers");
    assert_eq!(status, 502, "{page}");
    assert!(page.contains("not answering"), "{page}");
    tp.stop().await;
}

#[tokio::test]
async fn an_unreachable_cluster_answers_503_with_what_was_tried() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster:\n    server: http://127.0.0.1:9\ncontexts:\n- name: gone\n  context:\n    cluster: gone\n    user: u\ncurrent-context: gone\nusers:\n- name: u\n  user:\n    token: t\n",
    )
    .unwrap();
    let tp = TestPlatform::start_with(kube_config(&kubeconfig, None)).await;
    let api = Api::new(&tp, "alice");
    let (status, body) = api
        .send(
            Method::PUT,
            "/my-lab/app",
            &json!({"catalogId": "test", "packageName": "tiny", "packageVersion": "1.0.0", "name": "x"}),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("No Kubernetes cluster is reachable") && text.contains("127.0.0.1:9"),
        "{text}"
    );
    tp.stop().await;
}

#[tokio::test]
async fn doctor_reports_the_cluster_and_missing_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, kubeconfig) = fake_with_tiny(dir.path()).await;
    let doctor = |kubeconfig: std::path::PathBuf| async move {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(BIN)
                .args(["doctor", "--runtime", "kube", "--kubeconfig"])
                .arg(kubeconfig)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    let out = doctor(kubeconfig.clone()).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("v1.33.0-fake") && text.contains("context fake"),
        "{text}"
    );
    assert!(text.contains("ok    create     pods/portforward"), "{text}");

    fake.deny("create", "pods/portforward");
    let out = doctor(kubeconfig).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("--    create     pods/portforward"), "{text}");
    assert!(text.contains("1 permission(s) missing"), "{text}");
    let reviews = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/selfsubjectaccessreviews"))
        .count();
    assert_eq!(
        reviews,
        2 * onyxia_lite::runtime::kube::connect::PERMISSIONS.len()
    );
}
