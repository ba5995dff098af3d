//! Course buckets as read-only folders in services. Each course bucket a service mounts has a
//! copy under `<data_dir>/courses/<bucket>/`, brought up to date before a service using it
//! starts or resumes, and every minute while copies exist. The files themselves say what they
//! hold: a file whose size and modification time are the object's is current, so nothing else
//! is kept and a restart copies nothing again. Files are written to a temp directory beside
//! the copies and renamed in, so a service never reads half a file.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use futures_util::StreamExt;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use crate::identity::Identity;
use crate::objects::{ByteStream, ReadError};
use crate::objects::{ObjectError, ObjectRecord, ObjectStore};
use crate::services::courses::{CourseData, CourseRefusal};

/// S3's own judgement of reads (the user's policies, then the bucket's policy and ACLs),
/// handed in by the S3 edge, so a mount shows exactly what the user could read over S3.
pub trait ReadAccess: Send + Sync {
    /// For the holder of STS keys got with these token claims: whether `action` on `resource`
    /// (`bucket` or `bucket/key`) is allowed.
    fn judge<'a>(&'a self, claims: &Map<String, Value>) -> Judge<'a>;
}

/// `(action, resource) → allowed` for one user.
pub type Judge<'a> = Box<dyn Fn(&str, &str) -> bool + 'a>;

/// The copies of course buckets on this machine, and who may mount them.
pub struct CourseCopies {
    objects: Arc<ObjectStore>,
    access: Arc<dyn ReadAccess>,
    identity: Arc<Identity>,
    sts_client_id: String,
    /// `runtime.course_mounts`.
    mounts: bool,
    /// `<data_dir>/courses`.
    root: PathBuf,
    /// One pass over a bucket at a time, and when the last one began and what it did.
    locks: Mutex<HashMap<String, Arc<PassLock>>>,
}

type PassLock = tokio::sync::Mutex<Option<(Instant, CopyOutcome)>>;

/// What one pass over a bucket changed.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct CopyOutcome {
    pub files: usize,
    pub written: usize,
    pub removed: usize,
    pub bytes_written: u64,
    /// Objects that could not be copied (logged); the next pass tries again.
    pub failed: usize,
}

/// The temp directory beside the copies (a bucket name never starts with a dot).
const TEMP: &str = ".incoming";
/// The longest file name Linux filesystems take, in bytes.
const NAME_MAX: usize = 255;

