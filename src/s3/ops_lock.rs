//! Object lock at the S3 edge: the bucket's configuration (Put/GetObjectLockConfiguration),
//! a version's retention and legal hold, the lock headers of writes, and the lock a read
//! shows.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::backend::{S3Backend, millis, timestamp};
use super::ops_versions::parse_version;
use crate::objects::lock::{self, LockSettings, ObjectLock, Period, Retention, RetentionMode};
use crate::objects::{ObjectError, ObjectRecord};

fn mode_of(text: &str) -> S3Result<RetentionMode> {
    match text {
        ObjectLockRetentionMode::GOVERNANCE => Ok(RetentionMode::Governance),
        ObjectLockRetentionMode::COMPLIANCE => Ok(RetentionMode::Compliance),
        _ => Err(s3_error!(
            InvalidArgument,
            "Unknown retention mode: must be GOVERNANCE or COMPLIANCE"
        )),
    }
}

pub fn mode_name(mode: RetentionMode) -> &'static str {
    match mode {
        RetentionMode::Governance => ObjectLockRetentionMode::GOVERNANCE,
        RetentionMode::Compliance => ObjectLockRetentionMode::COMPLIANCE,
    }
}

fn hold_of(status: &str) -> S3Result<bool> {
    match status {
        ObjectLockLegalHoldStatus::ON => Ok(true),
        ObjectLockLegalHoldStatus::OFF => Ok(false),
        _ => Err(s3_error!(
            MalformedXML,
            "The legal hold status must be ON or OFF"
        )),
    }
}

/// A retention as a request names it: a mode and a date, both or neither (none lifts it).
fn retention_of(
    mode: Option<&str>,
    until: Option<&Timestamp>,
    now: u64,
) -> S3Result<Option<Retention>> {
    match (mode, until) {
        (None, None) => Ok(None),
        (Some(mode), Some(until)) => {
            let until = millis(until);
            if until <= now {
                return Err(s3_error!(
                    InvalidArgument,
                    "The retain until date must be in the future"
                ));
            }
            Ok(Some(Retention {
                mode: mode_of(mode)?,
                until,
            }))
        }
        _ => Err(s3_error!(
            InvalidArgument,
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
        )),
    }
}

/// The lock a write's headers ask for.
pub fn lock_of_write(
    mode: Option<&ObjectLockMode>,
    until: Option<&Timestamp>,
    hold: Option<&ObjectLockLegalHoldStatus>,
    now: u64,
) -> S3Result<LockSettings> {
    Ok(LockSettings {
        retention: retention_of(mode.map(|m| m.as_str()), until, now)?,
        legal_hold: hold
            .map(|h| hold_of(h.as_str()))
            .transpose()?
            .unwrap_or(false),
    })
}

/// [`lock_of_write`] of an input with S3's object-lock header fields (PUT, copy, multipart).
macro_rules! lock_of_input {
    ($input:expr, $now:expr) => {
        crate::s3::ops_lock::lock_of_write(
            $input.object_lock_mode.as_ref(),
            $input.object_lock_retain_until_date.as_ref(),
            $input.object_lock_legal_hold_status.as_ref(),
            $now,
        )
    };
}
pub(crate) use lock_of_input;

/// Sets the lock fields of a GET or HEAD answer.
macro_rules! lock_headers {
    ($output:expr, $object:expr) => {{
        let object: &crate::objects::ObjectRecord = $object;
        if let Some(r) = object.retention {
            $output.object_lock_mode = Some(ObjectLockMode::from_static(
                crate::s3::ops_lock::mode_name(r.mode),
            ));
            $output.object_lock_retain_until_date = Some(timestamp(r.until));
        }
        if object.legal_hold {
            $output.object_lock_legal_hold_status = Some(ObjectLockLegalHoldStatus::from_static(
                ObjectLockLegalHoldStatus::ON,
            ));
        }
    }};
}
pub(crate) use lock_headers;

fn default_retention_of(rule: Option<ObjectLockRule>) -> S3Result<Option<lock::DefaultRetention>> {
    let Some(d) = rule.and_then(|r| r.default_retention) else {
        return Ok(None);
    };
    let mode = d
        .mode
        .as_ref()
        .ok_or_else(|| s3_error!(MalformedXML, "A default retention needs a Mode"))?;
    // MinIO's bounds: a century at most.
    let period = match (d.days, d.years) {
        (Some(days), None) if (1..=36_500).contains(&days) => Period::Days(days as u32),
        (None, Some(years)) if (1..=100).contains(&years) => Period::Years(years as u32),
        (Some(_), None) | (None, Some(_)) => {
            return Err(s3_error!(
                InvalidArgument,
                "Default retention period must be a positive integer value of at most 36500 days or 100 years"
            ));
        }
        _ => {
            return Err(s3_error!(
                MalformedXML,
                "A default retention names either Days or Years"
            ));
        }
    };
    Ok(Some(lock::DefaultRetention {
        mode: mode_of(mode.as_str())?,
        period,
    }))
}

