//! Durable files, the one way onyxia-lite writes a file: bytes go to a temp file, which is
//! fsynced, renamed over its target, and the target's directory fsynced. A crash at any moment
//! leaves the old file or the whole new one, never a part, and a file is not reported written
//! before its name is durable too (a rename lives in the directory, not in the file).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Who may read a file written here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// 0600: key material, tokens.
    Private,
    /// The process umask's default: files meant for other programs.
    Shared,
}

/// Writes `bytes` to `path` durably, through a temp file beside it.
pub fn write(path: &Path, bytes: &[u8], access: Access) -> std::io::Result<()> {
    let tmp = temp_beside(path);
    let written = write_synced(&tmp, bytes, access).and_then(|()| install(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Writes `bytes` to a new file at `tmp` and fsyncs it (not yet visible under its final name).
pub fn write_synced(tmp: &Path, bytes: &[u8], access: Access) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if access == Access::Private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    let mut file = options.open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Renames a written and fsynced file onto `target`, then fsyncs the target's directory so the
/// new name survives a crash.
pub fn install(tmp: &Path, target: &Path) -> std::io::Result<()> {
    std::fs::rename(tmp, target)?;
    sync_dir(target.parent().unwrap_or(Path::new(".")))
}

/// Makes the entries of `dir` (created, renamed or removed files) durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Writes key material to `path` durably with mode 0600, its directory created 0700.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    create_private_dir(path.parent().unwrap_or(Path::new(".")))?;
    write(path, bytes, Access::Private)
}

/// Creates `dir` (and parents) readable by the owner only.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// `.<name>.<random>.tmp` in the target's directory: a rename within one directory is atomic,
/// and the random part keeps two writers of one file apart.
fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let random: u32 = rand::random();
    path.with_file_name(format!(".{name}.{random:08x}.tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_whole_files_and_leave_no_temp_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write(&path, b"first", Access::Private).unwrap();
        write(&path, b"second", Access::Private).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "only the file itself remains");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("running.json");
        write(&path, b"old", Access::Shared).unwrap();
        // A directory where the file should go makes the rename fail.
        let blocked = dir.path().join("sub");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("x"), b"").unwrap();
        assert!(write(&blocked, b"new", Access::Shared).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        assert_eq!(leftovers, 0);
    }
}
