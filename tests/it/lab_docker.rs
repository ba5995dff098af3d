//! Services on a real container engine (Podman's Docker API in CI): launch the tiny package,
//! reach it through the proxy (HTTP and WebSocket), read logs and events, suspend, resume,
//! survive a restart, delete. The container reaches the S3 and Vault endpoints it was given.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::lab_support::{
    Api, assert_no_null, rand_suffix, ready, require_engine, serde_urlencoded_pairs,
    test_config_with_engine, through_proxy, vault_token, wait_for, websocket_echo,
};
use crate::s3_support::{session_client, sts_credentials};
use crate::support::TestPlatform;

#[tokio::test]
#[ignore = "needs Podman and the test image: scripts/test.sh provides them and runs it"]
async fn tiny_service_lifecycle_on_a_real_engine() {
    require_engine().await;
    let data = tempfile::tempdir().unwrap();
    let mut config = test_config_with_engine();
    config.ephemeral = false;
    config.data_dir = Some(data.path().to_owned());
    let tp = TestPlatform::start_with(config.clone()).await;
    let api = Api::new(&tp, "alice");
    let release = format!("tiny-{}", rand_suffix());

    // What onyxia-web puts in the values: STS credentials and a Vault token, the S3 host with
    // its port, and the port of the URL's scheme apart.
    let creds = sts_credentials(&tp, "alice", "alice").await;
    let vault = vault_token(&tp, "alice").await;
    let s3_port = tp.running.endpoints.s3_addr.port();
    let options = json!({
        "message": "Hello through the proxy",
        "persistence": {"enabled": true},
        "s3": {"accessKeyId": creds.access_key_id, "secretAccessKey": creds.secret_access_key,
               "sessionToken": creds.session_token, "endpoint": format!("localhost:{s3_port}"), "port": 80},
        "vault": {"url": tp.running.endpoints.vault_url, "token": vault, "mount": "onyxia-kv", "directory": "user-alice"}
    });
    let (status, body) = api
        .send(
            Method::PUT,
            "/my-lab/app",
            &json!({"catalogId": "test", "packageName": "tiny", "packageVersion": "1.0.0",
            "name": release, "friendlyName": "My tiny", "share": false, "options": options}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let service = wait_for(&api, &release, Duration::from_secs(60), ready).await;
    assert_no_null(&service, "service");
    assert_eq!(service["status"], "deployed");
    assert_eq!(service["friendlyName"], "My tiny");
    assert_eq!(service["owner"], "alice");
    assert_eq!(service["chart"], "tiny-1.0.0");
    assert_eq!(service["suspendable"], true);
    assert_eq!(service["env"]["message"], "Hello through the proxy");
    let url = format!(
        "http://{release}.localhost:{}/",
        tp.running.endpoints.main_addr.port()
    );
    assert_eq!(service["urls"], json!([url]));
    // onyxia-web's Open button takes the first URL of the notes that starts with one of `urls`
    // and runs on to a space or `)`: it must be exactly the service's URL.
    let notes = service["postInstallInstructions"].as_str().unwrap();
    let escaped = regex::escape(url.trim_end_matches('/'));
    let open_url = regex::Regex::new(&format!(r"(?i){escaped}(?:[/?#][^\s)]*)?"))
        .unwrap()
        .find(notes)
        .map(|m| m.as_str());
    assert_eq!(open_url, Some(url.as_str()), "{notes}");

    // Limits from the values, labels on the container (read back with bollard).
    let docker = crate::lab_support::docker().await.expect("engine");
    let inspect = docker
        .inspect_container(service["tasks"][0]["id"].as_str().unwrap(), None)
        .await
        .unwrap();
    let host = inspect.host_config.unwrap();
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(host.memory, Some(128 << 20));
    let labels = inspect.config.unwrap().labels.unwrap();
    assert_eq!(labels["onyxia-lite.owner"], "alice");
    assert_eq!(labels["onyxia-lite.project"], "user-alice");

    let (status, page) = through_proxy(&tp, &release, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("Hello through the proxy"), "{page}");
    let (status, listing) = api.get("/my-lab/services").await;
    assert_eq!(status, 200);
    assert!(
        listing["apps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == release),
        "{listing}"
    );

    websocket_echo(&tp, &release).await;

    // From inside the container: the endpoints it was given, with its credentials.
    let (_, env) = through_proxy(&tp, &release, "/env").await;
    let env: Value = serde_json::from_str(&env).unwrap();
    let s3_inside = env["AWS_ENDPOINT_URL"].as_str().unwrap().to_owned();
    let vault_inside = env["VAULT_ADDR"].as_str().unwrap().to_owned();
    assert!(
        !s3_inside.contains("localhost") && !vault_inside.contains("localhost"),
        "{s3_inside} {vault_inside}"
    );
    let fetch = |url: String, header: Option<String>| {
        let tp = &tp;
        let release = release.clone();
        async move {
            let mut q = vec![("url", url)];
            if let Some(h) = header {
                q.push(("header", h));
            }
            let path = format!("/fetch?{}", serde_urlencoded_pairs(&q));
            through_proxy(tp, &release, &path).await.1
        }
    };
    let from_vault = fetch(
        format!("{vault_inside}/v1/auth/token/lookup-self"),
        Some(format!("X-Vault-Token: {vault}")),
    )
    .await;
    assert!(
        from_vault.starts_with("200\n") && from_vault.contains("user-alice")
            || from_vault.contains("alice"),
        "{from_vault}"
    );
    let from_s3 = fetch(format!("{s3_inside}/user-alice/"), None).await;
    assert!(
        from_s3.starts_with("403\n") && from_s3.contains("AccessDenied"),
        "anonymous S3 answers in S3's format: {from_s3}"
    );
    // The keys it holds work (checked from here against the same S3).
    let s3 = session_client(&tp, &creds);
    s3.list_objects_v2()
        .bucket("user-alice")
        .send()
        .await
        .expect("the service's keys list alice's bucket");
    assert_eq!(env["AWS_ACCESS_KEY_ID"], creds.access_key_id);

    // Logs and events.
    let logs = api
        .request(
            Method::GET,
            &format!(
                "/my-lab/app/logs?serviceId={release}&taskId={}",
                service["tasks"][0]["id"].as_str().unwrap()
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(logs.headers()["content-type"], "text/plain;charset=UTF-8");
    assert!(
        logs.text()
            .await
            .unwrap()
            .contains("tiny service listening on port 8080")
    );
    let events = api
        .request(Method::GET, "/my-lab/events")
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let mut stream = events.bytes_stream();
    let mut text = String::new();
    while !text.contains("\"Started\"") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("events arrive")
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    for frame in text.split("\n\n").filter(|f| !f.is_empty()) {
        let json = frame.strip_prefix("data:").expect("only data: lines");
        let event: Value = serde_json::from_str(json).expect("one JSON line per frame");
        assert!(event["metadata"]["uid"].is_string() && event["message"].is_string());
        assert_eq!(event["metadata"]["namespace"], "user-alice");
    }
    drop(stream);

    // Other users never see it.
    let mut bob = Api::new(&tp, "bob");
    assert_eq!(
        bob.get(&format!("/my-lab/app?serviceId={release}")).await.0,
        404
    );
    bob.project = Some("user-alice".into());
    assert_eq!(
        bob.get(&format!("/my-lab/app?serviceId={release}")).await.0,
        403
    );

    // Suspend: the container stops, the proxy says so; resume brings it back.
    assert_eq!(
        api.send(
            Method::POST,
            "/my-lab/app/suspend",
            &json!({"serviceID": release})
        )
        .await
        .0,
        200
    );
    let suspended = wait_for(&api, &release, Duration::from_secs(30), |s| {
        s["suspended"] == true
    })
    .await;
    assert_eq!(suspended["env"]["global.suspend"], "true");
    assert_eq!(suspended["tasks"], json!([]));
    assert_eq!(through_proxy(&tp, &release, "/").await.0, 404);
    // A resumed service starts again: its startedAt moves to the resume.
    let started = suspended["startedAt"].as_u64().unwrap();
    tp.advance(120);
    assert_eq!(
        api.send(
            Method::POST,
            "/my-lab/app/resume",
            &json!({"serviceID": release})
        )
        .await
        .0,
        200
    );
    let resumed = wait_for(&api, &release, Duration::from_secs(30), |s| {
        s["suspended"] == false && ready(s)
    })
    .await;
    assert!(
        resumed["startedAt"].as_u64().unwrap() >= started + 120_000,
        "{started} → {}",
        resumed["startedAt"]
    );
    assert_eq!(through_proxy(&tp, &release, "/").await.0, 200);
    assert_eq!(
        api.send(
            Method::POST,
            "/my-lab/app/rename",
            &json!({"serviceID": release, "friendlyName": "Renamed"})
        )
        .await
        .0,
        200
    );

    // Restart onyxia-lite: the service is found again from the engine.
    tp.stop().await;
    let tp = TestPlatform::start_with(config).await;
    let api = Api::new(&tp, "alice");
    let again = wait_for(&api, &release, Duration::from_secs(30), ready).await;
    assert_eq!(again["friendlyName"], "Renamed");
    assert_eq!(again["env"]["message"], "Hello through the proxy");
    let r = api
        .request(Method::DELETE, &format!("/my-lab/app?path={release}"))
        .send()
        .await
        .unwrap();
    let (status, body) = crate::lab_support::status_and_json(r).await;
    assert_eq!(
        (status, body),
        (200, json!({"path": release, "success": true}))
    );
    assert_eq!(
        api.get(&format!("/my-lab/app?serviceId={release}")).await.0,
        404
    );
    tp.stop().await;
}

#[tokio::test]
#[ignore = "needs Podman and the test image: scripts/test.sh provides them and runs it"]
async fn engine_failures_become_failed_services_with_the_engines_message() {
    require_engine().await;
    let tp = TestPlatform::start_with(test_config_with_engine()).await;
    let api = Api::new(&tp, "teacher");
    let release = format!("tiny-{}", rand_suffix());
    let options = json!({"service": {"image": {"custom": {"enabled": true, "version": "localhost/does-not-exist:1"}}}});
    let (status, _) = api
        .send(Method::PUT, "/my-lab/app", &json!({"catalogId": "test", "packageName": "tiny", "packageVersion": "1.0.0", "name": release, "options": options}))
        .await;
    assert_eq!(
        status, 200,
        "accepted at once; the pull fails in the background"
    );
    let failed = wait_for(&api, &release, Duration::from_secs(60), |s| {
        s["status"] == "failed"
    })
    .await;
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("does-not-exist"),
        "{failed}"
    );
    // Group projects: only shared services and one's own are visible to the group.
    let mut in_group = Api::new(&tp, "teacher");
    in_group.project = Some("projet-demo".into());
    let shared = format!("tiny-{}", rand_suffix());
    let (status, _) = in_group
        .send(Method::PUT, "/my-lab/app", &json!({"catalogId": "test", "packageName": "tiny", "packageVersion": "1.0.0", "name": shared, "options": options}))
        .await;
    assert_eq!(status, 200);
    wait_for(&in_group, &shared, Duration::from_secs(60), |s| {
        s["status"] == "failed"
    })
    .await;
    let mut member = Api::new(&tp, "bob");
    member.project = Some("projet-demo".into());
    assert_eq!(
        member
            .get(&format!("/my-lab/app?serviceId={shared}"))
            .await
            .0,
        404
    );
    assert_eq!(
        in_group
            .send(
                Method::POST,
                "/my-lab/app/share",
                &json!({"serviceID": shared, "share": true})
            )
            .await
            .0,
        200
    );
    let (status, seen) = member.get(&format!("/my-lab/app?serviceId={shared}")).await;
    assert_eq!(
        (status, &seen["share"], &seen["owner"]),
        (200, &json!(true), &json!("teacher"))
    );
    assert_eq!(
        in_group
            .request(Method::DELETE, &format!("/my-lab/app?path={shared}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let (_, listing) = api.get("/my-lab/services").await;
    let listed = listing["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == release)
        .cloned();
    assert_eq!(listed.expect("listed")["status"], "failed");
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

    // Quotas: a second service over the count is refused, with the reason.
    let mut config = test_config_with_engine();
    config.onyxia.quota_services = 1;
    let tp2 = TestPlatform::start_with(config).await;
    let api2 = Api::new(&tp2, "bob");
    let first = format!("tiny-{}", rand_suffix());
    let body = |name: &str| json!({"catalogId": "test", "packageName": "tiny", "packageVersion": "1.0.0", "name": name, "options": {"s3": {"enabled": false}, "vault": {"enabled": false}}});
    assert_eq!(
        api2.send(Method::PUT, "/my-lab/app", &body(&first)).await.0,
        200
    );
    let (status, problem) = api2
        .send(
            Method::PUT,
            "/my-lab/app",
            &body(&format!("tiny-{}", rand_suffix())),
        )
        .await;
    assert_eq!(status, 403);
    assert!(
        problem["detail"].as_str().unwrap().contains("count/pods"),
        "{problem}"
    );
    wait_for(&api2, &first, Duration::from_secs(60), ready).await;
    let (_, quota) = api2.get("/my-lab/quota").await;
    assert_eq!(quota["usage"]["count/pods"], 1);
    assert_eq!(
        api2.send(Method::PUT, "/my-lab/app", &body(&first)).await.0,
        409,
        "names are unique"
    );
    let r = api2
        .request(Method::DELETE, "/my-lab/app?path=&bulk=true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tp2.stop().await;
    tp.stop().await;
}
