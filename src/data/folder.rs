//! Folders of pictures as datasets: PNG and JPEG files (searched recursively, following
//! symbolic links but reading no folder twice; ordered by a hash of each path, a fixed order
//! that mixes the subfolders, so that a held-out tail or `--limit` takes from every class),
//! decoded with the `image` crate, converted to grey or RGB, center-cropped to a square and
//! resized to `size × size`, and kept as bytes like an IDX dataset (RGB channels-last). Like
//! PIL's `convert('RGB')` under torchvision, conversion drops transparency: a transparent
//! pixel keeps the colour stored under it. A folder whose pictures all sit in subfolders is
//! labelled by them, as torchvision's `ImageFolder` does (classes in name order).
//! Files that do not decode are skipped, never fatal, and listed: the first few in a run's
//! description, all of them in the cache's `skipped.txt`.
//!
//! Decoding thousands of files takes seconds, so the result is cached: as an IDX pair in the
//! cache folder, `<cache>/gengpu/images/<settings>/<fingerprint>`. `<settings>` names the
//! folder (by its canonical path), the size and the channels; `<fingerprint>` every file's
//! path, length and modification time, so that any change to the pictures reads them afresh.
//! Each `<settings>` keeps only its latest entry, written whole or not at all.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use ::image::imageops::{self, FilterType};

use super::dataset::{colour, thousands};
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
/// Age after which a temporary cache folder is taken as left by an interrupted write.
const STALE: Duration = Duration::from_secs(3600);
/// Skipped files a run's description names; the others are counted.
const LISTED: usize = 10;
/// What a folder of pictures holds, for messages about one that holds none.
pub const PICTURES: &str = "PNG or JPEG pictures in it or its subfolders";

/// A picture folder read as a dataset.
#[derive(Debug)]
pub struct Folder {
    pub dataset: Dataset,
    /// The folder read: skipped files are named relative to it.
    pub dir: PathBuf,
    /// Files that did not decode, with why (on one line).
    pub skipped: Vec<(PathBuf, String)>,
    /// Where all the skipped files are listed (the cache's `skipped.txt`), if it was written.
    pub skipped_list: Option<PathBuf>,
    /// Class names (the subfolders), in label order; empty when unlabelled.
    pub classes: Vec<String>,
    /// Whether it came from the cache.
    pub cached: bool,
}

impl Folder {
    /// What a run's description says of it, e.g. `2 unreadable files skipped: a.png (…), …`.
    pub fn notes(&self) -> String {
        let mut notes = Vec::new();
        if !self.classes.is_empty() {
            notes.push(format!(
                "{} classes from its subfolders",
                self.classes.len()
            ));
        }
        if !self.skipped.is_empty() {
            notes.push(format!(
                "{} skipped: {}",
                self.unreadable(),
                self.skipped_listing()
            ));
        }
        if self.cached {
            notes.push("decoded before, read from the cache".into());
        }
        notes.join("; ")
    }

    /// `3 unreadable files`.
    fn unreadable(&self) -> String {
        let n = self.skipped.len();
        format!(
            "{} unreadable file{}",
            thousands(n),
            if n == 1 { "" } else { "s" }
        )
    }

    /// The first [`LISTED`] skipped files, each reason said once after the files it applies
    /// to, then how many more and where all are listed.
    pub fn skipped_listing(&self) -> String {
        let mut reasons: Vec<(&str, Vec<String>)> = Vec::new();
        for (file, why) in self.skipped.iter().take(LISTED) {
            let name = file.strip_prefix(&self.dir).unwrap_or(file);
            let name = name.display().to_string();
            match reasons.iter_mut().find(|(reason, _)| reason == why) {
                Some((_, names)) => names.push(name),
                None => reasons.push((why, vec![name])),
            }
        }
        let mut listing = reasons
            .iter()
            .map(|(why, names)| format!("{} ({why})", names.join(", ")))
            .collect::<Vec<_>>()
            .join(", ");
        let more = self.skipped.len().saturating_sub(LISTED);
        if more > 0 {
            listing.push_str(&format!(" and {} more", thousands(more)));
            if let Some(list) = &self.skipped_list {
                listing.push_str(&format!(", all listed in {}", list.display()));
            }
        }
        listing
    }

