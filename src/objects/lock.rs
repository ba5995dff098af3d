//! Object lock (WORM): a bucket's default retention, and per version a retention (GOVERNANCE,
//! which holders of the bypass permission may shorten or lift, or COMPLIANCE, which nobody
//! may) and a legal hold. A locked version cannot be deleted; writes make new versions, so
//! nothing locked is ever overwritten.

use serde::{Deserialize, Serialize};

use super::model::{BUCKETS, BucketRecord, ObjectRecord, Versioning};
use super::{ObjectError, ObjectStore, Result, versions};

const DAY_MS: u64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionMode {
    Governance,
    Compliance,
}

/// A version's retention: kept until `until` (Unix milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub mode: RetentionMode,
    pub until: u64,
}

/// The period new versions are retained for when a write names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Period {
    Days(u32),
    Years(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    pub mode: RetentionMode,
    pub period: Period,
}

impl DefaultRetention {
    /// The retention of a version written at `now`.
    pub fn from(&self, now: u64) -> Retention {
        let days = match self.period {
            Period::Days(d) => u64::from(d),
            Period::Years(y) => u64::from(y) * 365,
        };
        Retention {
            mode: self.mode,
            until: now.saturating_add(days.saturating_mul(DAY_MS)),
        }
    }
}

/// A bucket's object lock configuration; its presence means object lock is enabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLock {
    pub default_retention: Option<DefaultRetention>,
}

/// What a write asks for itself (headers of PUT, copy or CreateMultipartUpload).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockSettings {
    pub retention: Option<Retention>,
    pub legal_hold: bool,
}

/// Settles a new version's lock in `bucket`: what the write asked for, else the bucket's
/// default retention. A lock asked for in a bucket without object lock is refused.
pub fn settle(bucket: &BucketRecord, record: &mut ObjectRecord, now: u64) -> Result<()> {
    record.lock_settings().allowed_in(bucket)?;
    if let Some(lock) = &bucket.object_lock
        && record.retention.is_none()
    {
        record.retention = lock.default_retention.map(|d| d.from(now));
    }
    Ok(())
}

impl LockSettings {
    /// A write may name a lock only in a bucket with object lock.
    pub fn allowed_in(&self, bucket: &BucketRecord) -> Result<()> {
        let asks = self.retention.is_some() || self.legal_hold;
        if asks && bucket.object_lock.is_none() {
            return Err(ObjectError::NoObjectLock);
        }
        Ok(())
    }
}

impl ObjectRecord {
    /// The lock this version carries (or a write of it asks for).
    pub fn lock_settings(&self) -> LockSettings {
        LockSettings {
            retention: self.retention,
            legal_hold: self.legal_hold,
        }
    }

    /// Whether this version may not be deleted at `now`; `bypass` is a caller allowed to
    /// bypass GOVERNANCE retention who asked to.
    pub fn locked(&self, now: u64, bypass: bool) -> bool {
        self.legal_hold
            || self
                .retention
                .is_some_and(|r| r.until > now && (r.mode == RetentionMode::Compliance || !bypass))
    }
}

/// Whether `new` may replace a version's retention `old` at `now`: a retention may always be
/// lengthened (or GOVERNANCE made COMPLIANCE); shortening or lifting an active one needs
/// GOVERNANCE mode and the bypass, and COMPLIANCE cannot be shortened at all.
fn may_replace(old: Option<Retention>, new: Option<Retention>, now: u64, bypass: bool) -> bool {
    let Some(old) = old.filter(|o| o.until > now) else {
        return true;
    };
    let keeps = new.is_some_and(|n| {
        n.until >= old.until
            && (old.mode == RetentionMode::Governance || n.mode == RetentionMode::Compliance)
    });
    keeps || (old.mode == RetentionMode::Governance && bypass)
}

