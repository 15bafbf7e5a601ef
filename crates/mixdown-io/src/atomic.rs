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

/// Creates `path` with whatever `fill` writes, atomically: the bytes go to a
/// temporary file in the destination folder, which is flushed to disk and renamed
/// over the destination only when `fill` succeeded. On any failure nothing is left
/// behind and an existing destination is untouched.
pub fn write_atomically(
    path: &Path,
    overwrite: Overwrite,
    fill: impl FnOnce(&mut File) -> Result<(), String>,
) -> Result<(), IoError> {
    check_destination(path, overwrite)?;
    let write_error = |reason: String| IoError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut temporary = tempfile::Builder::new()
        .prefix(".mixdown-")
        .suffix(".tmp")
        .tempfile_in(&folder)
        .map_err(|e| write_error(e.to_string()))?;
    fill(temporary.as_file_mut()).map_err(write_error)?;
    apply_output_permissions(temporary.as_file(), path).map_err(|e| write_error(e.to_string()))?;
    temporary
        .as_file()
        .sync_all()
        .map_err(|e| write_error(e.to_string()))?;
    match overwrite {
        Overwrite::Replace => temporary.persist(path).map(drop),
        // No-clobber persist fails instead of replacing a file created meanwhile.
        Overwrite::Refuse => temporary.persist_noclobber(path).map(drop),
    }
    .map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            IoError::OutputExists {
                path: path.to_path_buf(),
            }
        } else {
            write_error(e.error.to_string())
        }
    })
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
