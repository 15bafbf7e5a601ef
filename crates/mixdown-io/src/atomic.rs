//! Atomic file replacement: write beside the destination, flush, rename.

use crate::encode::Overwrite;
use crate::IoError;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Fails early when `path` exists and may not be replaced, so callers can refuse
/// before doing any expensive work.
pub fn check_destination(path: &Path, overwrite: Overwrite) -> Result<(), IoError> {
    if overwrite == Overwrite::Refuse && path.exists() {
        return Err(IoError::OutputExists {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// A file being written atomically: the bytes go to a temporary file in the
/// destination folder, which [`commit`](Self::commit) flushes to disk and renames
/// over the destination. Dropped without a commit, it leaves nothing behind and an
/// existing destination untouched.
pub struct AtomicFile {
    temporary: tempfile::NamedTempFile,
    path: PathBuf,
    overwrite: Overwrite,
}

impl AtomicFile {
    /// Starts writing `path`; fails at once if it exists and may not be replaced.
    pub fn create(path: &Path, overwrite: Overwrite) -> Result<Self, IoError> {
        check_destination(path, overwrite)?;
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let temporary = tempfile::Builder::new()
            .prefix(".mixdown-")
            .suffix(".tmp")
            .tempfile_in(&folder)
            .map_err(|e| write_error(path, e.to_string()))?;
        Ok(Self {
            temporary,
            path: path.to_path_buf(),
            overwrite,
        })
    }

    /// The destination path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary file to write into.
    pub fn file_mut(&mut self) -> &mut File {
        self.temporary.as_file_mut()
    }

    /// Flushes and renames the temporary file into place.
    pub fn commit(self) -> Result<(), IoError> {
        let path = self.path;
        let file = self.temporary.as_file();
        apply_output_permissions(file, &path).map_err(|e| write_error(&path, e.to_string()))?;
        file.sync_all()
            .map_err(|e| write_error(&path, e.to_string()))?;
        match self.overwrite {
            Overwrite::Replace => self.temporary.persist(&path).map(drop),
            // No-clobber persist fails instead of replacing a file created meanwhile.
            Overwrite::Refuse => self.temporary.persist_noclobber(&path).map(drop),
        }
        .map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                IoError::OutputExists { path: path.clone() }
            } else {
                write_error(&path, e.error.to_string())
            }
        })
    }
}

fn write_error(path: &Path, reason: String) -> IoError {
    IoError::Write {
        path: path.to_path_buf(),
        reason,
    }
}

/// Creates `path` with whatever `fill` writes, atomically (see [`AtomicFile`]).
pub fn write_atomically(
    path: &Path,
    overwrite: Overwrite,
    fill: impl FnOnce(&mut File) -> Result<(), String>,
) -> Result<(), IoError> {
    let mut file = AtomicFile::create(path, overwrite)?;
    fill(file.file_mut()).map_err(|reason| write_error(path, reason))?;
    file.commit()
}

/// Writes a text file (reports, sessions) atomically.
pub fn write_text_atomically(path: &Path, text: &str, overwrite: Overwrite) -> Result<(), IoError> {
    write_atomically(path, overwrite, |file| {
        file.write_all(text.as_bytes()).map_err(|e| e.to_string())
    })
}

/// Temporary files are created private (0600); a finished output carries the
/// permissions of the file it replaces, or the usual 0644 of a new document.
#[cfg(unix)]
fn apply_output_permissions(file: &File, destination: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let permissions = std::fs::metadata(destination).map_or_else(
        |_| std::fs::Permissions::from_mode(0o644),
        |m| m.permissions(),
    );
    file.set_permissions(permissions)
}

/// Elsewhere temporary files already get ordinary permissions.
#[cfg(not(unix))]
fn apply_output_permissions(_file: &File, _destination: &Path) -> std::io::Result<()> {
    Ok(())
}
