//! Reading and writing PEM files, with private keys readable by the owner only.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use super::PkiError;

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` and its parents if they do not exist yet.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), PkiError> {
    fs::create_dir_all(dir).map_err(io_error(dir))
}

/// Reads a whole text file.
pub(crate) fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(io_error(path))
}

/// How to treat a file that is already there.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    Overwrite,
    Refuse,
}

/// Writes a public file (certificate), mode 0644 on unix for a new file.
pub(crate) fn write_public(
    path: &Path,
    contents: &str,
    existing: Existing,
) -> Result<(), PkiError> {
    write(path, contents, existing, 0o644)
}

/// Writes a private key, mode 0600 on unix, also when the file existed.
pub(crate) fn write_secret(
    path: &Path,
    contents: &str,
    existing: Existing,
) -> Result<(), PkiError> {
    write(path, contents, existing, 0o600)
}

/// Replaces a public file in one step (a temporary file renamed over it),
/// so that a process watching the file sees the old or the new contents,
/// never a half-written one.
pub(crate) fn write_public_atomic(path: &Path, contents: &str) -> Result<(), PkiError> {
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let temporary = path.with_file_name(format!(".{name}.tmp"));
    write_public(&temporary, contents, Existing::Overwrite)?;
    fs::rename(&temporary, path).map_err(io_error(path))
}

fn write(path: &Path, contents: &str, existing: Existing, mode: u32) -> Result<(), PkiError> {
    let mut options = OpenOptions::new();
    options.write(true);
    match existing {
        Existing::Overwrite => options.create(true).truncate(true),
        Existing::Refuse => options.create_new(true),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == io::ErrorKind::AlreadyExists {
            PkiError::AlreadyExists(path.to_path_buf())
        } else {
            io_error(path)(source)
        }
    })?;
    // `mode` only applies to new files: tighten an existing key file too.
    #[cfg(unix)]
    if mode == 0o600 {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io_error(path))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(path))
}
