//! Images made by any tool, for scoring: an IDX image file (MNIST's format), or a folder of
//! PNG files, one image each (searched recursively, in name order), converted to grey and
//! resized to the classifier's size where they differ.

use std::path::{Path, PathBuf};

use ::image::imageops::FilterType;

use super::ScoreError;
use crate::data::idx;

/// Images read for scoring, as values in [0, 1], row after row.
pub struct ReadImages {
    pub pixels: Vec<f32>,
    pub count: usize,
    /// Files that could not be decoded, with why (skipped).
    pub skipped: Vec<(PathBuf, String)>,
    /// Images whose size differed from the classifier's, resized to it.
    pub resized: usize,
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
        resized: 0,
    })
}

fn read_folder(dir: &Path, (height, width): (usize, usize)) -> Result<ReadImages, ScoreError> {
    let mut files = Vec::new();
    png_files(dir, &mut files)?;
    files.sort();
    let mut read = ReadImages {
        pixels: Vec::with_capacity(files.len() * height * width),
        count: 0,
        skipped: Vec::new(),
        resized: 0,
    };
    for file in files {
        let decoded = ::image::ImageReader::open(&file)
            .map_err(|e| e.to_string())
            .and_then(|r| r.with_guessed_format().map_err(|e| e.to_string()))
            .and_then(|r| r.decode().map_err(|e| e.to_string()));
        let image = match decoded {
            Ok(image) => image.into_luma8(),
            Err(why) => {
                read.skipped.push((file, why));
                continue;
            }
        };
        let image = if image.dimensions() == (width as u32, height as u32) {
            image
        } else {
            read.resized += 1;
            ::image::imageops::resize(&image, width as u32, height as u32, FilterType::Triangle)
        };
        read.pixels
            .extend(image.as_raw().iter().map(|&b| f32::from(b) / 255.0));
        read.count += 1;
    }
    Ok(read)
}

/// The `.png` files under `dir`, recursively.
fn png_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ScoreError> {
    let listing_error =
        |e: std::io::Error| ScoreError::Images(format!("cannot list {}: {e}", dir.display()));
    for entry in std::fs::read_dir(dir).map_err(listing_error)? {
        let path = entry.map_err(listing_error)?.path();
        if path.is_dir() {
            png_files(&path, out)?;
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("png"))
        {
            out.push(path);
        }
    }
    Ok(())
}
