//! The object store core: buckets, objects, multipart uploads. Metadata in redb, bytes in blob
//! files. Knows nothing of HTTP or S3's wire format; `crate::s3` maps S3 requests onto it.

mod blob;
pub mod checksum;
pub mod lifecycle;
pub mod list;
pub mod lock;
mod model;
mod multipart;
pub mod names;
mod put;
#[cfg(test)]
mod put_tests;
mod read;
mod txn;
pub mod usage;
pub mod version_list;
pub mod versions;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use crate::clock::Clock;
use crate::store::{Store, StoreError};
use blob::{BlobId, BlobStore};
pub use checksum::{ChecksumAlgorithm, Checksums, Expected};
pub use model::*;
pub use multipart::{CompletedPart, MAX_PARTS};
pub use put::{BodyError, BodyStream, PutOutcome, PutSpec, Source, Target};
pub use read::{ByteStream, ReadError};
pub use usage::BucketUsage;
pub use versions::Deleted;

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
    #[error("The specified version does not exist")]
    NoSuchVersion,
    #[error("The specified method is not allowed against a delete marker")]
    DeleteMarker,
    #[error("Object is WORM protected and cannot be overwritten or deleted")]
    ObjectLocked,
    #[error("Bucket is missing Object Lock Configuration")]
    NoObjectLock,
    #[error("{0}")]
    InvalidBucketState(&'static str),
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
    #[error("The Content-MD5 you specified is not valid")]
    InvalidContentMd5,
    #[error("The Content-MD5 you specified did not match what we received")]
    ContentMd5Mismatch,
    #[error("The {} you specified did not match the calculated checksum", .0.name())]
    ChecksumMismatch(ChecksumAlgorithm),
    #[error("Unsupported checksum algorithm")]
    UnsupportedChecksum,
    #[error("You did not provide the number of bytes specified by the Content-Length HTTP header")]
    IncompleteBody,
    /// The client's body stream failed; the protocol edge knows what its error means.
    #[error("the request body failed")]
    Body(#[source] BodyError),
    #[error("The copy source changed while it was read; try again")]
    CopySourceChanged,
    #[error("storage I/O: {context}")]
    Io {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the commit thread has stopped")]
    CommitterStopped,
    /// The transaction this write shared with others failed.
    #[error("Bucket quota exceeded: {bucket} may hold {limit} bytes")]
    QuotaExceeded { bucket: String, limit: u64 },
    #[error("a grouped commit failed")]
    GroupCommit(#[source] Arc<ObjectError>),
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
    blobs: BlobStore,
    max_object_size: u64,
    /// Object and upload times.
    clock: Clock,
    /// Queue of the group-commit thread, which stops when the store is dropped.
    committer: std::sync::Mutex<std::sync::mpsc::Sender<txn::CommitJob>>,
    /// Bytes a bucket may hold, over all its versions (set by whoever owns the limits).
    limits: std::sync::RwLock<HashMap<String, u64>>,
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
            .map_err(|source| ObjectError::Io {
                context: "starting the commit thread",
                source,
            })?;
        let objects = ObjectStore {
            store,
            blobs,
            max_object_size,
            clock,
            committer: std::sync::Mutex::new(jobs),
            limits: Default::default(),
        };
        let (referenced, usage) = objects.scan_versions()?;
        usage::rebuild(&objects.store, &usage)?;
        let swept = objects.blobs.sweep(&referenced);
        if swept > 0 {
            tracing::info!(files = swept, "removed unreferenced object files");
        }
        Ok(objects)
    }

    /// Now, on the store's clock (Unix milliseconds).
    pub fn now(&self) -> u64 {
        self.clock.millis()
    }

    /// Every blob a version or a part references, and each bucket's usage, in one scan.
    fn scan_versions(&self) -> Result<(HashSet<BlobId>, BTreeMap<String, BucketUsage>)> {
        let mut set = HashSet::new();
        let mut totals = BTreeMap::new();
        for table in [&OBJECTS, &VERSIONS] {
            for (row, o) in self.store.scan(table)? {
                usage::tally(&mut totals, &row, &o);
                set.extend(o.segments.into_iter().map(|s| s.blob));
            }
        }
        for (_, p) in self.store.scan(&PARTS)? {
            set.insert(p.segment.blob);
        }
        Ok((set, totals))
    }

    /// Sets the byte limits of buckets (every version counted); a bucket not named has none.
    /// Writes that would take a bucket past its limit are refused (`QuotaExceeded`); what is
    /// already stored stays.
    pub fn set_limits(&self, limits: HashMap<String, u64>) {
        *crate::sync::write(&self.limits) = limits;
    }

    /// The byte limit of a bucket, if it has one.
    pub fn limit(&self, bucket: &str) -> Option<u64> {
        crate::sync::read(&self.limits).get(bucket).copied()
    }

    /// What a bucket holds now (`NoSuchBucket` when there is no such bucket).
    pub fn usage(&self, bucket: &str) -> Result<BucketUsage> {
        let mut snapshot = self.store.snapshot()?;
        if snapshot.get(&BUCKETS, bucket)?.is_none() {
            return Err(ObjectError::NoSuchBucket);
        }
        usage::of(&mut snapshot, bucket)
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
        self.create_bucket_as(BucketRecord {
            name: name.to_owned(),
            owner: owner.map(str::to_owned),
            ..Default::default()
        })
    }

    /// Creates a bucket with its first configuration (ACL, object lock) in one transaction;
    /// its creation time is now.
    pub fn create_bucket_as(&self, mut record: BucketRecord) -> Result<()> {
        names::check_bucket(&record.name)?;
        record.created = self.clock.millis();
        self.store.write(|w| {
            if let Some(existing) = w.get(&BUCKETS, &record.name)? {
                return Err(if existing.owner == record.owner {
                    ObjectError::BucketAlreadyOwnedByYou
                } else {
                    ObjectError::BucketAlreadyExists
                });
            }
            w.put(&BUCKETS, &record.name, &record)?;
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

    /// Sets a bucket's versioning state (it never returns to "never enabled"). A bucket with
    /// object lock stays enabled.
    pub fn set_versioning(&self, name: &str, state: Versioning) -> Result<()> {
        self.store.write(|w| {
            let mut bucket = w.get(&BUCKETS, name)?.ok_or(ObjectError::NoSuchBucket)?;
            if bucket.object_lock.is_some() && state != Versioning::Enabled {
                return Err(ObjectError::InvalidBucketState(
                    "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed",
                ));
            }
            bucket.versioning = Some(state);
            w.put(&BUCKETS, name, &bucket)?;
            Ok(())
        })
    }

    /// Deletes an empty bucket (no object, no version, no delete marker); its unfinished
    /// multipart uploads are aborted with it.
    pub fn delete_bucket(&self, name: &str) -> Result<()> {
        let (start, end) = bucket_range(name);
        self.write_then_reap(Vec::new(), |w| {
            w.get(&BUCKETS, name)?.ok_or(ObjectError::NoSuchBucket)?;
            if !w.range(&OBJECTS, &start, &end, 1)?.is_empty() || versions::any_in_bucket(w, name)?
            {
                return Err(ObjectError::BucketNotEmpty);
            }
            // No other write commits meanwhile, so this list is complete.
            let mut unreferenced = Vec::new();
            for (id, _) in self.uploads(name)? {
                unreferenced.extend(txn::remove_upload(w, &id, &HashSet::new())?);
            }
            w.remove(&BUCKETS, name)?;
            w.remove(&usage::USAGE, name)?;
            Ok(((), unreferenced))
        })
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

    /// A version of an object: the current one (`None`), or the one with this id, which may
    /// be a delete marker.
    pub fn head_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<ObjectRecord> {
        names::check_lookup_key(key)?;
        match version {
            None => self.head(bucket, key),
            Some(v) => match versions::find(&self.store, bucket, key, v) {
                Err(ObjectError::NoSuchVersion) => {
                    self.bucket(bucket)?;
                    Err(ObjectError::NoSuchVersion)
                }
                found => found,
            },
        }
    }

    /// Runs a write transaction that may make blobs unreferenced (it returns their ids), and
    /// removes their files once it committed; if it failed, the `fresh` blobs it would have
    /// referenced are removed instead. The one place blob files are deleted after a write.
    fn write_then_reap<T>(
        &self,
        fresh: Vec<BlobId>,
        change: impl FnOnce(&mut crate::store::Writer<'_>) -> Result<(T, Vec<BlobId>)>,
    ) -> Result<T> {
        self.reap(self.store.write(change), fresh)
    }

    fn reap<T>(&self, outcome: Result<(T, Vec<BlobId>)>, fresh: Vec<BlobId>) -> Result<T> {
        match outcome {
            Ok((value, unreferenced)) => {
                self.blobs.remove(unreferenced);
                Ok(value)
            }
            Err(e) => {
                self.blobs.remove(fresh);
                Err(e)
            }
        }
    }

    /// Commits new bytes (an object or a part) in a transaction of its own. File blobs must
    /// already be durable; inline bytes are written in the same transaction.
    fn commit(&self, mut change: txn::Change) -> Result<Option<String>> {
        self.write_then_reap(change.fresh(), |w| change.commit(w))
    }

    /// Like [`ObjectStore::commit`], but on the commit thread, where concurrent callers share
    /// one database transaction (group commit): many small writes cost one fsync, and no async
    /// worker waits for the disk.
    async fn commit_grouped(&self, change: txn::Change) -> Result<Option<String>> {
        let fresh = change.fresh();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = txn::CommitJob { change, reply };
        let sent = crate::sync::lock(&self.committer).send(job).is_ok();
        let outcome = if sent {
            answer.await.unwrap_or(Err(ObjectError::CommitterStopped))
        } else {
            Err(ObjectError::CommitterStopped)
        };
        self.reap(outcome, fresh)
    }

    /// Bytes of an inline blob; `None` once its object was replaced or deleted.
    fn inline_bytes(&self, id: &BlobId) -> Result<Option<Vec<u8>>> {
        Ok(self.store.get_raw(&INLINE, id.as_str())?)
    }

    /// Deletes an object as the bucket's versioning wants (see [`versions::delete_current`]),
    /// or one version when `version` names it. Deleting a missing key or version is not an
    /// error (S3 answers 204 either way): the answer is then `None`.
    /// A locked version is not deleted (`ObjectLocked`) unless `bypass_governance` lifts its
    /// GOVERNANCE retention.
    pub fn delete(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        bypass_governance: bool,
    ) -> Result<Option<Deleted>> {
        names::check_lookup_key(key)?;
        let now = self.clock.millis();
        let at = versions::Override {
            now,
            bypass_governance,
        };
        self.write_then_reap(Vec::new(), |w| {
            let versioning = w
                .get(&BUCKETS, bucket)?
                .ok_or(ObjectError::NoSuchBucket)?
                .versioning;
            match version {
                None => versions::delete_current(w, versioning, bucket, key, now),
                Some(v) => versions::delete_version(w, bucket, key, v, at),
            }
        })
    }

    /// Deletes the current object if it is still the one `judged` accepts (a sweep's decision
    /// must not reach an object written since), as a client's delete would (a delete marker in
    /// a versioned bucket); returns whether it did.
    pub fn delete_if(
        &self,
        bucket: &str,
        key: &str,
        judged: impl FnOnce(&ObjectRecord) -> bool,
    ) -> Result<bool> {
        let now = self.clock.millis();
        self.write_then_reap(Vec::new(), |w| {
            let Some(record) = w.get(&BUCKETS, bucket)? else {
                return Ok((false, Vec::new()));
            };
            match w.get(&OBJECTS, &object_key(bucket, key))? {
                Some(object) if judged(&object) => {
                    let (_, unreferenced) =
                        versions::delete_current(w, record.versioning, bucket, key, now)?;
                    Ok((true, unreferenced))
                }
                _ => Ok((false, Vec::new())),
            }
        })
    }

    /// Changes an object's metadata (tags, ACL) in one transaction: the current object, or
    /// the version `version` names.
    pub fn update_object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        change: impl FnOnce(&mut ObjectRecord),
    ) -> Result<()> {
        names::check_lookup_key(key)?;
        self.store.write(|w| {
            w.get(&BUCKETS, bucket)?.ok_or(ObjectError::NoSuchBucket)?;
            versions::change(w, bucket, key, version, |object| {
                change(object);
                Ok(())
            })
        })
    }

    pub fn list(&self, bucket: &str, query: &list::ListQuery) -> Result<list::ListPage> {
        self.bucket(bucket)?;
        list::list(&self.store, bucket, query)
    }

    /// Every current object of `bucket`, in key order: all the pages of [`Self::list`].
    pub fn current_objects(&self, bucket: &str) -> Result<Vec<(String, ObjectRecord)>> {
        let mut all = Vec::new();
        let mut query = list::ListQuery {
            max_keys: 1000,
            ..Default::default()
        };
        loop {
            let page = self.list(bucket, &query)?;
            all.extend(page.objects);
            if !page.truncated {
                return Ok(all);
            }
            query.after = page.last;
        }
    }

    pub fn list_versions(
        &self,
        bucket: &str,
        query: &version_list::VersionQuery,
    ) -> Result<version_list::VersionPage> {
        self.bucket(bucket)?;
        version_list::list_versions(&self.store, bucket, query)
    }

    /// The id of the delete marker that hides a key, if one does (asked after a read found no
    /// current object).
    pub fn latest_delete_marker(&self, bucket: &str, key: &str) -> Result<Option<String>> {
        let mut snapshot = self.store.snapshot()?;
        if snapshot.get(&OBJECTS, &object_key(bucket, key))?.is_some() {
            return Ok(None);
        }
        Ok(versions::newest_row(&mut snapshot, bucket, key)?
            .filter(|(_, v)| v.delete_marker)
            .map(|(_, v)| v.version().to_owned()))
    }
}
