//! End of term: for the enrolled students of some groups (never teachers, never the
//! platform's own accounts), pause or delete their services, archive or delete their personal
//! buckets, delete their secrets — or, with a dry run, only list what would go. An archive
//! copies each student's current objects to `<archive bucket>/<username>/<key>` before the
//! bucket goes. A version under object lock is never deleted: its bucket stays, and the report
//! says so.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Classroom, personal_bucket};
use crate::identity::enrol::TEACHERS;
use crate::objects::version_list::VersionQuery;
use crate::objects::{ObjectError, PutSpec, Source, Target};
use crate::services::{Lab, LabError};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceAction {
    Keep,
    #[default]
    Suspend,
    Delete,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BucketAction {
    #[default]
    Keep,
    Archive,
    Delete,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretAction {
    #[default]
    Keep,
    Delete,
}

/// What a teacher asks.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetPlan {
    pub groups: Vec<String>,
    #[serde(default)]
    pub services: ServiceAction,
    #[serde(default)]
    pub buckets: BucketAction,
    #[serde(default)]
    pub secrets: SecretAction,
    /// The bucket archives go to (made if missing); required to archive.
    #[serde(default)]
    pub archive_bucket: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetReport {
    pub dry_run: bool,
    pub students: Vec<String>,
    /// (owner, service, what was done).
    pub services: Vec<(String, String, String)>,
    /// (bucket, objects, bytes, what was done).
    pub buckets: Vec<(String, u64, u64, String)>,
    /// (student, secrets, what was done).
    pub secrets: Vec<(String, usize, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// A mistake in the plan; the text is what the teacher is told.
    #[error("{0}")]
    Plan(String),
    #[error(transparent)]
    Objects(#[from] ObjectError),
    #[error(transparent)]
    Lab(#[from] LabError),
    #[error("secrets: {0}")]
    Secrets(String),
    #[error(transparent)]
    Blocking(#[from] crate::blocking::BlockingError),
}

impl Classroom {
    /// The enrolled students (not teachers) of any of `groups`.
    fn students_of(&self, groups: &[String]) -> Result<Vec<String>, ResetError> {
        let mut students = Vec::new();
        for user in self.identity.realm.users() {
            let listed = user.groups.iter().any(|g| groups.contains(g));
            // The students a teacher may act on: not teachers, not the operator's accounts.
            if listed
                && self
                    .identity
                    .refusal_for_teacher(&user.username, false)
                    .map_err(ObjectError::from)?
                    .is_none()
            {
                students.push(user.username.clone());
            }
        }
        students.sort();
        Ok(students)
    }

    /// Carries out (or, on a dry run, lists) `plan`.
    pub async fn reset(
        self: &Arc<Self>,
        lab: &Lab,
        plan: &ResetPlan,
    ) -> Result<ResetReport, ResetError> {
        if plan.groups.is_empty() || plan.groups.iter().any(|g| g == TEACHERS) {
            return Err(ResetError::Plan(
                "name the groups (classes) to reset; `teachers` is not one".into(),
            ));
        }
        let archive = match (plan.buckets, &plan.archive_bucket) {
            (BucketAction::Archive, None) => {
                return Err(ResetError::Plan("archiving needs an archiveBucket".into()));
            }
            (BucketAction::Archive, Some(name)) => {
                crate::objects::names::check_bucket(name)
                    .map_err(|e| ResetError::Plan(e.to_string()))?;
                Some(name.clone())
            }
            _ => None,
        };
        let students = self.students_of(&plan.groups)?;
        let mut report = ResetReport {
            dry_run: plan.dry_run,
            students: students.clone(),
            ..Default::default()
        };
        let act = |done: &str| {
            if plan.dry_run {
                format!("would be {done}")
            } else {
                done.to_owned()
            }
        };
        for meta in lab.services_owned_by(&students).await? {
            let done = match plan.services {
                ServiceAction::Keep => continue,
                ServiceAction::Suspend => "suspended",
                ServiceAction::Delete => "deleted",
            };
            if !plan.dry_run {
                let text = format!("{done} by the class reset");
                match plan.services {
                    ServiceAction::Delete => {
                        lab.delete_for_platform(&meta, "ClassReset", text).await?
                    }
                    _ => lab.suspend_for_platform(&meta, "ClassReset", text).await?,
                }
            }
            report
                .services
                .push((meta.owner.clone(), meta.release.clone(), act(done)));
        }
        if let Some(name) = &archive
            && !plan.dry_run
        {
            match self.objects.create_bucket(name, None) {
                Ok(()) | Err(ObjectError::BucketAlreadyOwnedByYou) => {}
                Err(e) => return Err(e.into()),
            }
        }
        for student in &students {
            self.reset_bucket(student, plan, archive.as_deref(), &mut report)
                .await?;
            if plan.secrets == SecretAction::Delete {
                let (this, who, dry_run) = (self.clone(), student.clone(), plan.dry_run);
                let count =
                    crate::blocking::run(move || this.delete_secrets(&who, dry_run)).await??;
                report
                    .secrets
                    .push((student.clone(), count, act("deleted")));
            }
        }
        Ok(report)
    }

    async fn reset_bucket(
        self: &Arc<Self>,
        student: &str,
        plan: &ResetPlan,
        archive: Option<&str>,
        report: &mut ResetReport,
    ) -> Result<(), ResetError> {
        let bucket = personal_bucket(student);
        let usage = match self.objects.usage(&bucket) {
            Ok(u) => u,
            Err(ObjectError::NoSuchBucket) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let done = match plan.buckets {
            BucketAction::Keep => return Ok(()),
            BucketAction::Archive => "archived and deleted",
            BucketAction::Delete => "deleted",
        };
        if plan.dry_run {
            let what = format!("would be {done}");
            report
                .buckets
                .push((bucket, usage.objects, usage.bytes, what));
            return Ok(());
        }
        if let Some(archive) = archive {
            self.copy_bucket(&bucket, archive, student).await?;
        }
        let (this, name) = (self.clone(), bucket.clone());
        let emptied = crate::blocking::run(move || this.empty_and_delete(&name)).await?;
        let outcome = match emptied {
            Ok(()) => done.to_owned(),
            Err(ObjectError::ObjectLocked) => "kept: it holds versions under object lock".into(),
            Err(e) => return Err(e.into()),
        };
        report
            .buckets
            .push((bucket, usage.objects, usage.bytes, outcome));
        Ok(())
    }

    /// Copies the current objects of `bucket` to `<archive>/<prefix>/<key>`.
    async fn copy_bucket(
        &self,
        bucket: &str,
        archive: &str,
        prefix: &str,
    ) -> Result<(), ObjectError> {
        for (key, record) in self.objects.current_objects(bucket)? {
            let size = record.size;
            let spec = PutSpec {
                headers: record.headers.clone(),
                metadata: record.metadata.clone(),
                ..Default::default()
            };
            let source = Source::Copy {
                object: Box::new(record),
                range: 0..size,
            };
            let target_key = format!("{prefix}/{key}");
            let target = Target::Object {
                bucket: archive,
                key: &target_key,
            };
            self.objects.put(target, source, spec).await?;
        }
        Ok(())
    }

    /// Deletes every version of every key, then the bucket. Blocking (redb writes).
    fn empty_and_delete(&self, bucket: &str) -> Result<(), ObjectError> {
        loop {
            let query = VersionQuery {
                max_keys: 1000,
                ..Default::default()
            };
            let page = self.objects.list_versions(bucket, &query)?;
            if page.entries.is_empty() {
                break;
            }
            for entry in &page.entries {
                self.objects
                    .delete(bucket, &entry.key, Some(entry.record.version()), false)?;
            }
        }
        self.objects.delete_bucket(bucket)
    }

    /// Deletes every secret under the student's folder of each KV mount; returns how many.
    fn delete_secrets(&self, student: &str, dry_run: bool) -> Result<usize, ResetError> {
        let Some(kv) = &self.kv else {
            return Ok(0);
        };
        let mut count = 0;
        for mount in &kv.mounts {
            let mut folders = vec![format!("user-{student}/")];
            while let Some(folder) = folders.pop() {
                let names = kv
                    .kv
                    .list(mount, &folder)
                    .map_err(|e| ResetError::Secrets(e.to_string()))?;
                for name in names {
                    let path = format!("{folder}{name}");
                    if name.ends_with('/') {
                        folders.push(path);
                        continue;
                    }
                    count += 1;
                    if !dry_run {
                        kv.kv
                            .delete_all(mount, &path)
                            .map_err(|e| ResetError::Secrets(e.to_string()))?;
                    }
                }
            }
        }
        Ok(count)
    }
}
