//! Class limits: a teacher sets a class's limits and a student's override through the API;
//! installs on the Kubernetes runtime (over the fake API server) are held to running services,
//! CPU and volume storage, the claim gets the size asked for, the quota endpoint reports the
//! limits with the personal bucket's bytes, and the AWS SDK's uploads stop at the bucket's
//! limit with MinIO's error. `onyxia-lite class limits` sets the same on a stopped platform.

use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use reqwest::Method;
use serde_json::{Value, json};

use crate::lab_kube_support::{fake_with_tiny, kube_config};
use crate::lab_support::{Api, install_tiny};
use crate::process::BIN;
use crate::s3_support::*;
use crate::support::*;

/// Enrols a class list through the API as `teacher`.
pub async fn enrol(teacher: &Api<'_>, list: &str) {
    let response = teacher
        .request(Method::POST, "/class/import")
        .header("content-type", "text/csv")
        .body(list.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn put(s3: &aws_sdk_s3::Client, key: &str, bytes: usize) -> Result<(), String> {
    s3.put_object()
        .bucket("user-sam")
        .key(key)
        .body(ByteStream::from(vec![7u8; bytes]))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

#[tokio::test]
async fn a_class_is_held_to_its_limits_at_install_and_upload() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, kubeconfig) = fake_with_tiny(dir.path()).await;
    let tp = TestPlatform::start_with(kube_config(&kubeconfig, None)).await;
    let teacher = Api::new(&tp, "teacher");
    let list = "username,groups,password\nsam,stats,sam-secret-1\nsue,stats,sue-secret-1\n";
    enrol(&teacher, list).await;

    let set = |path: &str, body: Value| {
        let teacher = &teacher;
        let path = format!("/class/limits/{path}");
        async move { teacher.send(Method::PUT, &path, &body).await }
    };
    let class = json!({"services": 1, "cpu": "1", "s3Storage": "100Ki", "volumeStorage": "1Gi"});
    assert_eq!(
        set("groups/stats", class.clone()).await,
        (200, class.clone())
    );
    assert_eq!(set("users/sue", json!({"services": 2})).await.0, 200);
    let (status, all) = teacher.get("/class/limits").await;
    assert_eq!(status, 200);
    assert_eq!(
        all,
        json!({"groups": {"stats": class}, "users": {"sue": {"services": 2}}})
    );

    // What a teacher may not do, each refused in the API's problem format.
    let (status, _) = Api::new(&tp, "alice").get("/class/limits").await;
    assert_eq!(status, 403, "not a teacher");
    for (path, body, expected) in [
        ("groups/teachers", json!({"services": 9}), 403),
        ("users/alice", json!({"services": 9}), 403),
        ("users/teacher", json!({"services": 9}), 403),
        ("users/nobody", json!({"services": 9}), 404),
        ("groups/stats", json!({"cpu": "lots"}), 400),
        ("groups/stats", json!({"gpu": 1}), 400),
        ("classes/stats", json!({"services": 1}), 404),
    ] {
        let (status, problem) = set(path, body).await;
        assert_eq!(status, expected, "{path}: {problem}");
        assert!(problem["detail"].is_string(), "{problem}");
    }

    // Installs: one running service for sam, and the class's CPU and volume storage.
    let sam = Api::new(&tp, "sam");
    assert_eq!(install_tiny(&sam, "first", json!({})).await.0, 200);
    let (status, problem) = install_tiny(&sam, "second", json!({})).await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("count/pods would be 2 of 1"),
        "{problem}"
    );
    let sue = Api::new(&tp, "sue");
    let volume = |size: &str| json!({"persistence": {"enabled": true, "size": size}});
    let (status, problem) = install_tiny(&sue, "big-disk", volume("2Gi")).await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("requests.storage would be 2Gi of 1Gi"),
        "{problem}"
    );
    let (status, problem) = install_tiny(
        &sue,
        "cpu-hungry",
        json!({"resources": {"requests": {"cpu": "1500m"}}}),
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(
        install_tiny(&sue, "small-disk", volume("512Mi")).await.0,
        200
    );
    let claims: kube::Api<PersistentVolumeClaim> = kube::Api::namespaced(fake.client(), "user-sue");
    eventually(
        "the volume's claim",
        std::time::Duration::from_secs(30),
        async || {
            claims
                .list(&Default::default())
                .await
                .is_ok_and(|l| !l.items.is_empty())
        },
    )
    .await;
    let claim = &claims.list(&Default::default()).await.unwrap().items[0];
    let requested = &claim
        .spec
        .as_ref()
        .unwrap()
        .resources
        .as_ref()
        .unwrap()
        .requests;
    assert_eq!(requested.as_ref().unwrap()["storage"].0, "512Mi");

    // Uploads to sam's personal bucket (made at enrolment) stop at 100 KiB, every byte kept.
    let credentials = sts_credentials(&tp, "sam", "sam-secret-1").await;
    let s3 = session_client(&tp, &credentials);
    put(&s3, "a", 60 * 1024).await.unwrap();
    assert_eq!(
        put(&s3, "b", 60 * 1024).await,
        Err("XMinioAdminBucketQuotaExceeded".into())
    );
    put(&s3, "a", 30 * 1024)
        .await
        .expect("a smaller replacement fits");
    put(&s3, "b", 60 * 1024).await.expect("room again");

    // The quota endpoint reports the class's limits and the bucket's bytes.
    let (status, quota) = sam.get("/my-lab/quota").await;
    assert_eq!(status, 200, "{quota}");
    assert_eq!(quota["spec"]["count/pods"], 1);
    assert_eq!(quota["spec"]["requests.cpu"], "1");
    assert_eq!(quota["spec"]["s3.storage"], "100Ki");
    assert_eq!(quota["usage"]["count/pods"], 1);
    assert_eq!(quota["usage"]["s3.storage"], "90Ki");

    // A student's own idle time applies to their running services at once.
    assert_eq!(set("users/sam", json!({"idleMinutes": 5})).await.0, 200);
    let (_, first) = sam.get("/my-lab/app?serviceId=first").await;
    let now = tp.running.clock().millis();
    let suspend_at = first["suspendAt"].as_u64().expect("an idle deadline");
    assert!(
        suspend_at > now && suspend_at <= now + 5 * 60_000,
        "{first}"
    );

    // A raised limit applies at once; a removed one lifts the cap.
    assert_eq!(
        set("groups/stats", json!({"s3Storage": "1Mi"})).await.0,
        200
    );
    put(&s3, "c", 500 * 1024).await.unwrap();
    let (status, _) = teacher
        .send(Method::DELETE, "/class/limits/groups/stats", &json!(null))
        .await;
    assert_eq!(status, 204);
    put(&s3, "d", 600 * 1024).await.unwrap();
    assert_eq!(install_tiny(&sam, "second", json!({})).await.0, 200);
    tp.stop().await;
}

