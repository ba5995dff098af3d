//! Course data in services. An install naming a course bucket is refused unless its owner may
//! read that bucket; on runtimes that mount directories of this machine (Docker, Podman) the
//! bucket's copy here is brought up to date before the service starts or resumes, and mounted
//! read-only. Where the copy lives and who may read what is `classes::course`'s business,
//! handed in as a [`CourseData`].

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Caller, Lab, LabError};
use crate::runtime::{ContainerSpec, Runtime, RuntimeError};

/// Why a course cannot be mounted.
#[derive(Debug)]
pub enum CourseRefusal {
    /// The user's mistake: a bucket that does not exist, or that they may not read.
    Forbidden(String),
    /// The platform's: the object store failed.
    Failed(String),
}

#[async_trait::async_trait]
pub trait CourseData: Send + Sync {
    /// Why `username` (whose bearer token holds `claims`) may not have `bucket` mounted: it
    /// does not exist, or they could not list it and read every object in it over S3.
    fn check(
        &self,
        username: &str,
        claims: &Map<String, Value>,
        bucket: &str,
    ) -> Result<(), CourseRefusal>;

    /// Whether copies may be mounted into services (on runtimes that mount host folders).
    fn mounts(&self) -> bool;

    /// Brings this machine's copy of `bucket` up to date and answers its directory.
    async fn copy(&self, bucket: &str) -> Result<PathBuf, String>;
}

impl Lab {
    /// Hands in who may mount which course and where copies live (once, at start).
    pub fn set_course_data(&self, courses: Arc<dyn CourseData>) {
        let _ = self.courses.set(courses);
    }

    /// Refuses a course the caller may not read (or any course when the platform has none).
    pub(super) fn check_course(
        &self,
        caller: &Caller<'_>,
        spec: &ContainerSpec,
    ) -> Result<(), LabError> {
        let Some(course) = &spec.course else {
            return Ok(());
        };
        let courses = self.courses.get().ok_or_else(|| {
            LabError::Validation(vec!["course data is not available on this platform".into()])
        })?;
        courses
            .check(caller.username, caller.claims, &course.bucket)
            .map_err(|refusal| match refusal {
                CourseRefusal::Forbidden(m) => LabError::Forbidden(m),
                CourseRefusal::Failed(m) => LabError::Internal(format!("course data: {m}")),
            })
    }

    /// Before a deploy: the course's copy, on runtimes that mount one.
    pub(super) async fn prepare_course(
        &self,
        runtime: &dyn Runtime,
        spec: &mut ContainerSpec,
    ) -> Result<(), RuntimeError> {
        let (Some(course), Some(courses)) = (spec.course.as_mut(), self.courses.get()) else {
            return Ok(());
        };
        if runtime.mounts_host_dirs() && courses.mounts() {
            let dir = courses.copy(&course.bucket).await.map_err(|e| {
                RuntimeError::Engine(format!("course data `{}`: {e}", course.bucket))
            })?;
            course.host_dir = Some(dir);
        } else {
            // Not mounted here: the service reaches the course through S3 only.
            spec.env.remove("COURSE_DIR");
        }
        Ok(())
    }

    /// Before a resume: the course's copy brought up to date (the mount points at it already).
    pub(super) async fn refresh_course(&self, project: &str, release: &str) {
        let (Some(runtime), Some(courses)) = (&self.runtime, self.courses.get()) else {
            return;
        };
        if !runtime.mounts_host_dirs() || !courses.mounts() {
            return;
        }
        let Ok(services) = self.engine_services(runtime).await else {
            return;
        };
        let course = services
            .iter()
            .find(|s| s.meta.project == project && s.meta.release == release)
            .map(|s| s.meta.course.clone())
            .filter(|c| !c.is_empty());
        if let Some(bucket) = course
            && let Err(e) = courses.copy(&bucket).await
        {
            tracing::warn!(%release, %bucket, error = %e, "course data not refreshed");
        }
    }
}
