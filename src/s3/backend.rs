//! The `s3s::S3` implementation: each operation maps an S3 request onto the object store.
//! Authorization happened before (see `access.rs`); the principal is in the extensions.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

use super::principal::Principal;
use crate::objects::{ObjectError, ObjectStore};

pub struct S3Backend {
    pub objects: Arc<ObjectStore>,
    pub region: String,
}

impl S3Backend {
    /// Runs an object-store operation that writes redb (and fsyncs) on the blocking pool, so
    /// the async worker serving the request does not wait for the disk.
    pub(super) async fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&ObjectStore) -> Result<T, ObjectError> + Send + 'static,
    ) -> S3Result<T> {
        let objects = self.objects.clone();
        match crate::blocking::run(move || op(&objects)).await {
            Ok(result) => Ok(result?),
            Err(e) => {
                tracing::error!(error = %crate::markup::chain(&e), "object store failure");
                Err(s3s::s3_error!(
                    InternalError,
                    "storage failure, see the server log"
                ))
            }
        }
    }
}

pub fn timestamp(millis: u64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(millis))
}

pub fn millis(ts: &Timestamp) -> u64 {
    let t: time::OffsetDateTime = ts.clone().into();
    (t.unix_timestamp_nanos() / 1_000_000).max(0) as u64
}

pub fn etag(value: &str) -> ETag {
    ETag::Strong(value.to_owned())
}

/// Who is asking, as `access.rs` recorded it.
pub fn principal<T>(req: &S3Request<T>) -> Principal {
    req.extensions
        .get::<Principal>()
        .cloned()
        .unwrap_or(Principal::Anonymous)
}

macro_rules! forward {
    ($($op:ident / $inherent:ident : $input:ty => $output:ty;)*) => {
        #[async_trait::async_trait]
        impl S3 for S3Backend {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.$inherent(req).await
                }
            )*
        }
    };
}