impl CourseCopies {
    pub fn new(
        objects: Arc<ObjectStore>,
        access: Arc<dyn ReadAccess>,
        identity: Arc<Identity>,
        config: &crate::config::Config,
        data_dir: &Path,
    ) -> Self {
        CourseCopies {
            objects,
            access,
            identity,
            sts_client_id: config.s3.sts_client_id.clone(),
            mounts: config.runtime.course_mounts,
            root: data_dir.join("courses"),
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// Brings `bucket`'s copy up to date: new and changed objects written, files of objects
    /// gone removed. A caller that waited while another brought the copy up to date, in a pass
    /// that began after it asked, takes that pass's result.
    pub async fn sync(&self, bucket: &str) -> Result<CopyOutcome, CourseError> {
        let asked = Instant::now();
        let lock = crate::sync::lock(&self.locks)
            .entry(bucket.to_owned())
            .or_default()
            .clone();
        let mut last = lock.lock().await;
        if let Some((began, outcome)) = *last
            && began >= asked
        {
            return Ok(outcome);
        }
        let began = Instant::now();
        let outcome = self.sync_now(bucket).await?;
        *last = Some((began, outcome));
        Ok(outcome)
    }

    async fn sync_now(&self, bucket: &str) -> Result<CopyOutcome, CourseError> {
        let dir = self.root.join(bucket);
        // Each bucket's temp files apart: a pass may clear what a crash left of its own.
        let temp = self.root.join(TEMP).join(bucket);
        let objects = self.current_objects(bucket)?;
        let (dirs, planned) = (dir.clone(), temp.clone());
        let plan = crate::blocking::run(move || plan(&dirs, &planned, objects)).await??;
        let mut outcome = CopyOutcome {
            files: plan.files,
            removed: plan.removed,
            ..Default::default()
        };
        for (key, path, record) in plan.stale {
            // One object that cannot be copied does not keep the others from services.
            match self.write_file(bucket, &key, &record, &path, &temp).await {
                Ok(()) => {
                    outcome.written += 1;
                    outcome.bytes_written += record.size;
                }
                Err(e) => {
                    outcome.failed += 1;
                    tracing::warn!(%bucket, %key, error = %e, "course object not copied");
                }
            }
        }
        Ok(outcome)
    }

    /// Every current object of `bucket`, folder markers left out.
    fn current_objects(&self, bucket: &str) -> Result<Vec<(String, ObjectRecord)>, CourseError> {
        let mut all = self.objects.current_objects(bucket)?;
        all.retain(|(key, r)| !(key.ends_with('/') && r.size == 0));
        Ok(all)
    }

    /// The object's bytes; when it was replaced meanwhile, its newest version's.
    async fn open(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
    ) -> Result<ByteStream, CourseError> {
        let mut record = record.clone();
        for _ in 0..3 {
            match self.objects.read(&record.segments, 0, record.size).await {
                Ok(body) => return Ok(body),
                Err(ReadError::Gone) => record = self.objects.head(bucket, key)?,
                Err(ReadError::Failed(e)) => return Err(e.into()),
            }
        }
        Err(CourseError::Busy(key.to_owned()))
    }

    async fn write_file(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        path: &Path,
        temp: &Path,
    ) -> Result<(), CourseError> {
        let tmp = temp.join(format!("{:016x}", rand::random::<u64>()));
        let written = async {
            let mut body = self.open(bucket, key, record).await?;
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(io("creating a course file"))?;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(io("reading a course object"))?;
                file.write_all(&chunk)
                    .await
                    .map_err(io("writing a course file"))?;
            }
            file.sync_all().await.map_err(io("syncing a course file"))?;
            let file = file.into_std().await;
            let modified = UNIX_EPOCH + Duration::from_millis(record.last_modified);
            let (tmp, path) = (tmp.clone(), path.to_owned());
            crate::blocking::run(move || install_file(&file, modified, &tmp, &path)).await?
        }
        .await;
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// The buckets that have a copy here.
    fn copied_buckets(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name != TEMP)
            .collect()
    }

    /// Brings every copy up to date (a bucket deleted since keeps its last copy, which
    /// services may still have mounted).
    pub async fn sync_all(&self) {
        for bucket in self.copied_buckets() {
            match self.sync(&bucket).await {
                Ok(o) if o.written + o.removed > 0 => {
                    tracing::info!(%bucket, written = o.written, removed = o.removed, "course copy updated");
                }
                Ok(_) => {}
                Err(CourseError::Objects(ObjectError::NoSuchBucket)) => {
                    tracing::debug!(%bucket, "course bucket gone: its last copy stays");
                }
                Err(e) => tracing::warn!(%bucket, error = %e, "course copy not updated"),
            }
        }
    }
}

#[async_trait::async_trait]
impl CourseData for CourseCopies {
    fn check(
        &self,
        username: &str,
        bearer_claims: &Map<String, Value>,
        bucket: &str,
    ) -> Result<(), CourseRefusal> {
        match self.objects.bucket(bucket) {
            Ok(_) => {}
            Err(ObjectError::NoSuchBucket) => {
                return Err(CourseRefusal::Forbidden(format!(
                    "no course bucket `{bucket}`"
                )));
            }
            Err(e) => return Err(CourseRefusal::Failed(e.to_string())),
        }
        // A realm user's policies are in the tokens of the STS client, not in the bearer
        // token the API got; an external issuer's token is all there is (and a realm user
        // of the same name is somebody else).
        let ours = bearer_claims.get("iss").and_then(Value::as_str) == Some(&self.identity.issuer);
        let realm_claims = ours
            .then(|| {
                self.identity
                    .access_claims_for(username, &self.sts_client_id)
            })
            .flatten();
        let claims = realm_claims.as_ref().unwrap_or(bearer_claims);
        // Exactly what their STS keys could read: the listing and every object shown.
        let allows = self.access.judge(claims);
        if !allows("s3:ListBucket", bucket) {
            return Err(CourseRefusal::Forbidden(format!(
                "you may not read the course bucket `{bucket}`: its data cannot be mounted"
            )));
        }
        let objects = self
            .current_objects(bucket)
            .map_err(|e| CourseRefusal::Failed(e.to_string()))?;
        match objects
            .iter()
            .find(|(key, _)| !allows("s3:GetObject", &format!("{bucket}/{key}")))
        {
            Some((key, _)) => Err(CourseRefusal::Forbidden(format!(
                "you may not read `{key}` of the course bucket `{bucket}`: its data cannot be mounted"
            ))),
            None => Ok(()),
        }
    }

    fn mounts(&self) -> bool {
        self.mounts
    }

