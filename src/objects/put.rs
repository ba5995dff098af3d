//! The one way bytes enter the store: a body (or a range of a stored object) and a spec of
//! what it must hash to, which headers to keep and which preconditions to meet, in; an
//! outcome out. Bytes stream into a blob while every digest is computed in one pass; the
//! digests are checked before the blob gets its final name; only then does metadata commit.

use std::collections::BTreeMap;
use std::ops::Range;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::StreamExt;

use super::blob::Blob;
use super::checksum::{Checksums, Expected, Hasher};
use super::read::ReadError;
use super::txn::Change;
use super::{ObjectError, ObjectHeaders, ObjectRecord, ObjectStore, PartRecord, Precondition};
use super::{Result, names};

/// Why a client's body stream failed (a broken connection, a bad signature or framing),
/// as the protocol edge reported it.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A client's body.
pub type BodyStream =
    Pin<Box<dyn futures_util::Stream<Item = std::result::Result<Bytes, BodyError>> + Send>>;

/// Where the bytes come from.
pub enum Source {
    /// A client sends them.
    Body(BodyStream),
    /// Bytes `range` of a stored object (a copy).
    Copy {
        object: Box<ObjectRecord>,
        range: Range<u64>,
    },
}

/// Where the bytes go.
pub enum Target<'a> {
    Object {
        bucket: &'a str,
        key: &'a str,
    },
    /// A part of a multipart upload.
    Part {
        upload_id: &'a str,
        bucket: &'a str,
        key: &'a str,
        number: u32,
    },
}

/// What a write must check and keep besides the bytes. Parts keep only their digests.
#[derive(Default)]
pub struct PutSpec {
    pub expected: Expected,
    pub headers: ObjectHeaders,
    /// User metadata, names in lower case.
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<(String, String)>,
    pub precondition: Precondition,
    /// Canned ACL of the new object; none is `private`.
    pub acl: Option<String>,
    /// Object lock the write asks for (the bucket's default applies otherwise).
    pub lock: super::lock::LockSettings,
}

/// What was stored.
#[derive(Debug, Clone)]
pub struct PutOutcome {
    /// Hex MD5 of the bytes, without quotes.
    pub etag: String,
    pub size: u64,
    pub checksums: Checksums,
    /// Unix milliseconds.
    pub last_modified: u64,
    /// The new version's id, when the bucket is versioned (none for parts and `null`).
    pub version_id: Option<String>,
}

/// Bytes made durable (or ready to commit inline) after every check passed.
struct Received {
    blob: Blob,
    md5: [u8; 16],
    checksums: Checksums,
}

impl Received {
    fn outcome(&self, last_modified: u64) -> PutOutcome {
        PutOutcome {
            etag: hex::encode(self.md5),
            size: self.blob.size,
            checksums: self.checksums.clone(),
            last_modified,
            version_id: None,
        }
    }
}

impl ObjectStore {
    /// Stores bytes at `target`. Nothing of a body that fails a check, is cut short or exceeds
    /// the size limit is ever stored; a refused precondition leaves the old object in place.
    pub async fn put(
        &self,
        target: Target<'_>,
        source: Source,
        mut spec: PutSpec,
    ) -> Result<PutOutcome> {
        self.check_target(&target)?;
        let expected = std::mem::take(&mut spec.expected);
        let is_object = matches!(target, Target::Object { .. });
        let received = match source {
            Source::Body(body) => self.receive(body, expected).await?,
            Source::Copy { object, range } => {
                let compute = expected.algorithms();
                self.copy(&object, range, is_object, compute).await?
            }
        };
        let mut outcome = received.outcome(self.clock.millis());
        match target {
            Target::Object { bucket, key } => {
                let precondition = std::mem::take(&mut spec.precondition);
                let record = object_record(received, &outcome, spec);
                outcome.version_id = self
                    .commit_grouped(Change::Object {
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                        record: Box::new(record),
                        precondition,
                        limit: self.limit(bucket),
                    })
                    .await?;
            }
            Target::Part {
                upload_id,
                bucket,
                key,
                number,
            } => {
                let part = PartRecord {
                    segment: received.blob.segment(),
                    etag: outcome.etag.clone(),
                    last_modified: outcome.last_modified,
                    checksums: received.checksums,
                };
                self.commit_grouped(Change::Part {
                    upload_id: upload_id.to_owned(),
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    number,
                    part,
                })
                .await?;
            }
        }
        Ok(outcome)
    }

