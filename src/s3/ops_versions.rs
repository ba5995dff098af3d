//! Object versions, as S3 answers them for a bucket whose versioning was never enabled: each
//! object is its key's only version, the `null` version. ListObjectVersions lists the objects
//! so (the call every "empty this bucket" tool makes first), and a request naming version
//! `null` names the object itself; any other version id names nothing.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::backend::{S3Backend, etag, timestamp};
use super::ops_object::KeyEncoding;

/// The one version id a never-versioned bucket has.
pub const NULL_VERSION: &str = "null";

/// Checks the version a request names (`versionId`) against the bucket's only version.
/// A well-formed id of another version does not exist (404 NoSuchVersion, as for a version
/// deleted since); anything else is not a version id at all (400 InvalidArgument).
pub fn check_version(version_id: Option<&str>) -> S3Result<()> {
    match version_id {
        None | Some(NULL_VERSION) => Ok(()),
        Some(id) if uuid::Uuid::parse_str(id).is_ok() => Err(s3_error!(
            NoSuchVersion,
            "The specified version does not exist."
        )),
        Some(_) => Err(s3_error!(InvalidArgument, "Invalid version id specified")),
    }
}

/// [`check_version`] for a delete: deleting a version that does not exist succeeds and
/// changes nothing (as deleting a missing key does), so only the `null` version deletes.
/// Returns whether the object itself is to be deleted.
pub fn deletes_object(version_id: Option<&str>) -> S3Result<bool> {
    match check_version(version_id) {
        Ok(()) => Ok(true),
        Err(e) if *e.code() == s3s::S3ErrorCode::NoSuchVersion => Ok(false),
        Err(e) => Err(e),
    }
}

impl S3Backend {
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
        check_version(version_marker.as_deref())?;
        // One version per key: after a key's null version (or after the key itself) comes the
        // next key.
        let (page, max) = self.list_page(
            &input.bucket,
            input.prefix.clone(),
            input.delimiter.clone(),
            key_marker,
            input.max_keys,
        )?;
        let encoding = KeyEncoding::of(input.encoding_type.as_ref());
        let enc = |s: &str| encoding.apply(s);
        let owner = self.bucket_owner(&input.bucket)?;
        let versions = page
            .objects
            .iter()
            .map(|(key, object)| ObjectVersion {
                key: Some(enc(key)),
                version_id: Some(NULL_VERSION.into()),
                is_latest: Some(true),
                e_tag: Some(etag(&object.etag)),
                last_modified: Some(timestamp(object.last_modified)),
                size: Some(object.size as i64),
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                owner: owner.clone(),
                ..Default::default()
            })
            .collect();
        let common_prefixes = encoding.prefixes(&page);
        let next_key_marker = page
            .truncated
            .then(|| page.last.as_deref().map(enc))
            .flatten();
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: Some(enc(input.prefix.as_deref().unwrap_or_default())),
            key_marker: Some(enc(input.key_marker.as_deref().unwrap_or_default())),
            version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
            delimiter: input.delimiter.as_deref().map(enc),
            max_keys: Some(max),
            is_truncated: Some(page.truncated),
            // A common prefix can end a page too; it has no version.
            next_version_id_marker: next_key_marker
                .as_ref()
                .filter(|_| {
                    page.last
                        .as_ref()
                        .is_some_and(|last| page.objects.last().is_some_and(|(key, _)| key == last))
                })
                .map(|_| NULL_VERSION.to_owned()),
            next_key_marker,
            versions: Some(versions),
            delete_markers: Some(Vec::new()),
            common_prefixes: Some(common_prefixes),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }
}
