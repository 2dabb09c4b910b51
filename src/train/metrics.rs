//! `metrics.jsonl`: one JSON object per epoch, and one per `--log-every` steps (with a `step`
//! field: the running training figures), appended and flushed as soon as known; and
//! `metrics.csv`, the same records as a table (Lightning's CSVLogger habit), rewritten whole
//! after each epoch.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::TrainError;
use crate::backend::{Backend, Counters};

/// The open metrics log of a run.
pub struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
    /// Every record so far, for the CSV.
    records: Vec<serde_json::Value>,
}

impl MetricsLog {
    /// Starts a new log in `dir` (replacing an older one).
    pub fn create(dir: &Path) -> Result<Self, TrainError> {
        let path = dir.join("metrics.jsonl");
        let file = std::fs::File::create(&path).map_err(|source| TrainError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(MetricsLog {
            path,
            file,
            records: Vec::new(),
        })
    }

    /// Continues, in `dir`, the log that folder `history` holds of a run resumed after `epochs`
    /// epochs and `steps` steps (the same folder, or the one a run resumed elsewhere came
    /// from): its records of those are kept (any later one, written before the run stopped
    /// without its checkpoint, is dropped) and returned.
    pub fn resume(
        history: &Path,
        dir: &Path,
        epochs: usize,
        steps: u64,
    ) -> Result<(Self, Vec<serde_json::Value>), TrainError> {
        let earlier = history.join("metrics.jsonl");
        let text = match std::fs::read_to_string(&earlier) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(TrainError::Io {
                    path: earlier,
                    source,
                });
            }
        };
        let path = dir.join("metrics.jsonl");
        let io_error = |source| TrainError::Io {
            path: path.clone(),
            source,
        };
        let records: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|r| match r["step"].as_u64() {
                Some(step) => step <= steps,
                None => r["epoch"].as_u64().is_some_and(|e| e as usize <= epochs),
            })
            .collect();
        let kept: String = records.iter().map(|r| format!("{r}\n")).collect();
        crate::fsutil::write_atomically(&path, kept.as_bytes()).map_err(io_error)?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_error)?;
        let log = MetricsLog {
            path,
            file,
            records: records.clone(),
        };
        log.write_csv()?;
        Ok((log, records))
    }

    /// Appends one epoch's `record` (a JSON object) as a line, with the backend, the device,
    /// and the hardware-independent counts per step over the epoch's `steps` (`counts`).
    pub fn append(
        &mut self,
        mut record: serde_json::Value,
        backend: &dyn Backend,
        counts: &Counters,
        steps: usize,
    ) -> Result<(), TrainError> {
        if let Some(fields) = record.as_object_mut() {
            let per_step = |n: u64| json!(n as f64 / steps.max(1) as f64);
            fields.insert("backend".into(), json!(backend.kind()));
            fields.insert("device".into(), json!(backend.device_name()));
            fields.insert("dispatches_per_step".into(), per_step(counts.dispatches));
            fields.insert("submits_per_step".into(), per_step(counts.submits));
            fields.insert(
                "bytes_uploaded_per_step".into(),
                per_step(counts.bytes_uploaded),
            );
            fields.insert("bytes_read_per_step".into(), per_step(counts.bytes_read));
        }
        self.write_line(&record)?;
        self.records.push(record);
        self.write_csv()
    }

    /// One record as a line of the log, flushed.
    fn write_line(&mut self, record: &serde_json::Value) -> Result<(), TrainError> {
        let line = format!("{record}\n");
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|source| TrainError::Io {
                path: self.path.clone(),
                source,
            })
    }

    /// Appends the running training `figures` of `epoch` after `step` steps of the run (every
    /// `--log-every` steps): a record with a `step` field, beside the epochs' records.
    pub fn append_step(
        &mut self,
        epoch: usize,
        step: u64,
        figures: &[(&'static str, f64)],
    ) -> Result<(), TrainError> {
        let mut record = json!({ "epoch": epoch, "step": step });
        if let Some(fields) = record.as_object_mut() {
            fields.extend(
                figures
                    .iter()
                    .map(|&(name, value)| (name.into(), json!(value))),
            );
        }
        self.write_line(&record)?;
        self.records.push(record);
        self.write_csv()
    }

    /// `metrics.csv` beside the log: a header of every field any record has, then one row per
    /// record (a field a record lacks is empty).
    fn write_csv(&self) -> Result<(), TrainError> {
        let path = self.path.with_extension("csv");
        let mut columns: Vec<&str> = Vec::new();
        for record in &self.records {
            for key in record.as_object().into_iter().flat_map(|o| o.keys()) {
                if !columns.contains(&key.as_str()) {
                    columns.push(key);
                }
            }
        }
        let mut text = csv_row(columns.iter().map(|c| c.to_string()));
        for record in &self.records {
            text += &csv_row(columns.iter().map(|c| match &record[*c] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }));
        }
        crate::fsutil::write_atomically(&path, text.as_bytes())
            .map_err(|source| TrainError::Io { path, source })
    }
}

/// One CSV line: fields with a comma, quote or line break quoted, quotes doubled (RFC 4180).
fn csv_row(fields: impl Iterator<Item = String>) -> String {
    let quoted: Vec<String> = fields
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f
            }
        })
        .collect();
    format!("{}\n", quoted.join(","))
}