    /// Stores bytes in memory synchronously, with the same checks as [`ObjectStore::put`]
    /// (seeding, before the platform serves anything).
    pub fn put_blocking(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        mut spec: PutSpec,
    ) -> Result<PutOutcome> {
        self.check_target(&Target::Object { bucket, key })?;
        let received = self.receive_bytes(bytes, std::mem::take(&mut spec.expected))?;
        let mut outcome = received.outcome(self.clock.millis());
        let precondition = std::mem::take(&mut spec.precondition);
        outcome.version_id = self.commit(Change::Object {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            record: Box::new(object_record(received, &outcome, spec)),
            precondition,
            limit: self.limit(bucket),
        })?;
        Ok(outcome)
    }

    /// Refuses a write before any byte is read: a bad key, a missing bucket or upload.
    fn check_target(&self, target: &Target<'_>) -> Result<()> {
        match target {
            Target::Object { bucket, key } => {
                names::check_key(key)?;
                self.bucket(bucket).map(drop)
            }
            Target::Part {
                upload_id,
                bucket,
                key,
                ..
            } => self.upload(upload_id, bucket, key).map(drop),
        }
    }

    /// Streams a client's body into a blob, checked against what the client announced before
    /// the blob is named. A refused body is only ever a temp file, removed with its writer.
    async fn receive(&self, mut body: BodyStream, expected: Expected) -> Result<Received> {
        let max = self.max_object_size;
        if expected.length.is_some_and(|len| len > max) {
            return Err(ObjectError::EntityTooLarge { max });
        }
        let mut hasher = Hasher::new(expected.algorithms());
        let mut writer = self.blobs.writer(max);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(ObjectError::Body)?;
            hasher.update(&chunk);
            writer.write(&chunk).await?;
        }
        let digests = hasher.finish();
        let md5 = digests.md5;
        let checksums = expected.verify(writer.size(), digests)?;
        Ok(Received {
            blob: writer.finish().await?,
            md5,
            checksums,
        })
    }

    fn receive_bytes(&self, bytes: Vec<u8>, expected: Expected) -> Result<Received> {
        let max = self.max_object_size;
        if bytes.len() as u64 > max {
            return Err(ObjectError::EntityTooLarge { max });
        }
        let digests = Hasher::digest(expected.algorithms(), &bytes);
        let md5 = digests.md5;
        let checksums = expected.verify(bytes.len() as u64, digests)?;
        Ok(Received {
            blob: self.blobs.write_blocking(&bytes)?,
            md5,
            checksums,
        })
    }

    /// Copies bytes `range` of a stored object into a new blob. A whole copy of a single-part
    /// object may keep the checksums its source was stored with; the `compute` ones are
    /// computed on the copied bytes.
    async fn copy(
        &self,
        source: &ObjectRecord,
        range: Range<u64>,
        keep_checksums: bool,
        compute: Vec<super::ChecksumAlgorithm>,
    ) -> Result<Received> {
        let whole = range == (0..source.size) && source.parts.is_none();
        let mut stream = match self.read(&source.segments, range.start, range.end).await {
            Ok(stream) => stream,
            Err(ReadError::Gone) => return Err(ObjectError::CopySourceChanged),
            Err(ReadError::Failed(e)) => return Err(e),
        };
        let mut hasher = Hasher::new(compute);
        let mut writer = self.blobs.writer(self.max_object_size);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|source| ObjectError::Io {
                context: "reading a copy source",
                source,
            })?;
            hasher.update(&chunk);
            writer.write(&chunk).await?;
        }
        let digests = hasher.finish();
        let mut checksums = if keep_checksums && whole {
            source.checksums.clone()
        } else {
            Checksums::new()
        };
        checksums.extend(digests.checksums);
        Ok(Received {
            md5: digests.md5,
            blob: writer.finish().await?,
            checksums,
        })
    }
}

/// The record of a new single-part object.
fn object_record(received: Received, outcome: &PutOutcome, spec: PutSpec) -> ObjectRecord {
    ObjectRecord {
        segments: vec![received.blob.segment()],
        size: outcome.size,
        etag: outcome.etag.clone(),
        last_modified: outcome.last_modified,
        headers: spec.headers,
        metadata: spec.metadata,
        tags: spec.tags,
        checksums: received.checksums,
        parts: None,
        acl: spec.acl,
        version_id: None,
        delete_marker: false,
        noncurrent_since: None,
        retention: spec.lock.retention,
        legal_hold: spec.lock.legal_hold,
    }
}
