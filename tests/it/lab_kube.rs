//! Services on Kubernetes, through a real `kube::Client` against the in-process fake API
//! server (tests/it/kube_fake): the same life as on Docker — install, ready, proxy (HTTP and
//! WebSocket through port-forward tunnels), logs, events, suspend, resume, rename, a restart
//! that finds the service again, delete — with the objects and requests the cluster got
//! checked. The same scenario runs on a real cluster when ONYXIA_LITE_TEST_KUBECONFIG is set.

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::kube_fake::FakeCluster;
use crate::lab_kube_support::{TINY_LOG, fake_with_tiny, kube_config};
use crate::lab_support::{
    Api, assert_no_null, rand_suffix, ready, through_proxy, wait_for, websocket_echo,
};
use crate::support::TestPlatform;

/// Installs the tiny package for alice; returns the install answer's time.
async fn install(api: &Api<'_>, release: &str, options: Value) -> Duration {
    let started = Instant::now();
    let (status, body) = api
        .send(
            Method::PUT,
            "/my-lab/app",
            &json!({"catalogId": "test", "packageName": "tiny", "packageVersion": "1.0.0",
            "name": release, "friendlyName": "My tiny", "share": false, "options": options}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    started.elapsed()
}

/// The whole life of a service on the cluster of `kubeconfig`; `fake` adds the checks of
/// what the cluster received.
async fn lifecycle(kubeconfig: &Path, platform_host: Option<&str>, fake: Option<&FakeCluster>) {
    let data = tempfile::tempdir().unwrap();
    let mut config = kube_config(kubeconfig, platform_host);
    config.ephemeral = false;
    config.data_dir = Some(data.path().to_owned());
    let tp = TestPlatform::start_with(config.clone()).await;
    let api = Api::new(&tp, "alice");
    let release = format!("tiny-{}", rand_suffix());
    let s3_port = tp.running.endpoints.s3_addr.port();
    let options = json!({
        "message": "Hello from the cluster",
        "persistence": {"enabled": true},
        "s3": {"endpoint": format!("localhost:{s3_port}"), "port": 80},
        "vault": {"enabled": true, "url": tp.running.endpoints.vault_url, "token": "t"}
    });
    install(&api, &release, options).await;
    let service = wait_for(&api, &release, Duration::from_secs(120), ready).await;
    assert_no_null(&service, "service");
    assert_eq!(service["status"], "deployed");
    assert_eq!(service["friendlyName"], "My tiny");
    assert_eq!(service["owner"], "alice");
    assert_eq!(service["env"]["message"], "Hello from the cluster");
    if let Some(fake) = fake {
        check_objects(fake, &release, platform_host);
    }

    let (status, page) = through_proxy(&tp, &release, "/").await;
    assert_eq!(
        (status, page.contains("Hello from the cluster")),
        (200, true),
        "{page}"
    );
    websocket_echo(&tp, &release).await;
    let task = service["tasks"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(task, format!("{release}-0"), "the task is the pod");
    let logs = api
        .request(
            Method::GET,
            &format!("/my-lab/app/logs?serviceId={release}&taskId={task}"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(logs.contains(TINY_LOG.trim()), "{logs}");
    wait_for_event(&api, "Started").await;

    suspend_and_resume(&api, &tp, &release, fake).await;
    let rename = json!({"serviceID": release, "friendlyName": "Renamed"});
    assert_eq!(
        api.send(Method::POST, "/my-lab/app/rename", &rename)
            .await
            .0,
        200
    );

    // A restarted platform finds the service on the cluster.
    tp.stop().await;
    let tp = TestPlatform::start_with(config).await;
    let api = Api::new(&tp, "alice");
    let again = wait_for(&api, &release, Duration::from_secs(60), ready).await;
    assert_eq!(again["friendlyName"], "Renamed");
    assert_eq!(again["env"]["message"], "Hello from the cluster");
    assert_eq!(through_proxy(&tp, &release, "/").await.0, 200);

    let r = api
        .request(Method::DELETE, &format!("/my-lab/app?path={release}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        api.get(&format!("/my-lab/app?serviceId={release}")).await.0,
        404
    );
    if let Some(fake) = fake {
        check_everything_deleted(fake, &release).await;
    }
    tp.stop().await;
}

/// Reads the event stream until an event with `reason` arrives.
async fn wait_for_event(api: &Api<'_>, reason: &str) -> String {
    let events = api
        .request(Method::GET, "/my-lab/events")
        .send()
        .await
        .unwrap();
    let mut stream = events.bytes_stream();
    let mut text = String::new();
    while !text.contains(&format!("\"{reason}\"")) {
        let chunk = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .unwrap_or_else(|_| panic!("no {reason} event in {text}"))
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    text
}

async fn suspend_and_resume(
    api: &Api<'_>,
    tp: &TestPlatform,
    release: &str,
    fake: Option<&FakeCluster>,
) {
    let id = json!({"serviceID": release});
    assert_eq!(
        api.send(Method::POST, "/my-lab/app/suspend", &id).await.0,
        200
    );
    let suspended = wait_for(api, release, Duration::from_secs(60), |s| {
        s["suspended"] == true && s["tasks"] == json!([])
    })
    .await;
    assert_eq!(suspended["env"]["global.suspend"], "true");
    assert_eq!(through_proxy(tp, release, "/").await.0, 404);
    if let Some(fake) = fake {
        let statefulset = fake
            .object("apps", "statefulsets", Some("user-alice"), release)
            .unwrap();
        assert_eq!(statefulset["spec"]["replicas"], 0);
        let scaled = fake.requests().into_iter().any(|r| {
            r.method == "PATCH"
                && r.content_type.as_deref() == Some("application/merge-patch+json")
                && r.query.contains("fieldManager=onyxia-lite")
                && r.body == Some(json!({"spec": {"replicas": 0}}))
        });
        assert!(
            scaled,
            "suspending scales the StatefulSet to 0 under onyxia-lite's field manager"
        );
        assert!(
            fake.object("", "pods", Some("user-alice"), &format!("{release}-0"))
                .is_none()
        );
        assert!(
            fake.object(
                "",
                "persistentvolumeclaims",
                Some("user-alice"),
                &format!("{release}-data")
            )
            .is_some(),
            "volumes stay while suspended"
        );
    }
    assert_eq!(
        api.send(Method::POST, "/my-lab/app/resume", &id).await.0,
        200
    );
    wait_for(api, release, Duration::from_secs(60), |s| {
        s["suspended"] == false && ready(s)
    })
    .await;
    assert_eq!(through_proxy(tp, release, "/").await.0, 200);
}

/// What the cluster received: the objects Onyxia's charts would make, applied server-side.
fn check_objects(fake: &FakeCluster, release: &str, platform_host: Option<&str>) {
    let ns = Some("user-alice");
    let namespace = fake
        .object("", "namespaces", None, "user-alice")
        .expect("namespace");
    assert_eq!(
        namespace["metadata"]["labels"]["onyxia-lite/managed"],
        "true"
    );
    assert_eq!(
        namespace["metadata"]["labels"]["onyxia-lite/owner-user"],
        "alice"
    );
    let statefulset = fake
        .object("apps", "statefulsets", ns, release)
        .expect("statefulset");
    let labels = &statefulset["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/instance"], release);
    assert_eq!(labels["app.kubernetes.io/name"], "tiny");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "onyxia-lite");
    assert_eq!(labels["onyxia-lite/owner"], "alice");
    assert_eq!(
        statefulset["metadata"]["annotations"]["onyxia-lite/friendly-name"],
        "My tiny"
    );
    assert_eq!(statefulset["spec"]["replicas"], 1);
    let container = &statefulset["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["resources"]["requests"]["cpu"], "50m");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/");
    assert!(
        container.get("env").is_none(),
        "environment only through the Secret"
    );
    assert!(!statefulset.to_string().contains("Hello from the cluster"));
    let secret = fake
        .object("", "secrets", ns, &format!("{release}-env"))
        .expect("secret");
    let env = |key: &str| {
        use base64::Engine;
        let b64 = secret["data"][key].as_str().unwrap_or_default();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(env("MESSAGE"), "Hello from the cluster");
    if let Some(host) = platform_host {
        assert!(
            env("AWS_ENDPOINT_URL").contains(host),
            "pods get the platform's host: {}",
            env("AWS_ENDPOINT_URL")
        );
        assert!(
            env("VAULT_ADDR").contains(host),
            "pods get the platform's host: {}",
            env("VAULT_ADDR")
        );
    }
    let meta = fake
        .object("", "secrets", ns, &format!("{release}-meta"))
        .expect("the meta secret keeps values and notes");
    assert!(meta["data"]["values"].is_string() && meta["data"]["notes"].is_string());
    assert!(fake.object("", "services", ns, release).is_some());
    let claim = fake
        .object("", "persistentvolumeclaims", ns, &format!("{release}-data"))
        .expect("claim");
    // The size the package asks for (`persistence.size`), not the runtime's default.
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "1Gi");
    let applies: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "PATCH" && r.content_type.as_deref() == Some("application/apply-patch+yaml")
        })
        .collect();
    assert!(
        applies.len() >= 5,
        "Secret, claim, Service, StatefulSet (and namespace) applied"
    );
    assert!(applies.iter().all(|r| r.query.contains("fieldManager=onyxia-lite") && r.query.contains("force=true")));
}

async fn check_everything_deleted(fake: &FakeCluster, release: &str) {
    let ns = Some("user-alice");
    let started = Instant::now();
    let gone = || {
        fake.object("apps", "statefulsets", ns, release).is_none()
            && fake
                .object("", "pods", ns, &format!("{release}-0"))
                .is_none()
            && fake.object("", "services", ns, release).is_none()
            && fake
                .object("", "secrets", ns, &format!("{release}-env"))
                .is_none()
            && fake
                .object("", "persistentvolumeclaims", ns, &format!("{release}-data"))
                .is_none()
    };
    while !gone() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "objects of {release} remain"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let foreground = fake.requests().into_iter().any(|r| {
        r.method == "DELETE"
            && r.path.ends_with(&format!("/statefulsets/{release}"))
            && r.body
                .as_ref()
                .is_some_and(|b| b["propagationPolicy"] == "Foreground")
    });
    assert!(
        foreground,
        "the StatefulSet is deleted with foreground cascading"
    );
}

#[tokio::test]
async fn tiny_service_lifecycle_on_the_fake_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, kubeconfig) = fake_with_tiny(dir.path()).await;
    lifecycle(&kubeconfig, Some("10.11.12.13"), Some(&fake)).await;
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster: set ONYXIA_LITE_TEST_KUBECONFIG (scripts/kind-up.sh makes one)"]
async fn tiny_service_lifecycle_on_a_real_cluster() {
    let Ok(kubeconfig) = std::env::var("ONYXIA_LITE_TEST_KUBECONFIG") else {
        crate::support::missing(
            "the real-cluster test",
            "ONYXIA_LITE_TEST_KUBECONFIG is not set",
        );
    };
    let host = std::env::var("ONYXIA_LITE_TEST_PLATFORM_HOST")
        .ok()
        .filter(|h| !h.is_empty());
    lifecycle(Path::new(&kubeconfig), host.as_deref(), None).await;
}
