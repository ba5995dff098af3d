//! Bucket lifecycle configuration: S3's rules checked and kept by the object store, whose
//! sweep (`objects/lifecycle.rs`) applies them every `s3.lifecycle_sweep_seconds`.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::backend::{S3Backend, millis, timestamp};
use crate::objects::lifecycle::LifecycleRule as Rule;

const DAY_MS: u64 = 86_400_000;

fn positive(days: Option<i32>, what: &str) -> S3Result<Option<u32>> {
    match days {
        None => Ok(None),
        Some(d) if d > 0 => Ok(Some(d as u32)),
        Some(_) => Err(s3_error!(
            InvalidArgument,
            "'{what}' must be a positive integer"
        )),
    }
}

fn tag_pair(tag: &Tag) -> S3Result<(String, String)> {
    match (&tag.key, &tag.value) {
        (Some(k), v) if !k.is_empty() => Ok((k.clone(), v.clone().unwrap_or_default())),
        _ => Err(s3_error!(MalformedXML, "A lifecycle tag needs a Key")),
    }
}

/// One rule of a PutBucketLifecycleConfiguration, checked as S3 checks it.
fn rule_from(r: &LifecycleRule) -> S3Result<Rule> {
    if r.id.as_ref().is_some_and(|id| id.len() > 255) {
        return Err(s3_error!(
            InvalidArgument,
            "ID length should not exceed allowed limit of 255"
        ));
    }
    let enabled = match r.status.as_str() {
        ExpirationStatus::ENABLED => true,
        ExpirationStatus::DISABLED => false,
        _ => {
            return Err(s3_error!(
                MalformedXML,
                "Status must be Enabled or Disabled"
            ));
        }
    };
    if r.transitions.as_ref().is_some_and(|t| !t.is_empty())
        || r.noncurrent_version_transitions
            .as_ref()
            .is_some_and(|t| !t.is_empty())
    {
        return Err(s3_error!(
            NotImplemented,
            "Transitions are not supported: there is one storage class"
        ));
    }
    let mut rule = Rule {
        id: r.id.clone(),
        enabled,
        prefix: r.prefix.clone().unwrap_or_default(),
        ..Default::default()
    };
    if let Some(f) = &r.filter {
        let and = f.and.as_ref();
        rule.prefix = f
            .prefix
            .clone()
            .or_else(|| and.and_then(|a| a.prefix.clone()))
            .unwrap_or(rule.prefix);
        let tags = f
            .tag
            .iter()
            .chain(and.and_then(|a| a.tags.as_ref()).into_iter().flatten());
        rule.tags = tags.map(tag_pair).collect::<S3Result<_>>()?;
        rule.size_greater_than = f
            .object_size_greater_than
            .or(and.and_then(|a| a.object_size_greater_than))
            .map(|n| n.max(0) as u64);
        rule.size_less_than = f
            .object_size_less_than
            .or(and.and_then(|a| a.object_size_less_than))
            .map(|n| n.max(0) as u64);
    }
    if let Some(e) = &r.expiration {
        if e.days.is_some() && e.date.is_some() {
            return Err(s3_error!(
                MalformedXML,
                "Expiration has either Days or Date, not both"
            ));
        }
        rule.expiration_days = positive(e.days, "Days' for Expiration action")?;
        if let Some(date) = &e.date {
            let at = millis(date);
            if !at.is_multiple_of(DAY_MS) {
                return Err(s3_error!(InvalidArgument, "'Date' must be at midnight GMT"));
            }
            rule.expiration_date = Some(at);
        }
        rule.expired_object_delete_marker = e.expired_object_delete_marker.unwrap_or(false);
    }
    if let Some(a) = &r.abort_incomplete_multipart_upload {
        if !rule.tags.is_empty() {
            return Err(s3_error!(
                InvalidRequest,
                "AbortIncompleteMultipartUpload cannot be specified with Tags"
            ));
        }
        rule.abort_incomplete_days = positive(a.days_after_initiation, "DaysAfterInitiation")?;
    }
    if let Some(n) = &r.noncurrent_version_expiration {
        rule.noncurrent_days = positive(n.noncurrent_days, "NoncurrentDays")?;
    }
    let acts = rule.expiration_days.is_some()
        || rule.expiration_date.is_some()
        || rule.expired_object_delete_marker
        || rule.abort_incomplete_days.is_some()
        || rule.noncurrent_days.is_some();
    if !acts {
        return Err(s3_error!(
            InvalidRequest,
            "At least one action needs to be specified in a rule"
        ));
    }
    Ok(rule)
}

