//! Lifecycle rules of a bucket and the sweep that applies them: current objects expire a
//! number of days after their creation (counted to the next midnight UTC, as S3 counts) or on
//! a date (in a versioned bucket: a delete marker hides them), noncurrent versions some days
//! after a newer one replaced them, delete markers left without any version go, and multipart
//! uploads left unfinished are aborted some days after they began.

use serde::{Deserialize, Serialize};

use super::model::{BUCKETS, OBJECTS, ObjectRecord, VERSIONS};
use super::versions::{is_only_version, remove_row_if, split_row};
use super::{ObjectStore, Result, bucket_range};

const DAY_MS: u64 = 86_400_000;

/// One rule, as the S3 edge checked it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LifecycleRule {
    pub id: Option<String>,
    pub enabled: bool,
    /// Which objects: a key prefix, tags they all carry, and size bounds (exclusive).
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub size_greater_than: Option<u64>,
    pub size_less_than: Option<u64>,
    /// Current objects expire this many days after creation…
    pub expiration_days: Option<u32>,
    /// …or at this time (Unix milliseconds, a midnight UTC).
    pub expiration_date: Option<u64>,
    /// Unfinished multipart uploads are aborted this many days after they began.
    pub abort_incomplete_days: Option<u32>,
    /// Delete markers that are a key's only version are removed.
    #[serde(default)]
    pub expired_object_delete_marker: bool,
    /// Noncurrent versions are removed this many days after they became noncurrent.
    pub noncurrent_days: Option<u32>,
}

/// What one sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Current objects deleted (or hidden behind a delete marker).
    pub expired: usize,
    /// Noncurrent versions and lone delete markers removed for good.
    pub removed_versions: usize,
    pub aborted: usize,
}

/// `days` after `from`, moved on to the next midnight UTC.
fn after_days(from: u64, days: u32) -> u64 {
    (from + u64::from(days) * DAY_MS).div_ceil(DAY_MS) * DAY_MS
}

impl LifecycleRule {
    fn selects(&self, key: &str, object: &ObjectRecord) -> bool {
        key.starts_with(&self.prefix)
            && self.tags.iter().all(|t| object.tags.contains(t))
            && self.size_greater_than.is_none_or(|min| object.size > min)
            && self.size_less_than.is_none_or(|max| object.size < max)
    }

    fn expires(&self, object: &ObjectRecord, now: u64) -> bool {
        let by_days = self
            .expiration_days
            .is_some_and(|days| now >= after_days(object.last_modified, days));
        by_days || self.expiration_date.is_some_and(|date| now >= date)
    }
}

impl ObjectStore {
    /// Applies every bucket's enabled rules at `now` (Unix milliseconds).
    pub fn apply_lifecycle(&self, now: u64) -> Result<Swept> {
        let mut swept = Swept::default();
        for (name, bucket) in self.store.scan(&BUCKETS)? {
            let rules: Vec<LifecycleRule> = bucket
                .lifecycle
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r.enabled)
                .collect();
            if rules.is_empty() {
                continue;
            }
            swept.expired += self.expire_objects(&name, &rules, now)?;
            swept.removed_versions += self.expire_versions(&name, &rules, now)?;
            swept.aborted += self.abort_stale_uploads(&name, &rules, now)?;
        }
        Ok(swept)
    }

    fn expire_objects(&self, bucket: &str, rules: &[LifecycleRule], now: u64) -> Result<usize> {
        let (mut start, end) = bucket_range(bucket);
        let mut expired = Vec::new();
        loop {
            let batch = self.store.range(&OBJECTS, &start, Some(&end), 512)?;
            let Some((last, _)) = batch.last() else {
                break;
            };
            start = format!("{last}\0");
            for (full, object) in &batch {
                let key = &full[bucket.len() + 1..];
                if rules
                    .iter()
                    .any(|r| r.selects(key, object) && r.expires(object, now))
                {
                    let judged = (
                        object.etag.clone(),
                        object.last_modified,
                        object.version_id.clone(),
                    );
                    expired.push((key.to_owned(), judged));
                }
            }
        }
        let mut count = 0;
        for (key, (etag, written, version)) in expired {
            // Only the object that was judged: one written since then is younger.
            let same = |o: &ObjectRecord| {
                o.etag == etag && o.last_modified == written && o.version_id == version
            };
            if self.delete_if(bucket, &key, same)? {
                count += 1;
            }
        }
        Ok(count)
    }

    /// Removes noncurrent versions past their rules' days, and delete markers that hide
    /// nothing any more.
    fn expire_versions(&self, bucket: &str, rules: &[LifecycleRule], now: u64) -> Result<usize> {
        let (mut start, end) = bucket_range(bucket);
        let mut doomed = Vec::new();
        loop {
            let batch = self.store.range(&VERSIONS, &start, Some(&end), 512)?;
            let Some((last, _)) = batch.last() else {
                break;
            };
            start = format!("{last}\0");
            for (row, version) in &batch {
                let Some((key, _)) = split_row(row) else {
                    continue;
                };
                let old_enough = |r: &LifecycleRule| {
                    r.noncurrent_days.is_some_and(|days| {
                        version
                            .noncurrent_since
                            .is_some_and(|since| now >= after_days(since, days))
                    })
                };
                let expires = rules
                    .iter()
                    .any(|r| r.selects(key, version) && old_enough(r));
                let lone_marker = version.delete_marker
                    && rules
                        .iter()
                        .any(|r| r.expired_object_delete_marker && key.starts_with(&r.prefix))
                    && is_only_version(&mut self.store.snapshot()?, bucket, key)?;
                if expires || lone_marker {
                    let judged = (version.version().to_owned(), version.noncurrent_since);
                    doomed.push((row.clone(), key.to_owned(), judged, lone_marker));
                }
            }
        }
        let mut count = 0;
        for (row, key, (version, since), lone_marker) in doomed {
            if self.write_then_reap(Vec::new(), |w| {
                // Judged again in the transaction: a marker that no longer stands alone, or a
                // version that became current and noncurrent again since, stays; so does a
                // locked version, whatever the rules say.
                if lone_marker && !is_only_version(w, bucket, &key)? {
                    return Ok((false, Vec::new()));
                }
                remove_row_if(w, &row, |v| {
                    v.version() == version && v.noncurrent_since == since && !v.locked(now, false)
                })
            })? {
                count += 1;
            }
        }
        Ok(count)
    }

    fn abort_stale_uploads(
        &self,
        bucket: &str,
        rules: &[LifecycleRule],
        now: u64,
    ) -> Result<usize> {
        let mut count = 0;
        for (id, upload) in self.uploads(bucket)? {
            let stale = rules.iter().any(|r| {
                upload.key.starts_with(&r.prefix)
                    && r.abort_incomplete_days
                        .is_some_and(|days| now >= after_days(upload.initiated, days))
            });
            if stale && self.abort_upload(&id, bucket, &upload.key).is_ok() {
                count += 1;
            }
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_count_to_the_next_midnight() {
        let noon = 10 * DAY_MS + DAY_MS / 2;
        assert_eq!(after_days(noon, 1), 12 * DAY_MS);
        assert_eq!(after_days(10 * DAY_MS, 1), 11 * DAY_MS);
    }
}
