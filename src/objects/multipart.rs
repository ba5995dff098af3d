//! Multipart uploads: parts are blobs of their own, and completion points the object at them
//! (no byte is copied).

use std::collections::HashSet;

use md5::{Digest, Md5};

use super::blob::BlobId;
use super::checksum::{self, Checksums};
use super::{BUCKETS, OBJECTS, PARTS, UPLOADS, object_key, part_key};
use super::{ObjectError, ObjectRecord, ObjectStore, PartRecord, Precondition, Result};
use super::{UploadRecord, names, txn, usage, versions};

/// Smallest size of every part but the last, as S3 enforces at completion.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
pub const MAX_PARTS: u32 = 10_000;

/// A part as CompleteMultipartUpload lists it: its number, ETag and any checksums the
/// client names for it (each must be the part's).
#[derive(Debug, Clone)]
pub struct CompletedPart {
    pub number: u32,
    pub etag: String,
    pub checksums: Checksums,
}

/// The checksum of a completed upload that named an algorithm: of the whole bytes (the parts'
/// CRCs combined) or composite (of the parts' checksums), checked against the one the client
/// named for the whole object, if any.
fn object_checksums(
    upload: &UploadRecord,
    parts: &[(String, u64)],
    whole: &Checksums,
) -> Result<Checksums> {
    let Some(algorithm) = upload.checksum_algorithm else {
        return Ok(Checksums::new());
    };
    let value = if upload.full_object_checksum {
        let parts: Vec<(&str, u64)> = parts.iter().map(|(v, n)| (v.as_str(), *n)).collect();
        checksum::combined(algorithm, &parts)
    } else {
        let values: Vec<&str> = parts.iter().map(|(v, _)| v.as_str()).collect();
        checksum::composite(algorithm, &values)
    }
    .ok_or(ObjectError::InvalidPart)?;
    if whole.get(&algorithm).is_some_and(|named| *named != value) {
        return Err(ObjectError::ChecksumMismatch(algorithm));
    }
    if whole.keys().any(|a| *a != algorithm) {
        return Err(ObjectError::UnsupportedChecksum);
    }
    Ok(Checksums::from([(algorithm, value)]))
}

impl ObjectStore {
    /// Starts an upload (its `initiated` time is now); returns its id.
    pub fn create_upload(&self, mut record: UploadRecord) -> Result<String> {
        names::check_key(&record.key)?;
        let bucket = self.bucket(&record.bucket)?;
        record.lock.allowed_in(&bucket)?;
        record.initiated = self.clock.millis();
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
        self.write_then_reap(Vec::new(), |w| {
            Ok(((), txn::remove_upload(w, id, &HashSet::new())?))
        })
    }

    /// Assembles the listed parts into the object, as the client listed them.
    pub fn complete_upload(
        &self,
        id: &str,
        bucket: &str,
        key: &str,
        requested: &[CompletedPart],
        whole: &Checksums,
        precondition: &Precondition,
    ) -> Result<ObjectRecord> {
        if requested.is_empty() {
            return Err(ObjectError::InvalidPart);
        }
        if requested.windows(2).any(|w| w[0].number >= w[1].number) {
            return Err(ObjectError::InvalidPartOrder);
        }
        let limit = self.limit(bucket);
        self.write_then_reap(Vec::new(), |w| {
            let bucket_record = w.get(&BUCKETS, bucket)?.ok_or(ObjectError::NoSuchBucket)?;
            let upload = match w.get(&UPLOADS, id)? {
                Some(u) if u.bucket == bucket && u.key == key => u,
                _ => return Err(ObjectError::NoSuchUpload),
            };
            let mut segments = Vec::new();
            let mut md5s = Md5::new();
            let mut size = 0;
            let mut part_checksums = Vec::new();
            for (i, asked) in requested.iter().enumerate() {
                let part = w
                    .get(&PARTS, &part_key(id, asked.number))?
                    .ok_or(ObjectError::InvalidPart)?;
                if part.etag != asked.etag.trim_matches('"')
                    || asked
                        .checksums
                        .iter()
                        .any(|(a, value)| part.checksums.get(a) != Some(value))
                {
                    return Err(ObjectError::InvalidPart);
                }
                if let Some(algorithm) = upload.checksum_algorithm {
                    let value = part.checksums.get(&algorithm).cloned();
                    let value = value.ok_or(ObjectError::InvalidPart)?;
                    part_checksums.push((value, part.segment.size));
                }
                if i + 1 < requested.len() && part.segment.size < MIN_PART_SIZE {
                    return Err(ObjectError::EntityTooSmall);
                }
                // The ETag is the MD5 of the MD5s of the parts.
                md5s.update(hex::decode(&part.etag).unwrap_or_default());
                size += part.segment.size;
                segments.push(part.segment);
            }
            if size > self.max_object_size {
                return Err(ObjectError::EntityTooLarge {
                    max: self.max_object_size,
                });
            }
            let checksums = object_checksums(&upload, &part_checksums, whole)?;
            let mut record = ObjectRecord {
                segments,
                size,
                etag: format!("{}-{}", hex::encode(md5s.finalize()), requested.len()),
                last_modified: self.clock.millis(),
                headers: upload.headers,
                metadata: upload.metadata,
                tags: upload.tags,
                checksums,
                parts: Some(requested.len() as u32),
                acl: upload.acl,
                version_id: None,
                delete_marker: false,
                noncurrent_since: None,
                retention: upload.lock.retention,
                legal_hold: upload.lock.legal_hold,
            };
            let current = w.get(&OBJECTS, &object_key(bucket, key))?;
            precondition.check(current.as_ref())?;
            usage::admit(w, &bucket_record, current.as_ref(), size, limit)?;
            // Parts not named in the request are dropped with the upload.
            let used: HashSet<BlobId> = record.segments.iter().map(|s| s.blob.clone()).collect();
            let mut unreferenced = txn::remove_upload(w, id, &used)?;
            let now = record.last_modified;
            unreferenced.extend(versions::install(
                w,
                &bucket_record,
                key,
                &mut record,
                current,
                now,
            )?);
            Ok((record, unreferenced))
        })
    }
}
