//! What the object store keeps in redb.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::blob::BlobId;
use super::checksum::Checksums;
use crate::store::Table;

/// A bucket and its configuration documents (kept as the JSON/XML text clients sent, parsed
/// by the S3 edge when needed).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BucketRecord {
    pub name: String,
    /// Unix milliseconds.
    pub created: u64,
    /// Who created it (access key or user name), for `ListBuckets` filtering.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub cors: Option<Vec<CorsRule>>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Canned ACL (`public-read`, …); none is `private`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Vec<super::lifecycle::LifecycleRule>>,
    /// None while versioning was never enabled (a state a bucket cannot return to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<Versioning>,
    /// Object lock, once enabled (it cannot be disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<super::lock::ObjectLock>,
    /// Object ownership controls (none: ACLs apply, as `ObjectWriter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership: Option<Ownership>,
}

/// S3's object ownership setting. With one account every object belongs to the bucket's
/// owner whatever the setting; what it changes is whether ACLs are accepted and honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ownership {
    /// ACLs are disabled: none is accepted (but private) and none grants anything.
    BucketOwnerEnforced,
    BucketOwnerPreferred,
    ObjectWriter,
}

/// A bucket's versioning state once it was first set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    /// Each write makes a new version; a delete adds a delete marker.
    Enabled,
    /// Writes replace the `null` version; versions made while enabled are kept.
    Suspended,
}

/// What a bucket refuses to make public (S3's PublicAccessBlockConfiguration).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    /// Refuse writes that set a public ACL.
    pub block_public_acls: bool,
    /// Let no public ACL grant anything.
    pub ignore_public_acls: bool,
    /// Refuse a public bucket policy.
    pub block_public_policy: bool,
    /// Let a public bucket policy grant nothing to anonymous callers.
    pub restrict_public_buckets: bool,
}

/// One CORS rule of a bucket, as S3's `CORSRule`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<i32>,
}

/// A piece of an object's bytes: a blob file. Single uploads have one, multipart objects one
/// per part, so completing an upload never copies bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub blob: BlobId,
    pub size: u64,
    /// Bytes of a small blob on its way into the database (never serialized: they live in
    /// [`INLINE`], written in the same transaction as the metadata that points at them).
    #[serde(skip)]
    pub data: Option<std::sync::Arc<Vec<u8>>>,
}

/// Standard headers stored with an object and replayed on GET/HEAD.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectHeaders {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    /// HTTP date text, as sent.
    pub expires: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub segments: Vec<Segment>,
    pub size: u64,
    /// Without quotes: hex MD5, or `<md5 of part md5s>-<parts>` for multipart objects.
    pub etag: String,
    /// Unix milliseconds.
    pub last_modified: u64,
    pub headers: ObjectHeaders,
    /// User metadata (`x-amz-meta-*`), names in lower case.
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<(String, String)>,
    /// Checksums the client announced or asked for; composite ones of multipart objects are
    /// not computed.
    pub checksums: Checksums,
    /// Number of parts, for multipart objects.
    pub parts: Option<u32>,
    /// Canned ACL (`public-read`, …); none is `private`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<String>,
    /// None is the `null` version (every object of a bucket never versioned, and writes to a
    /// suspended one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// A delete marker: a version with no bytes that hides the ones before it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_marker: bool,
    /// When a newer version replaced this one (Unix milliseconds), for lifecycle rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_since: Option<u64>,
    /// Object lock retention: no delete of this version before its date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<super::lock::Retention>,
    /// Object lock legal hold: no delete of this version while on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_hold: bool,
}

impl ObjectRecord {
    /// The version id clients see.
    pub fn version(&self) -> &str {
        self.version_id.as_deref().unwrap_or(NULL_VERSION)
    }

    /// A delete marker made at `now`.
    pub fn delete_marker(version_id: Option<String>, now: u64) -> Self {
        ObjectRecord {
            segments: Vec::new(),
            size: 0,
            etag: String::new(),
            last_modified: now,
            headers: ObjectHeaders::default(),
            metadata: BTreeMap::new(),
            tags: Vec::new(),
            checksums: Checksums::new(),
            parts: None,
            acl: None,
            version_id,
            delete_marker: true,
            noncurrent_since: None,
            retention: None,
            legal_hold: false,
        }
    }
}

/// The version id of objects written while versioning was off.
pub const NULL_VERSION: &str = "null";

/// A multipart upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadRecord {
    pub bucket: String,
    pub key: String,
    pub initiated: u64,
    pub headers: ObjectHeaders,
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<(String, String)>,
    pub owner: Option<String>,
    /// Canned ACL the completed object gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<String>,
    /// Object lock settings the completed object gets.
    #[serde(default)]
    pub lock: super::lock::LockSettings,
    /// The checksum every part carries and the completed object's composite is made of
    /// (`x-amz-checksum-algorithm` at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<super::ChecksumAlgorithm>,
    /// The object's checksum is of its whole bytes (the parts' CRCs combined), not composite.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full_object_checksum: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartRecord {
    pub segment: Segment,
    /// Hex MD5 of the part.
    pub etag: String,
    pub last_modified: u64,
    pub checksums: Checksums,
}

pub const BUCKETS: Table<BucketRecord> = Table::new("s3_buckets");
/// Keyed `bucket/key`: bucket names have no `/`, so one bucket's keys are one ordered range.
pub const OBJECTS: Table<ObjectRecord> = Table::new("s3_objects");
/// Every version of a key but the current object: noncurrent versions and delete markers,
/// keyed `bucket/key\0<16 hex digits>` where the digits fall as versions get newer, so a key's
/// versions are one range, newest first (keys hold no NUL). The current object, when the
/// newest version is not a delete marker, is in [`OBJECTS`], so reads and listings of current
/// objects never see this table.
pub const VERSIONS: Table<ObjectRecord> = Table::new("s3_versions");
/// Keyed by upload id.
pub const UPLOADS: Table<UploadRecord> = Table::new("s3_uploads");
/// Keyed `upload_id/00042` (part numbers zero-padded, so parts sort in order).
pub const PARTS: Table<PartRecord> = Table::new("s3_parts");

/// Bytes of small blobs, keyed by blob id: one database commit makes a small object durable.
pub const INLINE: crate::store::RawTable = crate::store::RawTable::new("s3_inline");

/// Seed items already created once (so a bucket a user deleted is not recreated).
pub const SEEDED: Table<u64> = Table::new("s3_seeded");

pub fn object_key(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

pub fn part_key(upload_id: &str, part: u32) -> String {
    format!("{upload_id}/{part:05}")
}
