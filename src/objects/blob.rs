//! Object bytes as files named by random id (never by key, so no key can reach a path), or,
//! when small, as rows of the database.
//!
//! A file blob is written to `tmp/`, fsynced, then renamed into `blobs/xx/<id>` and the
//! directory fsynced; only then may metadata point at it. A crash leaves at worst an
//! unreferenced file, which the start-up sweep removes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::ObjectError;
use crate::durable;

/// Blobs up to this size are kept in the database rather than in a file of their own.
pub const INLINE_MAX: usize = 64 * 1024;

/// The name of a blob: a file under `blobs/`, or a row of the inline table. Stored as text,
/// where an inline id is marked by a leading `i` (file ids are hex, so never start with one).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BlobId(String);

impl BlobId {
    fn new(inline: bool) -> Self {
        let id = uuid::Uuid::new_v4().simple();
        BlobId(if inline {
            format!("i{id}")
        } else {
            id.to_string()
        })
    }

    /// Small blobs live in the database, not in files.
    pub fn is_inline(&self) -> bool {
        self.0.starts_with('i')
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A finished blob: durable when it is a file, or bytes to commit with its metadata.
#[derive(Debug, Clone)]
pub struct Blob {
    pub id: BlobId,
    pub size: u64,
    pub inline: Option<Arc<Vec<u8>>>,
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

pub struct BlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

/// A blob being written: in memory while small, then in a temp file. Dropping it unfinished
/// removes the temp file.
pub struct BlobWriter {
    buffer: Vec<u8>,
    file: Option<tokio::fs::File>,
    finished: bool,
    id: BlobId,
    tmp_path: PathBuf,
    final_path: PathBuf,
    size: u64,
    max_size: u64,
}

fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> ObjectError {
    move |source| ObjectError::Io { context, source }
}

impl BlobStore {
    pub fn open(root: &Path) -> Result<Self, ObjectError> {
        let blobs = root.join("blobs");
        let tmp = root.join("tmp");
        for dir in [&blobs, &tmp] {
            std::fs::create_dir_all(dir).map_err(io("creating the object directories"))?;
        }
        // Every shard directory exists (and is durable in its parent) before any blob lands.
        for shard in 0..=255u8 {
            let dir = blobs.join(format!("{shard:02x}"));
            std::fs::create_dir_all(&dir).map_err(io("creating a blob directory"))?;
        }
        durable::sync_dir(&blobs).map_err(io("syncing the blob directory"))?;
        // Temp files belong to writes that never finished.
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(BlobStore { blobs, tmp })
    }

    /// Where a file blob lives.
    pub fn path(&self, id: &BlobId) -> PathBuf {
        let shard = id.0.get(..2).unwrap_or("00");
        self.blobs.join(shard).join(&id.0)
    }

    /// Starts a blob that refuses to grow past `max_size` bytes.
    pub fn writer(&self, max_size: u64) -> BlobWriter {
        let id = BlobId::new(false);
        BlobWriter {
            buffer: Vec::new(),
            file: None,
            finished: false,
            tmp_path: self.tmp.join(id.as_str()),
            final_path: self.path(&id),
            id,
            size: 0,
            max_size,
        }
    }

    /// Writes a blob from memory synchronously (seeding at start-up), with the same
    /// durability steps; small ones are returned inline like streamed ones.
    pub fn write_blocking(&self, bytes: &[u8]) -> Result<Blob, ObjectError> {
        let size = bytes.len() as u64;
        if bytes.len() <= INLINE_MAX {
            return Ok(Blob {
                id: BlobId::new(true),
                size,
                inline: Some(Arc::new(bytes.to_vec())),
            });
        }
        let id = BlobId::new(false);
        let tmp = self.tmp.join(id.as_str());
        durable::write_synced(&tmp, bytes, durable::Access::Shared)
            .map_err(io("writing a blob"))?;
        durable::install(&tmp, &self.path(&id)).map_err(io("installing a blob"))?;
        Ok(Blob {
            id,
            size,
            inline: None,
        })
    }

    /// Removes file blobs; missing files are fine (a crash may have removed them already).
    /// Inline blobs go with the transaction that drops their metadata.
    pub fn remove(&self, ids: impl IntoIterator<Item = BlobId>) {
        for id in ids.into_iter().filter(|id| !id.is_inline()) {
            let _ = std::fs::remove_file(self.path(&id));
        }
    }

    /// Removes every blob file not in `referenced` (leftovers of interrupted writes or deletes).
    pub fn sweep(&self, referenced: &HashSet<BlobId>) -> usize {
        let mut removed = 0;
        let Ok(shards) = std::fs::read_dir(&self.blobs) else {
            return 0;
        };
        for shard in shards.flatten() {
            let Ok(files) = std::fs::read_dir(shard.path()) else {
                continue;
            };
            for file in files.flatten() {
                let id = BlobId(file.file_name().to_string_lossy().into_owned());
                if !referenced.contains(&id) && std::fs::remove_file(file.path()).is_ok() {
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
        if self.file.is_none() && self.buffer.len() + chunk.len() <= INLINE_MAX {
            self.buffer.extend_from_slice(chunk);
            return Ok(());
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let mut file = tokio::fs::File::create(&self.tmp_path)
                    .await
                    .map_err(io("creating a temp file"))?;
                file.write_all(&std::mem::take(&mut self.buffer))
                    .await
                    .map_err(io("writing a blob"))?;
                self.file.insert(file)
            }
        };
        file.write_all(chunk).await.map_err(io("writing a blob"))
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Makes a large blob durable under its final name; a small one is handed over for the
    /// metadata transaction.
    pub async fn finish(mut self) -> Result<Blob, ObjectError> {
        let Some(mut file) = self.file.take() else {
            self.finished = true;
            return Ok(Blob {
                id: BlobId::new(true),
                size: self.size,
                inline: Some(Arc::new(std::mem::take(&mut self.buffer))),
            });
        };
        file.flush().await.map_err(io("flushing a blob"))?;
        file.sync_all().await.map_err(io("syncing a blob"))?;
        drop(file);
        let (tmp, target) = (self.tmp_path.clone(), self.final_path.clone());
        tokio::task::spawn_blocking(move || durable::install(&tmp, &target))
            .await
            .map_err(|e| io("installing a blob")(std::io::Error::other(e)))?
            .map_err(io("installing a blob"))?;
        self.finished = true;
        Ok(Blob {
            id: self.id.clone(),
            size: self.size,
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
