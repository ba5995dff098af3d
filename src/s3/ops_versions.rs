//! Versioning at the S3 edge: the bucket's state (Put/GetBucketVersioning), version ids in
//! requests (`versionId`) and answers (`x-amz-version-id`, `x-amz-delete-marker`), and
//! ListObjectVersions, which works on every bucket (a bucket never versioned lists each
//! object as its key's `null` version).

use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::backend::{S3Backend, etag, timestamp};
use super::ops_object::KeyEncoding;
use crate::objects::version_list::VersionQuery;
use crate::objects::{NULL_VERSION, ObjectError, ObjectRecord, Versioning};

/// A version id as a request names it: `null`, or one this store made (a UUID). Anything else
/// is not a version id at all (400 InvalidArgument, as S3 answers).
pub fn parse_version(version_id: Option<&str>) -> S3Result<Option<&str>> {
    match version_id {
        None => Ok(None),
        Some(id) if id == NULL_VERSION || uuid::Uuid::parse_str(id).is_ok() => Ok(Some(id)),
        Some(_) => Err(s3_error!(InvalidArgument, "Invalid version id specified")),
    }
}

/// The headers S3 adds to an answer about a delete marker.
fn marker_headers(version: &str) -> axum::http::HeaderMap {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        "x-amz-delete-marker",
        axum::http::HeaderValue::from_static("true"),
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(version) {
        headers.insert("x-amz-version-id", value);
    }
    headers
}

impl S3Backend {
    /// The version a read names (the current object without `versionId`). A delete marker
    /// cannot be read: 405 when named, 404 NoSuchKey when it hides the key, with the
    /// delete-marker headers either way.
    pub(super) fn object_at(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> S3Result<ObjectRecord> {
        let version = parse_version(version_id)?;
        match self.objects.head_version(bucket, key, version) {
            Ok(object) if object.delete_marker => {
                let mut e = s3_error!(
                    MethodNotAllowed,
                    "The specified method is not allowed against this resource."
                );
                e.set_headers(marker_headers(object.version()));
                Err(e)
            }
            Ok(object) => Ok(object),
            Err(ObjectError::NoSuchKey) => {
                let mut e = S3Error::from(ObjectError::NoSuchKey);
                if let Some(marker) = self.objects.latest_delete_marker(bucket, key)? {
                    e.set_headers(marker_headers(&marker));
                }
                Err(e)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The version a copy reads: as [`S3Backend::object_at`], but naming a delete marker is
    /// the request's mistake (400 InvalidRequest), as S3 answers.
    pub(super) fn copy_source(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> S3Result<ObjectRecord> {
        self.object_at(bucket, key, version_id).map_err(|e| {
            if *e.code() == s3s::S3ErrorCode::MethodNotAllowed {
                s3_error!(
                    InvalidRequest,
                    "The source of a copy request may not specifically refer to a delete marker by version id."
                )
            } else {
                e
            }
        })
    }

    pub(super) async fn op_put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let config = req.input.versioning_configuration;
        if config
            .mfa_delete
            .as_ref()
            .is_some_and(|m| m.as_str() == MFADelete::ENABLED)
        {
            return Err(s3_error!(
                NotImplemented,
                "MFA delete is not supported: there is no MFA device to check"
            ));
        }
        let state = match config.status.as_ref().map(|s| s.as_str()) {
            Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
            Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
            _ => {
                return Err(s3_error!(
                    MalformedXML,
                    "The versioning Status must be Enabled or Suspended"
                ));
            }
        };
        let bucket = req.input.bucket;
        self.write(move |o| o.set_versioning(&bucket, state))
            .await?;
        Ok(S3Response::new(PutBucketVersioningOutput::default()))
    }

    pub(super) async fn op_get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let bucket = self.objects.bucket(&req.input.bucket)?;
        let status = bucket.versioning.map(|v| {
            BucketVersioningStatus::from_static(match v {
                Versioning::Enabled => BucketVersioningStatus::ENABLED,
                Versioning::Suspended => BucketVersioningStatus::SUSPENDED,
            })
        });
        Ok(S3Response::new(GetBucketVersioningOutput {
            status,
            ..Default::default()
        }))
    }

    pub(super) async fn op_list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let input = req.input;
        let key_marker = input.key_marker.clone().filter(|m| !m.is_empty());
        let version_marker = input.version_id_marker.clone().filter(|m| !m.is_empty());
        if version_marker.is_some() && key_marker.is_none() {
            return Err(s3_error!(
                InvalidArgument,
                "A version-id marker cannot be specified without a key marker."
            ));
        }
        parse_version(version_marker.as_deref())?;
        let max = super::ops_object::page_size(input.max_keys)?;
        let query = VersionQuery {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone().filter(|d| !d.is_empty()),
            key_marker,
            version_marker,
            max_keys: max as usize,
        };
        let page = self.objects.list_versions(&input.bucket, &query)?;
        let encoding = KeyEncoding::of(input.encoding_type.as_ref());
        let enc = |s: &str| encoding.apply(s);
        let owner = self.bucket_owner(&input.bucket)?;
        let (mut versions, mut delete_markers) = (Vec::new(), Vec::new());
        for entry in &page.entries {
            let o = &entry.record;
            if o.delete_marker {
                delete_markers.push(DeleteMarkerEntry {
                    key: Some(enc(&entry.key)),
                    version_id: Some(o.version().to_owned()),
                    is_latest: Some(entry.latest),
                    last_modified: Some(timestamp(o.last_modified)),
                    owner: owner.clone(),
                });
                continue;
            }
            versions.push(ObjectVersion {
                key: Some(enc(&entry.key)),
                version_id: Some(o.version().to_owned()),
                is_latest: Some(entry.latest),
                e_tag: Some(etag(&o.etag)),
                last_modified: Some(timestamp(o.last_modified)),
                size: Some(o.size as i64),
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                checksum_algorithm: super::spec::checksum_algorithms_of(&o.checksums),
                checksum_type: super::spec::checksum_type_of(&o.checksums),
                owner: owner.clone(),
                ..Default::default()
            });
        }
        let common_prefixes = encoding.prefixes(&page.common_prefixes);
        let truncated = page.truncated;
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: Some(enc(input.prefix.as_deref().unwrap_or_default())),
            key_marker: Some(enc(input.key_marker.as_deref().unwrap_or_default())),
            version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
            delimiter: input.delimiter.as_deref().map(enc),
            max_keys: Some(max),
            is_truncated: Some(truncated),
            next_key_marker: page.next_key_marker.filter(|_| truncated).map(|k| enc(&k)),
            // A common prefix can end a page too; it has no version.
            next_version_id_marker: page.next_version_marker.filter(|_| truncated),
            versions: Some(versions),
            delete_markers: Some(delete_markers),
            common_prefixes: Some(common_prefixes),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }
}
