//! Course data in services: a student names the class's course bucket at launch (as an
//! autolaunch link's `course.bucket` does) and finds it read-only in the service on Podman,
//! brought up to date when the service resumes; a student of another class, or a bucket that
//! does not exist, is refused before anything starts; on Kubernetes the service is told the
//! bucket and reaches it through S3.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use reqwest::Method;
use serde_json::{Value, json};

use crate::class_limits::enrol;
use crate::lab_kube_support::{fake_with_tiny, kube_config};
use crate::lab_support::{Api, install_tiny, ready, through_proxy, wait_for};
use crate::s3_support::*;
use crate::support::*;

const CLASS: &str = "username,groups,password\nsam,stats,sam-secret-1\nzed,other,zed-secret-1\n";

/// The teacher's course bucket with a syllabus, a dataset above the inline size and an empty
/// folder marker.
async fn make_course(tp: &TestPlatform) -> aws_sdk_s3::Client {
    let teacher = session_client(tp, &sts_credentials(tp, "teacher", "teacher").await);
    teacher
        .create_bucket()
        .bucket("course-stats")
        .send()
        .await
        .unwrap();
    let dataset = "x,y\n".repeat(40_000);
    for (key, body) in [
        ("week1/syllabus.md", "# Week 1".to_owned()),
        ("data/points.csv", dataset),
        ("empty/", String::new()),
    ] {
        teacher
            .put_object()
            .bucket("course-stats")
            .key(key)
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .unwrap();
    }
    teacher
}

fn with_course(bucket: &str) -> Value {
    json!({"course": {"bucket": bucket}})
}

async fn read(tp: &TestPlatform, release: &str, path: &str) -> String {
    let (status, text) = through_proxy(tp, release, &format!("/file?path={path}")).await;
    assert_eq!(status, 200, "{text}");
    text
}

#[tokio::test]
#[ignore = "needs Podman and the test image: scripts/test.sh provides them and runs it"]
async fn on_podman_the_course_bucket_is_a_read_only_folder_kept_up_to_date() {
    crate::lab_support::require_engine().await;
    let tp = TestPlatform::start_with(crate::lab_support::test_config_with_engine()).await;
    enrol(&Api::new(&tp, "teacher"), CLASS).await;
    let teacher = make_course(&tp).await;
    let sam = Api::new(&tp, "sam");
    let release = format!("course-{}", crate::lab_support::rand_suffix());
    let (status, body) = install_tiny(&sam, &release, with_course("course-stats")).await;
    assert_eq!(status, 200, "{body}");
    wait_for(&sam, &release, Duration::from_secs(60), ready).await;

    let (_, env) = through_proxy(&tp, &release, "/env").await;
    let env: Value = serde_json::from_str(&env).unwrap();
    assert_eq!(env["COURSE_BUCKET"], "course-stats");
    assert_eq!(env["COURSE_DIR"], "/course");
    assert_eq!(read(&tp, &release, "/course").await, "ok\ndata\nweek1");
    assert_eq!(
        read(&tp, &release, "/course/week1/syllabus.md").await,
        "ok\n# Week 1"
    );
    let dataset = read(&tp, &release, "/course/data/points.csv").await;
    assert_eq!(dataset.len(), 3 + 160_000);
    let (_, wrote) = through_proxy(&tp, &release, "/write?path=/course/week1/notes.md").await;
    assert!(wrote.contains("Read-only file system"), "{wrote}");

    // The teacher changes the course; the student's service sees it when it resumes.
    teacher
        .put_object()
        .bucket("course-stats")
        .key("week1/syllabus.md")
        .body(ByteStream::from_static(b"# Week 1, revised"))
        .send()
        .await
        .unwrap();
    teacher
        .delete_object()
        .bucket("course-stats")
        .key("data/points.csv")
        .send()
        .await
        .unwrap();
    for action in ["suspend", "resume"] {
        let (status, body) = sam
            .send(
                Method::POST,
                &format!("/my-lab/app/{action}"),
                &json!({"serviceID": release}),
            )
            .await;
        assert_eq!(status, 200, "{action}: {body}");
    }
    wait_for(&sam, &release, Duration::from_secs(60), ready).await;
    assert_eq!(
        read(&tp, &release, "/course/week1/syllabus.md").await,
        "ok\n# Week 1, revised"
    );
    assert_eq!(read(&tp, &release, "/course").await, "ok\nweek1");

    let (status, _) = sam
        .send(
            Method::DELETE,
            &format!("/my-lab/app?path={release}"),
            &json!(null),
        )
        .await;
    assert_eq!(status, 200);
    tp.stop().await;
}

#[tokio::test]
async fn a_course_is_refused_to_other_classes_and_told_to_kubernetes_services() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, kubeconfig) = fake_with_tiny(dir.path()).await;
    let tp = TestPlatform::start_with(kube_config(&kubeconfig, None)).await;
    enrol(&Api::new(&tp, "teacher"), CLASS).await;
    let teacher = make_course(&tp).await;

    // Refused before anything is made, in the API's own format.
    let zed = Api::new(&tp, "zed");
    let (status, body) = install_tiny(&zed, "peek", with_course("course-stats")).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("may not read the course bucket `course-stats`"),
        "{body}"
    );
    let sam = Api::new(&tp, "sam");
    let (status, body) = install_tiny(&sam, "lost", with_course("course-nope")).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("no course bucket `course-nope`")
    );
    let (status, body) = install_tiny(&sam, "odd", with_course("Not A Bucket")).await;
    assert_eq!(status, 400, "{body}");
    assert!(fake.objects("apps", "statefulsets").is_empty());

    // A folder the bucket's own policy hides from students refuses the whole mount (everyone
    // mounting the bucket sees one copy), as S3 would refuse that read.
    teacher
        .put_object()
        .bucket("course-stats")
        .key("answers/week1.md")
        .body(ByteStream::from_static(b"42"))
        .send()
        .await
        .unwrap();
    let hide = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::course-stats/answers/*"}]});
    teacher
        .put_bucket_policy()
        .bucket("course-stats")
        .policy(hide.to_string())
        .send()
        .await
        .unwrap();
    let (status, body) = install_tiny(&sam, "hidden", with_course("course-stats")).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("may not read `answers/week1.md` of the course bucket `course-stats`"),
        "{body}"
    );
    teacher
        .delete_bucket_policy()
        .bucket("course-stats")
        .send()
        .await
        .unwrap();

    // On the cluster the service is told its course (and reads it through S3 with its
    // owner's keys); nothing is mounted, so no folder is named.
    let (status, body) = install_tiny(&sam, "lesson", with_course("course-stats")).await;
    assert_eq!(status, 200, "{body}");
    wait_for(&sam, "lesson", Duration::from_secs(30), ready).await;
    let (_, env) = through_proxy(&tp, "lesson", "/env").await;
    let env: Value = serde_json::from_str(&env).unwrap();
    assert_eq!(env["COURSE_BUCKET"], "course-stats");
    assert!(env.get("COURSE_DIR").is_none(), "{env}");
    tp.stop().await;
}
