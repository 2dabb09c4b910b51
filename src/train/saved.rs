//! What a checkpoint means: the run's settings and progress as JSON beside the model's named
//! state, and the models restored from it.

use std::collections::BTreeMap;
use std::path::Path;

use super::{ModelSettings, TrainError};
use crate::backend::Backend;
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::model::{Classifier, Gan, Vae};
use crate::nn::{LoadError, State};

/// The JSON saved in a checkpoint beside the tensors.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CheckpointMeta {
    #[serde(flatten)]
    pub settings: ModelSettings,
    /// Epochs completed.
    pub epoch: usize,
    /// Steps taken into the next epoch when the run was interrupted inside it (0 at an
    /// epoch's end): a resumed run continues from exactly that step.
    #[serde(default)]
    pub epoch_step: usize,
    /// What the model had summed on the device over those steps (its training figures'
    /// sums), restored on resume so that the epoch's figures cover all of it.
    #[serde(default)]
    pub epoch_sums: Vec<f32>,
    /// Training steps taken.
    pub steps: u64,
    /// The training data, as described when the run started.
    pub data: String,
    /// The last epoch's figures (e.g. `test_loss`).
    pub figures: BTreeMap<String, f64>,
}

/// A model restored from a checkpoint, with what the checkpoint says of it.
pub enum Loaded {
    Vae(Box<Vae>, CheckpointMeta),
    Gan(Box<Gan>, CheckpointMeta),
    Classifier(Box<Classifier>, CheckpointMeta),
}

impl Loaded {
    /// The shape of the model's images.
    pub fn image_shape(&self) -> crate::nn::ImageShape {
        match self {
            Loaded::Vae(vae, _) => vae.config.image(),
            Loaded::Gan(gan, _) => gan.config.image(),
            Loaded::Classifier(c, _) => c.config.image(),
        }
    }
}

impl Loaded {
    /// The model as a generator of images, if it is one.
    pub fn generative(&mut self) -> Option<&mut dyn crate::model::Generative> {
        match self {
            Loaded::Vae(vae, _) => Some(vae.as_mut()),
            Loaded::Gan(gan, _) => Some(gan.as_mut()),
            Loaded::Classifier(..) => None,
        }
    }
}

/// Opens a checkpoint of any model, for batches of up to `batch` rows.
pub fn load(backend: &mut dyn Backend, path: &Path, batch: usize) -> Result<Loaded, TrainError> {
    load_checkpoint(backend, &Checkpoint::open(path)?, batch)
}

/// [`load`] of a checkpoint already read.
pub fn load_checkpoint(
    backend: &mut dyn Backend,
    file: &Checkpoint,
    batch: usize,
) -> Result<Loaded, TrainError> {
    let meta: CheckpointMeta = file.meta()?;
    holds_its_model(file, &meta.settings)?;
    let loaded = match &meta.settings {
        ModelSettings::Vae(s) => {
            let vae = Vae::new(backend, s.config.clone(), batch, 0)?;
            let vae = restored(backend, file, vae, Vae::load_state)?;
            Loaded::Vae(Box::new(vae), meta)
        }
        ModelSettings::Gan(s) => {
            // The generator is built for exactly `batch` rows; sampling chunks by it.
            let gan = Gan::new(backend, s.config.clone(), batch, 0)?;
            let gan = restored(backend, file, gan, Gan::load_state)?;
            Loaded::Gan(Box::new(gan), meta)
        }
        ModelSettings::Classifier(s) => {
            // Only run, so the weights suffice (the shipped scoring classifier has no more).
            let classifier = Classifier::new(backend, s.config.clone(), batch, 0)?;
            let classifier = restored(backend, file, classifier, Classifier::load_weights)?;
            Loaded::Classifier(Box::new(classifier), meta)
        }
    };
    Ok(loaded)
}

/// Fails unless `file` holds at least as many values as the model `settings` describe has
/// weights: a damaged description must not make the model, allocated before its tensors are
/// checked, larger than the file justifies.
pub fn holds_its_model(file: &Checkpoint, settings: &ModelSettings) -> Result<(), TrainError> {
    let parameters = match settings {
        ModelSettings::Vae(s) => s.config.parameters()?,
        ModelSettings::Gan(s) => s.config.parameters()?,
        ModelSettings::Classifier(s) => s.config.parameters()?,
    };
    let held: usize = file.state().tensors().iter().map(|t| t.values.len()).sum();
    if held < parameters {
        return Err(CheckpointError::Config {
            path: file.path().to_path_buf(),
            reason: format!(
                "its settings describe a model of {parameters} weights but it holds {held} values"
            ),
        }
        .into());
    }
    Ok(())
}

/// The classifier of a checkpoint that must hold one.
pub fn classifier_of(
    backend: &mut dyn Backend,
    file: &Checkpoint,
    batch: usize,
) -> Result<(Classifier, CheckpointMeta), TrainError> {
    match load_checkpoint(backend, file, batch)? {
        Loaded::Classifier(model, meta) => Ok((*model, meta)),
        Loaded::Vae(..) | Loaded::Gan(..) => Err(TrainError::WrongModel {
            path: file.path().to_path_buf(),
            expected: "a classifier (see `gengpu train classifier`)",
        }),
    }
}

/// Opens a checkpoint that must hold a VAE.
pub fn load_vae(
    backend: &mut dyn Backend,
    path: &Path,
    batch: usize,
) -> Result<(Vae, CheckpointMeta), TrainError> {
    match load(backend, path, batch)? {
        Loaded::Vae(model, meta) => Ok((*model, meta)),
        Loaded::Gan(..) => Err(TrainError::WrongModel {
            path: path.to_path_buf(),
            expected: "a VAE (this is a GAN checkpoint)",
        }),
        Loaded::Classifier(..) => Err(TrainError::WrongModel {
            path: path.to_path_buf(),
            expected: "a VAE (this is a classifier checkpoint)",
        }),
    }
}

/// `model`, freshly built, with the checkpoint's state loaded by `load`.
fn restored<M>(
    backend: &mut dyn Backend,
    file: &Checkpoint,
    mut model: M,
    load: impl FnOnce(&mut M, &mut dyn Backend, &State) -> Result<(), LoadError>,
) -> Result<M, TrainError> {
    load(&mut model, backend, file.state()).map_err(|e| state_error(file, e))?;
    Ok(model)
}

/// A state that does not fit, named with the file it came from.
pub(super) fn state_error(file: &Checkpoint, error: LoadError) -> TrainError {
    match error {
        LoadError::Backend(e) => TrainError::Backend(e),
        LoadError::State(source) => TrainError::State {
            path: file.path().to_path_buf(),
            source,
        },
    }
}
