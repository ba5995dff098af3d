//! Versioning inside a write transaction. A key's newest version, when it is an object, is in
//! `OBJECTS`; every other version (older objects, delete markers) is in `VERSIONS`, newest
//! first. Each step here keeps that so: writes push the replaced object down, deleting the
//! newest version brings the next one up.

use super::blob::BlobId;
use super::model::{BucketRecord, OBJECTS, ObjectRecord, VERSIONS, Versioning};
use super::{ObjectError, Result, object_key, txn, usage};
use crate::store::{Rows, Store, Writer};

/// What a delete did, as S3 reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// The version removed, or the delete marker added (`None` in a bucket never versioned).
    pub version_id: Option<String>,
    /// Whether that version is a delete marker.
    pub delete_marker: bool,
}

/// The first and past-the-last row of a key's noncurrent versions.
pub fn key_rows(bucket: &str, key: &str) -> (String, String) {
    let id = object_key(bucket, key);
    (format!("{id}\0"), format!("{id}\u{1}"))
}

fn row(bucket: &str, key: &str, seq: u64) -> String {
    format!("{}\0{:016x}", object_key(bucket, key), u64::MAX - seq)
}

/// The key of a `VERSIONS` row (without its bucket), and its place in the key's history.
pub fn split_row(row: &str) -> Option<(&str, u64)> {
    let (id, digits) = row.rsplit_once('\0')?;
    if digits.len() != 16 {
        return None;
    }
    let seq = u64::MAX - u64::from_str_radix(digits, 16).ok()?;
    Some((id.split_once('/')?.1, seq))
}

/// A fresh version id (MinIO's form: a UUID).
pub fn new_version_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The newest noncurrent row of a key (its row key and version).
pub fn newest_row(
    r: &mut impl Rows,
    bucket: &str,
    key: &str,
) -> Result<Option<(String, ObjectRecord)>> {
    let (start, end) = key_rows(bucket, key);
    Ok(r.rows(&VERSIONS, &start, &end, 1)?.pop())
}

/// Puts `record` on top of the key's noncurrent versions.
fn push(w: &mut Writer<'_>, bucket: &str, key: &str, record: &ObjectRecord) -> Result<()> {
    let seq = match newest_row(w, bucket, key)? {
        Some((r, _)) => split_row(&r).map_or(0, |(_, seq)| seq + 1),
        None => 0,
    };
    usage::put(w, &VERSIONS, bucket, &row(bucket, key, seq), record)?;
    Ok(())
}

/// Moves the current object down among the noncurrent versions, or drops it when it is the
/// `null` version and `null` is being replaced.
fn retire(
    w: &mut Writer<'_>,
    bucket: &str,
    key: &str,
    mut old: ObjectRecord,
    replaces_null: bool,
    now: u64,
) -> Result<Vec<BlobId>> {
    if replaces_null && old.version_id.is_none() {
        return txn::discard(w, old.segments);
    }
    old.noncurrent_since = Some(now);
    push(w, bucket, key, &old)?;
    Ok(Vec::new())
}

/// Marks the key's newest delete marker noncurrent from `now`, when a new version is about to
/// go on top of it (no current object exists): lifecycle rules count its days from then.
fn bury_marker(w: &mut Writer<'_>, bucket: &str, key: &str, now: u64) -> Result<()> {
    if let Some((r, mut newest)) = newest_row(w, bucket, key)?
        && newest.delete_marker
        && newest.noncurrent_since.is_none()
    {
        newest.noncurrent_since = Some(now);
        usage::put(w, &VERSIONS, bucket, &r, &newest)?;
    }
    Ok(())
}

/// Removes the noncurrent `null` version, if any (a suspended bucket keeps one `null`).
fn drop_null(w: &mut Writer<'_>, bucket: &str, key: &str) -> Result<Vec<BlobId>> {
    let (start, end) = key_rows(bucket, key);
    let mut dropped = Vec::new();
    for (r, v) in w.range(&VERSIONS, &start, &end, usize::MAX)? {
        if v.version_id.is_none() {
            usage::remove(w, &VERSIONS, bucket, &r)?;
            dropped.extend(txn::discard(w, v.segments)?);
        }
    }
    Ok(dropped)
}

