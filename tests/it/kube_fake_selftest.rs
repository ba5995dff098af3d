//! The fake Kubernetes API server driven by a real kube::Client and k8s-openapi types.

use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
use k8s_openapi::api::core::v1::{
    Event, Namespace, PersistentVolumeClaim, Pod, ResourceQuota, Secret, Service,
};
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::kube_fake::FakeCluster;

mod streams;
mod validation;
mod watches;

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("valid test object")
}

async fn namespace(client: &kube::Client, name: &str) {
    let ns: Namespace = from(json!({"metadata": {"name": name}}));
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

fn statefulset(name: &str, image: &str, replicas: i32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image, "ports": [{"containerPort": 8080, "name": "http"}]}]},
            },
        },
    })
}

fn api_error(e: kube::Error) -> (u16, String, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Polls until `check` holds, for at most five seconds.
async fn eventually<F: AsyncFnMut() -> bool>(what: &str, check: F) {
    crate::support::eventually(what, Duration::from_secs(5), check).await;
}

fn is_ready(pod: &Pod) -> bool {
    let conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

async fn events_for(client: &kube::Client, ns: &str, name: &str) -> Vec<Event> {
    let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
    Api::<Event>::namespaced(client.clone(), ns)
        .list(&lp)
        .await
        .expect("list events")
        .items
}

/// An HTTP server answering every request with `text`.
async fn backend(text: &'static str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move || async move { text });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn create_get_list_with_selectors_across_namespaces() {
    let fake = FakeCluster::start().await;
    let client = fake.client();
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "33")
    );
    namespace(&client, "user-alice").await;
    namespace(&client, "user-bob").await;
    for (ns, name, tier) in [
        ("user-alice", "a1", Some("db")),
        ("user-alice", "a2", None),
        ("user-bob", "b1", Some("web")),
    ] {
        let mut labels = json!({"app": if name == "a2" { "other" } else { "x" }});
        if let Some(t) = tier {
            labels["tier"] = json!(t);
        }
        let s: Secret =
            from(json!({"metadata": {"name": name, "labels": labels}, "stringData": {"k": "v"}}));
        Api::<Secret>::namespaced(client.clone(), ns)
            .create(&PostParams::default(), &s)
            .await
            .unwrap();
    }
    let all = Api::<Secret>::all(client.clone());
    let names = async |selector: &str| {
        let list = all
            .list(&ListParams::default().labels(selector))
            .await
            .unwrap();
        let mut n: Vec<String> = list
            .items
            .into_iter()
            .filter_map(|s| s.metadata.name)
            .collect();
        n.sort();
        n
    };
    assert_eq!(names("app=x").await, ["a1", "b1"]);
    assert_eq!(names("app==x,tier!=db").await, ["b1"]);
    assert_eq!(names("app in (x,other),!tier").await, ["a2"]);
    assert_eq!(names("tier").await, ["a1", "b1"]);
    assert_eq!(names("tier notin (web)").await, ["a1", "a2"]);
    let alice = Api::<Secret>::namespaced(client.clone(), "user-alice");
    let by_field = alice
        .list(&ListParams::default().fields("metadata.name=a2"))
        .await
        .unwrap();
    assert_eq!(by_field.items.len(), 1);
    let a1 = alice.get("a1").await.unwrap();
    assert_eq!(a1.data.unwrap()["k"].0, b"v");
    assert!(a1.metadata.uid.is_some() && a1.metadata.resource_version.is_some());
    let (code, reason, message) = api_error(alice.get("nope").await.unwrap_err());
    assert_eq!(
        (code, reason.as_str(), message.as_str()),
        (404, "NotFound", "secrets \"nope\" not found")
    );
    let again: Secret = from(json!({"metadata": {"name": "a1"}}));
    let (code, reason, _) = api_error(
        alice
            .create(&PostParams::default(), &again)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));
    let (code, _, message) = api_error(
        Api::<Secret>::namespaced(client.clone(), "ghost")
            .create(&PostParams::default(), &again)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (code, message.as_str()),
        (404, "namespaces \"ghost\" not found")
    );
    let posts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/secrets"))
        .collect();
    assert_eq!(posts[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(posts[0].body.as_ref().unwrap()["metadata"]["name"], "a1");
    assert_eq!(fake.objects("", "secrets").len(), 3);
}

#[tokio::test]
async fn server_side_apply_creates_updates_and_needs_a_field_manager() {
    let fake = FakeCluster::start().await;
    let api = Api::<Service>::default_namespaced(fake.client());
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
    let created = api
        .patch("web", &PatchParams::apply("onyxia"), &Patch::Apply(&svc))
        .await
        .unwrap();
    let ip = created.spec.unwrap().cluster_ip.unwrap();
    assert!(ip.starts_with("10.96.0."), "{ip}");
    let mut changed = svc.clone();
    changed["metadata"]["labels"] = json!({"team": "a"});
    let updated = api
        .patch(
            "web",
            &PatchParams::apply("onyxia"),
            &Patch::Apply(&changed),
        )
        .await
        .unwrap();
    assert_eq!(updated.metadata.labels.unwrap()["team"], "a");
    assert_eq!(updated.spec.unwrap().cluster_ip.unwrap(), ip);
    let (code, _, message) = api_error(
        api.patch("web", &PatchParams::default(), &Patch::Apply(&svc))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 400, "{message}");
    assert!(message.contains("fieldManager"), "{message}");
    let mut other = svc.clone();
    other["spec"]["selector"] = json!({"app": "other"});
    let (code, reason, message) = api_error(
        api.patch(
            "web",
            &PatchParams::apply("intruder"),
            &Patch::Apply(&other),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"), "{message}");
    assert!(message.contains(".spec.selector.app"), "{message}");
    let forced = api
        .patch(
            "web",
            &PatchParams::apply("intruder").force(),
            &Patch::Apply(&other),
        )
        .await
        .unwrap();
    assert_eq!(forced.spec.unwrap().selector.unwrap()["app"], "other");
    let merged = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": null}}})),
        )
        .await
        .unwrap();
    assert!(merged.metadata.labels.unwrap_or_default().is_empty());
    let patch = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(
        patch.content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
    assert!(
        patch.query.contains("fieldManager=onyxia"),
        "{}",
        patch.query
    );
    assert_eq!(patch.body.unwrap()["spec"]["ports"][0]["port"], 80);
}

#[tokio::test]
async fn statefulset_selector_is_immutable_and_resource_version_is_checked() {
    let fake = FakeCluster::start().await;
    let api = Api::<StatefulSet>::default_namespaced(fake.client());
    let pp = PatchParams::apply("onyxia");
    api.patch("db", &pp, &Patch::Apply(statefulset("db", "img", 0)))
        .await
        .unwrap();
    let mut moved = statefulset("db", "img", 0);
    moved["spec"]["selector"]["matchLabels"]["extra"] = json!("1");
    moved["spec"]["template"]["metadata"]["labels"]["extra"] = json!("1");
    let (code, _, message) = api_error(
        api.patch("db", &pp, &Patch::Apply(&moved))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 422);
    assert!(message.contains("spec.selector"), "{message}");
    let mut stale = api.get("db").await.unwrap();
    let current = stale.clone();
    stale.metadata.resource_version = Some("1".into());
    let (code, reason, _) = api_error(
        api.replace("db", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    let generation = current.metadata.generation.unwrap();
    let mut scaled = current;
    scaled.spec.as_mut().unwrap().replicas = Some(0);
    scaled
        .spec
        .as_mut()
        .unwrap()
        .template
        .metadata
        .as_mut()
        .unwrap()
        .annotations = Some([("a".to_string(), "b".to_string())].into());
    let replaced = api
        .replace("db", &PostParams::default(), &scaled)
        .await
        .unwrap();
    assert_eq!(replaced.metadata.generation, Some(generation + 1));
}

#[tokio::test]
async fn statefulset_pod_becomes_ready_and_scales_to_zero() {
    let fake = FakeCluster::start().await;
    let client = fake.client();
    fake.add_image("jupyter:1", backend("hi").await, "started\n");
    fake.set_pod_delay(Duration::from_millis(300));
    let api = Api::<StatefulSet>::default_namespaced(client.clone());
    api.patch(
        "lab",
        &PatchParams::apply("onyxia"),
        &Patch::Apply(statefulset("lab", "jupyter:1", 1)),
    )
    .await
    .unwrap();
    let pods = Api::<Pod>::default_namespaced(client.clone());
    let pod = pods.get("lab-0").await.unwrap();
    assert!(!is_ready(&pod), "ready before the pod delay");
    let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("StatefulSet", Some(true))
    );
    assert_eq!(
        pod.metadata.labels.as_ref().unwrap()["statefulset.kubernetes.io/pod-name"],
        "lab-0"
    );
    eventually("lab-0 ready", async || {
        is_ready(&pods.get("lab-0").await.unwrap())
    })
    .await;
    let pod = pods.get("lab-0").await.unwrap();
    let status = pod.status.unwrap();
    assert_eq!(
        (status.phase.as_deref(), status.pod_ip.as_deref()),
        (Some("Running"), Some("127.0.0.1"))
    );
    let cs = &status.container_statuses.unwrap()[0];
    assert!(cs.ready && cs.started == Some(true) && cs.state.as_ref().unwrap().running.is_some());
    let sts = api.get("lab").await.unwrap().status.unwrap();
    assert_eq!(
        (sts.replicas, sts.ready_replicas, sts.available_replicas),
        (1, Some(1), Some(1))
    );
    let reasons: Vec<String> = events_for(&client, "default", "lab-0")
        .await
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    for want in ["Scheduled", "Pulling", "Pulled", "Created", "Started"] {
        assert!(
            reasons.iter().any(|r| r == want),
            "{want} not in {reasons:?}"
        );
    }
    api.patch(
        "lab",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 0}})),
    )
    .await
    .unwrap();
    assert!(pods.get_opt("lab-0").await.unwrap().is_none());
    assert_eq!(api.get("lab").await.unwrap().status.unwrap().replicas, 0);
}