impl ObjectStore {
    /// Enables object lock on a bucket (or changes its default retention). Object lock needs
    /// versioning enabled, and keeps it so.
    pub fn set_object_lock(&self, bucket: &str, lock: ObjectLock) -> Result<()> {
        self.store.write(|w| {
            let mut record = w.get(&BUCKETS, bucket)?.ok_or(ObjectError::NoSuchBucket)?;
            if record.versioning != Some(Versioning::Enabled) {
                return Err(ObjectError::InvalidBucketState(
                    "Versioning must be enabled to enable object lock",
                ));
            }
            record.object_lock = Some(lock);
            w.put(&BUCKETS, bucket, &record)?;
            Ok(())
        })
    }

    /// Sets a version's retention, as [`may_replace`] allows.
    pub fn set_retention(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        retention: Option<Retention>,
        bypass: bool,
    ) -> Result<()> {
        let now = self.clock.millis();
        self.change_locked(bucket, key, version, |object| {
            if !may_replace(object.retention, retention, now, bypass) {
                return Err(ObjectError::ObjectLocked);
            }
            object.retention = retention;
            Ok(())
        })
    }

    pub fn set_legal_hold(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        on: bool,
    ) -> Result<()> {
        self.change_locked(bucket, key, version, |object| {
            object.legal_hold = on;
            Ok(())
        })
    }

    /// Changes a version's lock in one transaction, in a bucket with object lock.
    fn change_locked(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        change: impl FnOnce(&mut ObjectRecord) -> Result<()>,
    ) -> Result<()> {
        super::names::check_lookup_key(key)?;
        self.store.write(|w| {
            let record = w.get(&BUCKETS, bucket)?.ok_or(ObjectError::NoSuchBucket)?;
            if record.object_lock.is_none() {
                return Err(ObjectError::NoObjectLock);
            }
            versions::change(w, bucket, key, version, change)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000 * DAY_MS;

    fn kept(mode: RetentionMode, days: u64) -> Option<Retention> {
        Some(Retention {
            mode,
            until: NOW + days * DAY_MS,
        })
    }

    #[test]
    fn retention_may_grow_but_only_governance_shrinks_and_only_with_the_bypass() {
        use RetentionMode::*;
        assert!(may_replace(None, kept(Compliance, 1), NOW, false));
        assert!(may_replace(
            kept(Governance, 1),
            kept(Governance, 2),
            NOW,
            false
        ));
        assert!(may_replace(
            kept(Governance, 1),
            kept(Compliance, 1),
            NOW,
            false
        ));
        assert!(!may_replace(
            kept(Governance, 2),
            kept(Governance, 1),
            NOW,
            false
        ));
        assert!(may_replace(
            kept(Governance, 2),
            kept(Governance, 1),
            NOW,
            true
        ));
        assert!(may_replace(kept(Governance, 2), None, NOW, true));
        assert!(!may_replace(
            kept(Compliance, 2),
            kept(Compliance, 1),
            NOW,
            true
        ));
        assert!(!may_replace(
            kept(Compliance, 2),
            kept(Governance, 3),
            NOW,
            true
        ));
        assert!(!may_replace(kept(Compliance, 2), None, NOW, true));
        assert!(may_replace(
            kept(Compliance, 2),
            kept(Compliance, 3),
            NOW,
            false
        ));
        // A retention that ran out restricts nothing.
        assert!(may_replace(
            kept(Compliance, 2),
            None,
            NOW + 3 * DAY_MS,
            false
        ));
    }

    #[test]
    fn a_version_is_locked_by_its_hold_or_its_running_retention() {
        let mut object = ObjectRecord::delete_marker(None, NOW);
        assert!(!object.locked(NOW, false));
        object.retention = kept(RetentionMode::Governance, 1);
        assert!(object.locked(NOW, false));
        assert!(!object.locked(NOW, true), "GOVERNANCE yields to the bypass");
        assert!(!object.locked(NOW + 2 * DAY_MS, false), "expired");
        object.retention = kept(RetentionMode::Compliance, 1);
        assert!(object.locked(NOW, true), "COMPLIANCE does not");
        object.retention = None;
        object.legal_hold = true;
        assert!(object.locked(NOW + 1000 * DAY_MS, true));
        let default = DefaultRetention {
            mode: RetentionMode::Governance,
            period: Period::Years(1),
        };
        assert_eq!(default.from(NOW).until, NOW + 365 * DAY_MS);
    }
}
