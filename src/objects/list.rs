//! Listing keys in order with prefix, delimiter and a resume point, over redb ranges.

use super::model::{OBJECTS, ObjectRecord};
use super::{Result, object_key};
use crate::store::Store;

/// The largest `char`: appended to a common prefix, it makes a start key past every key
/// under that prefix.
const PAST: char = char::MAX;

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Resume strictly after this item (a key, or a common prefix already returned).
    pub after: Option<String>,
    pub max_keys: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub objects: Vec<(String, ObjectRecord)>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix returned: where the next page starts.
    pub last: Option<String>,
}

/// The common prefix `key` rolls up into, if the delimiter appears after the prefix.
pub(super) fn roll_up<'a>(key: &'a str, prefix: &str, delimiter: Option<&str>) -> Option<&'a str> {
    let delimiter = delimiter.filter(|d| !d.is_empty())?;
    let rest = &key[prefix.len()..];
    rest.find(delimiter)
        .map(|at| &key[..prefix.len() + at + delimiter.len()])
}

pub fn list(store: &Store, bucket: &str, q: &ListQuery) -> Result<ListPage> {
    let mut page = ListPage::default();
    let delimiter = q.delimiter.as_deref();
    let range_end = format!("{bucket}0");
    // First candidate key: after the resume point (skipping a whole common prefix if the
    // resume point was one), and never before the prefix.
    let mut start = match &q.after {
        Some(after)
            if after.starts_with(&q.prefix)
                && roll_up(after, &q.prefix, delimiter).is_some_and(|cp| cp == after) =>
        {
            format!("{}{PAST}", object_key(bucket, after))
        }
        Some(after) => format!("{}\0", object_key(bucket, after)),
        None => object_key(bucket, ""),
    };
    let prefix_start = object_key(bucket, &q.prefix);
    if start < prefix_start {
        start = prefix_start;
    }
    if q.max_keys == 0 {
        let next = store.range(&OBJECTS, &start, Some(&range_end), 1)?;
        page.truncated = next
            .iter()
            .any(|(k, _)| k[bucket.len() + 1..].starts_with(&q.prefix));
        return Ok(page);
    }
    let strip = bucket.len() + 1;
    'scan: loop {
        let batch = store.range(&OBJECTS, &start, Some(&range_end), 256)?;
        if batch.is_empty() {
            break;
        }
        let mut next_start = None;
        for (full, record) in batch.iter() {
            let key = &full[strip..];
            if !key.starts_with(&q.prefix) {
                break 'scan; // keys are ordered: nothing further can match the prefix
            }
            let count = page.objects.len() + page.common_prefixes.len();
            if count == q.max_keys {
                page.truncated = true;
                break 'scan;
            }
            match roll_up(key, &q.prefix, delimiter) {
                Some(cp) => {
                    page.common_prefixes.push(cp.to_owned());
                    page.last = Some(cp.to_owned());
                    // Jump past every key under this common prefix.
                    next_start = Some(format!("{}{PAST}", object_key(bucket, cp)));
                    break;
                }
                None => {
                    page.objects.push((key.to_owned(), record.clone()));
                    page.last = Some(key.to_owned());
                }
            }
        }
        start = match next_start {
            Some(s) => s,
            None => match batch.last() {
                Some((k, _)) => format!("{k}\0"),
                None => break,
            },
        };
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::{ObjectHeaders, ObjectRecord};

    fn record() -> ObjectRecord {
        ObjectRecord {
            segments: vec![],
            size: 0,
            etag: String::new(),
            last_modified: 0,
            headers: ObjectHeaders::default(),
            metadata: Default::default(),
            tags: vec![],
            checksums: Default::default(),
            parts: None,
            acl: None,
            version_id: None,
            delete_marker: false,
            noncurrent_since: None,
            retention: None,
            legal_hold: false,
        }
    }

    fn store_with(keys: &[&str]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        for k in keys {
            store.put(&OBJECTS, &object_key("b", k), &record()).unwrap();
        }
        store
            .put(&OBJECTS, &object_key("b0", "other"), &record())
            .unwrap();
        (dir, store)
    }

    fn names(page: &ListPage) -> (Vec<&str>, Vec<&str>) {
        (
            page.objects.iter().map(|(k, _)| k.as_str()).collect(),
            page.common_prefixes.iter().map(String::as_str).collect(),
        )
    }

    #[test]
    fn prefixes_delimiters_and_pages() {
        let (_d, store) = store_with(&["a.txt", "dir/1", "dir/2", "dir/sub/3", "dis", "z/9"]);
        let q = |prefix: &str, delim: Option<&str>, after: Option<&str>, max: usize| ListQuery {
            prefix: prefix.into(),
            delimiter: delim.map(Into::into),
            after: after.map(Into::into),
            max_keys: max,
        };
        let all = list(&store, "b", &q("", None, None, 1000)).unwrap();
        assert_eq!(
            names(&all).0,
            ["a.txt", "dir/1", "dir/2", "dir/sub/3", "dis", "z/9"]
        );
        let top = list(&store, "b", &q("", Some("/"), None, 1000)).unwrap();
        assert_eq!(names(&top), (vec!["a.txt", "dis"], vec!["dir/", "z/"]));
        let inside = list(&store, "b", &q("dir/", Some("/"), None, 1000)).unwrap();
        assert_eq!(names(&inside), (vec!["dir/1", "dir/2"], vec!["dir/sub/"]));
        // Paging: two items a page, resuming after a common prefix skips its keys.
        let p1 = list(&store, "b", &q("", Some("/"), None, 2)).unwrap();
        assert_eq!(names(&p1), (vec!["a.txt"], vec!["dir/"]));
        assert!(p1.truncated);
        let p2 = list(&store, "b", &q("", Some("/"), p1.last.as_deref(), 2)).unwrap();
        assert_eq!(names(&p2), (vec!["dis"], vec!["z/"]));
        assert!(!p2.truncated);
        let none = list(&store, "b", &q("nothing", None, None, 10)).unwrap();
        assert!(none.objects.is_empty() && !none.truncated);
        // Resuming after a common prefix under a prefix skips it (no page repeats it).
        let d1 = list(&store, "b", &q("dir/", Some("/"), None, 2)).unwrap();
        assert_eq!(names(&d1), (vec!["dir/1", "dir/2"], vec![]));
        let d2 = list(&store, "b", &q("dir/", Some("/"), d1.last.as_deref(), 2)).unwrap();
        assert_eq!(names(&d2), (vec![], vec!["dir/sub/"]));
        let d3 = list(&store, "b", &q("dir/", Some("/"), d2.last.as_deref(), 2)).unwrap();
        assert!(d3.objects.is_empty() && d3.common_prefixes.is_empty() && !d3.truncated);
        let zero = list(&store, "b", &q("", None, None, 0)).unwrap();
        assert!(zero.truncated && zero.objects.is_empty());
    }
}