#[tokio::test]
async fn foreground_delete_removes_pods_and_orphan_keeps_them() {
    let fake = FakeCluster::start().await;
    let client = fake.client();
    fake.add_image("img", backend("hi").await, "");
    let api = Api::<StatefulSet>::default_namespaced(client.clone());
    let pods = Api::<Pod>::default_namespaced(client.clone());
    api.patch(
        "a",
        &PatchParams::apply("t"),
        &Patch::Apply(statefulset("a", "img", 2)),
    )
    .await
    .unwrap();
    assert_eq!(
        pods.list(&ListParams::default().labels("app=a"))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    api.delete("a", &DeleteParams::foreground()).await.unwrap();
    assert!(
        pods.list(&ListParams::default().labels("app=a"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    api.patch(
        "b",
        &PatchParams::apply("t"),
        &Patch::Apply(statefulset("b", "img", 1)),
    )
    .await
    .unwrap();
    api.delete("b", &DeleteParams::orphan()).await.unwrap();
    let orphan = pods.get("b-0").await.unwrap();
    assert!(
        orphan
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
    let deleted = pods
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("app=b"),
        )
        .await
        .unwrap();
    assert_eq!(deleted.left().unwrap().items.len(), 1);
    assert!(fake.objects("", "pods").is_empty());
}

#[tokio::test]
async fn exceeded_quota_creates_no_pod_and_a_failed_create_event() {
    let fake = FakeCluster::start().await;
    let client = fake.client();
    namespace(&client, "user-alice").await;
    let quota: ResourceQuota = from(
        json!({"metadata": {"name": "user-quota"}, "spec": {"hard": {"requests.cpu": "1", "pods": "5"}}}),
    );
    Api::<ResourceQuota>::namespaced(client.clone(), "user-alice")
        .create(&PostParams::default(), &quota)
        .await
        .unwrap();
    let mut body = statefulset("big", "img", 1);
    body["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"requests": {"cpu": "2"}});
    let api = Api::<StatefulSet>::namespaced(client.clone(), "user-alice");
    api.patch("big", &PatchParams::apply("t"), &Patch::Apply(&body))
        .await
        .unwrap();
    assert!(
        fake.object("", "pods", Some("user-alice"), "big-0")
            .is_none()
    );
    let events = events_for(&client, "user-alice", "big").await;
    let failed = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("FailedCreate"))
        .expect("FailedCreate event");
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    assert_eq!(
        failed.message.as_deref(),
        Some(
            "create Pod big-0 in StatefulSet big failed error: pods \"big-0\" is forbidden: exceeded quota: user-quota, requested: requests.cpu=2, used: requests.cpu=0, limited: requests.cpu=1"
        )
    );
    let q = Api::<ResourceQuota>::namespaced(client.clone(), "user-alice")
        .get("user-quota")
        .await
        .unwrap();
    assert_eq!(q.status.unwrap().used.unwrap()["pods"].0, "0");
    let pods = Api::<Pod>::namespaced(client.clone(), "user-alice");
    let pod = |name: &str, cpu: &str| -> Pod {
        from(
            json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "img", "resources": {"requests": {"cpu": cpu}}}]}}),
        )
    };
    pods.create(&PostParams::default(), &pod("small", "500m"))
        .await
        .unwrap();
    let (code, reason, message) = api_error(
        pods.create(&PostParams::default(), &pod("more", "600m"))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert!(
        message.ends_with(
            "requested: requests.cpu=600m, used: requests.cpu=500m, limited: requests.cpu=1"
        ),
        "{message}"
    );
    let unspecified: Pod = from(
        json!({"metadata": {"name": "bare"}, "spec": {"containers": [{"name": "c", "image": "img"}]}}),
    );
    let (_, _, message) = api_error(
        pods.create(&PostParams::default(), &unspecified)
            .await
            .unwrap_err(),
    );
    assert!(
        message.contains("failed quota: user-quota: must specify requests.cpu for: c"),
        "{message}"
    );
    let q = Api::<ResourceQuota>::namespaced(client.clone(), "user-alice")
        .get("user-quota")
        .await
        .unwrap();
    let used = q.status.unwrap().used.unwrap();
    assert_eq!(
        (used["pods"].0.as_str(), used["requests.cpu"].0.as_str()),
        ("1", "500m")
    );
}