/// A kept rule as S3 shows it, its filter in the shortest form that holds it.
fn rule_to(rule: &Rule) -> LifecycleRule {
    let tags: Vec<Tag> = rule
        .tags
        .iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect();
    let parts = usize::from(!rule.prefix.is_empty())
        + tags.len()
        + usize::from(rule.size_greater_than.is_some())
        + usize::from(rule.size_less_than.is_some());
    let size = |n: Option<u64>| n.map(|n| n as i64);
    let filter = if parts > 1 {
        LifecycleRuleFilter {
            and: Some(LifecycleRuleAndOperator {
                prefix: Some(rule.prefix.clone()).filter(|p| !p.is_empty()),
                tags: Some(tags).filter(|t| !t.is_empty()),
                object_size_greater_than: size(rule.size_greater_than),
                object_size_less_than: size(rule.size_less_than),
            }),
            ..Default::default()
        }
    } else {
        LifecycleRuleFilter {
            prefix: Some(rule.prefix.clone()),
            tag: tags.into_iter().next(),
            object_size_greater_than: size(rule.size_greater_than),
            object_size_less_than: size(rule.size_less_than),
            ..Default::default()
        }
    };
    let expires = rule.expiration_days.is_some()
        || rule.expiration_date.is_some()
        || rule.expired_object_delete_marker;
    LifecycleRule {
        id: rule.id.clone(),
        status: ExpirationStatus::from_static(if rule.enabled {
            ExpirationStatus::ENABLED
        } else {
            ExpirationStatus::DISABLED
        }),
        filter: Some(filter),
        expiration: expires.then(|| LifecycleExpiration {
            days: rule.expiration_days.map(|d| d as i32),
            date: rule.expiration_date.map(timestamp),
            expired_object_delete_marker: rule.expired_object_delete_marker.then_some(true),
        }),
        abort_incomplete_multipart_upload: rule.abort_incomplete_days.map(|d| {
            AbortIncompleteMultipartUpload {
                days_after_initiation: Some(d as i32),
            }
        }),
        noncurrent_version_expiration: rule.noncurrent_days.map(|d| NoncurrentVersionExpiration {
            noncurrent_days: Some(d as i32),
            ..Default::default()
        }),
        noncurrent_version_transitions: None,
        prefix: None,
        transitions: None,
    }
}

impl S3Backend {
    pub(super) async fn op_put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        let input = req.input;
        self.objects.bucket(&input.bucket)?;
        let Some(config) = input.lifecycle_configuration else {
            return Err(s3_error!(
                MalformedXML,
                "The lifecycle configuration is missing"
            ));
        };
        if config.rules.is_empty() || config.rules.len() > 1000 {
            return Err(s3_error!(
                MalformedXML,
                "A lifecycle configuration has 1 to 1000 rules"
            ));
        }
        let rules = config
            .rules
            .iter()
            .map(rule_from)
            .collect::<S3Result<Vec<_>>>()?;
        let mut ids: Vec<&str> = rules.iter().filter_map(|r| r.id.as_deref()).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(s3_error!(
                InvalidArgument,
                "Rule ID must be unique. Found same ID for more than one rule"
            ));
        }
        let bucket = input.bucket;
        self.write(move |o| o.update_bucket(&bucket, |b| b.lifecycle = Some(rules)))
            .await?;
        Ok(S3Response::new(
            PutBucketLifecycleConfigurationOutput::default(),
        ))
    }

    pub(super) async fn op_get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        let bucket = self.objects.bucket(&req.input.bucket)?;
        let Some(rules) = bucket.lifecycle else {
            return Err(s3_error!(
                NoSuchLifecycleConfiguration,
                "The lifecycle configuration does not exist"
            ));
        };
        Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
            rules: Some(rules.iter().map(rule_to).collect()),
            ..Default::default()
        }))
    }

    pub(super) async fn op_delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        let bucket = req.input.bucket;
        self.write(move |o| o.update_bucket(&bucket, |b| b.lifecycle = None))
            .await?;
        Ok(S3Response::with_status(
            DeleteBucketLifecycleOutput {},
            axum::http::StatusCode::NO_CONTENT,
        ))
    }
}
