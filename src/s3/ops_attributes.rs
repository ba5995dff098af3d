//! GetObjectAttributes: what a client asks to know of an object without reading it (its
//! ETag, size, storage class, whole-object checksum, and part count).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::backend::{S3Backend, etag, timestamp};
use crate::objects::checksum::in_order;

const KNOWN: [&str; 5] = [
    ObjectAttributes::ETAG,
    ObjectAttributes::CHECKSUM,
    ObjectAttributes::OBJECT_PARTS,
    ObjectAttributes::OBJECT_SIZE,
    ObjectAttributes::STORAGE_CLASS,
];

impl S3Backend {
    pub(super) async fn op_get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let input = req.input;
        // One header of comma-separated names (boto3) or one header per name (the Rust SDK).
        let asked: Vec<&str> = input
            .object_attributes
            .iter()
            .flat_map(|a| a.as_str().split(','))
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .collect();
        if asked.is_empty() {
            return Err(s3_error!(
                InvalidArgument,
                "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty"
            ));
        }
        if let Some(unknown) = asked.iter().find(|a| !KNOWN.contains(a)) {
            return Err(s3_error!(
                InvalidArgument,
                "Invalid attribute name specified: {unknown}"
            ));
        }
        let object = self.object_at(&input.bucket, &input.key, input.version_id.as_deref())?;
        let wants = |name: &str| asked.contains(&name);
        let mut out = GetObjectAttributesOutput {
            last_modified: Some(timestamp(object.last_modified)),
            version_id: object.version_id.clone(),
            ..Default::default()
        };
        if wants(ObjectAttributes::ETAG) {
            out.e_tag = Some(etag(&object.etag));
        }
        if wants(ObjectAttributes::OBJECT_SIZE) {
            out.object_size = Some(object.size as i64);
        }
        if wants(ObjectAttributes::STORAGE_CLASS) {
            out.storage_class = Some(StorageClass::from_static(StorageClass::STANDARD));
        }
        let [crc32, crc32c, sha1, sha256, crc64nvme] = in_order(&object.checksums);
        if wants(ObjectAttributes::CHECKSUM)
            && [&crc32, &crc32c, &sha1, &sha256, &crc64nvme]
                .iter()
                .any(|c| c.is_some())
        {
            out.checksum = Some(Checksum {
                checksum_crc32: crc32,
                checksum_crc32c: crc32c,
                checksum_sha1: sha1,
                checksum_sha256: sha256,
                checksum_crc64nvme: crc64nvme,
                checksum_type: super::spec::checksum_type_of(&object.checksums),
            });
        }
        if wants(ObjectAttributes::OBJECT_PARTS)
            && let Some(count) = object.parts
        {
            out.object_parts = Some(GetObjectAttributesParts {
                total_parts_count: Some(count as i32),
                ..Default::default()
            });
        }
        Ok(S3Response::new(out))
    }
}
