//! CIFAR-10's binary version: `data_batch_1.bin` … `data_batch_5.bin` (training) and
//! `test_batch.bin` (test), each record one label byte and a 32×32 RGB image stored plane by
//! plane (1,024 red bytes, then green, then blue). Read into a [`Dataset`] channels-last, as
//! every other source: each pixel's red, green and blue together.
//!
//! The files are looked for in the folder itself and in `cifar-10-batches-bin/` inside it (the
//! archive's own folder). A truncated or padded file is refused by name, never read in part.

use std::path::{Path, PathBuf};

use super::{DataError, Dataset, Split};

/// Side of CIFAR-10's images.
pub const SIDE: usize = 32;
/// Bytes of one record: a label and the three planes.
const RECORD: usize = 1 + 3 * SIDE * SIDE;
/// CIFAR-10's classes.
const CLASSES: u8 = 10;
/// The archive's folder, where the batches are if the archive was unpacked as it is.
const ARCHIVE_FOLDER: &str = "cifar-10-batches-bin";

/// Every batch file, training then test.
#[cfg(test)]
pub(super) fn batch_names() -> Vec<String> {
    [file_names(Split::Train), file_names(Split::Test)].concat()
}

/// The batch files of `split`.
fn file_names(split: Split) -> Vec<String> {
    match split {
        Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        Split::Test => vec!["test_batch.bin".to_string()],
    }
}

/// Where `dir`'s batches of `split` are, if all of them are there.
fn batches(dir: &Path, split: Split) -> Option<Vec<PathBuf>> {
    [dir.to_path_buf(), dir.join(ARCHIVE_FOLDER)]
        .into_iter()
        .map(|base| {
            file_names(split)
                .iter()
                .map(|name| base.join(name))
                .collect::<Vec<_>>()
        })
        .find(|paths| paths.iter().all(|p| p.is_file()))
}

/// Whether `dir` holds CIFAR-10's batches of `split`.
pub fn has_split(dir: &Path, split: Split) -> bool {
    batches(dir, split).is_some()
}

/// Reads `split` of the CIFAR-10 batches in `dir`.
pub fn read(dir: &Path, split: Split) -> Result<Dataset, DataError> {
    let paths = batches(dir, split).ok_or_else(|| DataError::MissingFiles {
        dir: dir.to_path_buf(),
        what: format!("CIFAR-10 {} batches", split_noun(split)),
        looked_for: file_names(split),
    })?;
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for path in &paths {
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        parse(
            &bytes,
            &path.display().to_string(),
            &mut images,
            &mut labels,
        )?;
    }
    Ok(Dataset {
        count: labels.len(),
        images,
        labels,
        rows: SIDE,
        cols: SIDE,
        channels: 3,
        name: dir.display().to_string(),
    })
}

fn split_noun(split: Split) -> &'static str {
    match split {
        Split::Train => "training",
        Split::Test => "test",
    }
}

/// Appends the records of one batch file (`name` for errors), converted to channels-last.
pub fn parse(
    bytes: &[u8],
    name: &str,
    images: &mut Vec<u8>,
    labels: &mut Vec<u8>,
) -> Result<(), DataError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(DataError::Cifar {
            name: name.to_string(),
            message: format!(
                "{} bytes is not a whole number of {RECORD}-byte records",
                bytes.len()
            ),
        });
    }
    let plane = SIDE * SIDE;
    images.reserve(bytes.len() / RECORD * 3 * plane);
    for (i, record) in bytes.chunks_exact(RECORD).enumerate() {
        let label = record[0];
        if label >= CLASSES {
            return Err(DataError::Cifar {
                name: name.to_string(),
                message: format!("record {i} has label {label}; CIFAR-10's are 0 to 9"),
            });
        }
        labels.push(label);
        let (r, rest) = record[1..].split_at(plane);
        let (g, b) = rest.split_at(plane);
        for p in 0..plane {
            images.extend([r[p], g[p], b[p]]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_become_channels_last_pixels() {
        let mut record = vec![7u8];
        for plane in 0..3u8 {
            record.extend((0..SIDE * SIDE).map(|p| (p as u8).wrapping_add(plane * 100)));
        }
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        parse(
            &[record.clone(), record].concat(),
            "t",
            &mut images,
            &mut labels,
        )
        .unwrap();
        assert_eq!(labels, [7, 7]);
        assert_eq!(images.len(), 2 * 3 * SIDE * SIDE);
        // Pixel 5: red 5, green 105, blue 205.
        assert_eq!(&images[15..18], &[5, 105, 205]);
    }

    #[test]
    fn bad_files_are_refused_by_name() {
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        let short = vec![0u8; RECORD - 1];
        let error = parse(&short, "short.bin", &mut images, &mut labels).unwrap_err();
        assert!(error.to_string().contains("short.bin"), "{error}");
        let mut bad_label = vec![0u8; RECORD];
        bad_label[0] = 10;
        let error = parse(&bad_label, "label.bin", &mut images, &mut labels).unwrap_err();
        assert!(error.to_string().contains("label 10"), "{error}");
        assert!(parse(&[], "empty.bin", &mut images, &mut labels).is_err());
    }
}
