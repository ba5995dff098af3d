//! Bucket operations and bucket configuration (tags, CORS, policy).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::backend::{S3Backend, principal, timestamp};
use super::visible::VisibleBuckets;
use crate::objects::CorsRule as StoredCors;
use crate::objects::lock::ObjectLock;
use crate::objects::{BucketRecord, ObjectError, Versioning};

fn tags_from(tagging: Tagging) -> S3Result<Vec<(String, String)>> {
    let mut tags = Vec::new();
    for tag in tagging.tag_set {
        let key = tag.key.unwrap_or_default();
        if key.is_empty() || key.len() > 128 || tag.value.as_deref().is_some_and(|v| v.len() > 256)
        {
            return Err(s3_error!(
                InvalidTag,
                "Tag keys must be 1–128 characters and values at most 256"
            ));
        }
        if tags.iter().any(|(k, _): &(String, String)| *k == key) {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key"
            ));
        }
        tags.push((key, tag.value.unwrap_or_default()));
    }
    Ok(tags)
}

pub fn tag_set(tags: &[(String, String)]) -> TagSet {
    tags.iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

pub fn parse_tags(tags: Tagging, max: usize) -> S3Result<Vec<(String, String)>> {
    let tags = tags_from(tags)?;
    if tags.len() > max {
        return Err(s3_error!(
            InvalidTag,
            "Object tags cannot be greater than {max}"
        ));
    }
    Ok(tags)
}

impl S3Backend {
    pub(super) async fn op_list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let visible = req.extensions.get::<VisibleBuckets>().cloned();
        let buckets = self
            .objects
            .buckets()?
            .into_iter()
            .filter(|b| visible.as_ref().is_none_or(|v| v.allows(&b.name)))
            .filter(|b| {
                req.input
                    .prefix
                    .as_deref()
                    .is_none_or(|p| b.name.starts_with(p))
            })
            .map(|b| Bucket {
                name: Some(b.name),
                creation_date: Some(timestamp(b.created)),
                bucket_region: Some(self.region.clone()),
            })
            .collect();
        let owner = principal(&req).name().map(|n| Owner {
            display_name: Some(n.clone()),
            id: Some(n),
        });
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner,
            ..Default::default()
        }))
    }

    pub(super) async fn op_create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let owner = principal(&req).name();
        if let Some(constraint) = req
            .input
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            && constraint.as_str() != self.region
            && !(constraint.as_str().is_empty() && self.region == "us-east-1")
        {
            return Err(s3_error!(
                InvalidLocationConstraint,
                "The specified location-constraint is not valid for this server ({})",
                self.region
            ));
        }
        let acl = super::ops_acl::acl_of_write(req.input.acl.as_ref().map(|a| a.as_str()))?;
        let ownership = match req.input.object_ownership.as_ref() {
            Some(o) => Some(super::ops_ownership::ownership_of(o)?),
            None => None,
        };
        super::ops_ownership::refuse_acl_with_enforced(ownership, acl.as_deref())?;
        // Object lock needs versioning, which it keeps enabled.
        let locked = req.input.object_lock_enabled_for_bucket == Some(true);
        let record = BucketRecord {
            name: req.input.bucket,
            owner,
            acl,
            versioning: locked.then_some(Versioning::Enabled),
            object_lock: locked.then(ObjectLock::default),
            ownership,
            ..Default::default()
        };
        let location = Some(format!("/{}", record.name));
        // In us-east-1, AWS answers 200 to an owner creating their bucket again and resets its
        // ACL (its legacy behaviour); elsewhere it answers BucketAlreadyOwnedByYou.
        let legacy = self.region == "us-east-1";
        self.write(move |o| match o.create_bucket_as(record.clone()) {
            Err(ObjectError::BucketAlreadyOwnedByYou) if legacy => {
                o.update_bucket(&record.name, |b| b.acl = record.acl)
            }
            outcome => outcome,
        })
        .await?;
        Ok(S3Response::new(CreateBucketOutput { location }))
    }

    pub(super) async fn op_head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.objects.bucket(&req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.region.clone()),
            ..Default::default()
        }))
    }

    pub(super) async fn op_delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let bucket = req.input.bucket;
        self.write(move |o| o.delete_bucket(&bucket)).await?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    pub(super) async fn op_get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.objects.bucket(&req.input.bucket)?;
        // us-east-1 is reported as an empty constraint, as AWS does.
        let location_constraint = (self.region != "us-east-1")
            .then(|| BucketLocationConstraint::from(self.region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    pub(super) async fn op_get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        let bucket = self.objects.bucket(&req.input.bucket)?;
        if bucket.tags.is_empty() {
            return Err(s3_error!(NoSuchTagSet, "The TagSet does not exist"));
        }
        Ok(S3Response::new(GetBucketTaggingOutput {
            tag_set: tag_set(&bucket.tags),
        }))
    }

    pub(super) async fn op_put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        let tags = parse_tags(req.input.tagging, 50)?;
        let bucket = req.input.bucket;
        self.write(move |o| o.update_bucket(&bucket, |b| b.tags = tags))
            .await?;
        Ok(S3Response::new(PutBucketTaggingOutput {}))
    }

    pub(super) async fn op_delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        let bucket = req.input.bucket;
        self.write(move |o| o.update_bucket(&bucket, |b| b.tags.clear()))
            .await?;
        Ok(S3Response::with_status(
            DeleteBucketTaggingOutput {},
            axum::http::StatusCode::NO_CONTENT,
        ))
    }

    pub(super) async fn op_get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let bucket = self.objects.bucket(&req.input.bucket)?;
        let Some(rules) = bucket.cors.filter(|r| !r.is_empty()) else {
            return Err(s3_error!(
                NoSuchCORSConfiguration,
                "The CORS configuration does not exist"
            ));
        };
        let cors_rules = rules
            .into_iter()
            .map(|r| CORSRule {
                id: r.id,
                allowed_origins: r.allowed_origins,
                allowed_methods: r.allowed_methods,
                allowed_headers: (!r.allowed_headers.is_empty()).then_some(r.allowed_headers),
                expose_headers: (!r.expose_headers.is_empty()).then_some(r.expose_headers),
                max_age_seconds: r.max_age_seconds,
            })
            .collect();
        Ok(S3Response::new(GetBucketCorsOutput {
            cors_rules: Some(cors_rules),
        }))
    }

    pub(super) async fn op_put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let mut rules = Vec::new();
        for r in req.input.cors_configuration.cors_rules {
            if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
                return Err(s3_error!(
                    MalformedXML,
                    "Each CORSRule needs an AllowedOrigin and an AllowedMethod"
                ));
            }
            if let Some(m) = r
                .allowed_methods
                .iter()
                .find(|m| !matches!(m.as_str(), "GET" | "PUT" | "POST" | "DELETE" | "HEAD"))
            {
                return Err(s3_error!(
                    InvalidRequest,
                    "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                ));
            }
            rules.push(StoredCors {
                id: r.id,
                allowed_origins: r.allowed_origins,
                allowed_methods: r.allowed_methods,
                allowed_headers: r.allowed_headers.unwrap_or_default(),
                expose_headers: r.expose_headers.unwrap_or_default(),
                max_age_seconds: r.max_age_seconds,
            });
        }
        if rules.is_empty() || rules.len() > 100 {
            return Err(s3_error!(
                MalformedXML,
                "A CORS configuration has 1 to 100 rules"
            ));
        }
        let bucket = req.input.bucket;
        self.write(move |o| o.update_bucket(&bucket, |b| b.cors = Some(rules)))
            .await?;
        Ok(S3Response::new(PutBucketCorsOutput {}))
    }

    pub(super) async fn op_delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        let bucket = req.input.bucket;
        self.write(move |o| o.update_bucket(&bucket, |b| b.cors = None))
            .await?;
        Ok(S3Response::with_status(
            DeleteBucketCorsOutput {},
            axum::http::StatusCode::NO_CONTENT,
        ))
    }

    pub(super) async fn op_get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let bucket = self.objects.bucket(&req.input.bucket)?;
        match bucket.policy {
            Some(policy) => Ok(S3Response::new(GetBucketPolicyOutput {
                policy: Some(policy),
            })),
            None => Err(s3_error!(
                NoSuchBucketPolicy,
                "The bucket policy does not exist"
            )),
        }
    }

    pub(super) async fn op_put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        let text = req.input.policy;
        let policy =
            crate::policy::Policy::parse(&text).map_err(|e| s3_error!(MalformedPolicy, "{e}"))?;
        if let Some(foreign) = policy
            .resource_buckets()
            .into_iter()
            .find(|b| b != &req.input.bucket && b != "*")
        {
            return Err(s3_error!(
                MalformedPolicy,
                "Policy has invalid resource: bucket {foreign} is not this bucket"
            ));
        }
        let blocks = self
            .objects
            .bucket(&req.input.bucket)?
            .public_access_block
            .is_some_and(|b| b.block_public_policy);
        if blocks && policy.is_public() {
            return Err(super::ops_public::blocked("a public bucket policy"));
        }
        let bucket = req.input.bucket;
        self.write(move |o| o.update_bucket(&bucket, |b| b.policy = Some(text)))
            .await?;
        Ok(S3Response::with_status(
            PutBucketPolicyOutput {},
            axum::http::StatusCode::NO_CONTENT,
        ))
    }

    pub(super) async fn op_delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        let bucket = req.input.bucket;
        self.write(move |o| o.update_bucket(&bucket, |b| b.policy = None))
            .await?;
        Ok(S3Response::with_status(
            DeleteBucketPolicyOutput {},
            axum::http::StatusCode::NO_CONTENT,
        ))
    }
}