#[tokio::test]
async fn unknown_image_fails_to_pull_and_crash_images_back_off() {
    let fake = FakeCluster::start().await;
    let client = fake.client();
    let pods = Api::<Pod>::default_namespaced(client.clone());
    for (name, image) in [("p", "nowhere/none:1"), ("c", "crash:1")] {
        let pod: Pod = from(
            json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "main", "image": image}]}}),
        );
        pods.create(&PostParams::default(), &pod).await.unwrap();
    }
    let status = pods.get("p").await.unwrap().status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    let waiting = status.container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .waiting
        .unwrap();
    assert_eq!(waiting.reason.as_deref(), Some("ErrImagePull"));
    assert_eq!(
        waiting.message.as_deref(),
        Some("failed to pull image \"nowhere/none:1\": not found")
    );
    let events = events_for(&client, "default", "p").await;
    assert!(events.iter().any(|e| e.reason.as_deref() == Some("Failed") && e.type_.as_deref() == Some("Warning")));
    let (code, _, message) = api_error(pods.logs("p", &LogParams::default()).await.unwrap_err());
    assert_eq!(code, 400);
    assert!(message.contains("is waiting to start"), "{message}");
    let cs = pods
        .get("c")
        .await
        .unwrap()
        .status
        .unwrap()
        .container_statuses
        .unwrap()
        .remove(0);
    assert_eq!(
        cs.state.unwrap().waiting.unwrap().reason.as_deref(),
        Some("CrashLoopBackOff")
    );
    assert_eq!(cs.last_state.unwrap().terminated.unwrap().exit_code, 1);
}

