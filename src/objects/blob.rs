//! Object bytes as files named by random id (never by key, so no key can reach a path).
//!
//! A blob is written to `tmp/`, fsynced, then renamed into `blobs/xx/<id>` and the directory
//! fsynced; only then may metadata point at it. A crash leaves at worst an unreferenced file,
//! which the start-up sweep removes.

use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use tokio::io::AsyncWriteExt;

use super::ObjectError;
use crate::durable;

pub struct BlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

/// Blobs up to this size are kept in the database rather than in a file of their own.
pub const INLINE_MAX: usize = 64 * 1024;

/// A finished blob: durable when it is a file, or bytes to commit with its metadata.
#[derive(Debug, Clone)]
pub struct Blob {
    pub id: String,
    pub size: u64,
    pub md5: [u8; 16],
    pub inline: Option<std::sync::Arc<Vec<u8>>>,
}

impl Blob {
    /// The segment that points at this blob (carrying its bytes when inline).
    pub fn segment(&self) -> super::Segment {
        super::Segment {
            blob: self.id.clone(),
            size: self.size,
            data: self.inline.clone(),
        }
    }
}

/// A blob being written: in memory while small, then in a temp file. Dropping it unfinished
/// removes the temp file.
pub struct BlobWriter {
    buffer: Vec<u8>,
    file: Option<tokio::fs::File>,
    finished: bool,
    tmp_path: PathBuf,
    final_path: PathBuf,
    final_dir: PathBuf,
    id: String,
    size: u64,
    max_size: u64,
    md5: Md5,
}

fn io(context: &str, e: std::io::Error) -> ObjectError {
    ObjectError::Io(format!("{context}: {e}"))
}

impl BlobStore {
    pub fn open(root: &Path) -> Result<Self, ObjectError> {
        let blobs = root.join("blobs");
        let tmp = root.join("tmp");
        for dir in [&blobs, &tmp] {
            std::fs::create_dir_all(dir).map_err(|e| io(&dir.display().to_string(), e))?;
        }
        // Every shard directory exists (and is durable in its parent) before any blob lands.
        for shard in 0..=255u8 {
            let dir = blobs.join(format!("{shard:02x}"));
            std::fs::create_dir_all(&dir).map_err(|e| io(&dir.display().to_string(), e))?;
        }
        durable::sync_dir(&blobs).map_err(|e| io("syncing the blob directory", e))?;
        // Temp files belong to writes that never finished.
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(BlobStore { blobs, tmp })
    }

    pub fn path(&self, id: &str) -> PathBuf {
        let shard = id.get(..2).unwrap_or("00");
        self.blobs.join(shard).join(id)
    }

    /// Starts a blob that refuses to grow past `max_size` bytes.
    pub async fn writer(&self, max_size: u64) -> Result<BlobWriter, ObjectError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let tmp_path = self.tmp.join(&id);
        let final_path = self.path(&id);
        let final_dir = final_path
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| self.blobs.clone());
        Ok(BlobWriter {
            buffer: Vec::new(),
            file: None,
            finished: false,
            tmp_path,
            final_path,
            final_dir,
            id,
            size: 0,
            max_size,
            md5: Md5::new(),
        })
    }

    /// Writes a blob synchronously (seeding at start-up), with the same durability steps; small
    /// ones are returned inline like streamed ones.
    pub fn write_all_blocking(&self, bytes: &[u8]) -> Result<Blob, ObjectError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let md5 = Md5::digest(bytes).into();
        if bytes.len() <= INLINE_MAX {
            let inline = Some(std::sync::Arc::new(bytes.to_vec()));
            return Ok(Blob {
                id: format!("i{id}"),
                size: bytes.len() as u64,
                md5,
                inline,
            });
        }
        let tmp = self.tmp.join(&id);
        let target = self.path(&id);
        let dir = target
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| self.blobs.clone());
        durable::write_synced(&tmp, bytes, durable::Access::Shared)
            .map_err(|e| io("writing a blob", e))?;
        std::fs::create_dir_all(&dir).map_err(|e| io("creating a blob directory", e))?;
        durable::install(&tmp, &target).map_err(|e| io("installing a blob", e))?;
        Ok(Blob {
            id,
            size: bytes.len() as u64,
            md5,
            inline: None,
        })
    }

    /// Removes blobs; missing files are fine (a crash may have removed them already).
    pub fn remove(&self, ids: impl IntoIterator<Item = String>) {
        // Inline blobs go with the transaction that drops their metadata.
        for id in ids.into_iter().filter(|id| !id.starts_with('i')) {
            let _ = std::fs::remove_file(self.path(&id));
        }
    }

    /// Removes every blob file not in `referenced` (leftovers of interrupted writes or deletes).
    pub fn sweep(&self, referenced: &std::collections::HashSet<String>) -> usize {
        let mut removed = 0;
        let Ok(shards) = std::fs::read_dir(&self.blobs) else {
            return 0;
        };
        for shard in shards.flatten() {
            let Ok(files) = std::fs::read_dir(shard.path()) else {
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                if !referenced.contains(&name) && std::fs::remove_file(file.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        removed
    }
}

impl BlobWriter {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), ObjectError> {
        self.size += chunk.len() as u64;
        if self.size > self.max_size {
            return Err(ObjectError::EntityTooLarge { max: self.max_size });
        }
        self.md5.update(chunk);
        if self.file.is_none() && self.buffer.len() + chunk.len() <= INLINE_MAX {
            self.buffer.extend_from_slice(chunk);
            return Ok(());
        }
        if self.file.is_none() {
            let mut file = tokio::fs::File::create(&self.tmp_path)
                .await
                .map_err(|e| io("creating a temp file", e))?;
            file.write_all(&std::mem::take(&mut self.buffer))
                .await
                .map_err(|e| io("writing a blob", e))?;
            self.file = Some(file);
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| ObjectError::Io("blob already finished".into()))?;
        file.write_all(chunk)
            .await
            .map_err(|e| io("writing a blob", e))
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The MD5 of the bytes written so far (to check a body before it is finished).
    pub fn md5(&self) -> [u8; 16] {
        self.md5.clone().finalize().into()
    }

    /// Makes a large blob durable under its final name; a small one is handed over for the
    /// metadata transaction.
    pub async fn finish(mut self) -> Result<Blob, ObjectError> {
        let md5 = std::mem::take(&mut self.md5).finalize().into();
        let Some(mut file) = self.file.take() else {
            self.finished = true;
            let bytes = std::mem::take(&mut self.buffer);
            return Ok(Blob {
                id: format!("i{}", self.id),
                size: self.size,
                md5,
                inline: Some(std::sync::Arc::new(bytes)),
            });
        };
        file.flush().await.map_err(|e| io("flushing a blob", e))?;
        file.sync_all().await.map_err(|e| io("syncing a blob", e))?;
        drop(file);
        tokio::fs::create_dir_all(&self.final_dir)
            .await
            .map_err(|e| io("creating a blob directory", e))?;
        let (tmp, target) = (self.tmp_path.clone(), self.final_path.clone());
        tokio::task::spawn_blocking(move || durable::install(&tmp, &target))
            .await
            .map_err(|e| ObjectError::Io(e.to_string()))?
            .map_err(|e| io("installing a blob", e))?;
        self.finished = true;
        Ok(Blob {
            id: std::mem::take(&mut self.id),
            size: self.size,
            md5,
            inline: None,
        })
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // An unfinished writer may have spilled to its temp file; a finished one renamed it.
        if !self.finished {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}
