//! Bucket versioning with aws-sdk-s3: Enabled and Suspended buckets, version ids on every write
//! and read, delete markers, ListObjectVersions over noncurrent versions and markers, deleting
//! versions for good, and the errors S3 answers.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, Delete, MfaDelete,
    ObjectIdentifier, Tag, Tagging, VersioningConfiguration,
};

use crate::python_clients::run_python;
use crate::s3_support::*;
use crate::support::*;

/// A PutBucketVersioning request's outcome: the error code when refused.
async fn request(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    status: BucketVersioningStatus,
    mfa: Option<MfaDelete>,
) -> Result<(), String> {
    let config = VersioningConfiguration::builder()
        .status(status)
        .set_mfa_delete(mfa)
        .build();
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(config)
        .send()
        .await
        .map(drop)
        .map_err(|e| code(&e))
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &str) -> Option<String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .unwrap()
        .version_id()
        .map(str::to_owned)
}

async fn body_of(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> String {
    let got = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_owned))
        .send()
        .await
        .unwrap();
    let bytes = got.body.collect().await.unwrap().into_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// (version id, is latest) of a key's versions and of its delete markers.
type History = (Vec<(String, bool)>, Vec<(String, bool)>);

async fn history(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> History {
    let out = s3
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .unwrap();
    let versions = out
        .versions()
        .iter()
        .filter(|v| v.key() == Some(key))
        .map(|v| (v.version_id().unwrap().to_owned(), v.is_latest().unwrap()))
        .collect();
    let markers = out
        .delete_markers()
        .iter()
        .filter(|m| m.key() == Some(key))
        .map(|m| (m.version_id().unwrap().to_owned(), m.is_latest().unwrap()))
        .collect();
    (versions, markers)
}

#[tokio::test]
async fn an_enabled_bucket_keeps_every_version_behind_delete_markers() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("vers").send().await.unwrap();
    assert_eq!(
        put(&s3, "vers", "k", "zero").await,
        None,
        "never versioned yet"
    );
    set_versioning(&s3, "vers", BucketVersioningStatus::Enabled).await;
    let status = s3
        .get_bucket_versioning()
        .bucket("vers")
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), Some(&BucketVersioningStatus::Enabled));

    let v1 = put(&s3, "vers", "k", "one").await.expect("a version id");
    let v2 = put(&s3, "vers", "k", "two").await.expect("a version id");
    assert!(uuid::Uuid::parse_str(&v1).is_ok() && v1 != v2);
    assert_eq!(body_of(&s3, "vers", "k", None).await, "two");
    assert_eq!(body_of(&s3, "vers", "k", Some(&v1)).await, "one");
    assert_eq!(body_of(&s3, "vers", "k", Some("null")).await, "zero");
    let head = s3
        .head_object()
        .bucket("vers")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (head.version_id(), head.content_length()),
        (Some(v1.as_str()), Some(3))
    );

    // Copies and tags address versions.
    let copy = s3
        .copy_object()
        .bucket("vers")
        .key("copy")
        .copy_source(format!("vers/k?versionId={v1}"))
        .send()
        .await
        .unwrap();
    assert_eq!(copy.copy_source_version_id(), Some(v1.as_str()));
    assert!(copy.version_id().is_some());
    assert_eq!(body_of(&s3, "vers", "copy", None).await, "one");
    let tagging = Tagging::builder()
        .tag_set(Tag::builder().key("old").value("yes").build().unwrap())
        .build()
        .unwrap();
    s3.put_object_tagging()
        .bucket("vers")
        .key("k")
        .version_id(&v1)
        .tagging(tagging)
        .send()
        .await
        .unwrap();
    for (version, tags) in [(&v1, 1), (&v2, 0)] {
        let got = s3
            .get_object_tagging()
            .bucket("vers")
            .key("k")
            .version_id(version)
            .send()
            .await
            .unwrap();
        assert_eq!(got.tag_set().len(), tags);
        assert_eq!(got.version_id(), Some(version.as_str()));
    }

    // A delete adds a marker: the key is gone, its versions are not.
    let deleted = s3
        .delete_object()
        .bucket("vers")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.delete_marker(), Some(true));
    let marker = deleted.version_id().expect("the marker's id").to_owned();
    let hidden = s3
        .get_object()
        .bucket("vers")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&hidden), "NoSuchKey");
    let raw = hidden.raw_response().expect("a response");
    assert_eq!(raw.headers().get("x-amz-delete-marker"), Some("true"));
    assert_eq!(raw.headers().get("x-amz-version-id"), Some(marker.as_str()));
    let at_marker = s3
        .get_object()
        .bucket("vers")
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&at_marker), "MethodNotAllowed");
    assert_eq!(at_marker.raw_response().unwrap().status().as_u16(), 405);
    assert_eq!(
        history(&s3, "vers", "k").await,
        (
            vec![
                (v2.clone(), false),
                (v1.clone(), false),
                ("null".into(), false)
            ],
            vec![(marker.clone(), true)]
        )
    );
    let current = s3.list_objects_v2().bucket("vers").send().await.unwrap();
    let keys: Vec<&str> = current.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["copy"], "listings show current objects only");

    // Deleting the marker brings the newest version back.
    let undone = s3
        .delete_object()
        .bucket("vers")
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (undone.delete_marker(), undone.version_id()),
        (Some(true), Some(marker.as_str()))
    );
    assert_eq!(body_of(&s3, "vers", "k", None).await, "two");

    // A completed multipart upload is a version too.
    let upload = s3
        .create_multipart_upload()
        .bucket("vers")
        .key("k")
        .send()
        .await
        .unwrap();
    let part = s3
        .upload_part()
        .bucket("vers")
        .key("k")
        .upload_id(upload.upload_id().unwrap())
        .part_number(1)
        .body(ByteStream::from_static(b"three"))
        .send()
        .await
        .unwrap();
    let done = s3
        .complete_multipart_upload()
        .bucket("vers")
        .key("k")
        .upload_id(upload.upload_id().unwrap())
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let v3 = done.version_id().expect("a version id").to_owned();
    assert_eq!(history(&s3, "vers", "k").await.0.len(), 4);

    // DeleteObjects: one version for good, and a plain delete that adds a marker.
    let ids = [Some(v2.clone()), None];
    let out = s3
        .delete_objects()
        .bucket("vers")
        .delete(
            Delete::builder()
                .set_objects(Some(
                    ids.iter()
                        .map(|v| {
                            ObjectIdentifier::builder()
                                .key("k")
                                .set_version_id(v.clone())
                                .build()
                                .unwrap()
                        })
                        .collect(),
                ))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.errors().is_empty(), "{out:?}");
    assert_eq!(out.deleted()[0].version_id(), Some(v2.as_str()));
    assert_eq!(out.deleted()[0].delete_marker(), None);
    assert_eq!(out.deleted()[1].delete_marker(), Some(true));
    let new_marker = out.deleted()[1]
        .delete_marker_version_id()
        .unwrap()
        .to_owned();
    assert_eq!(
        history(&s3, "vers", "k").await,
        (
            vec![(v3, false), (v1, false), ("null".into(), false)],
            vec![(new_marker, true)]
        )
    );

    // A key with a NUL names nothing that can exist, and must not reach into k's versions.
    let nul = s3
        .delete_object()
        .bucket("vers")
        .key("k\0")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&nul), "XMinioInvalidObjectName");

    // A bucket with versions is not empty.
    s3.delete_object()
        .bucket("vers")
        .key("copy")
        .send()
        .await
        .unwrap();
    let not_empty = s3.delete_bucket().bucket("vers").send().await.unwrap_err();
    assert_eq!(code(&not_empty), "BucketNotEmpty");
    tp.stop().await;
}

