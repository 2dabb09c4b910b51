//! Images made by any tool, for scoring: an IDX image file (MNIST's format), or a folder of
//! PNG or JPEG files, one image each (searched recursively, in name order), converted to grey
//! and resized to the classifier's size where they differ.

use std::path::{Path, PathBuf};

use super::ScoreError;
use crate::data::idx;

/// Images read for scoring, as values in [0, 1], row after row.
pub struct ReadImages {
    pub pixels: Vec<f32>,
    pub count: usize,
    /// Files that could not be decoded, with why (skipped).
    pub skipped: Vec<(PathBuf, String)>,
}

/// Reads the images at `path` (an IDX file or a folder of PNGs) as `height × width` grey ones.
pub fn read_images(path: &Path, (height, width): (usize, usize)) -> Result<ReadImages, ScoreError> {
    if path.is_dir() {
        return read_folder(path, (height, width));
    }
    let images = idx::read_images(path).map_err(|e| ScoreError::Images(e.to_string()))?;
    if (images.rows, images.cols) != (height, width) {
        return Err(ScoreError::ImageShape {
            classifier_h: height,
            classifier_w: width,
            what: path.display().to_string(),
            h: images.rows,
            w: images.cols,
        });
    }
    Ok(ReadImages {
        pixels: images
            .pixels
            .iter()
            .map(|&b| f32::from(b) / 255.0)
            .collect(),
        count: images.count,
        skipped: Vec::new(),
    })
}

/// A picture folder, read as training data is (see [`crate::data::folder`]): center-cropped to
/// a square and resized to the classifier's side.
fn read_folder(dir: &Path, (height, width): (usize, usize)) -> Result<ReadImages, ScoreError> {
    if height != width {
        return Err(ScoreError::Images(format!(
            "pictures are read as squares; the classifier takes {height}×{width}"
        )));
    }
    let read = crate::data::folder::read_folder(dir, height, 1)
        .map_err(|e| ScoreError::Images(e.to_string()))?;
    let d = &read.dataset;
    Ok(ReadImages {
        pixels: d.images.iter().map(|&b| f32::from(b) / 255.0).collect(),
        count: d.count,
        skipped: read.skipped,
    })
}
