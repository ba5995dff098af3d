//! Versions of a bucket whose versioning was never enabled, with aws-sdk-s3 and boto3: every
//! object is its `null` version, ListObjectVersions lists and pages them, `versionId=null`
//! names the object, other version ids name nothing, and version requests need the version
//! permissions.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::python_clients::run_python;
use crate::s3_support::*;
use crate::support::*;

const KEYS: [&str; 5] = [
    "a.txt",
    "dir/b.txt",
    "dir/c d.txt",
    "dir/sub/e.txt",
    "é.txt",
];

async fn bucket_with_keys(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    for key in KEYS {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(key.as_bytes().to_vec()))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn list_object_versions_lists_and_pages_the_null_versions() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    bucket_with_keys(&s3, "plain").await;
    let status = s3
        .get_bucket_versioning()
        .bucket("plain")
        .send()
        .await
        .unwrap();
    assert!(status.status().is_none(), "never enabled: no Status");

    let all = s3
        .list_object_versions()
        .bucket("plain")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = all.versions().iter().filter_map(|v| v.key()).collect();
    assert_eq!(
        keys,
        [
            "a.txt",
            "dir/b.txt",
            "dir/c d.txt",
            "dir/sub/e.txt",
            "é.txt"
        ]
    );
    for v in all.versions() {
        assert_eq!(v.version_id(), Some("null"));
        assert_eq!(v.is_latest(), Some(true));
        assert!(v.e_tag().is_some() && v.last_modified().is_some());
        assert!(v.owner().is_some(), "versions name their owner");
    }
    assert!(all.delete_markers().is_empty());
    assert_eq!(all.is_truncated(), Some(false));

    let folder = s3
        .list_object_versions()
        .bucket("plain")
        .prefix("dir/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = folder.versions().iter().filter_map(|v| v.key()).collect();
    assert_eq!(keys, ["dir/b.txt", "dir/c d.txt"]);
    let prefixes: Vec<&str> = folder
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["dir/sub/"]);

    // Pages of two, each continuing from the previous page's key and version markers.
    let (mut seen, mut key_marker, mut version_marker) = (Vec::new(), None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket("plain")
            .max_keys(2)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            page.versions()
                .iter()
                .filter_map(|v| v.key().map(str::to_owned)),
        );
        if page.is_truncated() != Some(true) {
            break;
        }
        assert_eq!(page.next_version_id_marker(), Some("null"));
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
    }
    assert_eq!(seen, KEYS);

    let orphan = s3
        .list_object_versions()
        .bucket("plain")
        .version_id_marker("null")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&orphan), "InvalidArgument");
    let missing = s3
        .list_object_versions()
        .bucket("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&missing), "NoSuchBucket");
    tp.stop().await;
}

#[tokio::test]
async fn version_ids_name_the_object_or_nothing() {
    let tp = TestPlatform::start().await;
    let s3 = root_client(&tp);
    bucket_with_keys(&s3, "plain").await;
    let got = s3
        .get_object()
        .bucket("plain")
        .key("a.txt")
        .version_id("null")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"a.txt"
    );
    let uuid = "4a1e8f7c-2b6d-4c3e-9f0a-1b2c3d4e5f60";
    let gone = s3
        .get_object()
        .bucket("plain")
        .key("a.txt")
        .version_id(uuid)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&gone), "NoSuchVersion");
    let malformed = s3
        .get_object_tagging()
        .bucket("plain")
        .key("a.txt")
        .version_id("not-a-version")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&malformed), "InvalidArgument");
    let copied = s3
        .copy_object()
        .bucket("plain")
        .key("copy.txt")
        .copy_source("plain/a.txt?versionId=null")
        .send()
        .await;
    assert!(copied.is_ok(), "{copied:?}");
    let from_nothing = s3
        .copy_object()
        .bucket("plain")
        .key("copy.txt")
        .copy_source(format!("plain/a.txt?versionId={uuid}"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&from_nothing), "NoSuchVersion");

    // Deleting an absent version changes nothing; the null version is the object.
    s3.delete_object()
        .bucket("plain")
        .key("a.txt")
        .version_id(uuid)
        .send()
        .await
        .unwrap();
    s3.head_object()
        .bucket("plain")
        .key("a.txt")
        .send()
        .await
        .expect("still there");
    let ids = [
        ("a.txt", Some("null")),
        ("dir/b.txt", Some(uuid)),
        ("é.txt", Some("bogus")),
    ];
    let delete = Delete::builder()
        .set_objects(Some(
            ids.iter()
                .map(|(key, version)| {
                    ObjectIdentifier::builder()
                        .key(*key)
                        .set_version_id(version.map(str::to_owned))
                        .build()
                        .unwrap()
                })
                .collect(),
        ))
        .build()
        .unwrap();
    let out = s3
        .delete_objects()
        .bucket("plain")
        .delete(delete)
        .send()
        .await
        .unwrap();
    let deleted: Vec<(&str, &str)> = out
        .deleted()
        .iter()
        .map(|d| (d.key().unwrap(), d.version_id().unwrap()))
        .collect();
    assert_eq!(deleted, [("a.txt", "null"), ("dir/b.txt", uuid)]);
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].key(), Some("é.txt"));
    assert_eq!(out.errors()[0].code(), Some("InvalidArgument"));
    let left = s3.list_objects_v2().bucket("plain").send().await.unwrap();
    let left: Vec<&str> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        left,
        [
            "copy.txt",
            "dir/b.txt",
            "dir/c d.txt",
            "dir/sub/e.txt",
            "é.txt"
        ]
    );
    tp.stop().await;
}

#[tokio::test]
async fn a_version_needs_the_version_permissions() {
    let tp = TestPlatform::start().await;
    // In the shared bucket alice may get, put and delete her prefix's objects, not versions.
    let alice = session_client(&tp, &sts_credentials(&tp, "alice", "alice").await);
    let key = "user-alice/notes.txt";
    alice
        .put_object()
        .bucket("onyxia")
        .key(key)
        .body(ByteStream::from_static(b"n"))
        .send()
        .await
        .unwrap();
    alice
        .get_object()
        .bucket("onyxia")
        .key(key)
        .send()
        .await
        .expect("her object");
    let version = alice
        .get_object()
        .bucket("onyxia")
        .key(key)
        .version_id("null")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&version), "AccessDenied");
    let listing = alice
        .list_object_versions()
        .bucket("onyxia")
        .prefix("user-alice/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&listing), "AccessDenied");
    // In her own bucket (s3:*) both work.
    let own = alice
        .list_object_versions()
        .bucket("user-alice")
        .send()
        .await;
    assert!(own.is_ok(), "{own:?}");
    tp.stop().await;
}

#[tokio::test]
async fn boto3_empties_a_bucket_through_its_versions() {
    let tp = TestPlatform::start().await;
    run_python(&tp, "s3_versions_boto3.py").await;
    tp.stop().await;
}
