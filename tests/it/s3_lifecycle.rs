//! Bucket lifecycle with aws-sdk-s3: rules as S3 checks and shows them, and the sweep that
//! expires objects and aborts forgotten multipart uploads, on the platform's clock.

use std::time::Duration;

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator,
    LifecycleRuleFilter, NoncurrentVersionExpiration, Tag, Transition, TransitionStorageClass,
};

use crate::s3_support::*;
use crate::support::*;

fn rule(
    id: &str,
    filter: LifecycleRuleFilter,
) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(filter)
}

fn prefix(p: &str) -> LifecycleRuleFilter {
    LifecycleRuleFilter::builder().prefix(p).build()
}

fn expire_after(days: i32) -> LifecycleExpiration {
    LifecycleExpiration::builder().days(days).build()
}

async fn set(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    rules: Vec<LifecycleRule>,
) -> Result<(), String> {
    let config = BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(config)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

#[tokio::test]
async fn rules_are_checked_kept_and_shown() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("kept").send().await.unwrap();
    let none = s3
        .get_bucket_lifecycle_configuration()
        .bucket("kept")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&none), "NoSuchLifecycleConfiguration");

    let scratch = Tag::builder()
        .key("class")
        .value("scratch")
        .build()
        .unwrap();
    let both = LifecycleRuleFilter::builder()
        .and(
            LifecycleRuleAndOperator::builder()
                .prefix("tmp/")
                .tags(scratch)
                .build(),
        )
        .build();
    let midnight = DateTime::from_secs(1_893_456_000); // 2030-01-01T00:00:00Z
    let abort = AbortIncompleteMultipartUpload::builder()
        .days_after_initiation(7)
        .build();
    let rules = vec![
        rule("logs", prefix("logs/"))
            .expiration(expire_after(30))
            .build()
            .unwrap(),
        rule("scratch", both)
            .expiration(LifecycleExpiration::builder().date(midnight).build())
            .build()
            .unwrap(),
        rule("uploads", prefix(""))
            .abort_incomplete_multipart_upload(abort)
            .build()
            .unwrap(),
    ];
    set(&s3, "kept", rules).await.expect("accepted");
    let shown = s3
        .get_bucket_lifecycle_configuration()
        .bucket("kept")
        .send()
        .await
        .unwrap();
    let rules = shown.rules();
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[0].expiration().and_then(|e| e.days()), Some(30));
    assert_eq!(rules[0].filter().and_then(|f| f.prefix()), Some("logs/"));
    let and = rules[1]
        .filter()
        .and_then(|f| f.and())
        .expect("prefix and tag");
    assert_eq!(and.prefix(), Some("tmp/"));
    assert_eq!(and.tags()[0].value(), "scratch");
    assert_eq!(
        rules[1].expiration().and_then(|e| e.date()),
        Some(&midnight)
    );
    let abort = rules[2].abort_incomplete_multipart_upload();
    assert_eq!(abort.and_then(|a| a.days_after_initiation()), Some(7));

    let refusals = [
        (rule("x", prefix("")).build().unwrap(), "InvalidRequest"),
        (
            rule("x", prefix(""))
                .expiration(expire_after(0))
                .build()
                .unwrap(),
            "InvalidArgument",
        ),
        (
            rule("x", prefix(""))
                .expiration(
                    LifecycleExpiration::builder()
                        .date(DateTime::from_secs(1_893_456_000 + 3600))
                        .build(),
                )
                .build()
                .unwrap(),
            "InvalidArgument",
        ),
        (
            rule("x", prefix(""))
                .transitions(
                    Transition::builder()
                        .days(30)
                        .storage_class(TransitionStorageClass::Glacier)
                        .build(),
                )
                .build()
                .unwrap(),
            "NotImplemented",
        ),
    ];
    for (refused, expected) in refusals {
        assert_eq!(
            set(&s3, "kept", vec![refused]).await,
            Err(expected.to_owned())
        );
    }
    let twice = vec![
        rule("same", prefix("a/"))
            .expiration(expire_after(1))
            .build()
            .unwrap(),
        rule("same", prefix("b/"))
            .expiration(expire_after(1))
            .build()
            .unwrap(),
    ];
    assert_eq!(set(&s3, "kept", twice).await, Err("InvalidArgument".into()));
    assert_eq!(
        s3.get_bucket_lifecycle_configuration()
            .bucket("kept")
            .send()
            .await
            .unwrap()
            .rules()
            .len(),
        3,
        "a refused configuration changes nothing"
    );
    s3.delete_bucket_lifecycle()
        .bucket("kept")
        .send()
        .await
        .unwrap();
    assert!(
        s3.get_bucket_lifecycle_configuration()
            .bucket("kept")
            .send()
            .await
            .is_err()
    );
    tp.stop().await;
}

