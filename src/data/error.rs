//! Everything that can go wrong while finding, reading or downloading data, each error naming
//! the file (or URL) it is about, so that a user can act on the message alone.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use super::dataset::{colour, thousands};

/// An error of the data module.
#[derive(Debug, Error)]
pub enum DataError {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{name}: corrupt gzip data")]
    Gzip {
        name: String,
        #[source]
        source: io::Error,
    },

    #[error(
        "{name}: not an IDX {kind} file (magic number 0x{found:08x}, expected 0x{expected:08x})"
    )]
    BadMagic {
        name: String,
        kind: &'static str,
        found: u32,
        expected: u32,
    },

    #[error("{name}: IDX {kind} files must have {expected} dimensions, the header says {found}")]
    Dimensions {
        name: String,
        kind: &'static str,
        expected: u8,
        found: u8,
    },

    #[error("{name}: images of {rows}x{cols} pixels are empty")]
    EmptyImages { name: String, rows: u32, cols: u32 },

    #[error("{name}: truncated: expected {expected} bytes, found {found}")]
    Truncated {
        name: String,
        expected: u64,
        found: u64,
    },

    #[error("{name}: unexpected data after the {expected} bytes its header declares")]
    TrailingData { name: String, expected: u64 },

    #[error("{images} holds {image_count} images but {labels} holds {label_count} labels")]
    CountMismatch {
        images: String,
        image_count: usize,
        labels: String,
        label_count: usize,
    },

    #[error(
        "training images are {train_rows}x{train_cols} but evaluation images ({test}) are {test_rows}x{test_cols}"
    )]
    ShapeMismatch {
        test: String,
        train_rows: usize,
        train_cols: usize,
        test_rows: usize,
        test_cols: usize,
    },

    #[error("training images have {train} channels but evaluation images ({test}) have {found}")]
    ChannelMismatch {
        test: String,
        train: usize,
        found: usize,
    },

    #[error("{name}: {count} examples, but at least {needed} are needed")]
    TooFewExamples {
        name: String,
        count: usize,
        needed: usize,
    },

    #[error("{}: {message}", dir.display())]
    Pictures { dir: PathBuf, message: String },

    #[error("{name}: not a CIFAR-10 batch: {message}")]
    Cifar { name: String, message: String },

    #[error("the example limit must be at least 1")]
    ZeroLimit,

    #[error("--image-size must be at least 1")]
    ZeroImageSize,

    #[error("--channels {0}: pictures are read with 1 channel (grey) or 3 (RGB)")]
    BadChannels(usize),

    #[error(
        "--image-size {size}: one {size}×{size} {} picture alone would take {} bytes; the largest \
         side is {} (a batch of 64 RGB pictures of that side is already 3 GiB)",
        colour(*.channels), thousands(*.bytes), thousands(super::folder::MAX_IMAGE_SIZE)
    )]
    ImageSizeTooLarge {
        size: usize,
        channels: usize,
        bytes: u128,
    },

    #[error(
        "{name} holds {rows}×{cols} {} images, but {asked} {} asked: --image-size and --channels \
         apply to picture folders only",
        colour(*.channels), if .asked.contains(" and ") { "were" } else { "was" }
    )]
    FixedFormat {
        name: String,
        rows: usize,
        cols: usize,
        channels: usize,
        /// The flags that disagree with the data, as typed.
        asked: String,
    },

    #[error("{}: no {what} found (looked for {})", dir.display(), looked_for.join(", "))]
    MissingFiles {
        dir: PathBuf,
        what: String,
        looked_for: Vec<String>,
    },

    #[error(
        "dataset {name} is not downloaded (nothing in {}): run `gengpu data fetch {name}` first",
        dir.display()
    )]
    NotFetched { name: String, dir: PathBuf },

    #[error(
        "{}: no such folder, nor a dataset name ({})",
        dir.display(),
        super::fetch::DATASETS.join(", ")
    )]
    NoSuchFolder { dir: PathBuf },

    #[error("unknown dataset {name:?} (known: {})", super::fetch::DATASETS.join(", "))]
    UnknownDataset { name: String },

    #[error("{url}: {message}")]
    Http { url: String, message: String },

    #[error(
        "{url}: checksum mismatch: expected md5 {expected}, got {actual}; the file was not kept"
    )]
    Checksum {
        url: String,
        expected: String,
        actual: String,
    },
}

impl DataError {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}
