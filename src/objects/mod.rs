//! The object store core: buckets, objects, multipart uploads. Metadata in redb, bytes in blob
//! files. Knows nothing of HTTP or S3's wire format; `crate::s3` maps S3 requests onto it.

pub mod blob;
pub mod list;
pub mod model;
pub mod names;
mod txn;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use md5::{Digest, Md5};

use crate::clock::Clock;
use crate::store::{Store, StoreError};
pub use blob::{Blob, BlobStore, BlobWriter};
pub use model::*;

/// Smallest size of every part but the last, as S3 enforces at completion.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
pub const MAX_PARTS: u32 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    #[error("Your previous request to create the named bucket succeeded and you already own it")]
    BucketAlreadyOwnedByYou,
    #[error("The requested bucket name is not available")]
    BucketAlreadyExists,
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty,
    #[error("The specified bucket is not valid: {0}")]
    InvalidBucketName(String),
    #[error("The specified key does not exist")]
    NoSuchKey,
    #[error("Object name is not valid: {0}")]
    InvalidObjectName(String),
    #[error("Your key is too long")]
    KeyTooLong,
    #[error("The specified multipart upload does not exist")]
    NoSuchUpload,
    #[error(
        "One or more of the specified parts could not be found or its entity tag did not match"
    )]
    InvalidPart,
    #[error("The list of parts was not in ascending order")]
    InvalidPartOrder,
    #[error("Your proposed upload is smaller than the minimum allowed size")]
    EntityTooSmall,
    #[error("Your proposed upload exceeds the maximum allowed size of {max} bytes")]
    EntityTooLarge { max: u64 },
    #[error("At least one of the preconditions you specified did not hold")]
    PreconditionFailed,
    #[error("storage I/O: {0}")]
    Io(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T> = std::result::Result<T, ObjectError>;

/// Conditions a write must meet against the object it replaces.
#[derive(Debug, Clone, Default)]
pub struct Precondition {
    /// `If-None-Match: *`: the key must not exist.
    pub must_not_exist: bool,
    /// `If-Match`: the current ETag must be this one.
    pub etag_is: Option<String>,
}

impl Precondition {
    fn check(&self, current: Option<&ObjectRecord>) -> Result<()> {
        if self.must_not_exist && current.is_some() {
            return Err(ObjectError::PreconditionFailed);
        }
        if let Some(expected) = &self.etag_is
            && current.is_none_or(|c| c.etag != expected.trim_matches('"'))
        {
            return Err(ObjectError::PreconditionFailed);
        }
        Ok(())
    }
}

fn bucket_range(bucket: &str) -> (String, String) {
    // '0' is the byte after '/', so this is every `bucket/…` key.
    (format!("{bucket}/"), format!("{bucket}0"))
}

pub struct ObjectStore {
    store: Arc<Store>,
    pub blobs: BlobStore,
    pub max_object_size: u64,
    /// Object and upload times.
    pub clock: Clock,
    /// Queue of the group-commit thread, which stops when the store is dropped.
    committer: std::sync::Mutex<std::sync::mpsc::Sender<txn::CommitJob>>,
}

impl ObjectStore {
    /// Opens the blob directory under `root` and removes leftovers of interrupted writes.
    pub fn open(
        store: Arc<Store>,
        root: &Path,
        max_object_size: u64,
        clock: Clock,
    ) -> Result<Self> {
        let blobs = BlobStore::open(root)?;
        let (jobs, queue) = std::sync::mpsc::channel();
        let committer_store = store.clone();
        std::thread::Builder::new()
            .name("object-commits".into())
            .spawn(move || txn::run_committer(committer_store, queue))
            .map_err(|e| ObjectError::Io(format!("cannot start the commit thread: {e}")))?;
        let objects = ObjectStore {
            store,
            blobs,
            max_object_size,
            clock,
            committer: std::sync::Mutex::new(jobs),
        };
        let referenced = objects.referenced_blobs()?;
        let swept = objects.blobs.sweep(&referenced);
        if swept > 0 {
            tracing::info!(files = swept, "removed unreferenced object files");
        }
        Ok(objects)
    }

    fn referenced_blobs(&self) -> Result<HashSet<String>> {
        let mut set = HashSet::new();
        for (_, o) in self.store.scan(&OBJECTS)? {
            set.extend(o.segments.into_iter().map(|s| s.blob));
        }
        for (_, p) in self.store.scan(&PARTS)? {
            set.insert(p.segment.blob);
        }
        Ok(set)
    }

    /// Seed items created at an earlier start (read once, so a start with nothing new to
    /// seed writes nothing).
    pub fn seeded(&self) -> Result<HashSet<String>> {
        Ok(self
            .store
            .scan(&SEEDED)?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    /// Records seed items as created, in one transaction.
    pub fn mark_seeded(&self, items: &[String]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.store.write(|w| {
            for item in items {
                w.put(&SEEDED, item, &self.clock.millis())?;
            }
            Ok(())
        })
    }

    // ---- buckets

    pub fn create_bucket(&self, name: &str, owner: Option<&str>) -> Result<()> {
        names::check_bucket(name)?;
        self.store.write(|w| {
            if let Some(existing) = w.get(&BUCKETS, name)? {
                return Err(if existing.owner.as_deref() == owner {
                    ObjectError::BucketAlreadyOwnedByYou
                } else {
                    ObjectError::BucketAlreadyExists
                });
            }
            let record = BucketRecord {
                name: name.to_owned(),
                created: self.clock.millis(),
                owner: owner.map(str::to_owned),
                ..Default::default()
            };
            w.put(&BUCKETS, name, &record)?;
            Ok(())
        })
    }

    pub fn bucket(&self, name: &str) -> Result<BucketRecord> {
        self.store
            .get(&BUCKETS, name)?
            .ok_or(ObjectError::NoSuchBucket)
    }

    pub fn buckets(&self) -> Result<Vec<BucketRecord>> {
        Ok(self
            .store
            .scan(&BUCKETS)?
            .into_iter()
            .map(|(_, b)| b)
            .collect())
    }

    /// Changes a bucket's configuration in one transaction.
    pub fn update_bucket(&self, name: &str, change: impl FnOnce(&mut BucketRecord)) -> Result<()> {
        self.store.write(|w| {
            let mut bucket = w.get(&BUCKETS, name)?.ok_or(ObjectError::NoSuchBucket)?;
            change(&mut bucket);
            w.put(&BUCKETS, name, &bucket)?;
            Ok(())
        })
    }

    /// Deletes an empty bucket; its unfinished multipart uploads are aborted with it.
    pub fn delete_bucket(&self, name: &str) -> Result<()> {
        let (start, end) = bucket_range(name);
        let doomed = self.store.write(|w| {
            w.get(&BUCKETS, name)?.ok_or(ObjectError::NoSuchBucket)?;
            if !w.range(&OBJECTS, &start, &end, 1)?.is_empty() {
                return Err(ObjectError::BucketNotEmpty);
            }
            let mut doomed = Vec::new();
            let uploads: Vec<String> = self
                .store
                .scan(&UPLOADS)?
                .into_iter()
                .filter(|(_, u)| u.bucket == name)
                .map(|(id, _)| id)
                .collect();
            for id in uploads {
                doomed.extend(txn::remove_upload(w, &id, &HashSet::new())?);
            }
            w.remove(&BUCKETS, name)?;
            Ok(doomed)
        })?;
        self.blobs.remove(doomed);
        Ok(())
    }

    // ---- objects

    pub fn head(&self, bucket: &str, key: &str) -> Result<ObjectRecord> {
        match self.store.get(&OBJECTS, &object_key(bucket, key))? {
            Some(o) => Ok(o),
            None => {
                self.bucket(bucket)?;
                Err(ObjectError::NoSuchKey)
            }
        }
    }

    /// Points `bucket/key` at a finished blob set, replacing any previous version. File blobs
    /// must already be durable; inline bytes are written in the same transaction. Replaced
    /// blobs are removed after the commit.
    pub fn commit(
        &self,
        bucket: &str,
        key: &str,
        record: ObjectRecord,
        precondition: &Precondition,
    ) -> Result<()> {
        names::check_key(key)?;
        let new_blobs: Vec<String> = record.segments.iter().map(|s| s.blob.clone()).collect();
        let outcome = self
            .store
            .write(|w| txn::apply_commit(w, bucket, key, &record, precondition));
        self.finish_commit(outcome, new_blobs)
    }

    /// Like [`ObjectStore::commit`], but concurrent callers share one database transaction
    /// (group commit), so many small writes cost one fsync.
    pub async fn commit_grouped(
        &self,
        bucket: &str,
        key: &str,
        record: ObjectRecord,
        precondition: Precondition,
    ) -> Result<()> {
        names::check_key(key)?;
        let new_blobs: Vec<String> = record.segments.iter().map(|s| s.blob.clone()).collect();
        let stopped = || ObjectError::Io("the commit thread has stopped".into());
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = txn::CommitJob {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            record,
            precondition,
            reply,
        };
        let sent = crate::sync::lock(&self.committer).send(job).is_ok();
        let outcome = if sent {
            answer.await.unwrap_or_else(|_| Err(stopped()))
        } else {
            Err(stopped())
        };
        self.finish_commit(outcome, new_blobs)
    }

    fn finish_commit(&self, outcome: Result<Vec<String>>, new_blobs: Vec<String>) -> Result<()> {
        match outcome {
            Ok(replaced) => {
                self.blobs.remove(replaced);
                Ok(())
            }
            Err(e) => {
                self.blobs.remove(new_blobs);
                Err(e)
            }
        }
    }

    /// Bytes of an inline blob; `None` once its object was replaced or deleted.
    pub fn inline_bytes(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.store.get_raw(&INLINE, id)?)
    }

    /// Deletes an object; deleting a missing key is not an error (S3 answers 204 either way).
    pub fn delete(&self, bucket: &str, key: &str) -> Result<bool> {
        let (existed, doomed) = self.store.write(|w| {
            w.get(&BUCKETS, bucket)?.ok_or(ObjectError::NoSuchBucket)?;
            let old = w.remove(&OBJECTS, &object_key(bucket, key))?;
            let existed = old.is_some();
            Ok::<_, ObjectError>((
                existed,
                txn::discard(w, old.into_iter().flat_map(|o| o.segments))?,
            ))
        })?;
        self.blobs.remove(doomed);
        Ok(existed)
    }

    /// Changes an object's metadata (tags) in one transaction.
    pub fn update_object(
        &self,
        bucket: &str,
        key: &str,
        change: impl FnOnce(&mut ObjectRecord),
    ) -> Result<()> {
        self.store.write(|w| {
            w.get(&BUCKETS, bucket)?.ok_or(ObjectError::NoSuchBucket)?;
            let id = object_key(bucket, key);
            let mut object = w.get(&OBJECTS, &id)?.ok_or(ObjectError::NoSuchKey)?;
            change(&mut object);
            w.put(&OBJECTS, &id, &object)?;
            Ok(())
        })
    }

    // ---- multipart uploads

    pub fn create_upload(&self, record: UploadRecord) -> Result<String> {
        names::check_key(&record.key)?;
        self.bucket(&record.bucket)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.store.put(&UPLOADS, &id, &record)?;
        Ok(id)
    }

    /// The upload, checked against the bucket and key it was created for.
    pub fn upload(&self, id: &str, bucket: &str, key: &str) -> Result<UploadRecord> {
        match self.store.get(&UPLOADS, id)? {
            Some(u) if u.bucket == bucket && u.key == key => Ok(u),
            _ => {
                self.bucket(bucket)?;
                Err(ObjectError::NoSuchUpload)
            }
        }
    }

    /// Records a part (replacing one with the same number).
    pub fn put_part(
        &self,
        id: &str,
        bucket: &str,
        key: &str,
        number: u32,
        part: PartRecord,
    ) -> Result<()> {
        let blob = part.segment.blob.clone();
        let outcome = self.store.write(|w| {
            match w.get(&UPLOADS, id)? {
                Some(u) if u.bucket == bucket && u.key == key => {}
                _ => return Err(ObjectError::NoSuchUpload),
            }
            let old = w.get(&PARTS, &part_key(id, number))?;
            txn::store_segments(w, std::slice::from_ref(&part.segment))?;
            w.put(&PARTS, &part_key(id, number), &part)?;
            txn::discard(w, old.map(|p| p.segment))
        });
        self.finish_commit(outcome, vec![blob])
    }

    /// Parts with numbers above `after`, in order, at most `max`.
    pub fn parts(&self, id: &str, after: u32, max: usize) -> Result<Vec<(u32, PartRecord)>> {
        let start = part_key(id, after.saturating_add(1).min(99_999));
        let end = format!("{id}0");
        let rows = self.store.range(&PARTS, &start, Some(&end), max)?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, p)| {
                k.rsplit('/')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .map(|n| (n, p))
            })
            .collect())
    }

    /// Uploads in a bucket, ordered by key then id.
    pub fn uploads(&self, bucket: &str) -> Result<Vec<(String, UploadRecord)>> {
        let mut all: Vec<(String, UploadRecord)> = self
            .store
            .scan(&UPLOADS)?
            .into_iter()
            .filter(|(_, u)| u.bucket == bucket)
            .collect();
        all.sort_by(|a, b| (&a.1.key, &a.0).cmp(&(&b.1.key, &b.0)));
        Ok(all)
    }

    pub fn abort_upload(&self, id: &str, bucket: &str, key: &str) -> Result<()> {
        self.upload(id, bucket, key)?;
        let doomed = self
            .store
            .write(|w| txn::remove_upload(w, id, &HashSet::new()))?;
        self.blobs.remove(doomed);
        Ok(())
    }

    /// Assembles the listed parts into the object. `requested` holds (part number, ETag) as
    /// the client sent them.
    pub fn complete_upload(
        &self,
        id: &str,
        bucket: &str,
        key: &str,
        requested: &[(u32, String)],
        precondition: &Precondition,
    ) -> Result<ObjectRecord> {
        if requested.is_empty() {
            return Err(ObjectError::InvalidPart);
        }
        if requested.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(ObjectError::InvalidPartOrder);
        }
        let (record, doomed) = self.store.write(|w| {
            let upload = match w.get(&UPLOADS, id)? {
                Some(u) if u.bucket == bucket && u.key == key => u,
                _ => {
                    w.get(&BUCKETS, bucket)?.ok_or(ObjectError::NoSuchBucket)?;
                    return Err(ObjectError::NoSuchUpload);
                }
            };
            let mut segments = Vec::new();
            let mut md5s = Md5::new();
            let mut size = 0;
            for (i, (number, etag)) in requested.iter().enumerate() {
                let part = w
                    .get(&PARTS, &part_key(id, *number))?
                    .ok_or(ObjectError::InvalidPart)?;
                if part.etag != etag.trim_matches('"') {
                    return Err(ObjectError::InvalidPart);
                }
                if i + 1 < requested.len() && part.segment.size < MIN_PART_SIZE {
                    return Err(ObjectError::EntityTooSmall);
                }
                let raw: Vec<u8> = (0..part.etag.len() / 2)
                    .filter_map(|j| u8::from_str_radix(&part.etag[2 * j..2 * j + 2], 16).ok())
                    .collect();
                md5s.update(&raw);
                size += part.segment.size;
                segments.push(part.segment);
            }
            if size > self.max_object_size {
                return Err(ObjectError::EntityTooLarge {
                    max: self.max_object_size,
                });
            }
            let record = ObjectRecord {
                segments,
                size,
                etag: format!("{}-{}", hex::encode(md5s.finalize()), requested.len()),
                last_modified: self.clock.millis(),
                headers: upload.headers,
                metadata: upload.metadata,
                tags: upload.tags,
                // Per-part checksums are not the object's; composite ones are not computed.
                checksums: BTreeMap::new(),
                parts: Some(requested.len() as u32),
            };
            let oid = object_key(bucket, key);
            let old = w.get(&OBJECTS, &oid)?;
            precondition.check(old.as_ref())?;
            // Parts not named in the request are dropped with the upload.
            let used: HashSet<String> = record.segments.iter().map(|s| s.blob.clone()).collect();
            let mut doomed = txn::remove_upload(w, id, &used)?;
            doomed.extend(txn::discard(w, old.into_iter().flat_map(|o| o.segments))?);
            w.put(&OBJECTS, &oid, &record)?;
            Ok((record, doomed))
        })?;
        self.blobs.remove(doomed);
        Ok(record)
    }

    pub fn list(&self, bucket: &str, query: &list::ListQuery) -> Result<list::ListPage> {
        self.bucket(bucket)?;
        list::list(&self.store, bucket, query)
    }
}