#[tokio::test]
async fn a_suspended_bucket_writes_the_null_version() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("susp").send().await.unwrap();
    set_versioning(&s3, "susp", BucketVersioningStatus::Enabled).await;
    let v1 = put(&s3, "susp", "k", "one").await.unwrap();
    set_versioning(&s3, "susp", BucketVersioningStatus::Suspended).await;
    let status = s3
        .get_bucket_versioning()
        .bucket("susp")
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), Some(&BucketVersioningStatus::Suspended));
    assert_eq!(put(&s3, "susp", "k", "two").await, None);
    assert_eq!(put(&s3, "susp", "k", "three").await, None);
    assert_eq!(
        history(&s3, "susp", "k").await,
        (vec![("null".into(), true), (v1.clone(), false)], vec![])
    );
    let deleted = s3
        .delete_object()
        .bucket("susp")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (deleted.delete_marker(), deleted.version_id()),
        (Some(true), Some("null"))
    );
    assert_eq!(
        history(&s3, "susp", "k").await,
        (vec![(v1.clone(), false)], vec![("null".into(), true)])
    );
    assert_eq!(body_of(&s3, "susp", "k", Some(&v1)).await, "one");
    tp.stop().await;
}

#[tokio::test]
async fn versioning_requests_are_checked() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    s3.create_bucket().bucket("checks").send().await.unwrap();
    let bogus = request(
        &s3,
        "checks",
        BucketVersioningStatus::from("Sometimes"),
        None,
    )
    .await;
    assert_eq!(bogus.unwrap_err(), "MalformedXML");
    let enabled = BucketVersioningStatus::Enabled;
    let mfa = request(&s3, "checks", enabled.clone(), Some(MfaDelete::Enabled)).await;
    assert_eq!(mfa.unwrap_err(), "NotImplemented");
    let missing = request(&s3, "nope", enabled.clone(), None).await;
    assert_eq!(missing.unwrap_err(), "NoSuchBucket");
    let status = s3
        .get_bucket_versioning()
        .bucket("checks")
        .send()
        .await
        .unwrap();
    assert!(
        status.status().is_none(),
        "refused requests changed nothing"
    );

    // alice may not change versioning of the shared bucket.
    let alice = session_client(&tp, &sts_credentials(&tp, "alice", "alice").await);
    let denied = request(&alice, "onyxia", enabled, None).await;
    assert_eq!(denied.unwrap_err(), "AccessDenied");
    tp.stop().await;
}

#[tokio::test]
async fn boto3_versions_and_empties_a_versioned_bucket() {
    let tp = TestPlatform::start().await;
    run_python(&tp, "s3_versioning_boto3.py").await;
    tp.stop().await;
}
