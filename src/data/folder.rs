//! Folders of pictures as datasets: PNG and JPEG files (searched recursively; ordered by a
//! hash of each path, a fixed order that mixes the subfolders, so that a held-out tail or
//! `--limit` takes from every class),
//! decoded with the `image` crate, converted to grey or RGB, center-cropped to a square and
//! resized to `size × size`, and kept as bytes like an IDX dataset (RGB channels-last). A folder whose pictures all sit in
//! subfolders is labelled by them, as torchvision's `ImageFolder` does (classes in name order).
//! Files that do not decode are listed and skipped, never fatal.
//!
//! Decoding thousands of files takes seconds, so the result is cached: as an IDX pair in the
//! cache folder (`<cache>/gengpu/images/<key>`), keyed by the folder, the size, and every file's
//! path, length and modification time, so that any change to the pictures reads them afresh.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use ::image::imageops::{self, FilterType};

use super::{DataError, Dataset, Split, fetch};

/// File extensions read as pictures.
const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];
/// Most classes a labelled folder may have: labels are bytes.
const MAX_CLASSES: usize = 256;
/// The largest side pictures are read at: beyond it one picture is tens of megabytes, a batch
/// gigabytes, and resizing a single picture could exhaust memory.
pub const MAX_IMAGE_SIZE: usize = 4096;
/// Where a cached folder notes the files it skipped, one per line.
const SKIPPED_FILE: &str = "skipped.txt";

/// A picture folder read as a dataset.
#[derive(Debug)]
pub struct Folder {
    pub dataset: Dataset,
    /// Files that did not decode, with why.
    pub skipped: Vec<(PathBuf, String)>,
    /// Class names (the subfolders), in label order; empty when unlabelled.
    pub classes: Vec<String>,
    /// Whether it came from the cache.
    pub cached: bool,
}

impl Folder {
    /// What a run's description says of it, e.g. `2 unreadable files skipped (a.png: …)`.
    pub fn notes(&self) -> String {
        let mut notes = Vec::new();
        if !self.classes.is_empty() {
            notes.push(format!(
                "{} classes from its subfolders",
                self.classes.len()
            ));
        }
        if let Some((file, why)) = self.skipped.first() {
            notes.push(format!(
                "{} unreadable file{} skipped ({}: {why}{})",
                self.skipped.len(),
                if self.skipped.len() == 1 { "" } else { "s" },
                file.display(),
                if self.skipped.len() > 1 { ", …" } else { "" }
            ));
        }
        if self.cached {
            notes.push("decoded before, read from the cache".into());
        }
        notes.join("; ")
    }
}

/// Whether `dir` holds any picture (recursively).
pub fn has_pictures(dir: &Path) -> bool {
    let mut files = Vec::new();
    pictures(dir, &mut files).is_ok() && !files.is_empty()
}

/// Reads the pictures under `dir` as `size × size` images of `channels` (1: grey, 3: RGB),
/// from the cache if they were read before and have not changed.
pub fn read_folder(dir: &Path, size: usize, channels: usize) -> Result<Folder, DataError> {
    check_settings(size, channels)?;
    let mut files = Vec::new();
    pictures(dir, &mut files).map_err(|e| DataError::io(dir, e))?;
    files.sort_by_cached_key(|file| {
        let relative = file.strip_prefix(dir).unwrap_or(file);
        md5::compute(relative.to_string_lossy().as_bytes()).0
    });
    let cache = fetch::cache_folder("images").join(cache_key(dir, size, channels, &files));
    // Cached as IDX files of `size × size·channels` (IDX images have one value per pixel).
    let cached = Dataset::from_dir(&cache, Split::Train)
        .ok()
        .filter(|d| d.rows == size && d.cols == size * channels);
    if let Some(mut dataset) = cached {
        dataset.name = dir.display().to_string();
        dataset.cols = size;
        dataset.channels = channels;
        let skipped = std::fs::read_to_string(cache.join(SKIPPED_FILE))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(f, why)| (PathBuf::from(f), why.to_string()))
            .collect();
        let classes = classes(dir, &files).unwrap_or_default();
        return Ok(Folder {
            dataset,
            skipped,
            classes,
            cached: true,
        });
    }
    let folder = decode(dir, size, channels, &files)?;
    // A cache that cannot be written only costs the next run the decoding again.
    let _ = write_cache(&cache, &folder);
    Ok(folder)
}

/// Refuses a side or a number of channels pictures cannot be read at.
pub fn check_settings(size: usize, channels: usize) -> Result<(), DataError> {
    if size == 0 {
        return Err(DataError::ZeroImageSize);
    }
    if channels != 1 && channels != 3 {
        return Err(DataError::BadChannels(channels));
    }
    if size > MAX_IMAGE_SIZE {
        return Err(DataError::ImageSizeTooLarge {
            size,
            channels,
            bytes: (size as u128).pow(2) * channels as u128,
        });
    }
    Ok(())
}