impl S3Backend {
    /// A version whose lock Get{ObjectRetention,ObjectLegalHold} read: in a bucket with object
    /// lock only.
    fn locked_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> S3Result<ObjectRecord> {
        if self.objects.bucket(bucket)?.object_lock.is_none() {
            return Err(ObjectError::NoObjectLock.into());
        }
        self.object_at(bucket, key, version)
    }

    pub(super) async fn op_put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        let input = req.input;
        let config = input
            .object_lock_configuration
            .ok_or_else(|| s3_error!(MalformedXML, "An ObjectLockConfiguration is required"))?;
        if config.object_lock_enabled.as_ref().map(|e| e.as_str())
            != Some(ObjectLockEnabled::ENABLED)
        {
            return Err(s3_error!(MalformedXML, "ObjectLockEnabled must be Enabled"));
        }
        let lock = ObjectLock {
            default_retention: default_retention_of(config.rule)?,
        };
        let bucket = input.bucket;
        self.write(move |o| o.set_object_lock(&bucket, lock))
            .await?;
        Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
    }

    pub(super) async fn op_get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        let Some(lock) = self.objects.bucket(&req.input.bucket)?.object_lock else {
            return Err(s3_error!(
                ObjectLockConfigurationNotFoundError,
                "Object Lock configuration does not exist for this bucket"
            ));
        };
        let rule = lock.default_retention.map(|d| {
            let (days, years) = match d.period {
                Period::Days(n) => (Some(n as i32), None),
                Period::Years(n) => (None, Some(n as i32)),
            };
            ObjectLockRule {
                default_retention: Some(DefaultRetention {
                    mode: Some(ObjectLockRetentionMode::from_static(mode_name(d.mode))),
                    days,
                    years,
                }),
            }
        });
        Ok(S3Response::new(GetObjectLockConfigurationOutput {
            object_lock_configuration: Some(ObjectLockConfiguration {
                object_lock_enabled: Some(ObjectLockEnabled::from_static(
                    ObjectLockEnabled::ENABLED,
                )),
                rule,
            }),
        }))
    }

    pub(super) async fn op_put_object_retention(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> S3Result<S3Response<PutObjectRetentionOutput>> {
        let input = req.input;
        let version = parse_version(input.version_id.as_deref())?.map(str::to_owned);
        let retention = input.retention.unwrap_or_default();
        let mode = retention.mode.as_ref().map(|m| m.as_str());
        let retention = retention_of(
            mode,
            retention.retain_until_date.as_ref(),
            self.objects.now(),
        )?;
        let bypass = input.bypass_governance_retention.unwrap_or(false);
        let (bucket, key) = (input.bucket, input.key);
        self.write(move |o| o.set_retention(&bucket, &key, version.as_deref(), retention, bypass))
            .await?;
        Ok(S3Response::new(PutObjectRetentionOutput::default()))
    }

    pub(super) async fn op_get_object_retention(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> S3Result<S3Response<GetObjectRetentionOutput>> {
        let input = req.input;
        let object = self.locked_version(&input.bucket, &input.key, input.version_id.as_deref())?;
        let Some(r) = object.retention else {
            return Err(s3_error!(
                NoSuchObjectLockConfiguration,
                "The specified object does not have a ObjectLock configuration"
            ));
        };
        Ok(S3Response::new(GetObjectRetentionOutput {
            retention: Some(ObjectLockRetention {
                mode: Some(ObjectLockRetentionMode::from_static(mode_name(r.mode))),
                retain_until_date: Some(timestamp(r.until)),
            }),
        }))
    }

    pub(super) async fn op_put_object_legal_hold(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
        let input = req.input;
        let version = parse_version(input.version_id.as_deref())?.map(str::to_owned);
        let status = input
            .legal_hold
            .and_then(|h| h.status)
            .ok_or_else(|| s3_error!(MalformedXML, "A legal hold needs a Status"))?;
        let on = hold_of(status.as_str())?;
        let (bucket, key) = (input.bucket, input.key);
        self.write(move |o| o.set_legal_hold(&bucket, &key, version.as_deref(), on))
            .await?;
        Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
    }

    pub(super) async fn op_get_object_legal_hold(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
        let input = req.input;
        let object = self.locked_version(&input.bucket, &input.key, input.version_id.as_deref())?;
        let status = if object.legal_hold {
            ObjectLockLegalHoldStatus::ON
        } else {
            ObjectLockLegalHoldStatus::OFF
        };
        Ok(S3Response::new(GetObjectLegalHoldOutput {
            legal_hold: Some(ObjectLockLegalHold {
                status: Some(ObjectLockLegalHoldStatus::from_static(status)),
            }),
        }))
    }
}
