//! Classrooms, no HTTP: what a teacher sets for a class beyond its accounts (those are
//! `identity::enrol`). [`Classroom`] ties the class limits to the places that enforce them —
//! the quota an install is judged by, and the byte limit of each personal bucket — and makes
//! the personal buckets of enrolled users.

pub mod course;
pub mod limits;
pub mod report;
pub mod reset;

use crate::config::CullingConfig;
use crate::runtime::ServiceMeta;
use crate::services::culling::{CullPolicy, CullSettings};

use std::collections::HashMap;
use std::sync::Arc;

use crate::identity::Identity;
use crate::objects::{ObjectError, ObjectStore};
use crate::store::{Store, StoreError};
use limits::{ClassLimits, Limits, Scope};

/// The personal bucket of a user, as Onyxia names it.
pub fn personal_bucket(username: &str) -> String {
    format!("user-{}", username.to_ascii_lowercase())
}

/// `onyxia-lite class limits` on a stopped platform: sets the kinds `change` names for
/// `scope` (keeping the others, or none with `clear`), then answers every limit. Personal
/// buckets take their new limits when the platform starts.
pub fn cli_limits(
    config: &crate::config::Config,
    scope: Option<&Scope>,
    change: Limits,
    clear: bool,
) -> Result<limits::AllLimits, crate::identity::enrol::ClassCommandError> {
    let (store, _) = crate::identity::enrol::open_stopped(config)?;
    let limits = ClassLimits::open(store)?;
    if let Some(scope) = scope {
        let all = limits.all();
        let current = match scope {
            _ if clear => None,
            Scope::Group(g) => all.groups.get(g),
            Scope::User(u) => all.users.get(u),
        };
        let merged = change.or(current.unwrap_or(&Limits::default()));
        limits.set(scope, merged)?;
    }
    Ok(limits.all())
}

/// `onyxia-lite class report` on a stopped platform: the usage report since `since`.
pub fn cli_report(
    config: &crate::config::Config,
    since: u64,
) -> Result<report::UsageReport, crate::identity::enrol::ClassCommandError> {
    let (identity, store) = crate::identity::enrol::stopped_identity(config)?;
    let meter = crate::services::metering::Meter::new(store.clone());
    // The object store's own figures, read without opening it (its blob sweep is not needed).
    let bytes = |user: &str| {
        let usage = match store.snapshot() {
            Ok(mut s) => crate::objects::usage::of(&mut s, &personal_bucket(user)).ok(),
            Err(_) => None,
        };
        usage.map_or(0, |u| u.bytes)
    };
    Ok(report::gather(
        &meter,
        since,
        &identity.realm.users(),
        bytes,
    )?)
}

pub struct Classroom {
    pub limits: ClassLimits,
    identity: Arc<Identity>,
    objects: Arc<ObjectStore>,
    /// Whether every realm user gets a personal bucket (the S3 fixtures' `create_user_buckets`).
    user_buckets: bool,
    /// The secrets store and its mounts, for a class reset.
    kv: Option<Secrets>,
}

/// The KV store and its mounts.
pub struct Secrets {
    pub kv: Arc<crate::secrets::kv::Kv>,
    pub mounts: Vec<String>,
}

impl Classroom {
    pub fn new(
        store: Arc<Store>,
        identity: Arc<Identity>,
        objects: Arc<ObjectStore>,
        user_buckets: bool,
        kv: Option<Secrets>,
    ) -> Result<Self, StoreError> {
        Ok(Classroom {
            limits: ClassLimits::open(store)?,
            identity,
            objects,
            user_buckets,
            kv,
        })
    }

    /// The limits of a user who belongs to `groups`.
    pub fn limits_of(&self, username: &str, groups: &[String]) -> Limits {
        self.limits.effective(username, groups)
    }

