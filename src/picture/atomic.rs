//! Atomic file writes: the picture goes to `<name>.tmp` beside the target, is synced, then
//! renamed over the target, so a crash never leaves a half-written file under the real name.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use ::image::ImageResult;

use super::PictureError;

/// Writes `path` atomically with `encode`; on failure removes the temporary file.
pub(crate) fn write_atomically(
    path: &Path,
    encode: impl FnOnce(&mut BufWriter<File>) -> ImageResult<()>,
) -> Result<(), PictureError> {
    let tmp = temporary_path(path)?;
    let result = write_then_rename(path, &tmp, encode);
    if result.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `dir/name.png` → `dir/name.png.tmp`: same folder, so the rename stays on one file system.
pub(crate) fn temporary_path(path: &Path) -> Result<PathBuf, PictureError> {
    let name = path.file_name().ok_or_else(|| PictureError::Io {
        path: path.to_owned(),
        error: io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    let mut tmp = OsString::from(name);
    tmp.push(".tmp");
    Ok(path.with_file_name(tmp))
}

fn write_then_rename(
    path: &Path,
    tmp: &Path,
    encode: impl FnOnce(&mut BufWriter<File>) -> ImageResult<()>,
) -> Result<(), PictureError> {
    let io_error = |error| PictureError::Io {
        path: path.to_owned(),
        error,
    };
    let mut writer = BufWriter::new(File::create(tmp).map_err(io_error)?);
    encode(&mut writer).map_err(|error| PictureError::Encode {
        path: path.to_owned(),
        error,
    })?;
    let file = writer
        .into_inner()
        .map_err(|error| io_error(error.into_error()))?;
    file.sync_all().map_err(io_error)?;
    fs::rename(tmp, path).map_err(io_error)
}
