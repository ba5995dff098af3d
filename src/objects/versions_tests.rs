//! Versioning over a real store: which version is current after each write and delete, that
//! noncurrent versions keep their bytes (across a reopen), and that removing a version for good
//! frees its file.

use std::sync::Arc;

use super::super::version_list::{VersionQuery, list_versions};
use super::super::*;
use crate::clock::Clock;
use crate::store::Store;

const BIG: usize = 100 * 1024; // above the inline limit: each version is a file

fn open(dir: &std::path::Path) -> ObjectStore {
    // The commit thread of a store just dropped lets go of the database a moment later.
    let mut tries = 0;
    let store = loop {
        match Store::open(&dir.join("db")) {
            Ok(store) => break Arc::new(store),
            Err(e) if tries < 100 => {
                tries += 1;
                let _ = e;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("cannot reopen the store: {e}"),
        }
    };
    ObjectStore::open(store, &dir.join("objects"), 1 << 30, Clock::system()).unwrap()
}

fn put(objects: &ObjectStore, key: &str, fill: u8) -> Option<String> {
    objects
        .put_blocking("bkt", key, vec![fill; BIG], PutSpec::default())
        .unwrap()
        .version_id
}

fn files(dir: &std::path::Path) -> usize {
    crate::objects::put_tests::count_files(&dir.join("objects/blobs"))
}

/// (version id, delete marker, latest) of each listed version of `key`.
fn history(objects: &ObjectStore, key: &str) -> Vec<(String, bool, bool)> {
    let query = VersionQuery {
        prefix: key.into(),
        max_keys: 1000,
        ..Default::default()
    };
    list_versions(&objects.store, "bkt", &query)
        .unwrap()
        .entries
        .into_iter()
        .filter(|e| e.key == key)
        .map(|e| {
            (
                e.record.version().to_owned(),
                e.record.delete_marker,
                e.latest,
            )
        })
        .collect()
}

#[test]
fn enabled_bucket_keeps_every_version_and_delete_markers_hide_them() {
    let dir = tempfile::tempdir().unwrap();
    let objects = open(dir.path());
    objects.create_bucket("bkt", None).unwrap();
    assert_eq!(
        put(&objects, "k", 0),
        None,
        "never versioned: the null version"
    );
    objects.set_versioning("bkt", Versioning::Enabled).unwrap();
    let v1 = put(&objects, "k", 1).expect("a version id");
    let v2 = put(&objects, "k", 2).expect("a version id");
    assert_ne!(v1, v2);
    assert_eq!(objects.head("bkt", "k").unwrap().version(), v2);
    assert_eq!(
        files(dir.path()),
        3,
        "the null version, v1 and v2 keep their bytes"
    );
    assert_eq!(
        history(&objects, "k"),
        [
            (v2.clone(), false, true),
            (v1.clone(), false, false),
            ("null".into(), false, false)
        ]
    );

    let marker = objects.delete("bkt", "k", None, false).unwrap().unwrap();
    assert!(marker.delete_marker);
    let marker_id = marker.version_id.unwrap();
    assert!(matches!(
        objects.head("bkt", "k"),
        Err(ObjectError::NoSuchKey)
    ));
    assert_eq!(
        objects.latest_delete_marker("bkt", "k").unwrap(),
        Some(marker_id.clone())
    );
    let found = objects.head_version("bkt", "k", Some(&v1)).unwrap();
    assert_eq!(found.size, BIG as u64);
    assert!(
        objects
            .head_version("bkt", "k", Some(&marker_id))
            .unwrap()
            .delete_marker
    );
    assert!(matches!(
        objects.head_version("bkt", "k", Some(&uuid::Uuid::new_v4().to_string())),
        Err(ObjectError::NoSuchVersion)
    ));
    assert!(matches!(
        objects.delete_bucket("bkt"),
        Err(ObjectError::BucketNotEmpty)
    ));

    // Versions outlive a restart, bytes included (the start-up sweep must not take them).
    drop(objects);
    let objects = open(dir.path());
    assert_eq!(files(dir.path()), 3);
    assert_eq!(history(&objects, "k")[0], (marker_id.clone(), true, true));

    // Deleting the marker brings v2 back; deleting v2 for good brings v1 and frees v2's file.
    let gone = objects
        .delete("bkt", "k", Some(&marker_id), false)
        .unwrap()
        .unwrap();
    assert!(gone.delete_marker);
    assert_eq!(objects.head("bkt", "k").unwrap().version(), v2);
    objects
        .delete("bkt", "k", Some(&v2), false)
        .unwrap()
        .unwrap();
    assert_eq!(objects.head("bkt", "k").unwrap().version(), v1);
    assert_eq!(files(dir.path()), 2);
    // A version deleted already is no error, and changes nothing.
    assert_eq!(objects.delete("bkt", "k", Some(&v2), false).unwrap(), None);
    objects.delete("bkt", "k", Some(&v1), false).unwrap();
    objects.delete("bkt", "k", Some("null"), false).unwrap();
    assert_eq!(files(dir.path()), 0);
    assert!(history(&objects, "k").is_empty());
    objects.delete_bucket("bkt").unwrap();
}

#[test]
fn suspended_bucket_replaces_only_the_null_version() {
    let dir = tempfile::tempdir().unwrap();
    let objects = open(dir.path());
    objects.create_bucket("bkt", None).unwrap();
    objects.set_versioning("bkt", Versioning::Enabled).unwrap();
    let v1 = put(&objects, "k", 1).unwrap();
    objects
        .set_versioning("bkt", Versioning::Suspended)
        .unwrap();
    assert_eq!(put(&objects, "k", 2), None);
    assert_eq!(put(&objects, "k", 3), None);
    assert_eq!(
        history(&objects, "k"),
        [("null".into(), false, true), (v1.clone(), false, false)]
    );
    assert_eq!(files(dir.path()), 2, "the first null version's file went");

    // A delete replaces the null version with a null delete marker…
    let deleted = objects.delete("bkt", "k", None, false).unwrap().unwrap();
    assert_eq!(deleted.version_id.as_deref(), Some("null"));
    assert!(deleted.delete_marker);
    assert_eq!(
        history(&objects, "k"),
        [("null".into(), true, true), (v1.clone(), false, false)]
    );
    // …and a write replaces that marker.
    put(&objects, "k", 4);
    assert_eq!(
        history(&objects, "k"),
        [("null".into(), false, true), (v1, false, false)]
    );
    assert_eq!(files(dir.path()), 2);
}

#[test]
fn tags_change_on_the_version_named() {
    let dir = tempfile::tempdir().unwrap();
    let objects = open(dir.path());
    objects.create_bucket("bkt", None).unwrap();
    objects.set_versioning("bkt", Versioning::Enabled).unwrap();
    let v1 = put(&objects, "k", 1).unwrap();
    let v2 = put(&objects, "k", 2).unwrap();
    let tag = vec![("t".to_owned(), "1".to_owned())];
    let tags = tag.clone();
    objects
        .update_object("bkt", "k", Some(&v1), |o| o.tags = tags)
        .unwrap();
    assert_eq!(
        objects.head_version("bkt", "k", Some(&v1)).unwrap().tags,
        tag
    );
    assert!(
        objects
            .head_version("bkt", "k", Some(&v2))
            .unwrap()
            .tags
            .is_empty()
    );
    let marker = objects
        .delete("bkt", "k", None, false)
        .unwrap()
        .unwrap()
        .version_id;
    assert!(matches!(
        objects.update_object("bkt", "k", marker.as_deref(), |o| o.tags.clear()),
        Err(ObjectError::DeleteMarker)
    ));
}

#[test]
fn a_marker_buried_by_a_newer_version_is_noncurrent_from_then() {
    let dir = tempfile::tempdir().unwrap();
    let objects = open(dir.path());
    objects.create_bucket("bkt", None).unwrap();
    objects.set_versioning("bkt", Versioning::Enabled).unwrap();
    put(&objects, "k", 1);
    let marker = objects.delete("bkt", "k", None, false).unwrap().unwrap();
    let marker_id = marker.version_id.unwrap();
    let at = |id: &str| objects.head_version("bkt", "k", Some(id)).unwrap();
    assert_eq!(at(&marker_id).noncurrent_since, None, "the latest version");
    put(&objects, "k", 2);
    assert!(at(&marker_id).noncurrent_since.is_some());
    // A second marker on top of the first buries it too.
    objects.delete("bkt", "k", None, false).unwrap();
    objects.delete("bkt", "k", None, false).unwrap();
    let markers: Vec<_> = history(&objects, "k")
        .into_iter()
        .filter(|(_, marker, _)| *marker)
        .collect();
    assert_eq!(markers.len(), 3);
    let buried = objects
        .head_version("bkt", "k", Some(&markers[1].0))
        .unwrap();
    assert!(buried.noncurrent_since.is_some());
}

#[test]
fn usage_counts_every_version_and_a_limit_refuses_growth_only() {
    let dir = tempfile::tempdir().unwrap();
    let objects = open(dir.path());
    objects.create_bucket("bkt", None).unwrap();
    put(&objects, "a", 1);
    put(&objects, "a", 2);
    let big = BIG as u64;
    assert_eq!(
        objects.usage("bkt").unwrap(),
        BucketUsage {
            bytes: big,
            objects: 1
        },
        "an unversioned overwrite replaces the bytes"
    );
    objects.set_versioning("bkt", Versioning::Enabled).unwrap();
    let v1 = put(&objects, "a", 3).unwrap();
    objects.delete("bkt", "a", None, false).unwrap();
    assert_eq!(
        objects.usage("bkt").unwrap(),
        BucketUsage {
            bytes: 2 * big,
            objects: 2
        },
        "noncurrent versions count; delete markers do not"
    );

    objects.set_limits([("bkt".to_owned(), 2 * big + 10)].into());
    let refused = objects.put_blocking("bkt", "b", vec![0; 11], PutSpec::default());
    assert!(
        matches!(&refused, Err(ObjectError::QuotaExceeded { bucket, limit }) if bucket == "bkt" && *limit == 2 * big + 10),
        "{refused:?}"
    );
    objects
        .put_blocking("bkt", "b", vec![0; 10], PutSpec::default())
        .expect("up to the limit");
    // Removing a version for good frees its bytes for new writes.
    objects.delete("bkt", "a", Some(&v1), false).unwrap();
    objects
        .put_blocking("bkt", "c", vec![0; 1000], PutSpec::default())
        .expect("room again");

    // A reopened store recounts the same figures.
    let before = objects.usage("bkt").unwrap();
    drop(objects);
    let objects = open(dir.path());
    assert_eq!(objects.usage("bkt").unwrap(), before);
    assert_eq!(objects.limit("bkt"), None, "limits are set by their owner");
    assert!(matches!(
        objects.usage("no-such-bucket"),
        Err(ObjectError::NoSuchBucket)
    ));
}