    async fn copy(&self, bucket: &str) -> Result<PathBuf, String> {
        let outcome = self.sync(bucket).await.map_err(|e| e.to_string())?;
        tracing::info!(%bucket, files = outcome.files, written = outcome.written, removed = outcome.removed, "course copy ready");
        // Engines take absolute paths only (a relative one names a volume).
        std::fs::canonicalize(self.root.join(bucket)).map_err(|e| e.to_string())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CourseError {
    #[error(transparent)]
    Objects(#[from] ObjectError),
    #[error("`{0}` kept changing while it was copied")]
    Busy(String),
    #[error(transparent)]
    Blocking(#[from] crate::blocking::BlockingError),
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        source: std::io::Error,
    },
}

fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> CourseError {
    move |source| CourseError::Io { context, source }
}

/// Dates a written temp file as its object, opens it to services and renames it into place.
fn install_file(
    file: &std::fs::File,
    modified: std::time::SystemTime,
    tmp: &Path,
    path: &Path,
) -> Result<(), CourseError> {
    file.set_modified(modified)
        .map_err(io("dating a course file"))?;
    set_mode(tmp, 0o644).map_err(io("opening a course file to services"))?;
    if let Some(parent) = path.parent() {
        create_shared_dir(parent).map_err(io("creating a course folder"))?;
    }
    if path.is_dir() {
        std::fs::remove_dir_all(path).map_err(io("replacing a course folder"))?;
    }
    crate::durable::install(tmp, path).map_err(io("installing a course file"))
}

/// What a pass must write, after the files of objects gone were removed.
struct Plan {
    files: usize,
    removed: usize,
    stale: Vec<(String, PathBuf, ObjectRecord)>,
}

/// The filesystem half of a pass, on the blocking pool: the folders made, temp files of an
/// interrupted pass cleared, files of objects gone removed, and the objects whose file is
/// missing or differs listed.
fn plan(
    dir: &Path,
    temp: &Path,
    objects: Vec<(String, ObjectRecord)>,
) -> Result<Plan, CourseError> {
    let root = dir.parent().unwrap_or(dir);
    for d in [root, dir] {
        create_shared_dir(d).map_err(io("creating the course directory"))?;
    }
    let _ = std::fs::remove_dir_all(temp);
    std::fs::create_dir_all(temp).map_err(io("creating the course temp directory"))?;
    // Keys come in order, so a key always comes before any key under it as a folder: a key
    // whose folder is a file already kept is left out.
    let mut wanted = BTreeSet::new();
    let mut files = Vec::new();
    for (key, record) in objects {
        let Some(relative) = relative_path(&key) else {
            tracing::debug!(%key, "course object with no possible file name left out");
            continue;
        };
        let path = dir.join(&relative);
        if path.ancestors().skip(1).any(|a| wanted.contains(a)) {
            tracing::debug!(%key, "course object under a file of the same name left out");
            continue;
        }
        wanted.insert(path.clone());
        files.push((key, path, record));
    }
    // What is gone goes first, so a file where a folder now belongs is out of the way.
    let removed = remove_unwanted(dir, &wanted).map_err(io("pruning the course copy"))?;
    let count = files.len();
    let stale = files
        .into_iter()
        .filter(|(_, path, record)| !is_current(path, record))
        .collect();
    Ok(Plan {
        files: count,
        removed,
        stale,
    })
}

/// The file a key becomes under its bucket's copy; `None` for keys that cannot be one safely
/// (`..`, empty or `.` segments, NUL, a segment longer than a file name may be).
fn relative_path(key: &str) -> Option<PathBuf> {
    let segments: Vec<&str> = key.split('/').collect();
    let safe = segments.iter().all(|s| {
        !s.is_empty() && *s != "." && *s != ".." && !s.contains('\0') && s.len() <= NAME_MAX
    });
    safe.then(|| segments.iter().collect())
}

/// Whether the file at `path` already holds `record` (same size, same modification time).
fn is_current(path: &Path, record: &ObjectRecord) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    let millis = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64);
    meta.is_file() && meta.len() == record.size && millis == Some(record.last_modified)
}

/// Removes every file under `dir` that is not wanted, and the folders left empty.
fn remove_unwanted(dir: &Path, wanted: &BTreeSet<PathBuf>) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let kind = std::fs::symlink_metadata(&path)?.file_type();
        if kind.is_dir() {
            removed += remove_unwanted(&path, wanted)?;
            if std::fs::read_dir(&path)?.next().is_none() {
                std::fs::remove_dir(&path)?;
            }
        } else if !wanted.contains(&path) {
            std::fs::remove_file(&path)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// A folder services may read (0755): the copies are mounted into containers whose users are
/// not this process's.
fn create_shared_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    set_mode(dir, 0o755)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_safe_relative_paths_or_nothing() {
        assert_eq!(
            relative_path("week1/data.csv"),
            Some(PathBuf::from("week1/data.csv"))
        );
        let long = "x".repeat(NAME_MAX + 1);
        for bad in [
            "../x", "a/../b", "/abs", "a//b", "./a", "a/", "nul\0", &long,
        ] {
            assert_eq!(relative_path(bad), None, "{bad:?}");
        }
        assert!(relative_path(&"x".repeat(NAME_MAX)).is_some());
    }
}
