//! Idle culling on the Kubernetes runtime (over the fake API server, whose metrics API reports
//! the CPU the test sets): a service busy with no traffic is kept, one with an open WebSocket
//! that only pings is suspended, one used through the proxy is kept; the owner postpones a
//! suspension; the maximum age deletes services, suspended or not. Every cull is an event
//! with its reason. Time passes on the platform's clock, not in sleeps.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::lab_kube_support::{fake_with_tiny, kube_config};
use crate::lab_support::{Api, install_tiny, ready, wait_for};
use crate::support::TestPlatform;

async fn install(api: &Api<'_>, release: &str) {
    let (status, body) = install_tiny(api, release, json!({})).await;
    assert_eq!(status, 200, "{body}");
    wait_for(api, release, Duration::from_secs(30), ready).await;
}

async fn service(api: &Api<'_>, release: &str) -> Value {
    let (status, body) = api.get(&format!("/my-lab/app?serviceId={release}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A WebSocket to the service's echo through the proxy, left open.
async fn open_socket(
    tp: &TestPlatform,
    release: &str,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let port = tp.running.endpoints.main_addr.port();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (socket, _) =
        tokio_tungstenite::client_async(format!("ws://{release}.localhost:{port}/ws"), tcp)
            .await
            .unwrap();
    socket
}

/// The events of a project's services, as the API's event stream replays them.
fn events_of(tp: &TestPlatform, release: &str) -> Vec<(String, String)> {
    tp.running
        .lab()
        .events
        .follow("user-alice")
        .0
        .into_iter()
        .filter(|e| e.release == release)
        .map(|e| (e.reason.clone(), e.message.clone()))
        .collect()
}

#[tokio::test]
async fn idle_services_are_suspended_and_busy_ones_kept_on_the_fake_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, kubeconfig) = fake_with_tiny(dir.path()).await;
    let mut config = kube_config(&kubeconfig, None);
    config.culling.idle_minutes = 30;
    config.culling.max_age_hours = 3;
    // The test makes the passes itself.
    config.culling.interval_seconds = 3600;
    let tp = TestPlatform::start_with(config).await;
    // A fresh token for each call: the clock moves past their lifetime.
    let alice = || Api::new(&tp, "alice");
    let lab = tp.running.lab().clone();
    for release in ["busy", "idle-ws", "used"] {
        install(&alice(), release).await;
    }
    fake.set_pod_cpu("user-alice", "busy-0", "800m");
    fake.set_pod_cpu("user-alice", "idle-ws-0", "2500000n");
    let deadline = service(&alice(), "idle-ws").await["suspendAt"]
        .as_u64()
        .unwrap();
    assert_eq!(
        deadline,
        service(&alice(), "idle-ws").await["startedAt"]
            .as_u64()
            .unwrap()
            + 30 * 60_000
    );

    // Nothing is idle yet.
    assert_eq!(lab.cull_pass().await.unwrap(), Default::default());

    // An open tab: its WebSocket stays open and only pings.
    let mut socket = open_socket(&tp, "idle-ws").await;
    tp.advance(31 * 60);
    socket.send(Message::Ping(vec![1].into())).await.unwrap();
    socket.send(Message::Pong(vec![2].into())).await.unwrap();
    // Someone uses `used`: a message over its WebSocket.
    let mut used = open_socket(&tp, "used").await;
    used.send(Message::text("run cell")).await.unwrap();
    assert_eq!(
        used.next()
            .await
            .unwrap()
            .unwrap()
            .into_text()
            .unwrap()
            .as_str(),
        "echo: run cell"
    );
    // The pong of the ping above went back: the splice carried the control frames.
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = socket.next().await {
            if m.is_pong() {
                break;
            }
        }
    })
    .await
    .expect("the service answered the ping");

    let report = lab.cull_pass().await.unwrap();
    assert_eq!(report.suspended, ["idle-ws"]);
    assert_eq!(report.kept_busy, ["busy"]);
    assert!(report.deleted.is_empty());
    let idle = service(&alice(), "idle-ws").await;
    assert_eq!(idle["suspended"], true, "{idle}");
    assert!(
        idle.get("suspendAt").is_none(),
        "a suspended service has no idle deadline"
    );
    let (reason, text) = events_of(&tp, "idle-ws").pop().unwrap();
    assert_eq!(reason, "IdleSuspended");
    assert!(
        text.contains("after 30 min without use") && text.contains("CPU at 3m, under 50m"),
        "{text}"
    );
    for release in ["busy", "used"] {
        assert_eq!(
            service(&alice(), release).await["suspended"],
            false,
            "{release}"
        );
    }

    // The busy service rests; its owner postpones the suspension once.
    fake.set_pod_cpu("user-alice", "busy-0", "0");
    tp.advance(20 * 60);
    let asked = tp.running.clock().millis();
    let (status, extended) = alice()
        .send(
            Method::POST,
            "/my-lab/app/extend",
            &json!({"serviceID": "busy"}),
        )
        .await;
    assert_eq!(status, 200, "{extended}");
    // 30 minutes from the moment the extension was made (the clock ticks meanwhile).
    let answered = tp.running.clock().millis();
    let suspend_at = extended["suspendAt"].as_u64().unwrap();
    assert!(
        (asked + 30 * 60_000..=answered + 30 * 60_000).contains(&suspend_at),
        "{suspend_at} not 30 min after {asked}..={answered}"
    );
    tp.advance(20 * 60);
    // `used` was last used 40 minutes ago: it goes; `busy` was extended 20 minutes ago.
    assert_eq!(lab.cull_pass().await.unwrap().suspended, ["used"]);
    tp.advance(11 * 60);
    assert_eq!(lab.cull_pass().await.unwrap().suspended, ["busy"]);

    // Past the maximum age, every service goes, suspended or not.
    let expire_at = service(&alice(), "used").await["expireAt"]
        .as_u64()
        .unwrap();
    tp.advance(2 * 3600);
    assert!(tp.running.clock().millis() >= expire_at);
    let mut report = lab.cull_pass().await.unwrap();
    report.deleted.sort();
    assert_eq!(report.deleted, ["busy", "idle-ws", "used"]);
    assert!(
        fake.object("apps", "statefulsets", Some("user-alice"), "used")
            .is_none()
    );
    let (reason, text) = events_of(&tp, "used").pop().unwrap();
    assert_eq!(
        (reason.as_str(), text.as_str()),
        (
            "Expired",
            "Deleted: launched more than 3 h ago, the maximum age"
        )
    );

    // The usage report: alice's three services, each metered while it ran.
    let teacher = Api::new(&tp, "teacher");
    let (status, report) = teacher.get("/class/report?since=1d").await;
    assert_eq!(status, 200, "{report}");
    let alice_row = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "alice")
        .unwrap();
    assert_eq!(alice_row["servicesLaunched"], 3, "{alice_row}");
    // Each ran 31 minutes between the first two looks (then `used` 40 and `busy` 51 more).
    let hours = alice_row["runningHours"].as_f64().unwrap();
    assert!(
        (hours - (3.0 * 31.0 + 40.0 + 51.0) / 60.0).abs() < 0.01,
        "{alice_row}"
    );
    // CPU-hours are what the metrics API said: `busy` at 800m for its first 31 minutes.
    let cpu = alice_row["cpuHours"].as_f64().unwrap();
    assert!((cpu - 0.8 * 31.0 / 60.0).abs() < 0.01, "{alice_row}");
    assert!(report["concurrency"].as_array().unwrap().len() >= 4);
    let csv = teacher
        .request(Method::GET, "/class/report?since=1d&format=csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(
        csv.lines()
            .any(|l| l.starts_with("user,alice,") && l.ends_with(",3,0")),
        "{csv}"
    );
    let (status, _) = teacher.get("/class/report?since=someday").await;
    assert_eq!(status, 400);
    let (status, _) = Api::new(&tp, "alice").get("/class/report").await;
    assert_eq!(status, 403);

    // A stranger cannot extend someone else's service.
    let (status, _) = Api::new(&tp, "bob")
        .send(
            Method::POST,
            "/my-lab/app/extend",
            &json!({"serviceID": "used"}),
        )
        .await;
    assert_eq!(status, 404);
    tp.stop().await;
}

