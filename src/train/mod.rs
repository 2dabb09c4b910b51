//! Training loops and what they write: progress, metrics log, pictures, checkpoints.

mod device_data;
pub mod gan;
mod metrics;
mod progress;
pub mod vae;

pub use crate::picture::{save_chart, save_grid};
pub use device_data::DeviceData;
pub use metrics::MetricsLog;

use std::path::PathBuf;

use thiserror::Error;

use crate::backend::BackendError;
use crate::checkpoint::CheckpointError;
use crate::data::DataError;
use crate::picture::PictureError;

/// What can stop a run.
#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Picture(#[from] PictureError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} does not hold {expected}")]
    WrongModel {
        path: PathBuf,
        expected: &'static str,
    },
    #[error(transparent)]
    Config(#[from] crate::model::ConfigError),
    #[error("the model takes {model_h}×{model_w} images but {data} has {data_h}×{data_w}")]
    ImageShape {
        model_h: usize,
        model_w: usize,
        data: String,
        data_h: usize,
        data_w: usize,
    },
    #[error("invalid setting: {0}")]
    Setting(String),
    #[error("invalid setting: {0}")]
    Optimizer(#[from] crate::optim::InvalidSettings),
}

/// Fails unless `data` holds images of the model's `height × width`.
pub fn require_image_shape(
    (height, width): (usize, usize),
    data: &crate::data::Dataset,
) -> Result<(), TrainError> {
    if (data.rows, data.cols) == (height, width) {
        return Ok(());
    }
    Err(TrainError::ImageShape {
        model_h: height,
        model_w: width,
        data: data.name.clone(),
        data_h: data.rows,
        data_w: data.cols,
    })
}

/// Options common to every model's training run.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RunOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub seed: u64,
    /// Where metrics, pictures and checkpoints go.
    pub out: PathBuf,
    /// Steps between progress updates (each reads the running loss back from the device).
    pub log_every: usize,
}

impl RunOptions {
    /// Refuses settings no run can use.
    pub fn validate(&self, train_examples: usize) -> Result<(), TrainError> {
        if self.epochs == 0 {
            return Err(TrainError::Setting("--epochs must be at least 1".into()));
        }
        if self.batch_size == 0 {
            return Err(TrainError::Setting(
                "--batch-size must be at least 1".into(),
            ));
        }
        if self.batch_size > train_examples {
            return Err(TrainError::Setting(format!(
                "--batch-size {} is larger than the {train_examples} training examples",
                self.batch_size
            )));
        }
        Ok(())
    }

    /// Where the run's checkpoint goes (replaced at every epoch).
    pub fn checkpoint_path(&self) -> PathBuf {
        self.out.join("checkpoint.safetensors")
    }

    /// Creates the output folder, and removes what an earlier run wrote there (its metrics,
    /// pictures and checkpoint, recognized by name), so that the folder shows one run only.
    /// Other files are left alone.
    pub fn prepare_out(&self) -> Result<(), TrainError> {
        let io_error = |path: &std::path::Path| {
            let path = path.to_path_buf();
            move |source| TrainError::Io { path, source }
        };
        std::fs::create_dir_all(&self.out).map_err(io_error(&self.out))?;
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.out).map_err(io_error(&self.out))? {
            let path = entry.map_err(io_error(&self.out))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if path.is_file() && is_run_output(name) {
                std::fs::remove_file(&path).map_err(io_error(&path))?;
                removed += 1;
            }
        }
        if removed > 0 {
            println!(
                "replaced {removed} files of an earlier run in {}",
                self.out.display()
            );
        }
        Ok(())
    }
}

/// Whether `name` is one of the files a training run writes.
fn is_run_output(name: &str) -> bool {
    const FIXED: [&str; 4] = [
        "metrics.jsonl",
        "loss.png",
        "progress.gif",
        "checkpoint.safetensors",
    ];
    const PER_EPOCH: [&str; 3] = ["sample_", "reconstruction_", "manifold_"];
    let per_epoch = PER_EPOCH.iter().any(|prefix| {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(".png"))
            .is_some_and(|epoch| !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()))
    });
    per_epoch || FIXED.contains(&name)
}

/// What a checkpoint holds, by model (the `model` field of its JSON metadata).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum CheckpointMeta {
    Vae(vae::VaeMeta),
    Gan(gan::GanMeta),
}

/// A model restored from a checkpoint.
pub enum Loaded {
    Vae(Box<crate::model::Vae>, vae::VaeMeta),
    Gan(Box<crate::model::Gan>, gan::GanMeta),
}

/// Opens a checkpoint of either model, for batches of up to `batch` rows.
pub fn load(
    backend: &mut dyn crate::backend::Backend,
    path: &std::path::Path,
    batch: usize,
) -> Result<Loaded, TrainError> {
    let file = crate::checkpoint::Checkpoint::open(path)?;
    Ok(match file.meta::<CheckpointMeta>()? {
        CheckpointMeta::Vae(meta) => {
            let model = vae::restore(backend, &file, meta.config.clone(), batch)?;
            Loaded::Vae(Box::new(model), meta)
        }
        CheckpointMeta::Gan(meta) => {
            // The generator is built for exactly `batch` rows; sampling chunks by it.
            let model = gan::restore(backend, &file, meta.config.clone(), batch)?;
            Loaded::Gan(Box::new(model), meta)
        }
    })
}

/// Opens a checkpoint that must hold a VAE.
pub fn load_vae(
    backend: &mut dyn crate::backend::Backend,
    path: &std::path::Path,
    batch: usize,
) -> Result<(crate::model::Vae, vae::VaeMeta), TrainError> {
    match load(backend, path, batch)? {
        Loaded::Vae(model, meta) => Ok((*model, meta)),
        Loaded::Gan(..) => Err(TrainError::WrongModel {
            path: path.to_path_buf(),
            expected: "a VAE (this is a GAN checkpoint)",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::is_run_output;

    #[test]
    fn run_outputs_are_recognized_by_name_only() {
        for name in [
            "metrics.jsonl",
            "sample_12.png",
            "reconstruction_1.png",
            "manifold_3.png",
        ] {
            assert!(is_run_output(name), "{name}");
        }
        for name in [
            "notes.txt",
            "sample_.png",
            "sample_1a.png",
            "sample_1.png.tmp",
            "my.png",
        ] {
            assert!(!is_run_output(name), "{name}");
        }
    }
}