    /// The error for a folder of which no picture could be read.
    fn nothing_read(&self) -> DataError {
        let message = if self.skipped.is_empty() {
            format!("no {PICTURES}")
        } else {
            format!(
                "no picture could be read ({}: {})",
                self.unreadable(),
                self.skipped_listing()
            )
        };
        DataError::Pictures {
            dir: self.dir.clone(),
            message,
        }
    }
}

/// Whether `dir` holds any picture (recursively).
pub fn has_pictures(dir: &Path) -> bool {
    pictures(dir).is_ok_and(|files| !files.is_empty())
}

/// Reads the pictures under `dir` as `size × size` images of `channels` (1: grey, 3: RGB),
/// from the cache if they were read before and have not changed.
pub fn read_folder(dir: &Path, size: usize, channels: usize) -> Result<Folder, DataError> {
    read_folder_cached_in(&fetch::cache_folder("images"), dir, size, channels)
}

/// [`read_folder`] with its cache in `images` (`<cache>/gengpu/images`).
fn read_folder_cached_in(
    images: &Path,
    dir: &Path,
    size: usize,
    channels: usize,
) -> Result<Folder, DataError> {
    check_settings(size, channels)?;
    let mut files = pictures(dir)?;
    files.sort_by_cached_key(|file| relative(dir, file).0);
    let settings = images.join(settings_key(dir, size, channels));
    let fingerprint = fingerprint(dir, &files);
    let cache = settings.join(&fingerprint);
    let classes = classes(dir, &files);
    // Cached as IDX files of `size × size·channels` (IDX images have one value per pixel),
    // with labels if and only if the folder has classes.
    let cached = Dataset::from_dir(&cache, Split::Train).ok().filter(|d| {
        d.rows == size && d.cols == size * channels && d.labels.is_empty() == classes.is_none()
    });
    let folder = match cached {
        Some(mut dataset) => {
            dataset.name = dir.display().to_string();
            dataset.cols = size;
            dataset.channels = channels;
            let list = cache.join(SKIPPED_FILE);
            let skipped = std::fs::read_to_string(&list)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.split_once('\t'))
                .map(|(f, why)| (PathBuf::from(f), why.to_string()))
                .collect();
            Folder {
                dataset,
                dir: dir.to_path_buf(),
                skipped,
                skipped_list: list.is_file().then_some(list),
                classes: classes.unwrap_or_default(),
                cached: true,
            }
        }
        None => {
            let mut folder = decode(dir, size, channels, &files, classes)?;
            // A cache that cannot be written only costs the next run the decoding again.
            if write_cache(&settings, &fingerprint, &folder).is_ok() {
                folder.skipped_list = Some(cache.join(SKIPPED_FILE));
            }
            folder
        }
    };
    if folder.dataset.count == 0 {
        return Err(folder.nothing_read());
    }
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
    classes: Option<Vec<String>>,
) -> Result<Folder, DataError> {
    let mut images = room_for(dir, files.len(), size, channels)?;
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
                skipped.push((file.clone(), one_line(&why)));
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
    // The room reserved for the skipped files.
    images.shrink_to_fit();
    skipped.sort();
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
        dir: dir.to_path_buf(),
        skipped,
        skipped_list: None,
        classes: classes.unwrap_or_default(),
        cached: false,
    })
}

/// An empty buffer with room for `count` pictures, or the error saying how many bytes they
/// would take: reserved up front, so that a size too large is refused before any decoding.
fn room_for(dir: &Path, count: usize, size: usize, channels: usize) -> Result<Vec<u8>, DataError> {
    let bytes = count as u128 * (size as u128).pow(2) * channels as u128;
    let mut images = Vec::new();
    usize::try_from(bytes)
        .ok()
        .and_then(|bytes| images.try_reserve_exact(bytes).ok())
        .ok_or_else(|| DataError::Pictures {
            dir: dir.to_path_buf(),
            message: format!(
                "its {} pictures at {size}×{size} {} would take {} bytes, more than can be \
                 allocated here: choose a smaller --image-size",
                thousands(count),
                colour(channels),
                thousands(bytes)
            ),
        })?;
    Ok(images)
}

