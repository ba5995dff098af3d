//! Write-transaction steps shared by the object store, and the group-commit thread.

use std::collections::HashSet;
use std::sync::Arc;

use super::blob::BlobId;
use super::{BUCKETS, INLINE, OBJECTS, PARTS, UPLOADS, object_key};
use super::{ObjectError, ObjectRecord, Precondition, Result, Segment};
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

/// Checks that an object write may happen, without changing anything.
fn check_commit(
    w: &mut Writer<'_>,
    bucket: &str,
    key: &str,
    precondition: &Precondition,
) -> Result<()> {
    w.get(&BUCKETS, bucket)?.ok_or(ObjectError::NoSuchBucket)?;
    let old = w.get(&OBJECTS, &object_key(bucket, key))?;
    precondition.check(old.as_ref())
}

/// One object write inside a transaction; returns the replaced object's file blobs.
pub fn apply_commit(
    w: &mut Writer<'_>,
    bucket: &str,
    key: &str,
    record: &ObjectRecord,
    precondition: &Precondition,
) -> Result<Vec<BlobId>> {
    check_commit(w, bucket, key, precondition)?;
    let id = object_key(bucket, key);
    let old = w.get(&OBJECTS, &id)?;
    store_segments(w, &record.segments)?;
    w.put(&OBJECTS, &id, record)?;
    discard(w, old.into_iter().flat_map(|o| o.segments))
}

pub struct CommitJob {
    pub bucket: String,
    pub key: String,
    pub record: ObjectRecord,
    pub precondition: Precondition,
    pub reply: tokio::sync::oneshot::Sender<Result<Vec<BlobId>>>,
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
            for job in &batch {
                results.push(
                    match check_commit(w, &job.bucket, &job.key, &job.precondition) {
                        Ok(()) => Ok(apply_commit(
                            w,
                            &job.bucket,
                            &job.key,
                            &job.record,
                            &job.precondition,
                        )?),
                        Err(refused) => Err(refused),
                    },
                );
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