#[tokio::test]
async fn the_sweep_expires_objects_and_aborts_forgotten_uploads() {
    let mut config = test_config();
    config.s3.lifecycle_sweep_seconds = 1;
    let tp = TestPlatform::start_with(config).await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("swept").send().await.unwrap();
    for key in ["tmp/a", "keep/b"] {
        s3.put_object()
            .bucket("swept")
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let upload = s3
        .create_multipart_upload()
        .bucket("swept")
        .key("keep/big")
        .send()
        .await
        .unwrap();
    let abort = AbortIncompleteMultipartUpload::builder()
        .days_after_initiation(3)
        .build();
    let rules = vec![
        rule("tmp", prefix("tmp/"))
            .expiration(expire_after(1))
            .build()
            .unwrap(),
        rule("uploads", prefix(""))
            .abort_incomplete_multipart_upload(abort)
            .build()
            .unwrap(),
    ];
    set(&s3, "swept", rules).await.unwrap();

    let keys = || async {
        let listed = s3.list_objects_v2().bucket("swept").send().await.unwrap();
        let keys: Vec<String> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        keys
    };
    let uploads = || async {
        let listed = s3
            .list_multipart_uploads()
            .bucket("swept")
            .send()
            .await
            .unwrap();
        listed.uploads().len()
    };
    // Two days on: the temporary object is past its day, the upload not past its three.
    tp.advance(2 * 86_400);
    eventually("tmp/a to expire", Duration::from_secs(10), async || {
        !keys().await.contains(&"tmp/a".to_owned())
    })
    .await;
    assert_eq!(keys().await, ["keep/b"]);
    assert_eq!(uploads().await, 1);
    tp.advance(2 * 86_400);
    eventually(
        "the upload to be aborted",
        Duration::from_secs(10),
        async || uploads().await == 0,
    )
    .await;
    let gone = s3
        .upload_part()
        .bucket("swept")
        .key("keep/big")
        .upload_id(upload.upload_id().unwrap())
        .part_number(1)
        .body(ByteStream::from_static(b"late"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&gone), "NoSuchUpload");
    assert_eq!(keys().await, ["keep/b"], "other objects stay");
    tp.stop().await;
}

/// `(version id or "marker", is latest)` of each version of `key`, newest first.
async fn versions_of(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<(String, bool)> {
    let out = s3
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .unwrap();
    let mut all: Vec<(String, bool, DateTime)> = out
        .versions()
        .iter()
        .map(|v| {
            let id = v.version_id().unwrap().to_owned();
            (id, v.is_latest().unwrap(), *v.last_modified().unwrap())
        })
        .chain(out.delete_markers().iter().map(|m| {
            (
                "marker".to_owned(),
                m.is_latest().unwrap(),
                *m.last_modified().unwrap(),
            )
        }))
        .collect();
    all.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)));
    all.into_iter()
        .map(|(id, latest, _)| (id, latest))
        .collect()
}

#[tokio::test]
async fn in_a_versioned_bucket_the_sweep_hides_then_removes_versions() {
    let mut config = test_config();
    config.s3.lifecycle_sweep_seconds = 1;
    let tp = TestPlatform::start_with(config).await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("kept").send().await.unwrap();
    set_versioning(&s3, "kept", BucketVersioningStatus::Enabled).await;
    let mut ids = Vec::new();
    for key in ["tmp/a", "tmp/a", "doc", "doc"] {
        let out = s3
            .put_object()
            .bucket("kept")
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
        ids.push(out.version_id().unwrap().to_owned());
        tp.advance(1); // distinct times, so versions_of can order markers among versions
    }
    let noncurrent = NoncurrentVersionExpiration::builder()
        .noncurrent_days(3)
        .build();
    let lone_markers = LifecycleExpiration::builder()
        .expired_object_delete_marker(true)
        .build();
    let rules = vec![
        rule("tmp", prefix("tmp/"))
            .expiration(expire_after(1))
            .build()
            .unwrap(),
        rule("old", prefix(""))
            .noncurrent_version_expiration(noncurrent)
            .build()
            .unwrap(),
        rule("markers", prefix(""))
            .expiration(lone_markers)
            .build()
            .unwrap(),
    ];
    set(&s3, "kept", rules).await.unwrap();

    // Two days on: tmp/a expired, which in a versioned bucket hides it behind a marker.
    tp.advance(2 * 86_400);
    let (a1, a2, d1, d2) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    let expected = vec![
        ("marker".to_owned(), true),
        (a2.clone(), false),
        (a1.clone(), false),
    ];
    eventually(
        "tmp/a to get a delete marker",
        Duration::from_secs(10),
        async || versions_of(&s3, "kept", "tmp/a").await == expected,
    )
    .await;
    assert_eq!(versions_of(&s3, "kept", "doc").await.len(), 2);

    // Four days on: the versions noncurrent since the start are past their three days.
    tp.advance(2 * 86_400);
    let expected = vec![("marker".to_owned(), true), (a2.clone(), false)];
    eventually("old versions to go", Duration::from_secs(10), async || {
        versions_of(&s3, "kept", "tmp/a").await == expected
    })
    .await;
    assert_eq!(versions_of(&s3, "kept", "doc").await, [(d2.clone(), true)]);
    assert!(
        !versions_of(&s3, "kept", "doc")
            .await
            .contains(&(d1.clone(), false))
    );

    // Seven days on: tmp/a's last version went, and then the marker that hid nothing.
    tp.advance(3 * 86_400);
    eventually("tmp/a to vanish", Duration::from_secs(10), async || {
        versions_of(&s3, "kept", "tmp/a").await.is_empty()
    })
    .await;
    assert_eq!(versions_of(&s3, "kept", "doc").await, [(d2.clone(), true)]);
    tp.stop().await;
}

#[tokio::test]
async fn boto3_keeps_shows_and_checks_rules() {
    let tp = TestPlatform::start().await;
    crate::python_clients::run_python(&tp, "s3_lifecycle_boto3.py").await;
    tp.stop().await;
}
