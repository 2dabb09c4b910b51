//! Errors of writing pictures: each one names the file, so a user knows which output failed.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// What can go wrong while writing a picture.
#[derive(Debug, Error)]
pub enum PictureError {
    /// Creating, writing, syncing or renaming the file failed.
    #[error("cannot write {}: {error}", path.display())]
    Io { path: PathBuf, error: io::Error },
    /// The encoder refused the picture (e.g. too large for the format).
    #[error("cannot encode {}: {error}", path.display())]
    Encode {
        path: PathBuf,
        error: ::image::ImageError,
    },
    /// Drawing a chart failed (e.g. its font could not be read).
    #[error("cannot draw {}: {error}", path.display())]
    Draw {
        path: PathBuf,
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An animation was asked for with no frames.
    #[error("cannot write {}: an animation needs at least one frame", path.display())]
    NoFrames { path: PathBuf },
    /// Frames of one animation differ in size.
    #[error(
        "cannot write {}: frame {index} is {}x{} but frame 0 is {}x{}",
        path.display(), found.0, found.1, expected.0, expected.1
    )]
    FrameSize {
        path: PathBuf,
        index: usize,
        expected: (u32, u32),
        found: (u32, u32),
    },
}
