//! ListObjectVersions' order and paging over both tables.

use std::sync::Arc;

use super::*;
use crate::clock::Clock;
use crate::objects::{ObjectStore, PutSpec, Versioning};

fn store_with_history() -> (tempfile::TempDir, ObjectStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("db")).unwrap());
    let objects =
        ObjectStore::open(store, &dir.path().join("objects"), 1 << 20, Clock::system()).unwrap();
    objects.create_bucket("bkt", None).unwrap();
    objects.set_versioning("bkt", Versioning::Enabled).unwrap();
    let put = |key: &str| {
        objects
            .put_blocking("bkt", key, key.as_bytes().to_vec(), PutSpec::default())
            .unwrap();
    };
    // a: two versions; a/x: one, then deleted (a marker on top); b: one; dir/1, dir/2: one.
    put("a");
    put("a");
    put("a/x");
    objects.delete("bkt", "a/x", None, false).unwrap();
    put("b");
    put("dir/1");
    put("dir/2");
    (dir, objects)
}

/// Versions listed, then common prefixes, over every page.
fn all_pages(objects: &ObjectStore, delimiter: Option<&str>, max: usize) -> Vec<String> {
    let (mut seen, mut prefixes) = (Vec::new(), Vec::new());
    let mut query = VersionQuery {
        delimiter: delimiter.map(Into::into),
        max_keys: max,
        ..Default::default()
    };
    loop {
        let page = list_versions(&objects.store, "bkt", &query).unwrap();
        assert!(page.entries.len() + page.common_prefixes.len() <= max);
        for e in &page.entries {
            let kind = if e.record.delete_marker {
                "marker"
            } else {
                "object"
            };
            let latest = if e.latest { " latest" } else { "" };
            seen.push(format!("{} {kind}{latest}", e.key));
        }
        prefixes.extend(page.common_prefixes.iter().map(|p| format!("{p} prefix")));
        if !page.truncated {
            seen.extend(prefixes);
            return seen;
        }
        query.key_marker = page.next_key_marker;
        query.version_marker = page.next_version_marker;
    }
}

#[test]
fn keys_in_order_each_newest_first_whatever_the_page_size() {
    let (_dir, objects) = store_with_history();
    let expected = [
        "a object latest",
        "a object",
        "a/x marker latest",
        "a/x object",
        "b object latest",
        "dir/1 object latest",
        "dir/2 object latest",
    ];
    for max in [1, 2, 3, 1000] {
        assert_eq!(all_pages(&objects, None, max), expected, "pages of {max}");
    }
    let rolled = [
        "a object latest",
        "a object",
        "b object latest",
        "a/ prefix",
        "dir/ prefix",
    ];
    for max in [1, 2, 1000] {
        assert_eq!(
            all_pages(&objects, Some("/"), max),
            rolled,
            "pages of {max}"
        );
    }
    let zero = VersionQuery::default();
    let page = list_versions(&objects.store, "bkt", &zero).unwrap();
    assert!(page.truncated && page.entries.is_empty());
}
