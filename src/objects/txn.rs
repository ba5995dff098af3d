//! Write-transaction steps shared by the object store, and the group-commit thread that
//! commits new objects and parts, many per transaction.

use std::collections::HashSet;
use std::sync::Arc;

use super::blob::BlobId;
use super::usage;
use super::versions::install;
use super::{BUCKETS, INLINE, OBJECTS, PARTS, UPLOADS, object_key, part_key};
use super::{ObjectError, ObjectRecord, PartRecord, Precondition, Result, Segment};
use crate::store::{Store, Writer};

/// Writes the bytes of inline segments that carry them.
pub fn store_segments(w: &mut Writer<'_>, segments: &[Segment]) -> Result<()> {
    for s in segments {
        if let Some(data) = &s.data {
            w.put_raw(&INLINE, s.blob.as_str(), data)?;
        }
    }
    Ok(())
}

/// Drops segments no longer referenced: inline bytes within this transaction; file ids are
/// returned for removal once it commits.
pub fn discard(
    w: &mut Writer<'_>,
    segments: impl IntoIterator<Item = Segment>,
) -> Result<Vec<BlobId>> {
    let mut files = Vec::new();
    for s in segments {
        if s.blob.is_inline() {
            w.remove_raw(&INLINE, s.blob.as_str())?;
        } else {
            files.push(s.blob);
        }
    }
    Ok(files)
}

/// Removes an upload and its parts, except blobs in `keep`; returns part files to delete.
pub fn remove_upload(w: &mut Writer<'_>, id: &str, keep: &HashSet<BlobId>) -> Result<Vec<BlobId>> {
    w.remove(&UPLOADS, id)?;
    let parts = w.range(&PARTS, &format!("{id}/"), &format!("{id}0"), usize::MAX)?;
    let mut segments = Vec::new();
    for (k, p) in parts {
        w.remove(&PARTS, &k)?;
        if !keep.contains(&p.segment.blob) {
            segments.push(p.segment);
        }
    }
    discard(w, segments)
}

/// A write of new bytes: an object, or a part of a multipart upload.
pub enum Change {
    Object {
        bucket: String,
        key: String,
        record: Box<ObjectRecord>,
        precondition: Precondition,
        /// The bucket's byte limit when the write was queued.
        limit: Option<u64>,
    },
    Part {
        upload_id: String,
        bucket: String,
        key: String,
        number: u32,
        part: PartRecord,
    },
}

impl Change {
    /// The blobs this change points at (removed if it fails).
    pub fn fresh(&self) -> Vec<BlobId> {
        match self {
            Change::Object { record, .. } => {
                record.segments.iter().map(|s| s.blob.clone()).collect()
            }
            Change::Part { part, .. } => vec![part.segment.blob.clone()],
        }
    }

    /// Refuses a change that may not happen, without changing anything; returns what it read
    /// that applying needs (an object's bucket and the object it replaces).
    fn check(&self, w: &mut Writer<'_>) -> Result<Checked> {
        match self {
            Change::Object {
                bucket,
                key,
                record,
                precondition,
                limit,
            } => {
                let bucket_record = w.get(&BUCKETS, bucket)?.ok_or(ObjectError::NoSuchBucket)?;
                // Refused here, not when applied: a failure to apply fails the whole group.
                record.lock_settings().allowed_in(&bucket_record)?;
                let old = w.get(&OBJECTS, &object_key(bucket, key))?;
                precondition.check(old.as_ref())?;
                usage::admit(w, &bucket_record, old.as_ref(), record.size, *limit)?;
                Ok(Some((bucket_record, old)))
            }
            Change::Part {
                upload_id,
                bucket,
                key,
                ..
            } => match w.get(&UPLOADS, upload_id)? {
                Some(u) if u.bucket == *bucket && u.key == *key => Ok(None),
                _ => Err(ObjectError::NoSuchUpload),
            },
        }
    }

    /// Applies a checked change; returns the version id it made (objects in a versioned
    /// bucket) and the file blobs it left unreferenced.
    fn apply(&mut self, w: &mut Writer<'_>, checked: Checked) -> Result<Committed> {
        match self {
            Change::Object { key, record, .. } => {
                let (bucket, old) = checked.ok_or(ObjectError::NoSuchBucket)?;
                let now = record.last_modified;
                let unreferenced = install(w, &bucket, key, record, old, now)?;
                Ok((record.version_id.clone(), unreferenced))
            }
            Change::Part {
                upload_id,
                number,
                part,
                ..
            } => {
                let id = part_key(upload_id, *number);
                let old = w.get(&PARTS, &id)?;
                store_segments(w, std::slice::from_ref(&part.segment))?;
                w.put(&PARTS, &id, part)?;
                Ok((None, discard(w, old.map(|p| p.segment))?))
            }
        }
    }

    /// Checks and applies in one transaction.
    pub fn commit(&mut self, w: &mut Writer<'_>) -> Result<Committed> {
        let checked = self.check(w)?;
        self.apply(w, checked)
    }
}

/// What checking an object's write read: its bucket and the object it replaces (`None` for a
/// part).
type Checked = Option<(super::BucketRecord, Option<ObjectRecord>)>;

/// What a committed change made: its version id, if any, and the blobs it left unreferenced.
pub type Committed = (Option<String>, Vec<BlobId>);

pub struct CommitJob {
    pub change: Change,
    pub reply: tokio::sync::oneshot::Sender<Result<Committed>>,
}

/// Applies queued commits, as many as are waiting, in one transaction per round. A job that
/// fails its checks fails alone (it changed nothing); the others commit.
pub fn run_committer(store: Arc<Store>, jobs: std::sync::mpsc::Receiver<CommitJob>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcome = store.write(|w| {
            let mut results = Vec::with_capacity(batch.len());
            for job in &mut batch {
                // A refused job changed nothing; a failure to apply fails the whole round.
                results.push(match job.change.check(w) {
                    Ok(checked) => Ok(job.change.apply(w, checked)?),
                    Err(refused) => Err(refused),
                });
            }
            Ok::<_, ObjectError>(results)
        });
        match outcome {
            Ok(results) => {
                for (job, result) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                let e = Arc::new(e);
                for job in batch {
                    let _ = job.reply.send(Err(ObjectError::GroupCommit(e.clone())));
                }
            }
        }
    }
}