#[tokio::test]
async fn access_reviews_honour_deny_and_the_kubeconfig_works() {
    let fake = FakeCluster::start().await;
    fake.deny("create", "statefulsets");
    let dir = tempfile::tempdir().unwrap();
    let path = fake.write_kubeconfig(dir.path());
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    assert_eq!(config.default_namespace, "default");
    let client = kube::Client::try_from(config).unwrap();
    let reviews = Api::<SelfSubjectAccessReview>::all(client.clone());
    let review = |verb: &str, resource: &str| -> SelfSubjectAccessReview {
        from(
            json!({"spec": {"resourceAttributes": {"verb": verb, "group": "apps", "resource": resource, "namespace": "user-alice"}}}),
        )
    };
    let denied = reviews
        .create(&PostParams::default(), &review("create", "statefulsets"))
        .await
        .unwrap();
    let status = denied.status.unwrap();
    assert!(!status.allowed);
    assert!(status.reason.unwrap().contains("denies"));
    let allowed = reviews
        .create(&PostParams::default(), &review("delete", "statefulsets"))
        .await
        .unwrap();
    assert!(allowed.status.unwrap().allowed);
    fake.clear_requests();
    let namespaces = Api::<Namespace>::all(client)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(
        namespaces
            .items
            .iter()
            .any(|n| n.metadata.name.as_deref() == Some("default"))
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("GET", "/api/v1/namespaces")
    );
}

