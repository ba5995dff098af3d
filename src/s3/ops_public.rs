//! What a bucket refuses to make public (Put/Get/DeletePublicAccessBlock) and whether its
//! policy is public (GetBucketPolicyStatus). `access.rs` and `ops_acl.rs` enforce the block.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::backend::S3Backend;
use crate::objects::PublicAccessBlock;

fn setting(value: Option<bool>) -> bool {
    value.unwrap_or(false)
}

/// The refusal of something a bucket's public access block forbids.
pub fn blocked(what: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::AccessDenied,
        format!("Access Denied: the bucket's public access block forbids {what}"),
    )
}

/// Refuses setting a public ACL on a bucket, or on an object in it, when the bucket blocks
/// them (`BlockPublicAcls`) or has ACLs disabled (`BucketOwnerEnforced`).
pub fn refuse_public_acl(bucket: &crate::objects::BucketRecord) -> S3Result<()> {
    if bucket.ownership == Some(crate::objects::Ownership::BucketOwnerEnforced) {
        return Err(s3_error!(
            AccessControlListNotSupported,
            "The bucket does not allow ACLs"
        ));
    }
    if bucket
        .public_access_block
        .is_some_and(|b| b.block_public_acls)
    {
        return Err(blocked("public ACLs"));
    }
    Ok(())
}

impl S3Backend {
    pub(super) async fn op_put_public_access_block(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
        let input = req.input;
        let c = input.public_access_block_configuration;
        let block = PublicAccessBlock {
            block_public_acls: setting(c.block_public_acls),
            ignore_public_acls: setting(c.ignore_public_acls),
            block_public_policy: setting(c.block_public_policy),
            restrict_public_buckets: setting(c.restrict_public_buckets),
        };
        let bucket = input.bucket;
        self.write(move |o| o.update_bucket(&bucket, |b| b.public_access_block = Some(block)))
            .await?;
        Ok(S3Response::new(PutPublicAccessBlockOutput {}))
    }

    pub(super) async fn op_get_public_access_block(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
        let bucket = self.objects.bucket(&req.input.bucket)?;
        let Some(block) = bucket.public_access_block else {
            let mut e = S3Error::with_message(
                S3ErrorCode::Custom("NoSuchPublicAccessBlockConfiguration".into()),
                "The public access block configuration was not found",
            );
            e.set_status_code(axum::http::StatusCode::NOT_FOUND);
            return Err(e);
        };
        Ok(S3Response::new(GetPublicAccessBlockOutput {
            public_access_block_configuration: Some(PublicAccessBlockConfiguration {
                block_public_acls: Some(block.block_public_acls),
                ignore_public_acls: Some(block.ignore_public_acls),
                block_public_policy: Some(block.block_public_policy),
                restrict_public_buckets: Some(block.restrict_public_buckets),
            }),
        }))
    }

    pub(super) async fn op_delete_public_access_block(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
        let bucket = req.input.bucket;
        self.write(move |o| o.update_bucket(&bucket, |b| b.public_access_block = None))
            .await?;
        Ok(S3Response::with_status(
            DeletePublicAccessBlockOutput {},
            axum::http::StatusCode::NO_CONTENT,
        ))
    }

    pub(super) async fn op_get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        let bucket = self.objects.bucket(&req.input.bucket)?;
        let Some(text) = bucket.policy else {
            return Err(s3_error!(
                NoSuchBucketPolicy,
                "The bucket policy does not exist"
            ));
        };
        let public = crate::policy::Policy::parse(&text).is_ok_and(|p| p.is_public());
        Ok(S3Response::new(GetBucketPolicyStatusOutput {
            policy_status: Some(PolicyStatus {
                is_public: Some(public),
            }),
        }))
    }
}
