//! The settings of a run: what every model's run has ([`RunOptions`], the optimizer) and the
//! model's own configuration, saved in every checkpoint.

use std::path::PathBuf;

use super::TrainError;
use crate::model::{ClassifierConfig, GanConfig, VaeConfig};
use crate::optim::Adam;

/// The settings of one model's run.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Settings<C> {
    pub run: RunOptions,
    pub optimizer: Adam,
    pub config: C,
}

/// A run's settings, by model (the `model` field of a checkpoint's JSON).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum ModelSettings {
    Vae(Settings<VaeConfig>),
    Gan(Settings<GanConfig>),
    Classifier(Settings<ClassifierConfig>),
}

impl ModelSettings {
    /// What every model's run has.
    pub fn run(&self) -> &RunOptions {
        match self {
            ModelSettings::Vae(s) => &s.run,
            ModelSettings::Gan(s) => &s.run,
            ModelSettings::Classifier(s) => &s.run,
        }
    }

    /// [`ModelSettings::run`], to change.
    pub fn run_mut(&mut self) -> &mut RunOptions {
        match self {
            ModelSettings::Vae(s) => &mut s.run,
            ModelSettings::Gan(s) => &mut s.run,
            ModelSettings::Classifier(s) => &mut s.run,
        }
    }

    /// `vae`, `gan` or `classifier`: the model's name on the command line and in run folders.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelSettings::Vae(_) => "vae",
            ModelSettings::Gan(_) => "gan",
            ModelSettings::Classifier(_) => "classifier",
        }
    }

    /// The optimizer's settings.
    pub fn optimizer(&self) -> &Adam {
        match self {
            ModelSettings::Vae(s) => &s.optimizer,
            ModelSettings::Gan(s) => &s.optimizer,
            ModelSettings::Classifier(s) => &s.optimizer,
        }
    }

    /// [`ModelSettings::optimizer`], to change.
    pub fn optimizer_mut(&mut self) -> &mut Adam {
        match self {
            ModelSettings::Vae(s) => &mut s.optimizer,
            ModelSettings::Gan(s) => &mut s.optimizer,
            ModelSettings::Classifier(s) => &mut s.optimizer,
        }
    }
}

/// Options common to every model's training run.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct RunOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub seed: u64,
    /// Where metrics, pictures and checkpoints go.
    pub out: PathBuf,
    /// Steps between progress updates (each reads the running loss back from the device).
    pub log_every: usize,
    /// The data the run trains and is evaluated on, as asked (a resumed run reads it again).
    #[serde(default)]
    pub data: DataSpec,
    /// Epoch-numbered checkpoints kept beside `checkpoint.safetensors` (0: none).
    #[serde(default)]
    pub keep: usize,
    /// The command line that started the run, as typed (for the record).
    #[serde(default)]
    pub command: String,
    /// How the run's samples are scored while it trains.
    #[serde(default)]
    pub scoring: Scoring,
}

/// Scoring a generative model's samples during training (see `crate::score`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Scoring {
    /// Epochs between scorings (0: never); the last epoch is always scored when any is.
    pub every: usize,
    /// Samples scored each time.
    pub samples: usize,
    /// The classifier checkpoint (`None`: the bundled MNIST classifier).
    pub classifier: Option<PathBuf>,
}

impl Default for Scoring {
    fn default() -> Self {
        Scoring {
            every: 0,
            samples: 10_000,
            classifier: None,
        }
    }
}

impl Scoring {
    /// Whether epoch `epoch` of `epochs` is scored.
    pub fn scores(&self, epoch: usize, epochs: usize) -> bool {
        self.every > 0 && (epoch.is_multiple_of(self.every) || epoch == epochs)
    }
}

/// The data a run was asked for: `--data`, `--test-data`, `--limit`, `--image-size`,
/// `--channels`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DataSpec {
    pub data: Option<String>,
    pub test_data: Option<String>,
    pub limit: Option<usize>,
    /// The side picture folders are read at (`None`: [`crate::data::DEFAULT_IMAGE_SIZE`]).
    #[serde(default)]
    pub image_size: Option<usize>,
    /// The channels picture folders are read with (`None`: 1, grey).
    #[serde(default)]
    pub channels: Option<usize>,
}

impl DataSpec {
    /// How picture folders are read: as asked, with what was not asked left to the data.
    pub fn pictures(&self) -> crate::data::Pictures {
        crate::data::Pictures {
            size: self.image_size,
            channels: self.channels,
        }
    }
}