    /// How services are culled: a class's `idleMinutes` and `maxAgeHours` (the owner's
    /// effective limits), else the service's catalog's `[culling]`, else the platform's
    /// `culling.*`; 0 at any level means never.
    pub fn cull_policy(
        self: &Arc<Self>,
        catalogs: HashMap<String, crate::catalog::Culling>,
        defaults: &CullingConfig,
    ) -> CullPolicy {
        let classroom = self.clone();
        let threshold = crate::catalog::values::cpu_millis(&serde_json::Value::String(
            defaults.cpu_threshold.clone(),
        ))
        .unwrap_or(50);
        let (idle, age) = (defaults.idle_minutes, defaults.max_age_hours);
        Arc::new(move |meta: &ServiceMeta| {
            let groups = classroom
                .identity
                .realm
                .user(&meta.owner)
                .map(|u| u.groups.clone())
                .unwrap_or_default();
            let class = classroom.limits_of(&meta.owner, &groups);
            let catalog = catalogs.get(&meta.catalog).copied().unwrap_or_default();
            let idle_minutes = class.idle_minutes.or(catalog.idle_minutes).unwrap_or(idle);
            let max_age_hours = class.max_age_hours.or(catalog.max_age_hours).unwrap_or(age);
            CullSettings {
                idle_after_ms: (idle_minutes > 0).then(|| idle_minutes.saturating_mul(60_000)),
                max_age_ms: (max_age_hours > 0).then(|| max_age_hours.saturating_mul(3_600_000)),
                cpu_threshold_millis: threshold,
            }
        })
    }

    /// Usage of every user and group for services launched since `since` (epoch ms).
    /// Blocking (redb reads).
    pub fn report(
        &self,
        meter: &crate::services::metering::Meter,
        since: u64,
    ) -> Result<report::UsageReport, ObjectError> {
        let users = self.identity.realm.users();
        Ok(report::gather(meter, since, &users, |u| {
            self.personal_bytes(u).unwrap_or(0)
        })?)
    }

    /// What the personal bucket of `username` holds, in bytes (every version counted).
    pub fn personal_bytes(&self, username: &str) -> Result<u64, ObjectError> {
        match self.objects.usage(&personal_bucket(username)) {
            Ok(usage) => Ok(usage.bytes),
            Err(ObjectError::NoSuchBucket) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Sets the limits of a group or user and applies them to the personal buckets. Blocking.
    pub fn set_limits(&self, scope: &Scope, limits: Limits) -> Result<(), ObjectError> {
        self.limits.set(scope, limits)?;
        self.sync()
    }

    /// Brings the object store in line with the realm: a personal bucket for every enabled
    /// user who never had one made (once: a bucket its user deleted stays deleted), and each
    /// personal bucket's byte limit. Run at start and after every enrolment or change of
    /// limits. Blocking (redb writes).
    pub fn sync(&self) -> Result<(), ObjectError> {
        let users = self.identity.realm.users();
        if self.user_buckets {
            let seeded = self.objects.seeded()?;
            let mut made = Vec::new();
            for user in users.iter().filter(|u| u.enabled) {
                let bucket = personal_bucket(&user.username);
                let item = format!("bucket/{bucket}");
                if seeded.contains(&item) {
                    continue;
                }
                match self.objects.create_bucket(&bucket, None) {
                    Ok(())
                    | Err(ObjectError::BucketAlreadyOwnedByYou)
                    | Err(ObjectError::BucketAlreadyExists) => made.push(item),
                    // A username S3 cannot name a bucket after gets none.
                    Err(ObjectError::InvalidBucketName(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            if !made.is_empty() {
                tracing::info!(buckets = made.len(), "made personal buckets");
            }
            self.objects.mark_seeded(&made)?;
        }
        let mut bucket_limits = HashMap::new();
        for user in &users {
            if let Some(bytes) = self.limits_of(&user.username, &user.groups).s3_bytes() {
                bucket_limits.insert(personal_bucket(&user.username), bytes);
            }
        }
        self.objects.set_limits(bucket_limits);
        Ok(())
    }
}