fn limits_cli(data: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    class_cli(data, "limits", args)
}

/// Runs `onyxia-lite class <command> --data-dir <data> <args>`: (exit code, stdout, stderr).
fn class_cli(data: &std::path::Path, command: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(["class", command, "--data-dir"])
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn class_limits_are_set_from_the_command_line_on_a_stopped_platform() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (rc, out, err) = limits_cli(
        &data,
        &["--group", "demo", "--s3-storage", "10Ki", "--services", "3"],
    );
    assert_eq!(rc, 0, "{err}");
    let all: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        all["groups"]["demo"],
        json!({"services": 3, "s3Storage": "10Ki"})
    );
    // Only the kinds named change.
    let (rc, out, _) = limits_cli(&data, &["--group", "demo", "--services", "1"]);
    assert_eq!(rc, 0);
    let all: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        all["groups"]["demo"],
        json!({"services": 1, "s3Storage": "10Ki"})
    );
    // Mistakes are usage errors.
    assert_eq!(limits_cli(&data, &["--cpu", "1"]).0, 2, "no group or user");
    let (rc, _, err) = limits_cli(&data, &["--group", "demo", "--memory", "lots"]);
    assert_eq!(rc, 2);
    assert!(err.contains("memory"), "{err}");

    // The platform applies them to the personal buckets of the group's members (bob is in
    // `demo`), and the command refuses to write while it serves.
    let mut config = test_config();
    config.ephemeral = false;
    config.data_dir = Some(data.clone());
    let tp = TestPlatform::start_with(config).await;
    let (rc, _, err) = limits_cli(&data, &[]);
    assert_ne!(rc, 0);
    assert!(err.contains("stop the platform"), "{err}");
    let (rc, _, err) = class_cli(&data, "report", &["--since", "1d"]);
    assert_ne!(rc, 0, "the report waits for the platform to stop: {err}");
    let s3 = session_client(&tp, &sts_credentials(&tp, "bob", "bob").await);
    let over = s3
        .put_object()
        .bucket("user-bob")
        .key("k")
        .body(ByteStream::from(vec![0u8; 11 * 1024]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&over), "XMinioAdminBucketQuotaExceeded");
    tp.stop().await;

    // The usage report of the stopped platform: everyone, with bob's bytes refused above.
    // The object store's commit thread lets go of the database a moment after the stop.
    let mut tries = 0;
    let (csv, err) = loop {
        let (rc, csv, err) = class_cli(&data, "report", &["--since", "2026-01-01"]);
        if rc == 0 || tries == 50 || !err.contains("stop the platform") {
            assert_eq!(rc, 0, "{err}");
            break (csv, err);
        }
        tries += 1;
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(err.is_empty(), "{err}");
    assert!(csv.starts_with("kind,name,groups,running_hours"), "{csv}");
    assert!(
        csv.contains("\nuser,bob,demo,0.00,0.00,0.00,0,0\n"),
        "{csv}"
    );
    let (rc, json, _) = class_cli(&data, "report", &["--format", "json"]);
    assert_eq!(rc, 0);
    let report: Value = serde_json::from_str(&json).unwrap();
    assert!(
        report["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "demo")
    );
    assert_eq!(class_cli(&data, "report", &["--since", "someday"]).0, 2);
    assert_eq!(class_cli(&data, "report", &["--format", "xml"]).0, 2);
}

#[tokio::test]
async fn course_data_is_read_by_the_class_and_written_by_teachers() {
    let tp = TestPlatform::start().await;
    let teacher = Api::new(&tp, "teacher");
    let list = "username,groups,password\nsam,stats,sam-secret-1\nzed,other,zed-secret-1\n";
    enrol(&teacher, list).await;
    let as_user = async |user: &str, password: &str| {
        session_client(&tp, &sts_credentials(&tp, user, password).await)
    };
    let teacher_s3 = as_user("teacher", "teacher").await;
    teacher_s3
        .create_bucket()
        .bucket("course-stats")
        .send()
        .await
        .unwrap();
    teacher_s3
        .put_object()
        .bucket("course-stats")
        .key("week1/syllabus.md")
        .body(ByteStream::from_static(b"# Week 1"))
        .send()
        .await
        .unwrap();

    // A student of the class reads and lists it, and cannot change it.
    let sam = as_user("sam", "sam-secret-1").await;
    let read = sam
        .get_object()
        .bucket("course-stats")
        .key("week1/syllabus.md")
        .send()
        .await
        .unwrap();
    assert_eq!(
        &read.body.collect().await.unwrap().into_bytes()[..],
        b"# Week 1"
    );
    let listed = sam
        .list_objects_v2()
        .bucket("course-stats")
        .prefix("week1/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(1));
    let write = sam
        .put_object()
        .bucket("course-stats")
        .key("week1/answers.md")
        .body(ByteStream::from_static(b"42"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&write), "AccessDenied");
    let delete = sam
        .delete_object()
        .bucket("course-stats")
        .key("week1/syllabus.md")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&delete), "AccessDenied");

    // A student of another class does not see it; nor can they make a course bucket.
    let zed = as_user("zed", "zed-secret-1").await;
    let denied = zed
        .get_object()
        .bucket("course-stats")
        .key("week1/syllabus.md")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&denied), "AccessDenied");
    let made = zed
        .create_bucket()
        .bucket("course-other")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&made), "AccessDenied");
    tp.stop().await;
}