/// Makes `record` the key's current object as the bucket's versioning wants: replacing the
/// object (never versioned), on top of the old one (enabled), or replacing the `null` version
/// (suspended). `old` is the key's current object, as the caller read it in this transaction.
/// Sets the record's version id and its lock (the bucket's default retention unless the write
/// named one); returns the blobs left unreferenced.
pub fn install(
    w: &mut Writer<'_>,
    bucket_record: &BucketRecord,
    key: &str,
    record: &mut ObjectRecord,
    old: Option<ObjectRecord>,
    now: u64,
) -> Result<Vec<BlobId>> {
    let bucket = bucket_record.name.as_str();
    super::lock::settle(bucket_record, record, now)?;
    let id = object_key(bucket, key);
    let mut unreferenced = Vec::new();
    match bucket_record.versioning {
        None => {
            record.version_id = None;
            unreferenced.extend(txn::discard(w, old.into_iter().flat_map(|o| o.segments))?);
        }
        Some(Versioning::Enabled) => {
            record.version_id = Some(new_version_id());
            match old {
                Some(old) => unreferenced.extend(retire(w, bucket, key, old, false, now)?),
                None => bury_marker(w, bucket, key, now)?,
            }
        }
        Some(Versioning::Suspended) => {
            record.version_id = None;
            match old {
                Some(old) => unreferenced.extend(retire(w, bucket, key, old, true, now)?),
                None => bury_marker(w, bucket, key, now)?,
            }
            unreferenced.extend(drop_null(w, bucket, key)?);
        }
    }
    record.delete_marker = false;
    record.noncurrent_since = None;
    txn::store_segments(w, &record.segments)?;
    usage::put(w, &OBJECTS, bucket, &id, record)?;
    Ok(unreferenced)
}

/// A delete without a version id: removes the object (never versioned), or hides it behind a
/// new delete marker (enabled), or replaces the `null` version with a delete marker
/// (suspended). Returns `None` when a never-versioned bucket had no such key.
pub fn delete_current(
    w: &mut Writer<'_>,
    versioning: Option<Versioning>,
    bucket: &str,
    key: &str,
    now: u64,
) -> Result<(Option<Deleted>, Vec<BlobId>)> {
    let old = usage::remove(w, &OBJECTS, bucket, &object_key(bucket, key))?;
    let Some(versioning) = versioning else {
        let existed = old.is_some();
        let unreferenced = txn::discard(w, old.into_iter().flat_map(|o| o.segments))?;
        return Ok((existed.then(Deleted::default), unreferenced));
    };
    let suspended = versioning == Versioning::Suspended;
    let mut unreferenced = Vec::new();
    match old {
        Some(old) => unreferenced.extend(retire(w, bucket, key, old, suspended, now)?),
        None => bury_marker(w, bucket, key, now)?,
    }
    let marker_id = if suspended {
        unreferenced.extend(drop_null(w, bucket, key)?);
        None
    } else {
        Some(new_version_id())
    };
    let marker = ObjectRecord::delete_marker(marker_id, now);
    push(w, bucket, key, &marker)?;
    let deleted = Deleted {
        version_id: Some(marker.version().to_owned()),
        delete_marker: true,
    };
    Ok((Some(deleted), unreferenced))
}

/// Brings the newest noncurrent version up as the current object when it is an object and no
/// current one exists (after the versions above it were deleted).
fn promote(w: &mut Writer<'_>, bucket: &str, key: &str) -> Result<()> {
    let id = object_key(bucket, key);
    if w.get(&OBJECTS, &id)?.is_some() {
        return Ok(());
    }
    if let Some((r, mut newest)) = newest_row(w, bucket, key)?
        && !newest.delete_marker
    {
        usage::remove(w, &VERSIONS, bucket, &r)?;
        newest.noncurrent_since = None;
        usage::put(w, &OBJECTS, bucket, &id, &newest)?;
    }
    Ok(())
}

/// What a permanent delete may override: the time locks are judged at, and whether a caller
/// allowed to bypass GOVERNANCE retention asked to.
#[derive(Debug, Clone, Copy)]
pub struct Override {
    pub now: u64,
    pub bypass_governance: bool,
}

/// Deletes one version for good; the next older one becomes current if it was the newest. A
/// locked version is refused. Returns `None` when no such version exists (S3 answers success
/// all the same).
pub fn delete_version(
    w: &mut Writer<'_>,
    bucket: &str,
    key: &str,
    version: &str,
    at: Override,
) -> Result<(Option<Deleted>, Vec<BlobId>)> {
    if find_in(w, bucket, key, version)?.is_some_and(|v| v.locked(at.now, at.bypass_governance)) {
        return Err(ObjectError::ObjectLocked);
    }
    let id = object_key(bucket, key);
    let removed = match w.get(&OBJECTS, &id)? {
        Some(current) if current.version() == version => {
            usage::remove(w, &OBJECTS, bucket, &id)?;
            Some(current)
        }
        _ => {
            let (start, end) = key_rows(bucket, key);
            let rows = w.range(&VERSIONS, &start, &end, usize::MAX)?;
            match rows.into_iter().find(|(_, v)| v.version() == version) {
                Some((r, v)) => {
                    usage::remove(w, &VERSIONS, bucket, &r)?;
                    Some(v)
                }
                None => None,
            }
        }
    };
    let Some(removed) = removed else {
        return Ok((None, Vec::new()));
    };
    promote(w, bucket, key)?;
    let deleted = Deleted {
        version_id: Some(removed.version().to_owned()),
        delete_marker: removed.delete_marker,
    };
    Ok((Some(deleted), txn::discard(w, removed.segments)?))
}