#[tokio::test]
async fn without_a_metrics_api_culling_judges_by_traffic_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, kubeconfig) = fake_with_tiny(dir.path()).await;
    fake.without_metrics();
    let mut config = kube_config(&kubeconfig, None);
    config.culling.idle_minutes = 10;
    config.culling.interval_seconds = 3600;
    let tp = TestPlatform::start_with(config).await;
    let api = Api::new(&tp, "alice");
    install(&api, "quiet").await;
    tp.advance(11 * 60);
    let report = tp.running.lab().cull_pass().await.unwrap();
    assert_eq!(report.suspended, ["quiet"]);
    let (_, text) = events_of(&tp, "quiet").pop().unwrap();
    assert!(text.contains("CPU use unknown"), "{text}");
    tp.stop().await;
}

#[tokio::test]
#[ignore = "needs Podman and the test image: scripts/test.sh provides them and runs it"]
async fn on_podman_a_busy_service_is_kept_and_an_idle_one_suspended() {
    crate::lab_support::require_engine().await;
    let mut config = crate::lab_support::test_config_with_engine();
    config.culling.idle_minutes = 15;
    config.culling.interval_seconds = 3600;
    let tp = TestPlatform::start_with(config).await;
    let alice = || Api::new(&tp, "alice");
    let suffix = crate::lab_support::rand_suffix();
    let (busy, idle) = (format!("burn-{suffix}"), format!("rest-{suffix}"));
    install(&alice(), &busy).await;
    install(&alice(), &idle).await;
    let lab = tp.running.lab().clone();
    // The engine's CPU figures are totals: the first pass takes the baseline.
    assert_eq!(lab.cull_pass().await.unwrap(), Default::default());
    // A computation with nobody watching: a script's request starts it, which is not use.
    let (status, said) = crate::lab_support::through_proxy(&tp, &busy, "/burn?seconds=30").await;
    assert_eq!((status, said.as_str()), (200, "burning for 30 s"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    tp.advance(16 * 60);
    let report = lab.cull_pass().await.unwrap();
    assert_eq!(report.kept_busy, std::slice::from_ref(&busy), "{report:?}");
    assert_eq!(report.suspended, std::slice::from_ref(&idle), "{report:?}");
    let rested = service(&alice(), &idle).await;
    assert_eq!(rested["suspended"], true, "{rested}");
    for release in [&busy, &idle] {
        let (status, _) = alice()
            .send(
                Method::DELETE,
                &format!("/my-lab/app?path={release}"),
                &json!(null),
            )
            .await;
        assert_eq!(status, 200);
    }
    tp.stop().await;
}

#[tokio::test]
async fn a_class_reset_lists_then_pauses_archives_and_deletes_what_students_left() {
    use aws_sdk_s3::primitives::ByteStream;
    let dir = tempfile::tempdir().unwrap();
    let (_fake, kubeconfig) = fake_with_tiny(dir.path()).await;
    let tp = TestPlatform::start_with(kube_config(&kubeconfig, None)).await;
    let teacher = Api::new(&tp, "teacher");
    let list = "username,groups,password\nsam,stats,sam-secret-1\ntom,stats,tom-secret-1\n";
    crate::class_limits::enrol(&teacher, list).await;
    // What sam leaves: a service, two files, a secret; alice (not enrolled) has a service too.
    install(&Api::new(&tp, "sam"), "sam-notebook").await;
    install(&Api::new(&tp, "alice"), "alice-notebook").await;
    let credentials = crate::s3_support::sts_credentials(&tp, "sam", "sam-secret-1").await;
    let s3 = crate::s3_support::session_client(&tp, &credentials);
    for (key, body) in [("data/a.csv", "x,y\n1,2\n"), ("b.txt", "bee")] {
        s3.put_object()
            .bucket("user-sam")
            .key(key)
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .unwrap();
    }
    let vault = tp
        .running
        .endpoints
        .vault_url
        .replace("localhost", "127.0.0.1");
    let token = crate::lab_support::vault_token(&tp, "sam").await;
    let secret_url = format!("{vault}/v1/onyxia-kv/data/user-sam/notes");
    let http = reqwest::Client::new();
    let wrote = http
        .post(&secret_url)
        .header("X-Vault-Token", &token)
        .json(&json!({"data": {"k": "v"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrote.status(), 200);

    // tom deleted his personal bucket: the reset has none of his to archive.
    let root = crate::s3_support::root_client(&tp);
    root.delete_bucket()
        .bucket("user-tom")
        .send()
        .await
        .unwrap();

    let plan = json!({"groups": ["stats"], "services": "suspend", "buckets": "archive",
        "archiveBucket": "stats-archive", "secrets": "delete", "dryRun": true});
    let (status, report) = teacher.send(Method::POST, "/class/reset", &plan).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["students"], json!(["sam", "tom"]));
    assert_eq!(
        report["services"],
        json!([["sam", "sam-notebook", "would be suspended"]])
    );
    assert_eq!(
        report["buckets"],
        json!([["user-sam", 2, 11, "would be archived and deleted"]])
    );
    assert_eq!(
        report["secrets"],
        json!([
            ["sam", 1, "would be deleted"],
            ["tom", 0, "would be deleted"]
        ])
    );
    assert_eq!(
        service(&Api::new(&tp, "sam"), "sam-notebook").await["suspended"],
        false
    );

    let mut plan = plan;
    plan["dryRun"] = json!(false);
    let (status, report) = teacher.send(Method::POST, "/class/reset", &plan).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["buckets"][0][3], "archived and deleted");
    assert_eq!(
        service(&Api::new(&tp, "sam"), "sam-notebook").await["suspended"],
        true
    );
    assert_eq!(
        service(&Api::new(&tp, "alice"), "alice-notebook").await["suspended"],
        false
    );
    let archived = root
        .get_object()
        .bucket("stats-archive")
        .key("sam/data/a.csv")
        .send()
        .await
        .unwrap();
    let body = archived.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"x,y\n1,2\n");
    let gone = root
        .head_bucket()
        .bucket("user-sam")
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.raw_response().map(|r| r.status().as_u16()), Some(404));
    let read = http
        .get(&secret_url)
        .header(
            "X-Vault-Token",
            crate::lab_support::vault_token(&tp, "sam").await,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 404);

    // Mistakes and strangers.
    for (plan, expected) in [
        (json!({"groups": ["teachers"]}), 400),
        (json!({"groups": []}), 400),
        (json!({"groups": ["stats"], "buckets": "archive"}), 400),
        (json!({"groups": ["stats"], "buckets": "shred"}), 400),
        (json!({"groups": ["stats"], "bogus": 1}), 400),
    ] {
        let (status, problem) = teacher.send(Method::POST, "/class/reset", &plan).await;
        assert_eq!(status, expected, "{plan}: {problem}");
    }
    let (status, _) = Api::new(&tp, "alice")
        .send(Method::POST, "/class/reset", &json!({"groups": ["stats"]}))
        .await;
    assert_eq!(status, 403);
    tp.stop().await;
}
