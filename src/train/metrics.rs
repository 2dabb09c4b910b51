//! `metrics.jsonl`: one JSON object per epoch, appended and flushed as soon as it is known.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::TrainError;

/// The open metrics log of a run.
pub struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsLog {
    /// Starts a new log in `dir` (replacing an older one).
    pub fn create(dir: &Path) -> Result<Self, TrainError> {
        let path = dir.join("metrics.jsonl");
        let file = std::fs::File::create(&path).map_err(|source| TrainError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(MetricsLog { path, file })
    }

    /// Appends one record as a line.
    pub fn append(&mut self, record: &serde_json::Value) -> Result<(), TrainError> {
        let line = format!("{record}\n");
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|source| TrainError::Io {
                path: self.path.clone(),
                source,
            })
    }
}
