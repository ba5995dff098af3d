//! Validation of the fake: on the wire through kube, and directly on generated objects.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Secret, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::{api_error, from, statefulset};
use crate::kube_fake::{FakeCluster, checks};

#[tokio::test]
async fn unknown_fields_bad_labels_and_long_names_are_invalid() {
    let fake = FakeCluster::start().await;
    let client = fake.client();
    let sts = Api::<StatefulSet>::default_namespaced(client.clone());
    let mut body = statefulset("x", "img", 1);
    body["spec"]["replicaz"] = json!(2);
    body["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = json!("Always");
    let (code, reason, message) = api_error(
        sts.patch("x", &PatchParams::apply("t"), &Patch::Apply(&body))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert!(message.contains("spec.replicaz"), "{message}");
    assert!(
        message.contains("spec.template.spec.containers[0].imagePullPolicyy"),
        "{message}"
    );
    assert!(
        fake.object("apps", "statefulsets", Some("default"), "x")
            .is_none()
    );
    let secrets = Api::<Secret>::default_namespaced(client.clone());
    let bad_label: Secret =
        from(json!({"metadata": {"name": "s", "labels": {"owner": "alice smith"}}}));
    let (code, _, message) = api_error(
        secrets
            .create(&PostParams::default(), &bad_label)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 422);
    assert!(message.contains("metadata.labels"), "{message}");
    let long: Secret = from(json!({"metadata": {"name": "a".repeat(254)}}));
    assert_eq!(
        api_error(
            secrets
                .create(&PostParams::default(), &long)
                .await
                .unwrap_err()
        )
        .0,
        422
    );
    let svc: Service =
        from(json!({"metadata": {"name": "1web"}, "spec": {"ports": [{"port": 80}]}}));
    let (code, _, message) = api_error(
        Api::<Service>::default_namespaced(client)
            .create(&PostParams::default(), &svc)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 422);
    assert!(message.contains("DNS-1035"), "{message}");
}

#[tokio::test]
async fn malformed_bodies_are_bad_requests() {
    let fake = FakeCluster::start().await;
    let client = fake.client();
    let post = |path: &str, ct: &str, body: &str| {
        let req = axum::http::Request::post(path).header("content-type", ct);
        req.body(body.as_bytes().to_vec()).unwrap()
    };
    for body in [
        "5",
        "{\"metadata\": \"oops\"}",
        "{\"metadata\": {\"labels\": 3}}",
        "not json",
    ] {
        let req = post(
            "/api/v1/namespaces/default/secrets",
            "application/json",
            body,
        );
        let (code, reason, _) = api_error(client.request::<Value>(req).await.unwrap_err());
        assert_eq!((code, reason.as_str()), (400, "BadRequest"), "{body}");
    }
    let secret: Secret = from(json!({"metadata": {"name": "s"}}));
    let secrets = Api::<Secret>::default_namespaced(client.clone());
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    for patch in [
        json!(5),
        json!({"metadata": "oops"}),
        json!({"data": {"k": "not base64!"}}),
    ] {
        let err = secrets
            .patch("s", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_err();
        assert_eq!(api_error(err).0, 400, "{patch}");
    }
    let text = client
        .request_text(
            axum::http::Request::get("/api/v1/widgets")
                .body(vec![])
                .unwrap(),
        )
        .await;
    assert_eq!(api_error(text.unwrap_err()).0, 404);
    assert!(secrets.get("s").await.is_ok(), "the server still answers");
}

#[tokio::test]
async fn checks_run_on_generated_objects() {
    let good: StatefulSet = from(statefulset("ok", "img", 1));
    assert_eq!(checks::check(&good), Vec::new());
    let mut bad = statefulset("ok", "img", 1);
    bad["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"requests": {"memory": "2 Gi", "cpu": "2"}, "limits": {"cpu": "1"}});
    bad["spec"]["template"]["spec"]["containers"][0]["ports"][0]["name"] =
        json!("a-very-long-port-name");
    bad["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
        json!([{"name": "data", "mountPath": "/data"}]);
    let fields: Vec<String> = checks::check(&from::<StatefulSet>(bad))
        .into_iter()
        .map(|c| c.field)
        .collect();
    let c = "spec.template.spec.containers[0]";
    for want in [
        format!("{c}.resources.requests[memory]"),
        format!("{c}.resources.requests"),
        format!("{c}.ports[0].name"),
        format!("{c}.volumeMounts[0].name"),
    ] {
        assert!(fields.contains(&want), "{want} not in {fields:?}");
    }
    for (q, v) in [
        ("100m", 0.1),
        ("1.5", 1.5),
        ("2Gi", 2.0 * 1024f64.powi(3)),
        ("512Mi", 512.0 * 1024f64.powi(2)),
        ("1e3", 1000.0),
    ] {
        assert_eq!(checks::parse_quantity(q), Some(v), "{q}");
    }
    for q in ["", "1.2.3", "2 Gi", "Gi", "1x"] {
        assert_eq!(checks::parse_quantity(q), None, "{q}");
    }
}
