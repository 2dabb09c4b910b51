//! Pictures are encoded in memory, then written with [`crate::fsutil::write_atomically`]: a
//! crash never leaves a half-written file under the real name.

use std::path::Path;

use ::image::ImageResult;

use super::PictureError;

/// Encodes with `encode`, then writes `path` atomically.
pub(crate) fn write_atomically(
    path: &Path,
    encode: impl FnOnce(&mut Vec<u8>) -> ImageResult<()>,
) -> Result<(), PictureError> {
    let mut bytes = Vec::new();
    encode(&mut bytes).map_err(|error| PictureError::Encode {
        path: path.to_owned(),
        error,
    })?;
    crate::fsutil::write_atomically(path, &bytes).map_err(|error| PictureError::Io {
        path: path.to_owned(),
        error,
    })
}