forward! {
    list_buckets / op_list_buckets: ListBucketsInput => ListBucketsOutput;
    create_bucket / op_create_bucket: CreateBucketInput => CreateBucketOutput;
    head_bucket / op_head_bucket: HeadBucketInput => HeadBucketOutput;
    delete_bucket / op_delete_bucket: DeleteBucketInput => DeleteBucketOutput;
    get_bucket_location / op_get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput;
    get_bucket_tagging / op_get_bucket_tagging: GetBucketTaggingInput => GetBucketTaggingOutput;
    put_bucket_tagging / op_put_bucket_tagging: PutBucketTaggingInput => PutBucketTaggingOutput;
    delete_bucket_tagging / op_delete_bucket_tagging: DeleteBucketTaggingInput => DeleteBucketTaggingOutput;
    get_bucket_cors / op_get_bucket_cors: GetBucketCorsInput => GetBucketCorsOutput;
    put_bucket_cors / op_put_bucket_cors: PutBucketCorsInput => PutBucketCorsOutput;
    delete_bucket_cors / op_delete_bucket_cors: DeleteBucketCorsInput => DeleteBucketCorsOutput;
    get_bucket_policy / op_get_bucket_policy: GetBucketPolicyInput => GetBucketPolicyOutput;
    put_bucket_policy / op_put_bucket_policy: PutBucketPolicyInput => PutBucketPolicyOutput;
    delete_bucket_policy / op_delete_bucket_policy: DeleteBucketPolicyInput => DeleteBucketPolicyOutput;
    get_bucket_versioning / op_get_bucket_versioning: GetBucketVersioningInput => GetBucketVersioningOutput;
    put_bucket_versioning / op_put_bucket_versioning: PutBucketVersioningInput => PutBucketVersioningOutput;
    put_bucket_ownership_controls / op_put_bucket_ownership_controls: PutBucketOwnershipControlsInput => PutBucketOwnershipControlsOutput;
    get_bucket_ownership_controls / op_get_bucket_ownership_controls: GetBucketOwnershipControlsInput => GetBucketOwnershipControlsOutput;
    delete_bucket_ownership_controls / op_delete_bucket_ownership_controls: DeleteBucketOwnershipControlsInput => DeleteBucketOwnershipControlsOutput;
    get_bucket_request_payment / op_get_bucket_request_payment: GetBucketRequestPaymentInput => GetBucketRequestPaymentOutput;
    get_bucket_accelerate_configuration / op_get_bucket_accelerate_configuration: GetBucketAccelerateConfigurationInput => GetBucketAccelerateConfigurationOutput;
    get_bucket_logging / op_get_bucket_logging: GetBucketLoggingInput => GetBucketLoggingOutput;
    get_bucket_notification_configuration / op_get_bucket_notification_configuration: GetBucketNotificationConfigurationInput => GetBucketNotificationConfigurationOutput;
    get_bucket_website / op_get_bucket_website: GetBucketWebsiteInput => GetBucketWebsiteOutput;
    get_bucket_replication / op_get_bucket_replication: GetBucketReplicationInput => GetBucketReplicationOutput;
    get_bucket_encryption / op_get_bucket_encryption: GetBucketEncryptionInput => GetBucketEncryptionOutput;
    put_object_lock_configuration / op_put_object_lock_configuration: PutObjectLockConfigurationInput => PutObjectLockConfigurationOutput;
    get_object_lock_configuration / op_get_object_lock_configuration: GetObjectLockConfigurationInput => GetObjectLockConfigurationOutput;
    put_object_retention / op_put_object_retention: PutObjectRetentionInput => PutObjectRetentionOutput;
    get_object_retention / op_get_object_retention: GetObjectRetentionInput => GetObjectRetentionOutput;
    put_object_legal_hold / op_put_object_legal_hold: PutObjectLegalHoldInput => PutObjectLegalHoldOutput;
    get_object_legal_hold / op_get_object_legal_hold: GetObjectLegalHoldInput => GetObjectLegalHoldOutput;
    get_bucket_acl / op_get_bucket_acl: GetBucketAclInput => GetBucketAclOutput;
    put_bucket_acl / op_put_bucket_acl: PutBucketAclInput => PutBucketAclOutput;
    get_object_acl / op_get_object_acl: GetObjectAclInput => GetObjectAclOutput;
    put_object_acl / op_put_object_acl: PutObjectAclInput => PutObjectAclOutput;
    put_public_access_block / op_put_public_access_block: PutPublicAccessBlockInput => PutPublicAccessBlockOutput;
    get_public_access_block / op_get_public_access_block: GetPublicAccessBlockInput => GetPublicAccessBlockOutput;
    delete_public_access_block / op_delete_public_access_block: DeletePublicAccessBlockInput => DeletePublicAccessBlockOutput;
    put_bucket_lifecycle_configuration / op_put_bucket_lifecycle_configuration: PutBucketLifecycleConfigurationInput => PutBucketLifecycleConfigurationOutput;
    get_bucket_lifecycle_configuration / op_get_bucket_lifecycle_configuration: GetBucketLifecycleConfigurationInput => GetBucketLifecycleConfigurationOutput;
    delete_bucket_lifecycle / op_delete_bucket_lifecycle: DeleteBucketLifecycleInput => DeleteBucketLifecycleOutput;
    get_bucket_policy_status / op_get_bucket_policy_status: GetBucketPolicyStatusInput => GetBucketPolicyStatusOutput;
    put_object / op_put_object: PutObjectInput => PutObjectOutput;
    get_object / op_get_object: GetObjectInput => GetObjectOutput;
    head_object / op_head_object: HeadObjectInput => HeadObjectOutput;
    get_object_attributes / op_get_object_attributes: GetObjectAttributesInput => GetObjectAttributesOutput;
    delete_object / op_delete_object: DeleteObjectInput => DeleteObjectOutput;
    delete_objects / op_delete_objects: DeleteObjectsInput => DeleteObjectsOutput;
    copy_object / op_copy_object: CopyObjectInput => CopyObjectOutput;
    list_objects / op_list_objects: ListObjectsInput => ListObjectsOutput;
    list_objects_v2 / op_list_objects_v2: ListObjectsV2Input => ListObjectsV2Output;
    list_object_versions / op_list_object_versions: ListObjectVersionsInput => ListObjectVersionsOutput;
    get_object_tagging / op_get_object_tagging: GetObjectTaggingInput => GetObjectTaggingOutput;
    put_object_tagging / op_put_object_tagging: PutObjectTaggingInput => PutObjectTaggingOutput;
    delete_object_tagging / op_delete_object_tagging: DeleteObjectTaggingInput => DeleteObjectTaggingOutput;
    create_multipart_upload / op_create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput;
    upload_part / op_upload_part: UploadPartInput => UploadPartOutput;
    upload_part_copy / op_upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput;
    complete_multipart_upload / op_complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput;
    abort_multipart_upload / op_abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput;
    list_parts / op_list_parts: ListPartsInput => ListPartsOutput;
    list_multipart_uploads / op_list_multipart_uploads: ListMultipartUploadsInput => ListMultipartUploadsOutput;
}
