//! The generative models, written once over any `Backend`.

pub mod classifier;
pub mod gan;
pub mod pyramid;
pub mod vae;

pub use classifier::{Classifier, ClassifierConfig};
pub use gan::{Gan, GanArch, GanConfig};
pub use vae::{Vae, VaeArch, VaeConfig};

use thiserror::Error;

use crate::backend::{self, Backend, rng};
use crate::nn::{ImageShape, LayerSpec, Network, ParamLayout};

/// A model that turns standard normal latent points into images.
pub trait Generative {
    /// Values per latent point.
    fn latent_size(&self) -> usize;

    /// Images in [0, 1] for latent rows (`n × latent_size`, row-major, any n).
    fn generate(&mut self, backend: &mut dyn Backend, latents: &[f32])
    -> backend::Result<Vec<f32>>;
}

/// `n` images from the standard normal latents of `seed`: the same for a given seed whatever
/// the batch size or backend.
pub fn sample(
    backend: &mut dyn Backend,
    model: &mut dyn Generative,
    n: usize,
    seed: u32,
) -> backend::Result<Vec<f32>> {
    let latents = rng::normals(seed, 0, n * model.latent_size());
    model.generate(backend, &latents)
}

/// The seed of the fixed draws behind every `sample_{epoch}.png`, so that epochs compare.
pub const PICTURE_SEED: u32 = 0x5eed;

/// One training step, as every model's step takes it: its random draws come from
/// `(seed, stream)` and its optimizer's bias corrections from the step number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub seed: u32,
    /// Steps taken before this one.
    pub index: u64,
}

impl Step {
    /// The random stream of this step's draws: training steps use the even streams, so that
    /// evaluation and pictures ([`eval_stream`]) never share noise with them.
    pub fn stream(&self) -> u32 {
        (self.index as u32).wrapping_mul(2)
    }

    /// The optimizer's step number `t` (from 1).
    pub fn adam_t(&self) -> u32 {
        (self.index as u32).wrapping_add(1)
    }
}

/// The random stream of evaluation batch `batch`: the odd streams (see [`Step::stream`]).
pub fn eval_stream(batch: u64) -> u32 {
    (batch as u32).wrapping_mul(2).wrapping_add(1)
}

/// Evaluation batches below this number have their own odd streams; the importance-weighted
/// estimate's chunks take the odd streams above it ([`iw_stream`]). No evaluation has 2^30
/// batches, so the two never meet, nor meet training's even streams.
const IW_FIRST_EVAL_BATCH: u64 = 1 << 30;

/// The random stream of chunk `chunk` of the importance-weighted estimate: the odd streams
/// from 2^31 + 1 on.
pub fn iw_stream(chunk: u64) -> u32 {
    eval_stream(IW_FIRST_EVAL_BATCH + chunk % IW_FIRST_EVAL_BATCH)
}

/// Serde's default channel count of configurations saved before colour: grey.
fn one_channel() -> usize {
    1
}

/// Refuses channel counts other than grey's 1 and RGB's 3.
fn check_channels(model: &str, channels: usize) -> Result<(), ConfigError> {
    if channels == 1 || channels == 3 {
        return Ok(());
    }
    Err(ConfigError(format!(
        "{model} images must have 1 (grey) or 3 (RGB) channels, not {channels}"
    )))
}

/// A model shape that cannot be built.
#[derive(Debug, Error)]
#[error("invalid model: {0}")]
pub struct ConfigError(pub String);

impl From<ConfigError> for backend::BackendError {
    /// A model refused while it is being built on a backend (checked configurations never are).
    fn from(e: ConfigError) -> Self {
        backend::BackendError::Shape {
            op: "model",
            detail: e.0,
        }
    }
}

/// Most parameters a model may have: 1 GiB of f32, 4 GiB with gradients and Adam's moments,
/// over 100 times PyTorch-GAN's generator. Larger requests are typos, refused before anything
/// is allocated; smaller ones that still do not fit meet the backends' own checks.
const MAX_PARAMETERS: usize = 1 << 28;

/// Declares the networks (each an input shape and its layers) on scratch layouts and returns
/// their parameter count, refusing layers that do not fit their inputs and counts past
/// [`MAX_PARAMETERS`]: how a convolutional model checks its configuration.
fn count_parameters(
    model: &str,
    networks: &[(ImageShape, &[LayerSpec])],
) -> Result<usize, ConfigError> {
    let (mut layout, mut running) = (ParamLayout::default(), ParamLayout::default());
    for (i, (input, specs)) in networks.iter().enumerate() {
        let prefix = format!("network{i}");
        Network::new(&mut layout, &mut running, &prefix, *input, specs)
            .map_err(|e| ConfigError(format!("{model}: {e}")))?;
    }
    if layout.len() > MAX_PARAMETERS {
        return Err(ConfigError(format!(
            "the {model} would have {} parameters, more than {MAX_PARAMETERS}",
            layout.len()
        )));
    }
    Ok(layout.len())
}

/// Checks image sides and the widths of a chain of linear layers (`layers[i] → layers[i+1]`);
/// returns the chain's weights and biases.
fn check_sizes(
    model: &str,
    height: usize,
    width: usize,
    layers: &[usize],
) -> Result<usize, ConfigError> {
    if height == 0 || width == 0 {
        return Err(ConfigError(format!(
            "{model} images of {height}×{width} pixels"
        )));
    }
    if layers.contains(&0) {
        return Err(ConfigError(format!(
            "{model} layer widths must be at least 1: {layers:?}"
        )));
    }
    let parameters = layers.windows(2).try_fold(0usize, |sum, pair| {
        pair[0]
            .checked_add(1)
            .and_then(|fan_in| fan_in.checked_mul(pair[1]))
            .and_then(|layer| sum.checked_add(layer))
    });
    match parameters {
        Some(n) if n <= MAX_PARAMETERS => Ok(n),
        _ => Err(ConfigError(format!(
            "{model} layers {layers:?} would need more than {MAX_PARAMETERS} parameters"
        ))),
    }
}