/// `text` on one line: the image crate's messages can hold line breaks.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
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

/// The pictures under `dir`, recursively. Symbolic links are followed, but no folder is read
/// twice (by its canonical path), so that a link to `.` or to a parent neither repeats
/// pictures nor loops.
fn pictures(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut files = Vec::new();
    let mut visited = HashSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let canonical = std::fs::canonicalize(&folder).map_err(|e| DataError::io(&folder, e))?;
        if !visited.insert(canonical) {
            continue;
        }
        for entry in std::fs::read_dir(&folder).map_err(|e| DataError::io(&folder, e))? {
            let path = entry.map_err(|e| DataError::io(&folder, e))?.path();
            // A broken link is no folder; named as a picture, it is listed as unreadable.
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
            {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// `file`'s path below `dir`, and its MD5: what orders the pictures and fingerprints them,
/// the same whichever way `dir` was named.
fn relative(dir: &Path, file: &Path) -> ([u8; 16], String) {
    let relative = file.strip_prefix(dir).unwrap_or(file).to_string_lossy();
    (md5::compute(relative.as_bytes()).0, relative.into_owned())
}

/// The folder of `dir`'s cache entry at `size` and `channels`: an MD5 of the three. It holds
/// one entry, the latest, so that a folder that changes does not fill the cache.
fn settings_key(dir: &Path, size: usize, channels: usize) -> String {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let key = format!("{}\n{size}\n{channels}\n", dir.display());
    format!("{:x}", md5::compute(key.as_bytes()))
}

/// The name of the cache entry of `files` under `dir`: an MD5 of every file's path, length
/// and modification time, so that any change to the pictures reads them afresh.
fn fingerprint(dir: &Path, files: &[PathBuf]) -> String {
    let mut key = String::new();
    for file in files {
        let meta = std::fs::metadata(file).ok();
        let len = meta.as_ref().map_or(0, |m| m.len());
        let modified = meta
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        key.push_str(&format!("{}\t{len}\t{modified}\n", relative(dir, file).1));
    }
    format!("{:x}", md5::compute(key.as_bytes()))
}

/// Writes `folder` as the entry `fingerprint` of `settings`, atomically (an IDX pair and the
/// skipped list, which appear together or not at all), then removes the entries it replaces.
fn write_cache(settings: &Path, fingerprint: &str, folder: &Folder) -> std::io::Result<()> {
    std::fs::create_dir_all(settings)?;
    let d = &folder.dataset;
    let u32s = |values: &[usize]| -> Vec<u8> {
        values
            .iter()
            .flat_map(|&v| (v as u32).to_be_bytes())
            .collect()
    };
    crate::fsutil::create_dir_atomically(&settings.join(fingerprint), |entry| {
        let skipped: String = folder
            .skipped
            .iter()
            .map(|(f, why)| format!("{}\t{why}\n", f.display()))
            .collect();
        std::fs::write(entry.join(SKIPPED_FILE), skipped)?;
        if !d.labels.is_empty() {
            let mut labels = std::fs::File::create(entry.join("train-labels-idx1-ubyte"))?;
            labels.write_all(&u32s(&[0x801, d.count]))?;
            labels.write_all(&d.labels)?;
        }
        let mut images = std::fs::File::create(entry.join("train-images-idx3-ubyte"))?;
        images.write_all(&u32s(&[0x803, d.count, d.rows, d.cols * d.channels]))?;
        images.write_all(&d.images)
    })?;
    prune(settings, fingerprint);
    Ok(())
}

/// Removes the entries of `settings` but `keep`, and temporary folders an interrupted write
/// left there (those older than [`STALE`]: a younger one may still be being written).
fn prune(settings: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(settings) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let stale = if name.to_string_lossy().starts_with('.') {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE))
        } else {
            name != keep
        };
        if stale {
            // One left behind is removed by the next write.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use ::image::{GrayImage, Luma, Rgb, RgbImage};

    use super::*;
    use crate::fsutil::scratch_dir;

    #[test]
    fn classes_are_the_first_level_subfolders_in_name_order() {
        let dir = Path::new("/pictures");
        let files: Vec<PathBuf> = ["zebra/1.png", "ant/deep/2.png", "zebra/3.jpg"]
            .iter()
            .map(|f| dir.join(f))
            .collect();
        let classes = classes(dir, &files).expect("every picture in a subfolder");
        assert_eq!(classes, ["ant", "zebra"]);
        let labels: Vec<u8> = files.iter().map(|f| class_of(dir, f, &classes)).collect();
        assert_eq!(labels, [1, 0, 1]);
        // A picture at the top: no classes.
        let loose = [files.clone(), vec![dir.join("loose.png")]].concat();
        assert_eq!(super::classes(dir, &loose), None);
        // Labels are bytes: 257 classes are too many.
        let many: Vec<PathBuf> = (0..=MAX_CLASSES)
            .map(|i| dir.join(format!("{i}/a.png")))
            .collect();
        assert_eq!(super::classes(dir, &many), None);
        assert_eq!(
            super::classes(dir, &many[..MAX_CLASSES]).map(|c| c.len()),
            Some(256)
        );
    }

    #[test]
    fn square_crops_the_middle_then_resizes() {
        // 6 wide, 4 high, each pixel its column: the middle square is columns 1 to 4.
        let wide = GrayImage::from_fn(6, 4, |x, _| Luma([x as u8 * 10]));
        let kept = square(&wide, 4);
        assert_eq!(kept.dimensions(), (4, 4));
        assert_eq!(kept.get_pixel(0, 0).0, [10]);
        assert_eq!(kept.get_pixel(3, 3).0, [40]);
        // Tall: rows 1 and 2 of 5 (the odd row goes to the bottom).
        let tall = GrayImage::from_fn(2, 5, |_, y| Luma([y as u8]));
        let kept = square(&tall, 2);
        assert_eq!((kept.get_pixel(0, 0).0, kept.get_pixel(1, 1).0), ([1], [2]));
        let small = square(&wide, 2);
        assert_eq!(small.dimensions(), (2, 2));
        assert!(small.get_pixel(0, 0).0[0] < small.get_pixel(1, 0).0[0]);
    }

    #[test]
    fn grey_jpegs_and_colour_pngs_decode_to_either_channels() {
        let dir = scratch_dir("folder-decode");
        GrayImage::from_pixel(8, 8, Luma([100]))
            .save(dir.join("grey.jpg"))
            .expect("write a JPEG");
        RgbImage::from_pixel(8, 6, Rgb([200, 10, 30]))
            .save(dir.join("colour.png"))
            .expect("write a PNG");
        fs::write(dir.join("broken.png"), b"not a png").expect("write");
        let files = ["grey.jpg", "colour.png", "broken.png"].map(|f| dir.join(f));

        let rgb = decode(&dir, 4, 3, &files, None).expect("decode");
        assert_eq!((rgb.dataset.count, rgb.dataset.channels), (2, 3));
        let near = |found: &[u8], expected: [u8; 3]| {
            found
                .chunks(3)
                .all(|p| p.iter().zip(expected).all(|(&a, b)| a.abs_diff(b) <= 2))
        };
        assert!(
            near(rgb.dataset.image(0), [100; 3]),
            "{:?}",
            rgb.dataset.image(0)
        );
        assert_eq!(rgb.dataset.image(1), [200, 10, 30].repeat(16));
        assert_eq!(rgb.skipped.len(), 1);
        assert_eq!(rgb.skipped[0].0, dir.join("broken.png"));
        assert!(!rgb.skipped[0].1.contains('\n'));
        assert!(rgb.dataset.labels.is_empty(), "no subfolders, no labels");

        let grey = decode(&dir, 4, 1, &files, None).expect("decode");
        assert_eq!(grey.dataset.images.len(), 2 * 16);
        assert!(grey.dataset.image(0).iter().all(|&p| p.abs_diff(100) <= 2));
        let luma = grey.dataset.image(1)[0];
        assert!(luma > 30 && luma < 80, "{luma}");
        fs::remove_dir_all(dir).expect("clean up");
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_are_followed_but_no_folder_twice() {
        use std::os::unix::fs::symlink;

        let root = scratch_dir("folder-links");
        let (data, other) = (root.join("data"), root.join("other"));
        fs::create_dir_all(&data).expect("create");
        fs::create_dir_all(&other).expect("create");
        fs::write(data.join("a.png"), b"a").expect("write");
        fs::write(other.join("b.png"), b"b").expect("write");
        symlink(".", data.join("self")).expect("link");
        symlink("..", data.join("up")).expect("link");
        symlink("../other", data.join("sideways")).expect("link");
        symlink("a.png", data.join("linked.png")).expect("link");
        symlink("missing.png", data.join("dangling.png")).expect("link");

        let mut found: Vec<String> = pictures(&data)
            .expect("list")
            .iter()
            .map(|f| f.file_name().unwrap_or_default().to_string_lossy().into())
            .collect();
        found.sort();
        // `b.png` once, through `up` or `sideways`; the broken link is left to be skipped.
        assert_eq!(found, ["a.png", "b.png", "dangling.png", "linked.png"]);
        fs::remove_dir_all(root).expect("clean up");
    }

    #[test]
    fn impossible_sizes_are_refused_before_any_allocation() {
        let dir = Path::new("/pictures");
        let error = room_for(dir, usize::MAX / 2, MAX_IMAGE_SIZE, 3).expect_err("too large");
        let message = error.to_string();
        assert!(
            message.contains("bytes") && message.contains("--image-size"),
            "{message}"
        );
        assert!(room_for(dir, 2, 3, 3).expect("small").capacity() >= 18);
        assert!(matches!(
            check_settings(0, 1),
            Err(DataError::ZeroImageSize)
        ));
        assert!(matches!(
            check_settings(8, 2),
            Err(DataError::BadChannels(2))
        ));
        let error = check_settings(100_000, 1).expect_err("too large");
        assert!(
            error.to_string().contains("10,000,000,000 bytes"),
            "{error}"
        );
        check_settings(MAX_IMAGE_SIZE, 3).expect("the largest side");
    }

    #[test]
    fn skipped_files_are_listed_ten_then_counted() {
        let dir = PathBuf::from("/pictures");
        let mut folder = Folder {
            dataset: Dataset {
                images: Vec::new(),
                labels: Vec::new(),
                count: 0,
                rows: 1,
                cols: 1,
                channels: 1,
                name: "pictures".into(),
            },
            dir: dir.clone(),
            skipped: (0..12)
                .map(|i| {
                    let why = if i == 1 { "odd" } else { "bad" };
                    (dir.join(format!("c/{i}.png")), why.into())
                })
                .collect(),
            skipped_list: None,
            classes: Vec::new(),
            cached: false,
        };
        let listing = folder.skipped_listing();
        assert_eq!(
            listing,
            "c/0.png, c/2.png, c/3.png, c/4.png, c/5.png, c/6.png, c/7.png, c/8.png, c/9.png \
             (bad), c/1.png (odd) and 2 more"
        );
        folder.skipped_list = Some(PathBuf::from("/cache/skipped.txt"));
        let notes = folder.notes();
        assert!(
            notes.starts_with("12 unreadable files skipped: c/0.png, c/2.png"),
            "{notes}"
        );
        assert!(
            notes.ends_with("and 2 more, all listed in /cache/skipped.txt"),
            "{notes}"
        );
        let error = folder.nothing_read().to_string();
        assert!(
            error.starts_with("/pictures: no picture could be read (12 unreadable files: "),
            "{error}"
        );
        folder.skipped.clear();
        assert_eq!(
            folder.nothing_read().to_string(),
            format!("/pictures: no {PICTURES}")
        );
    }

    /// What the cache holds: each settings folder's entries.
    fn entries(images: &Path) -> Vec<Vec<String>> {
        let mut all: Vec<Vec<String>> = fs::read_dir(images)
            .expect("list")
            .map(|e| crate::fsutil::file_names(&e.expect("entry").path()))
            .collect();
        all.sort();
        all
    }

    #[test]
    fn the_cache_is_read_until_a_file_changes_and_keeps_the_latest_entry() {
        let root = scratch_dir("folder-cache");
        let (dir, images) = (root.join("pictures"), root.join("images"));
        for class in ["a", "b"] {
            fs::create_dir_all(dir.join(class)).expect("create");
            for i in 0..3u8 {
                GrayImage::from_pixel(5, 5, Luma([i * 50]))
                    .save(dir.join(class).join(format!("{i}.png")))
                    .expect("write");
            }
        }
        let read = |size, channels| {
            read_folder_cached_in(&images, &dir, size, channels).expect("read the pictures")
        };
        let first = read(4, 1);
        assert!(!first.cached);
        let again = read(4, 1);
        assert!(again.cached);
        assert_eq!(
            (&again.dataset.images, &again.dataset.labels),
            (&first.dataset.images, &first.dataset.labels)
        );
        assert_eq!(entries(&images).len(), 1);

        // An added file, then a removed one: decoded afresh, and the older entry removed.
        fs::write(dir.join("b").join("broken.png"), b"x").expect("write");
        let added = read(4, 1);
        assert!(!added.cached && added.skipped.len() == 1);
        let listed = added.skipped_list.as_deref().expect("skipped.txt written");
        assert!(
            fs::read_to_string(listed)
                .expect("read")
                .contains("broken.png\t")
        );
        assert!(read(4, 1).cached);
        fs::remove_file(dir.join("a").join("0.png")).expect("remove");
        let removed = read(4, 1);
        assert!(!removed.cached);
        assert_eq!(removed.dataset.count, first.dataset.count - 1);
        let only = entries(&images);
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].len(), 1, "one entry per settings: {only:?}");

        // Other settings: decoded, in an entry of their own, each kept for going back.
        assert!(!read(3, 1).cached);
        let colour = read(4, 3);
        assert!(!colour.cached);
        assert_eq!(colour.dataset.channels, 3);
        assert!(read(4, 1).cached && read(3, 1).cached && read(4, 3).cached);
        let all = entries(&images);
        assert_eq!(all.len(), 3);
        assert!(all.iter().all(|e| e.len() == 1), "{all:?}");
        fs::remove_dir_all(root).expect("clean up");
    }

    #[test]
    fn pruning_spares_the_latest_entry_and_young_temporary_folders() {
        let settings = scratch_dir("folder-prune");
        for name in ["old", "latest", ".latest.x1.tmp", ".old.x2.tmp"] {
            fs::create_dir_all(settings.join(name).join("inner")).expect("create");
        }
        // An interrupted write's, from two hours ago.
        #[cfg(unix)]
        fs::File::open(settings.join(".old.x2.tmp"))
            .and_then(|f| f.set_modified(std::time::SystemTime::now() - 2 * STALE))
            .expect("date a folder");
        #[cfg(not(unix))]
        fs::remove_dir_all(settings.join(".old.x2.tmp")).expect("remove");
        prune(&settings, "latest");
        assert_eq!(
            crate::fsutil::file_names(&settings),
            [".latest.x1.tmp", "latest"]
        );
        fs::remove_dir_all(settings).expect("clean up");
    }

    #[test]
    fn messages_are_put_on_one_line() {
        assert_eq!(
            one_line("Format error:\n  bad\r\nheader\t(x)"),
            "Format error: bad header (x)"
        );
    }
}