/// Removes the noncurrent row `r` if `judged` still accepts it (a sweep's decision must not
/// reach a version changed since).
pub fn remove_row_if(
    w: &mut Writer<'_>,
    r: &str,
    judged: impl FnOnce(&ObjectRecord) -> bool,
) -> Result<(bool, Vec<BlobId>)> {
    let Some((key_id, _)) = r.rsplit_once('\0') else {
        return Ok((false, Vec::new()));
    };
    let Some((bucket, key)) = key_id.split_once('/') else {
        return Ok((false, Vec::new()));
    };
    match w.get(&VERSIONS, r)? {
        Some(v) if judged(&v) => {
            usage::remove(w, &VERSIONS, bucket, r)?;
            promote(w, bucket, key)?;
            Ok((true, txn::discard(w, v.segments)?))
        }
        _ => Ok((false, Vec::new())),
    }
}

/// A version of a key by id, current or not.
pub fn find(store: &Store, bucket: &str, key: &str, version: &str) -> Result<ObjectRecord> {
    // One snapshot: a version moving between the tables meanwhile is found in one of them.
    find_in(&mut store.snapshot()?, bucket, key, version)?.ok_or(ObjectError::NoSuchVersion)
}

fn find_in(
    r: &mut impl Rows,
    bucket: &str,
    key: &str,
    version: &str,
) -> Result<Option<ObjectRecord>> {
    if let Some(current) = r.row(&OBJECTS, &object_key(bucket, key))?
        && current.version() == version
    {
        return Ok(Some(current));
    }
    let (start, end) = key_rows(bucket, key);
    Ok(r.rows(&VERSIONS, &start, &end, usize::MAX)?
        .into_iter()
        .map(|(_, v)| v)
        .find(|v| v.version() == version))
}

/// Changes one version in place (tags, ACL, lock): the current object (`None`), or the version
/// with that id. A delete marker has nothing to change (`DeleteMarker`).
pub fn change(
    w: &mut Writer<'_>,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    change: impl FnOnce(&mut ObjectRecord) -> Result<()>,
) -> Result<()> {
    let id = object_key(bucket, key);
    let current = w.get(&OBJECTS, &id)?;
    match (version, current) {
        (None, None) => return Err(ObjectError::NoSuchKey),
        (None, Some(mut current)) => {
            change(&mut current)?;
            usage::put(w, &OBJECTS, bucket, &id, &current)?;
            return Ok(());
        }
        (Some(v), Some(mut current)) if current.version() == v => {
            change(&mut current)?;
            usage::put(w, &OBJECTS, bucket, &id, &current)?;
            return Ok(());
        }
        _ => {}
    }
    let version = version.unwrap_or_default();
    let (start, end) = key_rows(bucket, key);
    let rows = w.range(&VERSIONS, &start, &end, usize::MAX)?;
    let (r, mut v) = rows
        .into_iter()
        .find(|(_, v)| v.version() == version)
        .ok_or(ObjectError::NoSuchVersion)?;
    if v.delete_marker {
        return Err(ObjectError::DeleteMarker);
    }
    change(&mut v)?;
    usage::put(w, &VERSIONS, bucket, &r, &v)?;
    Ok(())
}

/// Whether a key's only version is one noncurrent row (a delete marker left alone).
pub fn is_only_version(r: &mut impl Rows, bucket: &str, key: &str) -> Result<bool> {
    let (start, end) = key_rows(bucket, key);
    Ok(r.row(&OBJECTS, &object_key(bucket, key))?.is_none()
        && r.rows(&VERSIONS, &start, &end, 2)?.len() == 1)
}

/// Whether a bucket holds any version (a bucket is empty only without any).
pub fn any_in_bucket(w: &mut Writer<'_>, bucket: &str) -> Result<bool> {
    let (start, end) = super::bucket_range(bucket);
    Ok(!w.range(&VERSIONS, &start, &end, 1)?.is_empty())
}

#[cfg(test)]
#[path = "versions_tests.rs"]
mod tests;