#[tokio::test]
async fn claims_rolling_updates_and_namespace_deletion() {
    let fake = FakeCluster::start().await;
    let client = fake.client();
    fake.add_image("img:1", backend("hi").await, "");
    fake.add_image("img:2", backend("hi").await, "");
    namespace(&client, "user-carol").await;
    let mut body = statefulset("v", "img:1", 1);
    body["spec"]["volumeClaimTemplates"] = json!([{
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }]);
    body["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
        json!([{"name": "data", "mountPath": "/home"}]);
    let api = Api::<StatefulSet>::namespaced(client.clone(), "user-carol");
    api.patch("v", &PatchParams::apply("t"), &Patch::Apply(&body))
        .await
        .unwrap();
    let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), "user-carol");
    let claim = claims.get("data-v-0").await.unwrap();
    assert_eq!(claim.status.unwrap().phase.as_deref(), Some("Bound"));
    let pods = Api::<Pod>::namespaced(client.clone(), "user-carol");
    let pod = pods.get("v-0").await.unwrap();
    let volume = &pod.spec.as_ref().unwrap().volumes.as_ref().unwrap()[0];
    assert_eq!(
        volume.persistent_volume_claim.as_ref().unwrap().claim_name,
        "data-v-0"
    );
    // The same template again, through a typed replace, is not a new revision.
    let current = api.get("v").await.unwrap();
    api.replace("v", &PostParams::default(), &current)
        .await
        .unwrap();
    assert_eq!(
        pods.get("v-0").await.unwrap().metadata.uid,
        pod.metadata.uid
    );
    body["spec"]["template"]["spec"]["containers"][0]["image"] = json!("img:2");
    api.patch("v", &PatchParams::apply("t"), &Patch::Apply(&body))
        .await
        .unwrap();
    let rolled = pods.get("v-0").await.unwrap();
    assert_ne!(rolled.metadata.uid, pod.metadata.uid);
    assert_eq!(
        rolled.spec.unwrap().containers[0].image.as_deref(),
        Some("img:2")
    );
    let namespaces = Api::<Namespace>::all(client.clone());
    namespaces
        .delete("user-carol", &DeleteParams::default())
        .await
        .unwrap();
    assert!(fake.object("", "namespaces", None, "user-carol").is_none());
    for resource in ["pods", "persistentvolumeclaims", "events"] {
        assert!(
            fake.objects("", resource).is_empty(),
            "{resource} left behind"
        );
    }
    assert!(fake.objects("apps", "statefulsets").is_empty());
}
