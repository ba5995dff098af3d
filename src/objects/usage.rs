//! What each bucket holds — bytes and objects over every version, noncurrent ones and their
//! blobs included — kept in `USAGE` by the same transaction that changes the bucket, so a byte
//! limit is judged against the exact figure even inside a group commit. Every write to
//! `OBJECTS` or `VERSIONS` goes through [`put`] or [`remove`] here; the start-up scan that
//! finds referenced blobs recomputes the figures ([`rebuild`]) so a data directory written
//! before they existed gets them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Result;
use super::model::ObjectRecord;
use crate::store::{Rows, Store, Table, Writer};

/// Bytes and objects of one bucket (delete markers count as neither).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketUsage {
    pub bytes: u64,
    pub objects: u64,
}

impl BucketUsage {
    fn add(&mut self, record: &ObjectRecord) {
        if !record.delete_marker {
            self.bytes = self.bytes.saturating_add(record.size);
            self.objects = self.objects.saturating_add(1);
        }
    }

    fn subtract(&mut self, record: &ObjectRecord) {
        if !record.delete_marker {
            self.bytes = self.bytes.saturating_sub(record.size);
            self.objects = self.objects.saturating_sub(1);
        }
    }
}

/// Keyed by bucket name.
pub const USAGE: Table<BucketUsage> = Table::new("s3_usage");

/// Writes `record` at `row` of `table` (`OBJECTS` or `VERSIONS`), counting the change.
pub fn put(
    w: &mut Writer<'_>,
    table: &Table<ObjectRecord>,
    bucket: &str,
    row: &str,
    record: &ObjectRecord,
) -> Result<()> {
    let old = w.replace(table, row, record)?;
    adjust(w, bucket, Some(record), old.as_ref())
}

/// Removes `row` of `table`, counting the change; returns what was there.
pub fn remove(
    w: &mut Writer<'_>,
    table: &Table<ObjectRecord>,
    bucket: &str,
    row: &str,
) -> Result<Option<ObjectRecord>> {
    let old = w.remove(table, row)?;
    if old.is_some() {
        adjust(w, bucket, None, old.as_ref())?;
    }
    Ok(old)
}

fn adjust(
    w: &mut Writer<'_>,
    bucket: &str,
    added: Option<&ObjectRecord>,
    removed: Option<&ObjectRecord>,
) -> Result<()> {
    let same =
        |a: &ObjectRecord, b: &ObjectRecord| a.size == b.size && a.delete_marker == b.delete_marker;
    if let (Some(a), Some(r)) = (added, removed)
        && same(a, r)
    {
        return Ok(());
    }
    let mut usage = w.get(&USAGE, bucket)?.unwrap_or_default();
    if let Some(r) = removed {
        usage.subtract(r);
    }
    if let Some(a) = added {
        usage.add(a);
    }
    w.put(&USAGE, bucket, &usage)?;
    Ok(())
}

/// A bucket's figures as of `r` (a snapshot or a write transaction).
pub fn of(r: &mut impl Rows, bucket: &str) -> Result<BucketUsage> {
    Ok(r.row(&USAGE, bucket)?.unwrap_or_default())
}

/// Counts a row met by a scan of `OBJECTS` or `VERSIONS` (its key starts with the bucket).
pub fn tally(totals: &mut BTreeMap<String, BucketUsage>, row: &str, record: &ObjectRecord) {
    if let Some((bucket, _)) = row.split_once('/') {
        totals.entry(bucket.to_owned()).or_default().add(record);
    }
}

/// Replaces the stored figures with `totals` (from a full scan) when they differ.
pub fn rebuild(store: &Store, totals: &BTreeMap<String, BucketUsage>) -> Result<()> {
    let stored: BTreeMap<String, BucketUsage> = store.scan(&USAGE)?.into_iter().collect();
    let empty = |u: &BucketUsage| *u == BucketUsage::default();
    let differs = totals.iter().any(|(b, u)| stored.get(b) != Some(u))
        || stored
            .iter()
            .any(|(b, u)| !empty(u) && !totals.contains_key(b));
    if !differs {
        return Ok(());
    }
    tracing::info!(buckets = totals.len(), "recounted bucket usage");
    store.write(|w| {
        w.retain(&USAGE, |_, _| false)?;
        for (bucket, usage) in totals {
            w.put(&USAGE, bucket, usage)?;
        }
        Ok(())
    })
}

/// Refuses a write of `size` bytes that would take `bucket` past `limit`. An unversioned
/// bucket frees the bytes of the object replaced (`old`); a versioned one keeps them. A write
/// that does not add to what the bucket holds passes even over the limit (replacing an object
/// with a smaller one), so lowering a limit never locks anyone out of cleaning up.
pub fn admit(
    w: &mut Writer<'_>,
    bucket: &super::BucketRecord,
    old: Option<&ObjectRecord>,
    size: u64,
    limit: Option<u64>,
) -> Result<()> {
    let Some(limit) = limit else {
        return Ok(());
    };
    let held = of(w, &bucket.name)?.bytes;
    let freed = match bucket.versioning {
        None => old.map_or(0, |o| o.size),
        Some(_) => 0,
    };
    let after = held.saturating_sub(freed).saturating_add(size);
    if after > limit && after > held {
        return Err(super::ObjectError::QuotaExceeded {
            bucket: bucket.name.clone(),
            limit,
        });
    }
    Ok(())
}
