//! Listing every version of a bucket's keys (ListObjectVersions): key by key in order, each
//! key's versions newest first, the current object from `OBJECTS` ahead of the noncurrent
//! ones from `VERSIONS`.

use super::list::roll_up;
use super::model::{OBJECTS, ObjectRecord, VERSIONS};
use super::versions::{key_rows, split_row};
use super::{Result, object_key};
use crate::store::{Snapshot, Store};

#[derive(Debug, Clone, Default)]
pub struct VersionQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Resume after this key (all its versions), or after `version_marker` within it.
    pub key_marker: Option<String>,
    pub version_marker: Option<String>,
    pub max_keys: usize,
}

#[derive(Debug, Clone)]
pub struct VersionEntry {
    pub key: String,
    pub record: ObjectRecord,
    /// The key's newest version (an object, or a delete marker).
    pub latest: bool,
}

#[derive(Debug, Clone, Default)]
pub struct VersionPage {
    pub entries: Vec<VersionEntry>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// Where the next page starts: a key (or common prefix) and, after a version, its id.
    pub next_key_marker: Option<String>,
    pub next_version_marker: Option<String>,
}

/// The first key at or after `from` in either table, within `bucket`.
fn next_key(store: &Snapshot, bucket: &str, from: &str) -> Result<Option<String>> {
    let start = object_key(bucket, from);
    let end = format!("{bucket}0");
    let strip = bucket.len() + 1;
    let current = store
        .range(&OBJECTS, &start, Some(&end), 1)?
        .pop()
        .map(|(k, _)| k[strip..].to_owned());
    let noncurrent = store
        .range(&VERSIONS, &start, Some(&end), 1)?
        .pop()
        .and_then(|(r, _)| split_row(&r).map(|(key, _)| key.to_owned()));
    Ok(match (current, noncurrent) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// Every version of one key, newest first, with the newest marked latest.
fn key_versions(store: &Snapshot, bucket: &str, key: &str) -> Result<Vec<VersionEntry>> {
    let mut entries = Vec::new();
    if let Some(current) = store.get(&OBJECTS, &object_key(bucket, key))? {
        entries.push(current);
    }
    let (start, end) = key_rows(bucket, key);
    entries.extend(
        store
            .range(&VERSIONS, &start, Some(&end), usize::MAX)?
            .into_iter()
            .map(|(_, v)| v),
    );
    Ok(entries
        .into_iter()
        .enumerate()
        .map(|(i, record)| VersionEntry {
            key: key.to_owned(),
            record,
            latest: i == 0,
        })
        .collect())
}

/// The key-space position just past every key that starts with `prefix`.
fn past(prefix: &str) -> String {
    format!("{prefix}{}", char::MAX)
}

/// The key-space position just past `key` and its versions (keys hold no NUL).
fn after(key: &str) -> String {
    format!("{key}\u{1}")
}

/// Lists one page from one snapshot of the store, so a write landing meanwhile cannot show a
/// version twice or hide one.
pub fn list_versions(store: &Store, bucket: &str, q: &VersionQuery) -> Result<VersionPage> {
    let store = &store.snapshot()?;
    let mut page = VersionPage::default();
    let delimiter = q.delimiter.as_deref();
    let mut from = match &q.key_marker {
        Some(marker)
            if marker.starts_with(&q.prefix)
                && roll_up(marker, &q.prefix, delimiter).is_some_and(|cp| cp == marker) =>
        {
            past(marker)
        }
        // Within the marker's key, the versions after the version marker come first.
        Some(marker) if q.version_marker.is_some() => marker.clone(),
        Some(marker) => after(marker),
        None => String::new(),
    };
    if from < q.prefix {
        from.clone_from(&q.prefix);
    }
    let mut emitted = 0;
    while let Some(key) = next_key(store, bucket, &from)? {
        if !key.starts_with(&q.prefix) {
            break;
        }
        if let Some(cp) = roll_up(&key, &q.prefix, delimiter) {
            if emitted == q.max_keys {
                page.truncated = true;
                break;
            }
            page.common_prefixes.push(cp.to_owned());
            page.next_key_marker = Some(cp.to_owned());
            page.next_version_marker = None;
            emitted += 1;
            from = past(cp);
            continue;
        }
        let mut versions = key_versions(store, bucket, &key)?;
        if q.key_marker.as_deref() == Some(key.as_str())
            && let Some(marker) = &q.version_marker
        {
            // Versions up to and including the marker were on earlier pages.
            let seen = versions
                .iter()
                .position(|v| v.record.version() == marker)
                .map_or(versions.len(), |at| at + 1);
            versions.drain(..seen);
        }
        for version in versions {
            if emitted == q.max_keys {
                page.truncated = true;
                return Ok(page);
            }
            page.next_key_marker = Some(version.key.clone());
            page.next_version_marker = Some(version.record.version().to_owned());
            page.entries.push(version);
            emitted += 1;
        }
        from = after(&key);
    }
    Ok(page)
}

#[cfg(test)]
#[path = "version_list_tests.rs"]
mod tests;
