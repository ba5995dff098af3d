//! The Kubernetes runtime reads the cluster from its watches: listings, a service's page, name
//! and quota checks cost no request once the watches follow, every write shows at once, and
//! without the `watch` permission the runtime lists from the API server instead.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::kube_fake::{FakeCluster, RecordedRequest};
use crate::lab_kube_support::{fake_with_tiny, kube_config};
use crate::lab_support::{Api, install_tiny, ready, wait_for};
use crate::support::TestPlatform;

const MANAGED: &str = "onyxia-lite%2Fmanaged%3Dtrue";

/// Cluster-wide listings (not watches) of the objects the runtime keeps in its cache.
fn direct_listings(requests: &[RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method == "GET" && !r.query.contains("watch="))
        .filter(|r| {
            [
                "/apis/apps/v1/statefulsets",
                "/api/v1/pods",
                "/api/v1/secrets",
            ]
            .contains(&r.path.as_str())
        })
        .filter(|r| r.query.contains(MANAGED))
        .map(|r| format!("{}?{}", r.path, r.query))
        .collect()
}

fn watching(fake: &FakeCluster, path: &str) -> bool {
    fake.requests()
        .iter()
        .any(|r| r.path == path && r.query.contains("watch=true"))
}

async fn install(api: &Api<'_>, release: &str) -> u16 {
    let body = json!({"catalogId": "test", "packageName": "tiny", "packageVersion": "1.0.0",
        "name": release, "options": {"s3": {"enabled": false}, "vault": {"enabled": false}}});
    api.send(Method::PUT, "/my-lab/app", &body).await.0
}

#[tokio::test]
async fn listings_come_from_the_watches_and_show_every_write_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, kubeconfig) = fake_with_tiny(dir.path()).await;
    let tp = TestPlatform::start_with(kube_config(&kubeconfig, None)).await;
    let api = Api::new(&tp, "alice");
    for _ in 0..100 {
        let all = [
            "/apis/apps/v1/statefulsets",
            "/api/v1/pods",
            "/api/v1/secrets",
        ];
        if all.iter().all(|p| watching(&fake, p)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the first listings of the watches finish before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    fake.clear_requests();

    for i in 0..3 {
        assert_eq!(install(&api, &format!("cached-{i}")).await, 200);
    }
    for i in 0..3 {
        wait_for(&api, &format!("cached-{i}"), Duration::from_secs(30), ready).await;
    }
    // Deployed and settled: the name is taken, seen through the cache.
    assert_eq!(install(&api, "cached-0").await, 409);
    let id = json!({"serviceID": "cached-1"});
    assert_eq!(
        api.send(Method::POST, "/my-lab/app/suspend", &id).await.0,
        200
    );
    wait_for(&api, "cached-1", Duration::from_secs(30), |s| {
        s["suspended"] == true && s["tasks"] == json!([])
    })
    .await;
    let r = api
        .request(Method::DELETE, "/my-lab/app?path=cached-2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The delete shows at once: the name is free again.
    assert_eq!(api.get("/my-lab/app?serviceId=cached-2").await.0, 404);
    assert_eq!(install(&api, "cached-2").await, 200);
    for _ in 0..20 {
        let (status, listed) = api.get("/my-lab/services").await;
        assert_eq!(status, 200);
        assert_eq!(listed["apps"].as_array().unwrap().len(), 3);
    }
    let requests = fake.requests();
    let listings = direct_listings(&requests);
    assert!(
        listings.is_empty(),
        "listings went to the API server while the watches followed: {listings:?}"
    );
    // Reading one service (polled above) comes from the cache too: the only reads of single
    // objects are the checks before the suspend and the delete (the events the watcher reads
    // are not a service's objects).
    let single_reads: Vec<&str> = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/namespaces/user-alice/"))
        .filter(|r| !r.path.ends_with("/events"))
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(
        single_reads,
        [
            "/apis/apps/v1/namespaces/user-alice/statefulsets/cached-1",
            "/apis/apps/v1/namespaces/user-alice/statefulsets/cached-2",
        ],
    );
    tp.stop().await;
}

#[tokio::test]
async fn without_the_watch_permission_the_runtime_lists_from_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, kubeconfig) = fake_with_tiny(dir.path()).await;
    fake.refuse_watches();
    let tp = TestPlatform::start_with(kube_config(&kubeconfig, None)).await;
    let api = Api::new(&tp, "alice");
    assert_eq!(install(&api, "listed").await, 200);
    let service = wait_for(&api, "listed", Duration::from_secs(30), ready).await;
    assert_eq!(service["status"], "deployed");
    assert_eq!(install(&api, "listed").await, 409);
    let r = api
        .request(Method::DELETE, "/my-lab/app?path=listed")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(api.get("/my-lab/app?serviceId=listed").await.0, 404);
    let listings = direct_listings(&fake.requests());
    assert!(
        listings
            .iter()
            .any(|l| l.starts_with("/apis/apps/v1/statefulsets?")),
        "{listings:?}"
    );
    tp.stop().await;
}

/// Installs judge names and quotas on the lab's last listing plus its own deploys and removals
/// since, so a burst of launches waits for no fresh listing and misses nothing the lab did.
#[tokio::test]
async fn installs_count_the_labs_own_deploys_and_removals_before_a_new_listing() {
    let dir = tempfile::tempdir().unwrap();
    let (_fake, kubeconfig) = fake_with_tiny(dir.path()).await;
    let mut config = kube_config(&kubeconfig, None);
    config.onyxia.quota_services = 1;
    let tp = TestPlatform::start_with(config).await;
    let alice = Api::new(&tp, "alice");
    // The listing the next installs judge by, taken before any service exists.
    assert_eq!(alice.get("/my-lab/services").await.0, 200);
    let (status, body) = install_tiny(&alice, "first", json!({})).await;
    assert_eq!(status, 200, "{body}");
    wait_for(&alice, "first", Duration::from_secs(30), ready).await;

    // Deployed since that listing: its name is taken and it counts against the quota.
    let (status, body) = install_tiny(&alice, "first", json!({})).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = install_tiny(&alice, "second", json!({})).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("count/pods"),
        "{body}"
    );

    // Removed since: it counts no more, at once.
    let (status, _) = alice
        .send(Method::DELETE, "/my-lab/app?path=first", &json!(null))
        .await;
    assert_eq!(status, 200);
    let (status, body) = install_tiny(&alice, "second", json!({})).await;
    assert_eq!(status, 200, "{body}");
    wait_for(&alice, "second", Duration::from_secs(30), ready).await;
    let (status, body) = install_tiny(&alice, "first", json!({})).await;
    assert_eq!(status, 403, "{body}");
    tp.stop().await;
}