/// Decodes every picture.
fn decode(
    dir: &Path,
    size: usize,
    channels: usize,
    files: &[PathBuf],
) -> Result<Folder, DataError> {
    let classes = classes(dir, files);
    let mut images = Vec::with_capacity(files.len() * size * size * channels);
    let mut labels = Vec::new();
    let mut skipped = Vec::new();
    for file in files {
        let decoded = ::image::ImageReader::open(file)
            .map_err(|e| e.to_string())
            .and_then(|r| r.with_guessed_format().map_err(|e| e.to_string()))
            .and_then(|r| r.decode().map_err(|e| e.to_string()));
        let picture = match decoded {
            Ok(picture) => picture,
            Err(why) => {
                skipped.push((file.clone(), why));
                continue;
            }
        };
        if channels == 1 {
            images.extend(square(&picture.into_luma8(), size).into_raw());
        } else {
            images.extend(square(&picture.into_rgb8(), size).into_raw());
        }
        if let Some(classes) = &classes {
            labels.push(class_of(dir, file, classes));
        }
    }
    let count = images.len() / (size * size * channels);
    Ok(Folder {
        dataset: Dataset {
            images,
            labels,
            count,
            rows: size,
            cols: size,
            channels,
            name: dir.display().to_string(),
        },
        skipped,
        classes: classes.unwrap_or_default(),
        cached: false,
    })
}

/// `picture` center-cropped to a square and resized to `size × size`.
fn square<P: ::image::Pixel<Subpixel = u8> + 'static>(
    picture: &::image::ImageBuffer<P, Vec<u8>>,
    size: usize,
) -> ::image::ImageBuffer<P, Vec<u8>> {
    let (w, h) = picture.dimensions();
    let side = w.min(h);
    let square = imageops::crop_imm(picture, (w - side) / 2, (h - side) / 2, side, side).to_image();
    let size = size as u32;
    if square.dimensions() == (size, size) {
        square
    } else {
        imageops::resize(&square, size, size, FilterType::Triangle)
    }
}

/// The classes of a folder whose pictures all lie in subfolders: the subfolders' names, in
/// order; `None` if any picture lies at the top or there are more than [`MAX_CLASSES`].
fn classes(dir: &Path, files: &[PathBuf]) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for file in files {
        let relative = file.strip_prefix(dir).ok()?;
        let mut parts = relative.components();
        let first = parts.next()?.as_os_str().to_string_lossy().into_owned();
        parts.next()?;
        if !names.contains(&first) {
            names.push(first);
        }
    }
    names.sort();
    (!names.is_empty() && names.len() <= MAX_CLASSES).then_some(names)
}

/// The label of `file`: its first-level subfolder's place among `classes`.
fn class_of(dir: &Path, file: &Path, classes: &[String]) -> u8 {
    let first = file
        .strip_prefix(dir)
        .ok()
        .and_then(|r| r.components().next())
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    classes
        .iter()
        .position(|c| *c == first)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(0)
}

/// The pictures under `dir`, recursively.
fn pictures(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            pictures(&path, out)?;
        } else if path
            .extension()
            .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// The cache key of `files` under `dir` read at `size` with `channels`: an MD5 of everything that changes
/// what decoding would give.
fn cache_key(dir: &Path, size: usize, channels: usize, files: &[PathBuf]) -> String {
    let mut key = format!(
        "{}\n{size}\n{channels}\n",
        std::fs::canonicalize(dir)
            .unwrap_or_else(|_| dir.to_path_buf())
            .display()
    );
    for file in files {
        let meta = std::fs::metadata(file).ok();
        let len = meta.as_ref().map_or(0, |m| m.len());
        let modified = meta
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        key.push_str(&format!("{}\t{len}\t{modified}\n", file.display()));
    }
    format!("{:x}", md5::compute(key.as_bytes()))
}

/// Writes `folder` into `cache` as an IDX pair and its skipped list, each file atomically.
fn write_cache(cache: &Path, folder: &Folder) -> std::io::Result<()> {
    std::fs::create_dir_all(cache)?;
    let d = &folder.dataset;
    let u32s = |values: &[usize]| -> Vec<u8> {
        values
            .iter()
            .flat_map(|&v| (v as u32).to_be_bytes())
            .collect()
    };
    let skipped: String = folder
        .skipped
        .iter()
        .map(|(f, why)| format!("{}\t{}\n", f.display(), why.replace('\n', " ")))
        .collect();
    crate::fsutil::write_atomically(&cache.join(SKIPPED_FILE), skipped.as_bytes())?;
    if !d.labels.is_empty() {
        let labels = [u32s(&[0x801, d.count]), d.labels.clone()].concat();
        crate::fsutil::write_atomically(&cache.join("train-labels-idx1-ubyte"), &labels)?;
    }
    // The images last: their presence is what makes the cache count as written.
    let header = [0x803, d.count, d.rows, d.cols * d.channels];
    let images = [u32s(&header), d.images.clone()].concat();
    crate::fsutil::write_atomically(&cache.join("train-images-idx3-ubyte"), &images)
}
