//! Bucket and object ACLs: the owner's full control plus what a canned ACL grants everyone
//! (see `acl.rs`), read and set by name (`x-amz-acl`) or as a document.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::acl::Canned;
use super::backend::S3Backend;
use super::ops_versions::parse_version;

/// The ACL a Put*Acl request sets: a canned name or a document, not both, and no
/// `x-amz-grant-*` headers (they name grantees, which ACLs here cannot).
fn requested(
    canned: Option<&str>,
    document: Option<&AccessControlPolicy>,
    grants: [&Option<String>; 5],
    owner: Option<&str>,
) -> S3Result<Canned> {
    if grants.iter().any(|g| g.is_some()) {
        return Err(s3_error!(
            NotImplemented,
            "x-amz-grant-* headers are not supported: use a canned ACL (x-amz-acl)"
        ));
    }
    match (canned, document) {
        (Some(_), Some(_)) => Err(s3_error!(
            UnexpectedContent,
            "Specify either x-amz-acl or an AccessControlPolicy document, not both"
        )),
        (Some(name), None) => Canned::parse(name),
        (None, Some(document)) => Canned::from_policy(document, owner),
        (None, None) => Err(s3_error!(
            MissingSecurityHeader,
            "Your request was missing a required header: x-amz-acl or an AccessControlPolicy"
        )),
    }
}

/// [`requested`] from a Put*Acl input (both kinds name their fields alike).
macro_rules! requested {
    ($input:expr, $owner:expr) => {
        requested(
            $input.acl.as_ref().map(|a| a.as_str()),
            $input.access_control_policy.as_ref(),
            [
                &$input.grant_full_control,
                &$input.grant_read,
                &$input.grant_read_acp,
                &$input.grant_write,
                &$input.grant_write_acp,
            ],
            $owner,
        )
    };
}

/// A public ACL where the bucket blocks them (`BlockPublicAcls`) is refused.
pub fn refuse_if_blocked(bucket: &crate::objects::BucketRecord, canned: Canned) -> S3Result<()> {
    match canned {
        Canned::Private => Ok(()),
        _ => super::ops_public::refuse_public_acl(bucket),
    }
}

/// The canned ACL of a write that names one (`x-amz-acl` on CreateBucket, PutObject, …).
pub fn acl_of_write(name: Option<&str>) -> S3Result<Option<String>> {
    Ok(match name {
        Some(name) => Canned::parse(name)?.stored(),
        None => None,
    })
}

impl S3Backend {
    pub(super) async fn op_get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        let bucket = self.objects.bucket(&req.input.bucket)?;
        let owner = self.bucket_owner(&bucket.name)?.unwrap_or_default();
        Ok(S3Response::new(GetBucketAclOutput {
            grants: Some(Canned::of(bucket.acl.as_deref()).grants(&owner)),
            owner: Some(owner),
        }))
    }

    pub(super) async fn op_put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        let input = req.input;
        let bucket = self.objects.bucket(&input.bucket)?;
        let canned = requested!(input, bucket.owner.as_deref().or(Some("root")))?;
        refuse_if_blocked(&bucket, canned)?;
        let name = input.bucket;
        self.write(move |o| o.update_bucket(&name, |b| b.acl = canned.stored()))
            .await?;
        Ok(S3Response::new(PutBucketAclOutput {}))
    }

    pub(super) async fn op_get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        let input = req.input;
        let object = self.object_at(&input.bucket, &input.key, input.version_id.as_deref())?;
        let owner = self.bucket_owner(&input.bucket)?.unwrap_or_default();
        Ok(S3Response::new(GetObjectAclOutput {
            grants: Some(Canned::of(object.acl.as_deref()).grants(&owner)),
            owner: Some(owner),
            ..Default::default()
        }))
    }

    pub(super) async fn op_put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        let input = req.input;
        let version = parse_version(input.version_id.as_deref())?.map(str::to_owned);
        let bucket = self.objects.bucket(&input.bucket)?;
        let canned = requested!(input, bucket.owner.as_deref().or(Some("root")))?;
        refuse_if_blocked(&bucket, canned)?;
        let (bucket, key) = (input.bucket, input.key);
        self.write(move |o| {
            o.update_object(&bucket, &key, version.as_deref(), |obj| {
                obj.acl = canned.stored()
            })
        })
        .await?;
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }
}