impl RunOptions {
    /// Refuses settings no run can use.
    pub fn validate(&self, train_examples: usize) -> Result<(), TrainError> {
        if self.epochs == 0 {
            return Err(TrainError::Setting("--epochs must be at least 1".into()));
        }
        if self.log_every == 0 {
            return Err(TrainError::Setting("--log-every must be at least 1".into()));
        }
        if self.batch_size == 0 {
            return Err(TrainError::Setting(
                "--batch-size must be at least 1".into(),
            ));
        }
        if self.scoring.every > 0 && self.scoring.samples < 2 {
            return Err(TrainError::Setting(
                "--score-samples must be at least 2 (a covariance needs two images)".into(),
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
        self.out.join(CHECKPOINT)
    }

    /// Where the copy of epoch `epoch`'s checkpoint goes when `--keep` asks for copies.
    pub fn epoch_checkpoint_path(&self, epoch: usize) -> PathBuf {
        self.out
            .join(format!("{EPOCH_CHECKPOINT_PREFIX}{epoch}.safetensors"))
    }

    /// Whether the output folder holds files a training run writes.
    pub fn holds_a_run(&self) -> bool {
        std::fs::read_dir(&self.out).is_ok_and(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| e.file_name().to_str().is_some_and(is_run_output))
        })
    }

    /// Writes `config.json` into the output folder: the run's exact settings and command line,
    /// readable without gengpu.
    pub fn write_config(&self, settings: &ModelSettings) -> Result<(), TrainError> {
        let path = self.out.join(CONFIG);
        let io_error = |source| TrainError::Io {
            path: path.clone(),
            source,
        };
        let text = serde_json::to_string_pretty(settings).map_err(|e| io_error(e.into()))?;
        crate::fsutil::write_atomically(&path, format!("{text}\n").as_bytes()).map_err(io_error)
    }

    /// Creates the output folder, and removes what an earlier run wrote there (its metrics,
    /// pictures and checkpoint, recognized by name), so that the folder shows one run only.
    /// Other files are left alone.
    pub fn prepare_out(&self) -> Result<(), TrainError> {
        let removed = self.remove_files(|name| is_run_output(name) || is_leftover(name))?;
        if removed > 0 {
            eprintln!(
                "replaced {removed} files of an earlier run in {}",
                self.out.display()
            );
        }
        Ok(())
    }

    /// Creates the output folder of a run that goes on in it, and removes the temporary files
    /// a process killed while writing left there (a second Ctrl-C quits at once).
    pub fn prepare_resumed_out(&self) -> Result<(), TrainError> {
        self.remove_files(is_leftover).map(drop)
    }

    /// Creates the output folder and removes the files in it whose names `remove` picks;
    /// returns how many.
    fn remove_files(&self, remove: impl Fn(&str) -> bool) -> Result<usize, TrainError> {
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
            if path.is_file() && remove(name) {
                std::fs::remove_file(&path).map_err(io_error(&path))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Whether `name` is a temporary file an interrupted atomic write of a run's output left.
fn is_leftover(name: &str) -> bool {
    crate::fsutil::written_for(name).is_some_and(is_run_output)
}

/// The checkpoint's file name in a run folder.
pub const CHECKPOINT: &str = "checkpoint.safetensors";
/// The run's settings, as JSON, in its folder.
const CONFIG: &str = "config.json";
/// `checkpoint_epoch{N}.safetensors`: the copies `--keep` keeps.
const EPOCH_CHECKPOINT_PREFIX: &str = "checkpoint_epoch";

/// The epoch of an epoch-numbered checkpoint's file name.
pub fn checkpoint_epoch(name: &str) -> Option<usize> {
    name.strip_prefix(EPOCH_CHECKPOINT_PREFIX)?
        .strip_suffix(".safetensors")
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))?
        .parse()
        .ok()
}

/// Whether `name` is one of the files a training run writes.
fn is_run_output(name: &str) -> bool {
    const FIXED: [&str; 7] = [
        "metrics.jsonl",
        "metrics.csv",
        "loss.png",
        "score.png",
        "progress.gif",
        CHECKPOINT,
        CONFIG,
    ];
    const PER_EPOCH: [&str; 4] = ["sample_", "reconstruction_", "manifold_", "misclassified_"];
    let per_epoch = PER_EPOCH.iter().any(|prefix| {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(".png"))
            .is_some_and(|epoch| !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()))
    });
    per_epoch || FIXED.contains(&name) || checkpoint_epoch(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::{is_leftover, is_run_output};

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

    #[test]
    fn leftovers_of_atomic_writes_are_recognized_by_name_only() {
        for name in [
            "checkpoint.safetensors.a1B2c3.tmp",
            "metrics.jsonl.x.tmp",
            "sample_3.png.Zz9.tmp",
        ] {
            assert!(is_leftover(name), "{name}");
        }
        for name in [
            "checkpoint.safetensors",
            "notes.txt.abc.tmp",
            "checkpoint.safetensors.tmp",
            "mine.tmp",
        ] {
            assert!(!is_leftover(name), "{name}");
        }
    }
}
