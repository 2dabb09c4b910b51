//! Training: one loop for every model ([`trainer`]), each model's part in it ([`vae`],
//! [`gan`], [`classifier`]), the run's settings, metrics log and checkpoints.

pub mod classifier;
mod device_data;
pub mod gan;
mod metrics;
mod saved;
mod settings;
pub mod trainer;
pub mod vae;

pub use device_data::DeviceData;
pub use metrics::MetricsLog;
pub use saved::{CheckpointMeta, Loaded, classifier_of, load, load_checkpoint, load_vae};
pub use settings::{CHECKPOINT, DataSpec, ModelSettings, RunOptions, Scoring, Settings};
pub use trainer::{Figures, Outcome, Progress, StopRequest, Trainee};

use std::path::PathBuf;

use thiserror::Error;

use crate::backend::BackendError;
use crate::checkpoint::CheckpointError;
use crate::data::{DataError, TrainTest};
use crate::nn::StateError;
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
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} does not fit the model")]
    State { path: PathBuf, source: StateError },
    #[error("{path} does not hold {expected}")]
    WrongModel {
        path: PathBuf,
        expected: &'static str,
    },
    #[error(transparent)]
    Config(#[from] crate::model::ConfigError),
    #[error("cannot score the samples")]
    Score(#[source] Box<crate::score::ScoreError>),
    #[error("the model takes {model} images but {data} has {found}")]
    ImageShape {
        model: String,
        data: String,
        found: String,
    },
    #[error("invalid setting: {0}")]
    Setting(String),
    #[error("invalid setting: {0}")]
    Optimizer(#[from] crate::optim::InvalidSettings),
    /// The loss diverged: nothing of this epoch was written.
    #[error("epoch {epoch}: {figure} is {value} {at} (the training diverged; try a smaller --lr)")]
    NonFinite {
        epoch: usize,
        figure: &'static str,
        value: f64,
        /// The step it happened at, as the device recorded it.
        at: String,
    },
    /// The weights broke after the last loss was checked: no checkpoint was written.
    #[error(
        "epoch {epoch}: {tensor} holds {value} after step {step} of the run, so no checkpoint \
         was written (the training diverged; try a smaller --lr)"
    )]
    NonFiniteState {
        epoch: usize,
        tensor: String,
        value: f32,
        step: u64,
    },
    /// A checkpoint that cannot continue with these settings.
    #[error("cannot resume {path}: {reason}")]
    Resume { path: PathBuf, reason: String },
}

impl TrainError {
    /// Whether the run was refused for its settings or its checkpoint before it trained:
    /// starting it again the same way fails the same way.
    pub fn is_a_setting(&self) -> bool {
        matches!(
            self,
            TrainError::Config(_)
                | TrainError::Setting(_)
                | TrainError::Optimizer(_)
                | TrainError::ImageShape { .. }
                | TrainError::WrongModel { .. }
                | TrainError::State { .. }
                | TrainError::Checkpoint(_)
                | TrainError::Resume { .. }
        )
    }
}

/// Fails unless `data` holds images of the model's `height × width`.
pub fn require_image_shape(
    image: crate::nn::ImageShape,
    data: &crate::data::Dataset,
) -> Result<(), TrainError> {
    let found = crate::nn::ImageShape::new(data.rows, data.cols, data.channels);
    if found == image {
        return Ok(());
    }
    Err(TrainError::ImageShape {
        model: image.describe(),
        data: data.name.clone(),
        found: found.describe(),
    })
}

/// Trains the model `settings` describe on `data` from `from` (the default for a new run; a
/// checkpoint's [`Progress`] and state to resume one), writing metrics, pictures and
/// checkpoints into the run's folder, until done or `stop` is set.
pub fn train(
    backend: &mut dyn crate::backend::Backend,
    data: &TrainTest,
    settings: &ModelSettings,
    resume: Option<(&Progress, &crate::checkpoint::Checkpoint)>,
    stop: &StopRequest,
) -> Result<Outcome, TrainError> {
    let run = settings.run();
    run.validate(data.train.count)?;
    settings.optimizer().validate()?;
    // Before the model is built: a checkpoint whose settings claim a model its tensors do not
    // hold would otherwise allocate what its settings say.
    if let Some((_, file)) = resume {
        saved::holds_its_model(file, settings)?;
    }
    let mut trainee: Box<dyn Trainee> = match settings {
        ModelSettings::Vae(s) => Box::new(vae::VaeTrainee::new(backend, data, s)?),
        ModelSettings::Gan(s) => Box::new(gan::GanTrainee::new(backend, data, s)?),
        ModelSettings::Classifier(s) => {
            Box::new(classifier::ClassifierTrainee::new(backend, data, s)?)
        }
    };
    let fresh = Progress::default();
    let from = match resume {
        Some((progress, file)) => {
            trainee
                .load_state(backend, file.state())
                .map_err(|e| saved::state_error(file, e))?;
            if crate::fsutil::same_folder(&progress.history, &run.out) {
                run.prepare_resumed_out()?;
            } else {
                // Resumed into another folder (allowed over another run's by `--overwrite`).
                run.prepare_out()?;
            }
            // The settings the run goes on with (`--epochs` may have grown).
            run.write_config(settings)?;
            progress
        }
        None => {
            run.prepare_out()?;
            run.write_config(settings)?;
            &fresh
        }
    };
    let mut scorer = match &run.scoring {
        scoring if scoring.every > 0 => {
            if trainee.generative().is_none() {
                return Err(TrainError::Setting(format!(
                    "--score-every scores generated images; a {} draws none",
                    settings.kind()
                )));
            }
            let classifier = scoring.classifier.as_deref();
            let scorer = crate::score::Scorer::new(backend, classifier, &data.test)
                .and_then(|scorer| {
                    let shape = (data.train.rows, data.train.cols, data.train.channels);
                    scorer.takes(shape, &data.train.name).map(|()| scorer)
                })
                .map_err(|e| TrainError::Score(Box::new(e)))?;
            Some(scorer)
        }
        _ => None,
    };
    let train_data = DeviceData::upload(backend, &data.train)?;
    trainer::train_epochs(
        backend,
        trainee.as_mut(),
        &train_data,
        settings,
        &data.description,
        from,
        scorer.as_mut(),
        stop,
    )
}
