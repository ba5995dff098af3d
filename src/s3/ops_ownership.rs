//! Bucket settings that decide who owns objects and what else a bucket does: object ownership
//! controls (kept, shown and enforced: `BucketOwnerEnforced` disables ACLs), and the reads of
//! features onyxia-lite does not have (website, replication, logging, encryption
//! configuration, notifications, request payment, transfer acceleration), which answer what
//! AWS answers for a bucket where they were never configured, so tools that read every
//! setting of a bucket (Terraform's `aws_s3_bucket`) work.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::acl::Canned;
use super::backend::S3Backend;
use crate::objects::Ownership;

/// The ownership a request names.
pub fn ownership_of(value: &ObjectOwnership) -> S3Result<Ownership> {
    match value.as_str() {
        ObjectOwnership::BUCKET_OWNER_ENFORCED => Ok(Ownership::BucketOwnerEnforced),
        ObjectOwnership::BUCKET_OWNER_PREFERRED => Ok(Ownership::BucketOwnerPreferred),
        ObjectOwnership::OBJECT_WRITER => Ok(Ownership::ObjectWriter),
        _ => Err(s3_error!(
            MalformedXML,
            "ObjectOwnership must be BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter"
        )),
    }
}

/// ACLs other than private cannot come with `BucketOwnerEnforced` (CreateBucket, or a bucket
/// whose ACL already grants more).
pub fn refuse_acl_with_enforced(ownership: Option<Ownership>, acl: Option<&str>) -> S3Result<()> {
    let granting = acl.is_some_and(|a| Canned::of(Some(a)) != Canned::Private);
    if ownership == Some(Ownership::BucketOwnerEnforced) && granting {
        return Err(s3_error!(
            InvalidBucketAclWithObjectOwnership,
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
        ));
    }
    Ok(())
}

fn name(ownership: Ownership) -> &'static str {
    match ownership {
        Ownership::BucketOwnerEnforced => ObjectOwnership::BUCKET_OWNER_ENFORCED,
        Ownership::BucketOwnerPreferred => ObjectOwnership::BUCKET_OWNER_PREFERRED,
        Ownership::ObjectWriter => ObjectOwnership::OBJECT_WRITER,
    }
}

impl S3Backend {
    pub(super) async fn op_put_bucket_ownership_controls(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
        let input = req.input;
        let [rule] = input.ownership_controls.rules.as_slice() else {
            return Err(s3_error!(
                MalformedXML,
                "Ownership controls hold exactly one rule"
            ));
        };
        let ownership = ownership_of(&rule.object_ownership)?;
        let bucket = self.objects.bucket(&input.bucket)?;
        refuse_acl_with_enforced(Some(ownership), bucket.acl.as_deref())?;
        self.write(move |o| o.update_bucket(&bucket.name, |b| b.ownership = Some(ownership)))
            .await?;
        Ok(S3Response::new(PutBucketOwnershipControlsOutput::default()))
    }

    pub(super) async fn op_get_bucket_ownership_controls(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        let Some(ownership) = self.objects.bucket(&req.input.bucket)?.ownership else {
            return Err(s3_error!(
                OwnershipControlsNotFoundError,
                "The bucket ownership controls were not found"
            ));
        };
        Ok(S3Response::new(GetBucketOwnershipControlsOutput {
            ownership_controls: Some(OwnershipControls {
                rules: vec![OwnershipControlsRule {
                    object_ownership: ObjectOwnership::from_static(name(ownership)),
                }],
            }),
        }))
    }

    pub(super) async fn op_delete_bucket_ownership_controls(
        &self,
        req: S3Request<DeleteBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
        let bucket = req.input.bucket;
        self.write(move |o| o.update_bucket(&bucket, |b| b.ownership = None))
            .await?;
        Ok(S3Response::with_status(
            DeleteBucketOwnershipControlsOutput::default(),
            axum::http::StatusCode::NO_CONTENT,
        ))
    }

    pub(super) async fn op_get_bucket_request_payment(
        &self,
        req: S3Request<GetBucketRequestPaymentInput>,
    ) -> S3Result<S3Response<GetBucketRequestPaymentOutput>> {
        self.objects.bucket(&req.input.bucket)?;
        Ok(S3Response::new(GetBucketRequestPaymentOutput {
            payer: Some(Payer::from_static(Payer::BUCKET_OWNER)),
        }))
    }

    pub(super) async fn op_get_bucket_accelerate_configuration(
        &self,
        req: S3Request<GetBucketAccelerateConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketAccelerateConfigurationOutput>> {
        self.objects.bucket(&req.input.bucket)?;
        Ok(S3Response::new(
            GetBucketAccelerateConfigurationOutput::default(),
        ))
    }

    pub(super) async fn op_get_bucket_logging(
        &self,
        req: S3Request<GetBucketLoggingInput>,
    ) -> S3Result<S3Response<GetBucketLoggingOutput>> {
        self.objects.bucket(&req.input.bucket)?;
        Ok(S3Response::new(GetBucketLoggingOutput::default()))
    }

    pub(super) async fn op_get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        self.objects.bucket(&req.input.bucket)?;
        Ok(S3Response::new(
            GetBucketNotificationConfigurationOutput::default(),
        ))
    }

    pub(super) async fn op_get_bucket_website(
        &self,
        req: S3Request<GetBucketWebsiteInput>,
    ) -> S3Result<S3Response<GetBucketWebsiteOutput>> {
        self.objects.bucket(&req.input.bucket)?;
        Err(s3_error!(
            NoSuchWebsiteConfiguration,
            "The specified bucket does not have a website configuration"
        ))
    }

    pub(super) async fn op_get_bucket_replication(
        &self,
        req: S3Request<GetBucketReplicationInput>,
    ) -> S3Result<S3Response<GetBucketReplicationOutput>> {
        self.objects.bucket(&req.input.bucket)?;
        Err(s3_error!(
            ReplicationConfigurationNotFoundError,
            "The replication configuration was not found"
        ))
    }

    pub(super) async fn op_get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        self.objects.bucket(&req.input.bucket)?;
        let mut e = s3_error!(
            ServerSideEncryptionConfigurationNotFoundError,
            "The server side encryption configuration was not found"
        );
        // MinIO's status (s3s would answer 400).
        e.set_status_code(axum::http::StatusCode::NOT_FOUND);
        Err(e)
    }
}
